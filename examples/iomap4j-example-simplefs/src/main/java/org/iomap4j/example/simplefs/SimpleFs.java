package org.iomap4j.example.simplefs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.fs.GenericFile;
import org.iomap4j.fs.InodeCache;
import org.iomap4j.fs.Pins;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.StatFs;

/**
 * simplefs, the porting guide's sample (docs/porting-guide.md): a flat directory of block-mapped files on a
 * {@link BlockDevice}. Its own code is the on-disk format, the namespace and the inodes (here), and the mapping
 * ({@link SimpleMapping}); the page cache, readahead, writeback, direct I/O, SEEK_DATA/SEEK_HOLE, hole punching and
 * zeroing come from iomap4j-core, the file operations' glue from {@link GenericVfs}.
 *
 * <p>Format (4 KiB blocks, little-endian): block 0 the superblock ({@code u64 magic "SIMPLEFS"}, {@code u32 block
 * size}, {@code u32 inode count}, {@code u64 block count}); then the inode table ({@link SimpleInode}: inode
 * {@code ino} in slot {@code ino - 2}); then data and map blocks. The root (inode 1) is implicit: its entries are the
 * names in the used slots. Free space is not stored: mount rebuilds the bitmap from the maps, and refuses a block
 * used twice. No unlink, rename, directories or links (no {@code VfsNamespace}); files of at most 64 MiB.
 *
 * <p>Lock order: the namespace monitor ({@code byName}), i_rwsem, the page cache's locks, the inode's monitor
 * (block map; never held from iomapBegin to iomapEnd), the allocator's monitor.
 */
public final class SimpleFs extends GenericVfs<SimpleInode> {
    static final int BLOCK = 4096;
    static final long MAX_BYTES = (long) SimpleInode.MAP_BLOCKS * SimpleInode.PER_MAP * BLOCK;
    private static final long ROOT = 1;

    final SimpleMapping mapping;
    private final InodeCache<SimpleInode> icache;
    private final int inodeCount;
    private final long blockCount;
    private final Map<String, Long> byName = new ConcurrentHashMap<>();
    private final ConcurrentSkipListMap<Long, String> byIno = new ConcurrentSkipListMap<>();
    private final long mountTime = now();

    /**
     * Writes an empty simplefs with room for {@code inodes} files over all of {@code dev}.
     *
     * @param dev    the device (its size decides the block count)
     * @param inodes the number of inodes (files)
     * @throws IOException EINVAL if they do not fit, device errors
     */
    public static void mkfs(BlockDevice dev, int inodes) throws IOException {
        SimpleDisk.mkfs(dev, inodes);
    }

    /**
     * Mounts the simplefs on {@code dev}, which it owns from now on ({@link #close()} closes it).
     *
     * @param dev         the device holding a simplefs
     * @param cacheConfig the page cache's budget and folio size
     * @return the mounted filesystem
     * @throws IOException CorruptFilesystemException for a damaged image (naming the block or inode), device errors
     */
    public static SimpleFs mount(BlockDevice dev, PageCacheConfig cacheConfig) throws IOException {
        return new SimpleFs(dev, cacheConfig);
    }

    private SimpleFs(BlockDevice dev, PageCacheConfig cacheConfig) throws IOException {
        SimpleDisk disk = new SimpleDisk(this, dev);
        inodeCount = disk.inodeCount;
        blockCount = disk.blockCount;
        mapping = new SimpleMapping(this, dev, blockCount, disk.dataStart);
        PageCache cache = new PageCache(cacheConfig);
        icache = new InodeCache<>(disk, cache, dev.isReadOnly(), "simplefs-flusher");
        init(dev, cache, icache, new GenericFile<>(mapping, mapping, false, mapping), mapping, MAX_BYTES);
        for (long ino = 2; ino < inodeCount + 2L; ino++) { // rebuild the namespace and the block bitmap
            SimpleInode i = disk.load(ino);
            if (i != null) {
                byName.put(i.name, ino);
                byIno.put(ino, i.name);
                mapping.claim(i);
            }
        }
    }

    // ---------------------------------------------------------------- the namespace: one flat root directory

    private void checkDir(long dirIno, String name) throws FsException {
        if (dirIno != ROOT) {
            throw new FsException(byIno.containsKey(dirIno) ? Errno.ENOTDIR : Errno.ENOENT, "inode " + dirIno);
        } else if (name != null && name.getBytes(StandardCharsets.UTF_8).length > 255) {
            throw new FsException(Errno.ENAMETOOLONG, name);
        } else if (name != null && (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/"))) {
            throw new FsException(Errno.EINVAL, "bad name '" + name + "'");
        }
    }

    @Override
    protected SimpleInode fileInode(Pins pins, long ino) throws IOException {
        if (ino == ROOT) {
            throw new FsException(Errno.EISDIR, "the root directory");
        }
        return icache.iget(pins, ino);
    }

    @Override
    public long rootIno() {
        return ROOT;
    }

    @Override
    public InodeAttr lookup(long dirIno, String name) throws IOException {
        checkDir(dirIno, name);
        Long ino = byName.get(name);
        if (ino == null) {
            throw new FsException(Errno.ENOENT, name);
        }
        try (Pins pins = icache.pins()) {
            SimpleInode i = icache.iget(pins, ino);
            icache.ref(i);
            return i.attr();
        }
    }

    @Override
    public InodeAttr getattr(long ino) throws IOException {
        if (ino == ROOT) {
            return new InodeAttr(ROOT, FileMode.S_IFDIR | 0755, 2, 0, 0, 0, BLOCK, 0, BLOCK, mountTime, 0, mountTime,
                    0, mountTime, 0, 0);
        }
        try (Pins pins = icache.pins()) {
            return icache.iget(pins, ino).attr();
        }
    }

    @Override
    public String readlink(long ino) throws IOException {
        throw new FsException(Errno.EINVAL, "simplefs has no symlinks");
    }

    /** Offsets: "." ends at 1, ".." at 2, the file of inode {@code n} at {@code n + 1} (stable: numbers only grow). */
    @Override
    public void readdir(long dirIno, long offset, DirSink sink) throws IOException {
        checkDir(dirIno, null);
        if ((offset < 1 && !sink.accept(new DirEntry(".", ROOT, FileMode.DT_DIR, 1)))
                || (offset < 2 && !sink.accept(new DirEntry("..", ROOT, FileMode.DT_DIR, 2)))) {
            return;
        }
        for (Map.Entry<Long, String> e : byIno.tailMap(Math.max(offset, 2)).entrySet()) {
            if (!sink.accept(new DirEntry(e.getValue(), e.getKey(), FileMode.DT_REG, e.getKey() + 1))) {
                return;
            }
        }
    }

    @Override
    public Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException {
        checkDir(dirIno, name);
        checkWritable();
        try (Pins pins = icache.pins()) {
            SimpleInode i;
            synchronized (byName) {
                Long ino = byName.get(name);
                if (ino != null && (openFlags & O_EXCL) != 0) {
                    throw new FsException(Errno.EEXIST, name);
                } else if (ino != null) {
                    i = icache.iget(pins, ino);
                } else {
                    long free = 2;
                    while (byIno.containsKey(free)) {
                        free++;
                    }
                    if (free >= inodeCount + 2L) {
                        throw new FsException(Errno.ENOSPC, "simplefs: all " + inodeCount + " inodes in use");
                    }
                    i = icache.insertNew(pins, new SimpleInode(this, free, name, FileMode.S_IFREG | (mode & 07777)));
                    i.uid = uid;
                    i.gid = gid;
                    i.atime = i.mtime = i.ctime = now();
                    icache.writeback().markInodeDirty(i);
                    byName.put(name, free);
                    byIno.put(free, name);
                }
                icache.ref(i);
            }
            return new Created(i.attr(), open(i, openFlags));
        }
    }

    @Override
    public StatFs statfs() {
        long free = mapping.freeBlocks();
        return new StatFs(BLOCK, blockCount, free, free, inodeCount, inodeCount - byIno.size(), 255);
    }
}
