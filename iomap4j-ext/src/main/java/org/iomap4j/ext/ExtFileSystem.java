package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.MappedBlockDevice;
import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.ext.disk.DirEntryCodec;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.ext.disk.GroupDescriptor;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Dax;
import org.iomap4j.iomap.DirectIo;
import org.iomap4j.iomap.DirectReadahead;
import org.iomap4j.iomap.Fiemap;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.iomap.Seek;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.StatFs;
import org.iomap4j.vfs.Vfs;

/**
 * A mounted ext2 filesystem: the on-disk format exactly as {@code mke2fs -t ext2} and the Linux kernel know it,
 * with file and directory data on iomap4j's page cache ({@link BufferedIo}/{@link Writeback} through
 * {@link ExtIomapOps}) and metadata (superblock, group descriptors, bitmaps, inode tables, indirect blocks)
 * through the core's {@link BufferCache}.
 *
 * <p>Features (e2fsprogs lib/ext2fs/ext2_fs.h): incompat {@code filetype} only, any other incompat feature
 * refuses the mount naming it ({@code needs_recovery}: an ext3 journal to replay); ro_compat
 * {@code sparse_super}, {@code large_file}, anything else mounts read-only ({@link #readOnlyReason()}); compat
 * features (ext_attr, resize_inode, dir_index, has_journal) are preserved untouched. Revision 0 and 1, 128- and
 * larger inodes, block sizes 1 KiB to 64 KiB.
 *
 * <p>Superblock state as the kernel keeps it: a read-write mount increments s_mnt_count and clears the valid bit
 * while mounted; {@link #close()} writes everything back and restores the state the mount found (clean if it was
 * clean), with free counts and s_wtime.
 *
 * <p>Lock order (outermost first): {@link #nsLock} (namespace: shared for lookup/readdir, exclusive for every
 * namespace change; for directories it is also their i_rwsem) → a file's {@link ExtInode#rwsem} → the core's
 * invalidate and folio locks → {@link ExtInode#lock} (block map and on-disk fields) → {@link Allocator} →
 * {@code sbLock} → buffer locks → the buffer cache's monitor. {@code icacheLock} is a leaf: nothing is acquired
 * while it is held (eviction only reads atomics there: a mapping's dirty byte count, {@code dirtyInodes}).
 *
 * <p>Inode cache eviction (fs/inode.c iput/evict, driven by FUSE FORGET): see {@link Pins} and
 * {@link #releaseUnused}. In short, an in-memory inode leaves {@code icache} (and its page cache, directory index
 * with it) when it is linked, not the root, has no lookup reference, no open handle, no operation using it
 * ({@code pins}), and is clean: not in {@code dirtyInodes}, no dirty folio, no recorded writeback error.
 * <ul>
 *   <li>forget/release that drop the last reference or handle evict at once if clean; a dirty inode is
 *       remembered in {@code evictPending} and evicted once clean: in {@link #sync()} right after its inode was
 *       written ({@link #writeDirtyInodes}) or, for data-only dirt, after the whole sync; and by
 *       {@link #writebackPendingEvictions} when more than {@link #pendingEvictionLimit} are waiting: at the end
 *       of namespace changes, setattr and release (in the caller, throttling it), and on the
 *       {@link #pendingFlusher} thread when forget or an operation's end finds too many (forget itself never
 *       does I/O: FORGET has no reply; and a FUSE mount never gets SYNCFS, so sync cannot be relied on).
 *       fsync makes its own file clean, but an fsync'd file is open; its later release/forget finds it clean
 *       and evicts it at once.</li>
 *   <li>An inode an operation reached by number without any reference (library callers: lookupPath, getattr
 *       of an unreferenced inode, readdir without the filetype feature) goes to a small LRU of unused inodes
 *       ({@link #unusedInodeLimit}, the kernel's inode LRU) instead, so repeated by-number use does not reload
 *       it; the LRU's oldest are evicted (or, if dirty, made pending) beyond the limit.</li>
 *   <li>Teardown (removing the page cache, which waits for a writeback still in flight on its folios) runs
 *       outside {@code icacheLock} while a tombstone in {@code evicting} makes an iget of the same number wait,
 *       so a reload never reads the device before the old copy's last writeback reached it.</li>
 * </ul>
 *
 * <p>Write ordering without a journal: sync writes file/directory data first (page-cache writeback), then
 * inodes, descriptors, the superblock and bitmaps (buffer cache), then flushes the device.
 */
public final class ExtFileSystem implements Vfs, org.iomap4j.vfs.VfsWrite, org.iomap4j.vfs.VfsNamespace, org.iomap4j.vfs.VfsFallocate, org.iomap4j.vfs.VfsSeek {
    private static final System.Logger LOG = System.getLogger(ExtFileSystem.class.getName());
    /** The root directory's inode number. */
    public static final long ROOT_INO = 2;
    /** EXT2_LINK_MAX. */
    public static final int LINK_MAX = 32000;

    final BlockDevice device;
    private final boolean ownsDevice;
    final BufferCache bcache;
    final PageCache pageCache;
    final ExtIomapOps iomapOps;
    final BlockMap blockMap;
    final Allocator allocator;
    final Directories dirs;
    final ExtDioOps dioOps;
    /** Regular-file data goes through {@link Dax} on the mapped device (mount option dax). */
    final boolean dax;
    /** Mounted noatime: reads never update atime (else relatime, {@link #touchAtime}). */
    private final boolean noatime;

    private final DiskSuperblock sb;
    private final Object sbLock = new Object();
    private final GroupDescriptor[] gds;
    final int blockSizeBytes;
    final int blockBits;
    final long blocksCount;
    final long firstDataBlock;
    final long blocksPerGroup;
    final long inodesPerGroup;
    final long inodesCount;
    final long firstIno;
    final int inodeSize;
    final long itableBlocks;
    final boolean hasFiletype;
    private final long maxRegularSizeBytes;
    private final boolean readOnly;
    private final String readOnlyReason;
    private final int stateAtMount;

    private final ReentrantReadWriteLock nsLock = new ReentrantReadWriteLock();
    /** Guards icache, unusedLru, evictPending, evicting, evictStamps and each inode's counters. A leaf lock. */
    private final Object icacheLock = new Object();
    private final Map<Long, ExtInode> icache = new HashMap<>();
    private final Set<ExtInode> dirtyInodes = ConcurrentHashMap.newKeySet();
    /** Unused inodes reached without a reference, least recently used first (see the class comment). */
    private final LinkedHashMap<Long, ExtInode> unusedLru = new LinkedHashMap<>();
    /** Unused, dropped inodes waiting to become clean before eviction, oldest first. */
    private final LinkedHashMap<Long, ExtInode> evictPending = new LinkedHashMap<>();
    /** Tombstones: inodes taken out of icache whose page cache is still being torn down. */
    private final Map<Long, ExtInode> evicting = new HashMap<>();
    /**
     * Eviction counters by inode number modulo their length: iget reads the inode from disk outside
     * icacheLock and inserts it only if no eviction of that number happened meanwhile (else the copy it read may
     * predate the evicted object's last write).
     */
    private final int[] evictStamps = new int[1024];
    /** Most unused unreferenced inodes kept in {@link #unusedLru} (tests lower it). */
    volatile int unusedInodeLimit = 1024;
    /** Above this many pending evictions, modifying operations write them back ({@link #writebackPendingEvictions}). */
    volatile int pendingEvictionLimit = 4096;
    /**
     * One thread at a time runs a {@link #writebackPendingEvictions} batch; a modifying operation that finds too
     * many pending waits for the running batch (throttling, like balance_dirty_pages). Taken with no other lock
     * held; inside it: icacheLock (pins), folio locks (writeback), inode and buffer locks (writeInode).
     */
    private final ReentrantLock pendingWriteLock = new ReentrantLock();
    /** Pending inodes the running batch took out of evictPending (pinned while written); under icacheLock. */
    private int pendingInBatch;
    /** Largest O_DIRECT read that is read ahead (FUSE's largest READ). */
    private static final int DIO_READAHEAD_MAX_BYTES = 1 << 20;
    /**
     * Runs O_DIRECT read-aheads ({@link DirectReadahead}): two platform threads (they block on the device); a
     * read-ahead still queued when its reader arrives is dropped and read by the reader itself.
     */
    private final ExecutorService dioReadahead = Executors.newFixedThreadPool(2,
            Thread.ofPlatform().daemon().name("iomap4j-ext-dio-readahead-", 0).factory());
    /**
     * Runs {@link #writebackPendingEvictions} for forget, which must not do I/O itself: a FUSE mount gets no
     * SYNCFS from the kernel (only virtiofs does), so without it the dirty inodes the kernel forgets would wait
     * for the next modifying operation or the unmount. One daemon thread, started on first use.
     */
    private final ExecutorService pendingFlusher = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().daemon().name("iomap4j-ext-inode-flush", 0).factory());
    /** A {@link #pendingFlusher} task is queued and has not started yet. */
    private final AtomicBoolean flushQueued = new AtomicBoolean();
    private volatile boolean closed;

    /**
     * Mounts the ext2 filesystem in an image file (or block device node). The device is closed by
     * {@link #close()}.
     *
     * @throws CorruptFilesystemException (EUCLEAN) for an invalid superblock or group descriptor, naming it
     * @throws FsException EINVAL for an unsupported incompat feature or revision; ENOENT/EACCES for the path
     */
    public static ExtFileSystem mount(Path image, ExtMountOptions opts) throws IOException {
        BlockDevice dev;
        if (opts.dax()) {
            dev = MappedBlockDevice.open(image, opts.readOnly());
        } else {
            FileBlockDevice f = FileBlockDevice.open(image, opts.readOnly());
            if (opts.directReadMinBytes() > 0) {
                f.enableDirectReads(opts.directReadMinBytes());
            }
            dev = f;
        }
        boolean ok = false;
        try {
            ExtFileSystem fs = new ExtFileSystem(dev, opts, true);
            ok = true;
            return fs;
        } finally {
            if (!ok) {
                dev.close();
            }
        }
    }

    /** Mounts the filesystem on {@code dev}; the caller keeps ownership of the device (close does not close it). */
    public static ExtFileSystem mount(BlockDevice dev, ExtMountOptions opts) throws IOException {
        return new ExtFileSystem(dev, opts, false);
    }

    private ExtFileSystem(BlockDevice dev, ExtMountOptions opts, boolean ownsDevice) throws IOException {
        this.device = dev;
        this.ownsDevice = ownsDevice;
        if (opts.dax() && !(dev instanceof MappedBlockDevice)) {
            throw new FsException(Errno.EINVAL, "dax needs a byte-addressable device (MappedBlockDevice), not " + dev);
        }
        this.dax = opts.dax();
        this.noatime = opts.noatime();
        this.dioOps = new ExtDioOps(this);
        this.sb = readSuperblock(dev);
        this.blockSizeBytes = sb.blockSizeBytes();
        this.blockBits = Integer.numberOfTrailingZeros(blockSizeBytes);
        this.blocksCount = sb.blocksCount();
        this.firstDataBlock = sb.firstDataBlock();
        this.blocksPerGroup = sb.blocksPerGroup();
        this.inodesPerGroup = sb.inodesPerGroup();
        this.inodesCount = sb.inodesCount();
        this.firstIno = sb.firstIno();
        this.inodeSize = sb.inodeSize();
        this.itableBlocks = (inodesPerGroup * inodeSize + blockSizeBytes - 1) / blockSizeBytes;
        this.hasFiletype = sb.hasIncompat(Features.INCOMPAT_FILETYPE);
        this.maxRegularSizeBytes = maxFileSize(blockBits);
        long unsupportedRo = sb.featureRoCompat() & ~Features.RO_COMPAT_SUPPORTED;
        String roReason = null;
        if (unsupportedRo != 0) {
            roReason = "unsupported ro_compat features " + Features.roCompatNames(unsupportedRo) + ": mounted read-only";
        } else if (dev.isReadOnly() && !opts.readOnly()) {
            roReason = "the device is read-only";
        }
        this.readOnly = opts.readOnly() || roReason != null;
        this.readOnlyReason = opts.readOnly() ? "mounted read-only" : roReason;
        this.stateAtMount = sb.state();

        this.bcache = new BufferCache(dev, blockSizeBytes, opts.metadataCacheBytes());
        boolean ok = false;
        PageCache pc = null;
        try {
            this.gds = readGroupDescriptors();
            this.allocator = new Allocator(this, bcache, gds, sb.reservedBlocksCount(), sb.defResuid(), sb.defResgid());
            this.blockMap = new BlockMap(this, bcache);
            this.iomapOps = new ExtIomapOps(this);
            this.dirs = new Directories(this);
            pc = new PageCache(opts.pageCacheConfig());
            this.pageCache = pc;
            ExtInode root = iget(new Pins(), ROOT_INO); // the root is never evicted: its pin is never dropped
            if (!root.isDir()) {
                throw new CorruptFilesystemException("root inode 2 is not a directory (mode 0"
                        + Integer.toOctalString(root.mode()) + ")");
            }
            if (!readOnly) {
                synchronized (sbLock) {
                    sb.setMountCount((sb.mountCount() + 1) & 0xffff);
                    sb.setState(sb.state() & ~DiskSuperblock.STATE_VALID);
                    sb.setMtime(now());
                }
                writeSuperblock();
                bcache.flush();
            }
            ok = true;
        } finally {
            if (!ok) {
                if (pc != null) {
                    pc.close();
                }
                bcache.close();
            }
        }
    }

    // ---------------------------------------------------------------- mount-time validation

    private static DiskSuperblock readSuperblock(BlockDevice dev) throws IOException {
        if (dev.sizeBytes() < DiskSuperblock.PRIMARY_OFFSET_BYTES + DiskSuperblock.SIZE) {
            throw new CorruptFilesystemException("device of " + dev.sizeBytes()
                    + " bytes is too small to hold an ext2 superblock (truncated image?)");
        }
        byte[] raw = new byte[DiskSuperblock.SIZE];
        dev.read(DiskSuperblock.PRIMARY_OFFSET_BYTES, ByteBuffer.wrap(raw));
        DiskSuperblock sb = DiskSuperblock.decode(raw, 0);
        if (sb.magic() != DiskSuperblock.MAGIC) {
            throw new CorruptFilesystemException(String.format(
                    "bad superblock magic 0x%04x at byte 1024 (expected 0xef53): not an ext2 filesystem", sb.magic()));
        }
        if (sb.revLevel() > DiskSuperblock.DYNAMIC_REV) {
            throw new FsException(Errno.EINVAL, "superblock revision " + sb.revLevel() + " is not supported (0 or 1)");
        }
        long unsupported = sb.featureIncompat() & ~Features.INCOMPAT_SUPPORTED;
        if ((unsupported & Features.INCOMPAT_RECOVER) != 0) {
            throw new FsException(Errno.EINVAL, "the filesystem has a journal that needs recovery (needs_recovery);"
                    + " ext2 cannot replay it: run e2fsck or mount it as ext3/ext4 first");
        }
        if (unsupported != 0) {
            throw new FsException(Errno.EINVAL, "unsupported incompat features " + Features.incompatNames(unsupported)
                    + String.format(" (0x%x): cannot mount", unsupported));
        }
        if (sb.logBlockSize() > 6) {
            throw new CorruptFilesystemException("superblock: s_log_block_size " + sb.logBlockSize()
                    + " gives a block size above 64 KiB");
        }
        int bs = sb.blockSizeBytes();
        String bad = null;
        long groups = 0;
        if (sb.blocksPerGroup() == 0 || sb.blocksPerGroup() > 8L * bs) {
            bad = "s_blocks_per_group " + sb.blocksPerGroup() + " not in [1, " + 8L * bs + "]";
        } else if (sb.inodesPerGroup() == 0 || sb.inodesPerGroup() > 8L * bs) {
            bad = "s_inodes_per_group " + sb.inodesPerGroup() + " not in [1, " + 8L * bs + "]";
        } else if (sb.firstDataBlock() != (bs == 1024 ? 1 : 0)) {
            bad = "s_first_data_block " + sb.firstDataBlock() + " wrong for " + bs + "-byte blocks";
        } else if (sb.blocksCount() <= sb.firstDataBlock() + 1) {
            bad = "s_blocks_count " + sb.blocksCount() + " too small";
        } else if (Integer.bitCount(sb.inodeSize()) != 1 || sb.inodeSize() < 128 || sb.inodeSize() > bs) {
            bad = "s_inode_size " + sb.inodeSize() + " not a power of two in [128, block size]";
        } else {
            groups = (sb.blocksCount() - sb.firstDataBlock() + sb.blocksPerGroup() - 1) / sb.blocksPerGroup();
            if (sb.inodesCount() != groups * sb.inodesPerGroup()) {
                bad = "s_inodes_count " + sb.inodesCount() + " is not " + groups + " groups x "
                        + sb.inodesPerGroup() + " inodes";
            } else if (sb.firstIno() < DiskSuperblock.GOOD_OLD_FIRST_INO || sb.firstIno() >= sb.inodesCount()) {
                bad = "s_first_ino " + sb.firstIno() + " out of range";
            }
        }
        if (bad != null) {
            throw new CorruptFilesystemException("superblock: " + bad);
        }
        if (sb.blocksCount() > dev.sizeBytes() / bs) {
            throw new CorruptFilesystemException("superblock says " + sb.blocksCount() + " blocks of " + bs
                    + " bytes but the device holds only " + dev.sizeBytes() / bs + " (truncated image?)");
        }
        return sb;
    }

    private GroupDescriptor[] readGroupDescriptors() throws IOException {
        long groups = (blocksCount - firstDataBlock + blocksPerGroup - 1) / blocksPerGroup;
        int perBlock = blockSizeBytes / GroupDescriptor.SIZE;
        long gdtBlocks = (groups + perBlock - 1) / perBlock;
        if (firstDataBlock + 1 + gdtBlocks > blocksCount) {
            throw new CorruptFilesystemException("group descriptor table (" + gdtBlocks + " blocks from block "
                    + (firstDataBlock + 1) + ") extends beyond the filesystem's " + blocksCount + " blocks");
        }
        GroupDescriptor[] out = new GroupDescriptor[(int) groups];
        for (long b = 0; b < gdtBlocks; b++) {
            try (Buffer buf = bcache.read(firstDataBlock + 1 + b)) {
                for (int i = 0; i < perBlock && b * perBlock + i < groups; i++) {
                    out[(int) (b * perBlock + i)] = GroupDescriptor.decode(buf.array(), i * GroupDescriptor.SIZE);
                }
            }
        }
        for (int g = 0; g < groups; g++) {
            GroupDescriptor gd = out[g];
            long start = firstDataBlock + g * blocksPerGroup;
            long end = Math.min(start + blocksPerGroup, blocksCount);
            String bad = null;
            if (gd.blockBitmap() < start || gd.blockBitmap() >= end) {
                bad = "block bitmap at block " + gd.blockBitmap();
            } else if (gd.inodeBitmap() < start || gd.inodeBitmap() >= end) {
                bad = "inode bitmap at block " + gd.inodeBitmap();
            } else if (gd.inodeTable() < start || gd.inodeTable() + itableBlocks > end) {
                bad = "inode table at blocks [" + gd.inodeTable() + ", " + (gd.inodeTable() + itableBlocks) + ")";
            }
            if (bad != null) {
                throw new CorruptFilesystemException("group descriptor " + g + ": " + bad
                        + " lies outside the group's blocks [" + start + ", " + end + ")");
            }
            if (gd.freeBlocksCount() > end - start || gd.freeInodesCount() > inodesPerGroup) {
                throw new CorruptFilesystemException("group descriptor " + g + ": free counts (" + gd.freeBlocksCount()
                        + " blocks, " + gd.freeInodesCount() + " inodes) exceed the group's size");
            }
        }
        return out;
    }

    /**
     * The largest regular file for {@code 2^bits}-byte blocks: limited by the block tree and by i_blocks (32-bit
     * count of 512-byte sectors including indirect blocks). After fs/ext2/super.c ext2_max_size.
     */
    static long maxFileSize(int bits) {
        long ppb = 1L << (bits - 2);
        long upperLimit = ((1L << 32) - 1) >>> (bits - 9);
        long res = DiskInode.NDIR_BLOCKS + ppb + ppb * ppb + ppb * ppb * ppb;
        long meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb);
        if (res + meta > upperLimit) {
            res = upperLimit;
            long rest = upperLimit - DiskInode.NDIR_BLOCKS;
            meta = 1;
            rest -= ppb;
            if (rest < ppb * ppb) {
                meta += 1 + (rest + ppb - 1) / ppb;
            } else {
                meta += 1 + ppb;
                rest -= ppb * ppb;
                meta += 1 + (rest + ppb - 1) / ppb + (rest + ppb * ppb - 1) / (ppb * ppb);
            }
            res -= meta;
        }
        long bytes = res << bits;
        return Math.min(bytes, Long.MAX_VALUE);
    }

    // ---------------------------------------------------------------- public API beyond Vfs

    /** Why the filesystem is read-only (requested, device, or an unsupported ro_compat feature), or null. */
    public String readOnlyReason() {
        return readOnly ? readOnlyReason : null;
    }

    /** A snapshot of the superblock with the live free counts. */
    public Superblock superblock() {
        DiskSuperblock copy;
        synchronized (sbLock) {
            copy = sb.copy();
        }
        copy.setFreeBlocksCount(allocator.freeBlocks());
        copy.setFreeInodesCount(allocator.freeInodes());
        return Superblock.of(copy);
    }

    /** The largest size a regular file may have here (bytes). */
    public long maxFileSizeBytes() {
        return maxRegularSizeBytes;
    }

    long maxFileSizeBytes(ExtInode inode) {
        return inode.isRegular() ? maxRegularSizeBytes : 0xFFFF_FFFFL;
    }

    /** The metadata buffer cache (for statistics and tests). */
    public BufferCache bufferCache() {
        return bcache;
    }

    /** The page cache of file and directory data (for statistics and tests). */
    public PageCache pageCache() {
        return pageCache;
    }

    /**
     * Resolves an absolute path ("/", "/a/b") without following symlinks and without taking a reference.
     *
     * @throws FsException ENOENT, ENOTDIR, EINVAL for a relative path
     */
    public InodeAttr lookupPath(String absPath) throws IOException {
        try (Pins pins = new Pins()) {
            return attr(resolve(pins, absPath));
        }
    }

    private ExtInode resolve(Pins pins, String absPath) throws IOException {
        if (!absPath.startsWith("/")) {
            throw new FsException(Errno.EINVAL, "not an absolute path: " + absPath);
        }
        ExtInode cur = iget(pins, ROOT_INO);
        for (String comp : absPath.split("/")) {
            if (comp.isEmpty() || comp.equals(".")) {
                continue;
            }
            if (!cur.isDir()) {
                throw new FsException(Errno.ENOTDIR, absPath + ": a component before '" + comp + "' is not a directory");
            }
            byte[] nb = nameBytes(comp);
            Directories.Slot s;
            nsLock.readLock().lock();
            try {
                s = dirs.find(cur, nb);
            } finally {
                nsLock.readLock().unlock();
            }
            if (s == null) {
                throw new FsException(Errno.ENOENT, absPath + ": '" + comp + "' not found");
            }
            cur = igetChild(pins, s.ino(), cur);
        }
        return cur;
    }

    /** Receives the entries of {@link #walkTree}. */
    @FunctionalInterface
    public interface TreeVisitor {
        void visit(String path, InodeAttr attr) throws IOException;
    }

    /**
     * Visits {@code absPath} and everything below it, parents before children, "." and ".." excluded. A directory
     * reached twice (a loop in the tree, or a directory hard link) is corruption.
     *
     * @throws CorruptFilesystemException naming the directory inode reached twice
     */
    public void walkTree(String absPath, TreeVisitor visitor) throws IOException {
        try (Pins pins = new Pins()) {
            walkTree(pins, absPath, visitor);
        }
    }

    private void walkTree(Pins pins, String absPath, TreeVisitor visitor) throws IOException {
        ExtInode top = resolve(pins, absPath);
        Set<Long> seenDirs = new HashSet<>();
        Deque<Map.Entry<String, ExtInode>> stack = new ArrayDeque<>();
        stack.push(Map.entry(absPath, top));
        while (!stack.isEmpty()) {
            var e = stack.pop();
            ExtInode inode = e.getValue();
            visitor.visit(e.getKey(), attr(inode));
            if (!inode.isDir()) {
                continue;
            }
            if (!seenDirs.add(inode.ino)) {
                throw new CorruptFilesystemException("directory inode " + inode.ino + " reached twice (again at "
                        + e.getKey() + "): a loop in the directory tree");
            }
            List<Map.Entry<String, ExtInode>> children = new ArrayList<>();
            String prefix = e.getKey().endsWith("/") ? e.getKey() : e.getKey() + "/";
            nsLock.readLock().lock();
            try {
                dirs.iterate(inode, 0, (pos, recLen, ino, block, off) -> {
                    int nl = DirEntryCodec.nameLen(block, off);
                    String name = new String(block, off + DirEntryCodec.HEADER_BYTES, nl, StandardCharsets.UTF_8);
                    if (!name.equals(".") && !name.equals("..")) {
                        children.add(Map.entry(prefix + name, igetChild(pins, ino, inode)));
                    }
                    return true;
                });
            } finally {
                nsLock.readLock().unlock();
            }
            for (int i = children.size() - 1; i >= 0; i--) {
                ExtInode c = children.get(i).getValue();
                if (c.isDir() && seenDirs.contains(c.ino)) {
                    throw new CorruptFilesystemException("directory inode " + c.ino + " reached twice (at "
                            + children.get(i).getKey() + "): a loop in the directory tree");
                }
                stack.push(children.get(i));
            }
        }
    }

    /**
     * The file's data extents (fiemap without holes): physically contiguous runs, merged across pointer-block
     * boundaries, the last one flagged. Empty for files without data blocks (and fast symlinks, devices).
     */
    public List<Extent> mapExtents(long ino) throws IOException {
        try (Pins pins = new Pins()) {
            return mapExtents(iget(pins, ino));
        }
    }

    private List<Extent> mapExtents(ExtInode inode) throws IOException {
        List<Extent> out = new ArrayList<>();
        if (!inode.hasBlockMap()) {
            return out;
        }
        long nrBlocks = (inode.sizeBytes() + blockSizeBytes - 1) >>> blockBits;
        nrBlocks = Math.min(nrBlocks, blockMap.addressableBlocks);
        long lblk = 0;
        long curL = -1;
        long curP = 0;
        long curN = 0;
        while (lblk < nrBlocks) {
            BlockMap.Run run;
            inode.lock.lock();
            try {
                run = blockMap.map(inode, lblk, nrBlocks - lblk, false);
            } finally {
                inode.lock.unlock();
            }
            if (!run.isHole()) {
                if (curN > 0 && curL + curN == run.lblk() && curP + curN == run.pblk()) {
                    curN += run.nrBlocks();
                } else {
                    if (curN > 0) {
                        out.add(new Extent(curL << blockBits, curP << blockBits, curN << blockBits, false));
                    }
                    curL = run.lblk();
                    curP = run.pblk();
                    curN = run.nrBlocks();
                }
            }
            lblk += run.nrBlocks();
        }
        if (curN > 0) {
            out.add(new Extent(curL << blockBits, curP << blockBits, curN << blockBits, true));
        }
        return out;
    }

    // ---------------------------------------------------------------- inodes

    private void checkOpen() throws FsException {
        if (closed) {
            throw new FsException(Errno.EIO, "filesystem is unmounted");
        }
    }

    void checkWritable() throws FsException {
        if (readOnly) {
            throw new FsException(Errno.EROFS, "read-only filesystem: " + readOnlyReason);
        }
    }

    /**
     * True for a block of some group's inode table: the roots of the block-pointer trees, written last by
     * {@link org.iomap4j.buf.BufferCache#syncDirtyOrdered} so that an inode never reaches the disk before the
     * indirect blocks it points to (else a crash leaves it pointing at a reused block's old contents, and e2fsck
     * deletes the whole file).
     */
    private boolean isInodeTableBlock(long pblk) {
        for (GroupDescriptor gd : gds) {
            long t = gd.inodeTable();
            if (pblk >= t && pblk < t + itableBlocks) {
                return true;
            }
        }
        return false;
    }

    private long inodeBlock(long ino) {
        long idx = (ino - 1) % inodesPerGroup;
        return gds[(int) ((ino - 1) / inodesPerGroup)].inodeTable() + idx * inodeSize / blockSizeBytes;
    }

    private int inodeOffset(long ino) {
        long idx = (ino - 1) % inodesPerGroup;
        return (int) ((idx * inodeSize) % blockSizeBytes);
    }

    /**
     * The in-memory inode {@code ino}, loaded and validated on first use, pinned for {@code pins}'s operation: it
     * cannot be evicted until that operation ends, so whatever the operation writes into it is not lost.
     *
     * @throws FsException ENOENT for a number outside [1, s_inodes_count]; EINTR if interrupted while an older copy
     *                     is being evicted
     * @throws CorruptFilesystemException for an inode not in use or with impossible fields
     */
    ExtInode iget(Pins pins, long ino) throws IOException {
        checkOpen();
        if (ino < 1 || ino > inodesCount) {
            throw new FsException(Errno.ENOENT, "inode " + ino + " out of range [1, " + inodesCount + "]");
        }
        while (true) {
            int stamp;
            synchronized (icacheLock) {
                awaitNotEvicting(ino);
                ExtInode cached = icache.get(ino);
                if (cached != null) {
                    return pins.add(cached);
                }
                stamp = evictStamps[stampSlot(ino)];
            }
            DiskInode d;
            try (Buffer b = bcache.read(inodeBlock(ino))) {
                d = DiskInode.decode(b.array(), inodeOffset(ino), inodeSize);
            }
            validate(ino, d);
            ExtInode inode = new ExtInode(this, ino, d);
            synchronized (icacheLock) {
                ExtInode raced = icache.get(ino);
                if (raced != null) {
                    return pins.add(raced);
                }
                if (evictStamps[stampSlot(ino)] == stamp) {
                    icache.put(ino, inode);
                    return pins.add(inode);
                }
                // An inode with a number in this slot was evicted while we read: ours may be older than what
                // that object wrote to the inode table. Read again.
            }
        }
    }

    /**
     * Tests only: {@link #iget(Pins, long)} with a pin that is never dropped, so the object stays the cached one
     * (never evicted) for the rest of the mount.
     */
    ExtInode iget(long ino) throws IOException {
        return iget(new Pins(), ino);
    }

    private int stampSlot(long ino) {
        return (int) (ino % evictStamps.length);
    }

    /** Waits (icacheLock held) until no copy of {@code ino} is being torn down. */
    private void awaitNotEvicting(long ino) throws FsException {
        while (evicting.containsKey(ino)) {
            try {
                icacheLock.wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FsException(Errno.EINTR, "interrupted waiting for the eviction of inode " + ino);
            }
        }
    }

    /** iget of a directory entry's target: reserved inodes other than the root cannot be named. */
    private ExtInode igetChild(Pins pins, long ino, ExtInode dir) throws IOException {
        if (ino != ROOT_INO && ino < firstIno) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + " names reserved inode " + ino);
        }
        return iget(pins, ino);
    }

    // ---------------------------------------------------------------- inode cache eviction

    /**
     * The inodes one operation obtained (iget, newInode), pinned until {@link #close()}: the answer to "an
     * operation loads an inode by number, the inode is evicted, the operation writes into the stale object".
     * Eviction needs {@code pins == 0}, and pins are taken and checked under {@code icacheLock} together with
     * the icache lookup, so an object an operation holds is never evicted under it, and an operation that comes
     * after an eviction finds no object and reads the inode afresh. The alternative, evicting only inodes no
     * operation can reach, does not hold here: library callers (and readdir without the filetype feature) reach
     * inodes by number without any reference.
     *
     * <p>close() runs after the operation released the namespace lock (try-with-resources around the whole
     * operation); it puts unused inodes on their way (LRU, eviction, pending) and frees an unlinked inode whose
     * last user it was, which takes the namespace lock.
     */
    final class Pins implements AutoCloseable {
        private ExtInode[] held = new ExtInode[4];
        private int count;
        /** close() kicks the flusher if too many evictions are pending (not for the flusher's own pins). */
        private boolean kickWhenOver = true;

        /** Pins {@code i} for this operation; icacheLock held. */
        private ExtInode add(ExtInode i) {
            i.pins++;
            unusedLru.remove(i.ino);
            evictPending.remove(i.ino);
            if (count == held.length) {
                held = Arrays.copyOf(held, count * 2);
            }
            held[count++] = i;
            return i;
        }

        @Override
        public void close() throws IOException {
            if (count == 0) {
                return;
            }
            List<ExtInode> teardown = new ArrayList<>();
            List<ExtInode> toFree = new ArrayList<>();
            boolean over;
            synchronized (icacheLock) {
                for (int k = 0; k < count; k++) {
                    ExtInode i = held[k];
                    held[k] = null;
                    if (--i.pins > 0 || i.freed || i.evicted) {
                        continue;
                    }
                    if (i.unlinked) {
                        if (i.lookupRefs == 0 && i.openCount == 0) {
                            toFree.add(i);
                        }
                    } else {
                        releaseUnusedLocked(i, teardown);
                    }
                }
                count = 0;
                over = evictPending.size() > pendingEvictionLimit;
            }
            teardown(teardown);
            if (over && kickWhenOver) {
                kickPendingWriteback();
            }
            IOException first = null;
            for (ExtInode i : toFree) {
                try {
                    maybeFreeUnderNs(i);
                } catch (IOException e) {
                    if (first == null) {
                        first = e;
                    } else {
                        first.addSuppressed(e);
                    }
                }
            }
            if (first != null) {
                throw first;
            }
        }
    }

    /** True if {@code i} may leave the cache once clean; icacheLock held. */
    private boolean unusedLocked(ExtInode i) {
        return !i.freed && !i.evicted && !i.unlinked && i.ino != ROOT_INO && i.lookupRefs == 0 && i.openCount == 0
                && i.pins == 0;
    }

    /**
     * {@code i} became unused (no references, handles or pins). {@code dropped}: by forget/release dropping the
     * last reference or handle (evict now if clean, else pending); else after an operation that reached it
     * without a reference (LRU, unless it was dropped before). Never does I/O.
     */
    private void releaseUnused(ExtInode i, boolean dropped) {
        List<ExtInode> teardown = new ArrayList<>(1);
        boolean over;
        synchronized (icacheLock) {
            if (dropped && i.lookupRefs == 0 && i.openCount == 0) {
                i.dropped = true;
            }
            releaseUnusedLocked(i, teardown);
            over = evictPending.size() > pendingEvictionLimit;
        }
        teardown(teardown);
        if (over) {
            kickPendingWriteback();
        }
    }

    /** Hands {@link #writebackPendingEvictions} to the flusher thread (no I/O in the caller). */
    private void kickPendingWriteback() {
        if (readOnly || closed || !flushQueued.compareAndSet(false, true)) {
            return;
        }
        try {
            pendingFlusher.execute(() -> {
                flushQueued.set(false);
                writebackPendingEvictions();
            });
        } catch (RejectedExecutionException e) {
            flushQueued.set(false);
            LOG.log(System.Logger.Level.DEBUG, "pending inode writeback not queued: unmounting");
        }
    }

    /**
     * Lets queued and running O_DIRECT read-aheads finish (each is at most one device read) before teardown. Not
     * shutdownNow: an interrupt during a FileChannel read closes the channel (ClosedByInterruptException).
     */
    private void stopDioReadahead() {
        stopAndWait(dioReadahead, 1, "an O_DIRECT read-ahead");
    }

    /** Lets a queued or running flusher task finish (each is one bounded batch) and stops the thread. */
    private void stopPendingFlusher() {
        stopAndWait(pendingFlusher, 5, "pending inode writeback");
    }

    /** shutdown() (no interrupt), then waits up to {@code minutes}; a task still running is logged, not killed. */
    private static void stopAndWait(ExecutorService executor, int minutes, String what) {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(minutes, TimeUnit.MINUTES)) {
                LOG.log(System.Logger.Level.WARNING, what + " still running after " + minutes + " min at unmount");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.log(System.Logger.Level.WARNING, "interrupted waiting for " + what + " at unmount");
        }
    }

    /** Tests: waits until the flusher thread has run everything queued so far. */
    void awaitPendingWriteback() throws InterruptedException, ExecutionException {
        pendingFlusher.submit(() -> { }).get();
    }

    /**
     * Puts an unused inode on its way; icacheLock held. Objects to tear down (already out of icache) are added to
     * {@code teardown}, for {@link #teardown} after the lock is released.
     */
    private void releaseUnusedLocked(ExtInode i, List<ExtInode> teardown) {
        if (!unusedLocked(i)) {
            return;
        }
        if (!i.dropped) {
            unusedLru.remove(i.ino);
            unusedLru.put(i.ino, i);
            int limit = Math.max(0, unusedInodeLimit);
            while (unusedLru.size() > limit) {
                var eldest = unusedLru.entrySet().iterator().next();
                unusedLru.remove(eldest.getKey());
                eldest.getValue().dropped = true;
                evictOrPendLocked(eldest.getValue(), teardown);
            }
            return;
        }
        unusedLru.remove(i.ino);
        evictOrPendLocked(i, teardown);
    }

    /**
     * Evicts an unused inode if nothing of it lives only in memory (not in {@code dirtyInodes}, no dirty block in
     * its page cache), else makes it pending. A folio may still be under writeback (its dirty bits are cleared
     * before the write): {@link #teardown} waits for it before a reload of the number can read the device. An
     * inode whose page cache recorded a writeback error stays cached, neither pending nor evicted, so that the
     * error is not lost with it. icacheLock held; reads only atomics, never blocks.
     */
    private void evictOrPendLocked(ExtInode i, List<ExtInode> teardown) {
        evictPending.remove(i.ino);
        AddressSpace m = i.mappingIfCreated();
        if (dirtyInodes.contains(i) || (m != null && m.dirtyBytes() > 0)) {
            evictPending.put(i.ino, i);
            return;
        }
        if (m != null && m.errors().hasError()) {
            return;
        }
        icache.remove(i.ino, i);
        i.evicted = true;
        evicting.put(i.ino, i);
        evictStamps[stampSlot(i.ino)]++;
        teardown.add(i);
    }

    /** Removes evicted objects' page caches and directory indexes, then lifts their tombstones. */
    private void teardown(List<ExtInode> victims) {
        for (ExtInode v : victims) {
            try {
                AddressSpace m = v.detachMapping();
                if (m != null) {
                    pageCache.removeMapping(m); // waits for a writeback still in flight on its folios
                }
                if (v.isDir()) {
                    dirs.dropIndex(v);
                }
            } finally {
                synchronized (icacheLock) {
                    evicting.remove(v.ino, v);
                    icacheLock.notifyAll();
                }
            }
        }
    }

    /** Evicts every pending inode that is clean now (after {@link #sync()} wrote everything). */
    private void evictCleanPending() {
        List<ExtInode> teardown = new ArrayList<>();
        synchronized (icacheLock) {
            for (ExtInode i : new ArrayList<>(evictPending.values())) {
                if (unusedLocked(i)) {
                    evictOrPendLocked(i, teardown);
                } else {
                    evictPending.remove(i.ino);
                }
            }
        }
        teardown(teardown);
    }

    /**
     * Bounds the pending evictions without sync: when more than {@link #pendingEvictionLimit} wait, writes the
     * oldest back (data, then the inode into the buffer cache, as fsync does for one file) until half the limit
     * is left, and evicts them. Runs at the end of operations that can leave unused dirty inodes behind, never in
     * forget. Failures are handled like the page cache's background writeback: logged, a data error recorded on
     * the file's ErrSeq (the inode then stays cached with it), a failed inode write left in dirtyInodes (the next
     * sync writes it again and reports the error).
     */
    private void writebackPendingEvictions() {
        int limit = Math.max(0, pendingEvictionLimit);
        if (readOnly || closed) {
            return;
        }
        synchronized (icacheLock) {
            if (evictPending.size() + pendingInBatch <= limit) {
                return;
            }
        }
        pendingWriteLock.lock();
        try {
            Pins pins = new Pins();
            pins.kickWhenOver = false; // what this batch leaves pending waits for the next trigger, no busy loop
            synchronized (icacheLock) {
                int n = evictPending.size() - limit / 2; // <= 0 if a batch we waited for did the work
                for (ExtInode i : new ArrayList<>(evictPending.values())) {
                    if (n-- <= 0) {
                        break;
                    }
                    pins.add(i);
                }
                pendingInBatch = pins.count;
            }
            for (int k = 0; k < pins.count; k++) {
                ExtInode i = pins.held[k];
                try {
                    AddressSpace m = i.mappingIfCreated();
                    if (m != null && m.dirtyBytes() > 0) {
                        Writeback.writeAndWait(m, 0, Long.MAX_VALUE);
                    }
                    writeInodeIfDirty(i);
                } catch (IOException | RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "writeback of unused inode " + i.ino
                            + " before eviction failed (the inode stays cached): " + e.getMessage());
                }
            }
            try {
                pins.close(); // evicts the ones now clean, puts the others back into evictPending
            } catch (IOException e) {
                // Only unlinked inodes are freed by close(), and pending inodes are linked.
                LOG.log(System.Logger.Level.WARNING, "freeing after pending writeback failed: " + e.getMessage());
            }
        } finally {
            synchronized (icacheLock) {
                pendingInBatch = 0;
            }
            pendingWriteLock.unlock();
        }
    }

    /** Writes the inode into its inode-table buffer if it is in dirtyInodes (it stays there if that fails). */
    private void writeInodeIfDirty(ExtInode i) throws IOException {
        if (dirtyInodes.remove(i)) {
            try {
                writeInode(i);
            } catch (IOException | RuntimeException e) {
                dirtyInodes.add(i);
                throw e;
            }
        }
    }

    /** In-memory inodes cached now (tests: eviction keeps this bounded). */
    int cachedInodeCount() {
        synchronized (icacheLock) {
            return icache.size();
        }
    }

    /** True if inode {@code ino} is in the inode cache now (tests). */
    boolean isInodeCached(long ino) {
        synchronized (icacheLock) {
            return icache.containsKey(ino);
        }
    }

    /** Unused dirty inodes waiting to become clean for eviction (tests). */
    int pendingEvictionCount() {
        synchronized (icacheLock) {
            return evictPending.size();
        }
    }

    private void validate(long ino, DiskInode d) throws CorruptFilesystemException {
        int type = d.mode() & FileMode.S_IFMT;
        if (d.linksCount() == 0 || d.mode() == 0) {
            throw new CorruptFilesystemException("inode " + ino + " is referenced but not in use (mode 0"
                    + Integer.toOctalString(d.mode()) + ", links " + d.linksCount() + ", dtime " + d.dtime() + ")");
        }
        if (FileMode.dtype(d.mode()) == FileMode.DT_UNKNOWN) {
            throw new CorruptFilesystemException("inode " + ino + ": invalid file type in mode 0"
                    + Integer.toOctalString(d.mode()));
        }
        boolean regular = type == FileMode.S_IFREG;
        long size = d.size(regular);
        if (size < 0 || (regular && size > maxRegularSizeBytes)) {
            throw new CorruptFilesystemException("inode " + ino + ": i_size " + Long.toUnsignedString(size)
                    + " exceeds the maximum file size " + maxRegularSizeBytes);
        }
        if (d.blocks512() > blocksCount * (blockSizeBytes / 512)) {
            throw new CorruptFilesystemException("inode " + ino + ": i_blocks " + d.blocks512()
                    + " exceeds the filesystem size");
        }
        long aclBlocks = d.fileAcl() != 0 ? blockSizeBytes / 512 : 0;
        if (type == FileMode.S_IFLNK && d.blocks512() - aclBlocks == 0 && size >= DiskInode.I_BLOCK_BYTES) {
            throw new CorruptFilesystemException("inode " + ino + ": fast symlink of size " + size + " (max 59)");
        }
        if (type == FileMode.S_IFLNK && size >= blockSizeBytes) {
            throw new CorruptFilesystemException("inode " + ino + ": symlink of size " + size + " (max block size)");
        }
        if (type == FileMode.S_IFDIR && size % blockSizeBytes != 0) {
            throw new CorruptFilesystemException("directory inode " + ino + ": size " + size
                    + " is not a multiple of the block size " + blockSizeBytes);
        }
    }

    void markDirty(ExtInode inode) {
        dirtyInodes.add(inode);
    }

    private void writeInode(ExtInode inode) throws IOException {
        try (Buffer b = bcache.read(inodeBlock(inode.ino))) {
            inode.lock.lock();
            try {
                b.lock();
                try {
                    inode.disk.encodeInto(b.array(), inodeOffset(inode.ino));
                    b.markDirty();
                } finally {
                    b.unlock();
                }
            } finally {
                inode.lock.unlock();
            }
        }
    }

    /**
     * Copies every dirty inode into its inode-table buffer. Each is pinned meanwhile: between leaving dirtyInodes
     * and reaching the buffer it is neither dirty nor written, and must not be evicted then. Unpinning evicts an
     * unused dropped inode that is clean now, right after its inode was written. A failed write leaves the
     * inode in dirtyInodes.
     */
    private void writeDirtyInodes() throws IOException {
        for (ExtInode inode : dirtyInodes) {
            Pins pins = new Pins();
            synchronized (icacheLock) {
                pins.add(inode);
            }
            IOException failure = null;
            try {
                if (!inode.freed) {
                    writeInodeIfDirty(inode);
                } else {
                    dirtyInodes.remove(inode);
                }
            } catch (IOException e) {
                failure = e;
            } finally {
                try {
                    pins.close();
                } catch (IOException e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        }
    }

    /** Sets the large_file feature when a file first grows past 2 GiB (ext2_update_inode does the same). */
    void noteLargeFile() {
        synchronized (sbLock) {
            if (!sb.hasRoCompat(Features.RO_COMPAT_LARGE_FILE)) {
                if (sb.revLevel() == DiskSuperblock.GOOD_OLD_REV) {
                    // ext2_update_dynamic_rev: features need a revision-1 superblock.
                    sb.setRevLevel(DiskSuperblock.DYNAMIC_REV);
                    sb.setFirstIno(DiskSuperblock.GOOD_OLD_FIRST_INO);
                    sb.setInodeSize(DiskSuperblock.GOOD_OLD_INODE_SIZE);
                }
                sb.setFeatureRoCompat(sb.featureRoCompat() | Features.RO_COMPAT_LARGE_FILE);
            }
        }
    }

    private void writeSuperblock() throws IOException {
        long freeBlocks = allocator.freeBlocks();
        long freeInodes = allocator.freeInodes();
        byte[] raw;
        synchronized (sbLock) {
            sb.setFreeBlocksCount(freeBlocks);
            sb.setFreeInodesCount(freeInodes);
            sb.setWtime(now());
            raw = sb.encode();
        }
        long pblk = DiskSuperblock.PRIMARY_OFFSET_BYTES / blockSizeBytes;
        int off = (int) (DiskSuperblock.PRIMARY_OFFSET_BYTES % blockSizeBytes);
        try (Buffer b = bcache.read(pblk)) {
            b.lock();
            try {
                System.arraycopy(raw, 0, b.array(), off, DiskSuperblock.SIZE);
                b.markDirty();
            } finally {
                b.unlock();
            }
        }
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    private InodeAttr attr(ExtInode i) {
        i.lock.lock();
        try {
            DiskInode d = i.disk;
            long rdev = 0;
            int type = d.mode() & FileMode.S_IFMT;
            if (type == FileMode.S_IFCHR || type == FileMode.S_IFBLK) {
                rdev = d.block(0) != 0 ? d.block(0) : d.block(1);
            }
            return new InodeAttr(i.ino, d.mode(), d.linksCount(), d.uid(), d.gid(), rdev, i.sizeBytes(),
                    d.blocks512(), blockSizeBytes, d.atime(), 0, d.mtime(), 0, d.ctime(), 0, d.generation());
        } finally {
            i.lock.unlock();
        }
    }

    private static byte[] nameBytes(String name) throws FsException {
        if (name.isEmpty()) {
            throw new FsException(Errno.ENOENT, "empty name");
        }
        if (name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
            throw new FsException(Errno.EINVAL, "name contains '/' or NUL: " + name);
        }
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > DirEntryCodec.NAME_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, "name of " + b.length + " bytes (max 255)");
        }
        return b;
    }

    private ExtInode dirInode(Pins pins, long ino) throws IOException {
        ExtInode d = iget(pins, ino);
        if (!d.isDir()) {
            throw new FsException(Errno.ENOTDIR, "inode " + ino + " is not a directory");
        }
        return d;
    }

    private void ref(ExtInode i) {
        synchronized (icacheLock) {
            i.lookupRefs++;
            i.dropped = false;
        }
    }

    private int links(ExtInode i) {
        i.lock.lock();
        try {
            return i.disk.linksCount();
        } finally {
            i.lock.unlock();
        }
    }

    private void addLinks(ExtInode i, int delta, boolean ctime) {
        i.lock.lock();
        try {
            i.setLinksCount(Math.max(0, i.disk.linksCount() + delta));
            if (ctime) {
                i.disk.setCtime(now());
            }
        } finally {
            i.lock.unlock();
        }
        markDirty(i);
    }

    /**
     * relatime, the kernel's default for ext2 (fs/inode.c {@code relatime_need_update}): reading a file or listing
     * a directory sets atime to now when atime is not later than mtime or ctime, or is a day old; otherwise the
     * inode stays clean. Never on a read-only mount. Times are ext2's 32-bit seconds.
     */
    private void touchAtime(ExtInode inode) {
        if (readOnly || noatime) {
            return;
        }
        long t = now();
        boolean changed = false;
        inode.lock.lock();
        try {
            long a = inode.disk.atime();
            if ((a <= inode.disk.mtime() || a <= inode.disk.ctime() || t - a >= 86_400) && a != t) {
                inode.disk.setAtime(t);
                changed = true;
            }
        } finally {
            inode.lock.unlock();
        }
        if (changed) {
            markDirty(inode);
        }
    }

    /** Sets mtime and ctime to now (a directory whose entries changed, a file whose data or size changed). */
    private void touchMtimeCtime(ExtInode inode) {
        inode.lock.lock();
        try {
            long t = now();
            inode.disk.setMtime(t);
            inode.disk.setCtime(t);
        } finally {
            inode.lock.unlock();
        }
        markDirty(inode);
    }

    /**
     * Frees an inode whose last link, reference, open handle and pin are gone (caller holds the namespace lock
     * exclusively). An operation that unlinks an inode it has pinned leaves the free to its {@link Pins#close()}.
     */
    private void maybeFree(ExtInode i) throws IOException {
        if (i.ino == ROOT_INO || links(i) != 0) {
            return;
        }
        synchronized (icacheLock) {
            if (i.freed || i.lookupRefs > 0 || i.openCount > 0 || i.pins > 0) {
                return;
            }
            i.freed = true;
        }
        evictAndFree(i);
    }

    private void evictAndFree(ExtInode i) throws IOException {
        AddressSpace m = i.detachMapping();
        if (m != null) {
            pageCache.removeMapping(m);
        }
        if (i.isDir()) {
            dirs.dropIndex(i);
        }
        boolean dir = i.isDir();
        i.lock.lock();
        try {
            if (i.hasBlockMap()) {
                blockMap.freeFrom(i, 0);
            }
            i.disk.setDtime(now());
            i.disk.setSize(0, i.isRegular());
            i.setLinksCount(0);
        } finally {
            i.lock.unlock();
        }
        writeInode(i);
        dirtyInodes.remove(i);
        allocator.freeInode(i.ino, dir);
        synchronized (icacheLock) {
            icache.remove(i.ino, i);
            unusedLru.remove(i.ino, i);
            evictPending.remove(i.ino, i);
            evictStamps[stampSlot(i.ino)]++; // a concurrent iget must not cache what it read before the free
        }
    }

    /** Allocates and initialises a new inode, cached and pinned for {@code pins}'s operation. */
    private ExtInode newInode(Pins pins, ExtInode parent, int mode, int uid, int gid) throws IOException {
        long ino = allocator.allocInode(parent.ino, FileMode.isDirectory(mode));
        DiskInode d = DiskInode.blank(inodeSize);
        long t = now();
        d.setMode(mode);
        d.setUid(uid);
        d.setGid(gid);
        d.setLinksCount(FileMode.isDirectory(mode) ? 2 : 1);
        d.setAtime(t);
        d.setCtime(t);
        d.setMtime(t);
        d.setGeneration(ThreadLocalRandom.current().nextInt() & 0xFFFF_FFFFL);
        ExtInode inode = new ExtInode(this, ino, d);
        synchronized (icacheLock) {
            icache.put(ino, inode);
            pins.add(inode);
        }
        markDirty(inode);
        return inode;
    }

    /** Undoes {@link #newInode} after a later step failed (ENOSPC in the directory, ...). */
    private void discardNewInode(ExtInode inode, Throwable cause) {
        try {
            inode.lock.lock();
            try {
                inode.setLinksCount(0);
            } finally {
                inode.lock.unlock();
            }
            synchronized (icacheLock) {
                inode.freed = true;
            }
            evictAndFree(inode);
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    // ---------------------------------------------------------------- Vfs

    @Override
    public long rootIno() {
        return ROOT_INO;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public InodeAttr lookup(long dirIno, String name) throws IOException {
        try (Pins pins = new Pins()) {
            return lookup(pins, dirIno, name);
        }
    }

    private InodeAttr lookup(Pins pins, long dirIno, String name) throws IOException {
        ExtInode dir = dirInode(pins, dirIno);
        byte[] nb = nameBytes(name);
        ExtInode child;
        nsLock.readLock().lock();
        try {
            Directories.Slot s = dirs.find(dir, nb);
            if (s == null) {
                throw new FsException(Errno.ENOENT, "'" + name + "' not found in directory inode " + dirIno);
            }
            child = igetChild(pins, s.ino(), dir);
            ref(child);
        } finally {
            nsLock.readLock().unlock();
        }
        return attr(child);
    }

    @Override
    public InodeAttr getattr(long ino) throws IOException {
        try (Pins pins = new Pins()) {
            return attr(iget(pins, ino));
        }
    }

    @Override
    public InodeAttr setattr(long ino, SetAttr ch) throws IOException {
        checkWritable();
        InodeAttr a;
        try (Pins pins = new Pins()) {
            a = setattr(iget(pins, ino), ch);
        }
        writebackPendingEvictions();
        return a;
    }

    private InodeAttr setattr(ExtInode i, SetAttr ch) throws IOException {
        long ino = i.ino;
        if (ch.sizeBytes() != null) {
            if (i.isDir()) {
                throw new FsException(Errno.EISDIR, "inode " + ino + " is a directory");
            }
            if (!i.isRegular()) {
                throw new FsException(Errno.EINVAL, "inode " + ino + " is not a regular file");
            }
            truncate(i, ch.sizeBytes());
        }
        i.lock.lock();
        try {
            DiskInode d = i.disk;
            long t = now();
            if (ch.mode() != null) {
                d.setMode((d.mode() & FileMode.S_IFMT) | (ch.mode() & FileMode.PERM_MASK));
            }
            if (ch.uid() != null) {
                d.setUid(ch.uid());
            }
            if (ch.gid() != null) {
                d.setGid(ch.gid());
            }
            if (ch.atimeNow()) {
                d.setAtime(t);
            } else if (ch.atimeSec() != null) {
                d.setAtime(ch.atimeSec());
            }
            if (ch.mtimeNow()) {
                d.setMtime(t);
            } else if (ch.mtimeSec() != null) {
                d.setMtime(ch.mtimeSec());
            }
            d.setCtime(t);
        } finally {
            i.lock.unlock();
        }
        markDirty(i);
        return attr(i);
    }

    /** truncate(2) of a regular file: shrink frees blocks beyond the new size, grow leaves a hole. */
    private void truncate(ExtInode i, long newSize) throws IOException {
        if (newSize < 0) {
            throw new FsException(Errno.EINVAL, "negative size " + newSize);
        }
        if (newSize > maxRegularSizeBytes) {
            throw new FsException(Errno.EFBIG, "size " + newSize + " beyond the maximum " + maxRegularSizeBytes);
        }
        i.rwsem.writeLock().lock();
        i.dataSeq++; // under the write lock: invalidates O_DIRECT read-ahead (DirectReadahead)
        try {
            long oldSize = i.sizeBytes();
            AddressSpace m = i.mapping();
            m.invalidateLock().writeLock().lock();
            try {
                if (newSize < oldSize) {
                    if ((newSize & (blockSizeBytes - 1)) != 0) {
                        truncatePageData(i, newSize);
                    }
                    i.setSizeBytes(newSize);
                    m.truncateFrom(newSize);
                    i.lock.lock();
                    try {
                        blockMap.freeFrom(i, (newSize + blockSizeBytes - 1) >>> blockBits);
                    } finally {
                        i.lock.unlock();
                    }
                } else if (newSize > oldSize) {
                    i.setSizeBytes(newSize);
                    if ((oldSize & (blockSizeBytes - 1)) != 0) {
                        truncatePageData(i, oldSize);
                    }
                }
            } finally {
                m.invalidateLock().writeLock().unlock();
            }
            touchMtimeCtime(i);
        } finally {
            i.rwsem.writeLock().unlock();
        }
    }

    /** Frees blocks a failed or short write left beyond EOF (the kernel's ext2_write_failed). */
    private void trimBeyondEof(ExtInode i) throws IOException {
        long size = i.sizeBytes();
        AddressSpace m = i.mapping();
        m.invalidateLock().writeLock().lock();
        try {
            m.truncateFrom(size);
            i.lock.lock();
            try {
                blockMap.freeFrom(i, (size + blockSizeBytes - 1) >>> blockBits);
            } finally {
                i.lock.unlock();
            }
        } finally {
            m.invalidateLock().writeLock().unlock();
        }
    }

    @Override
    public InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException {
        int type = mode & FileMode.S_IFMT;
        if (type == 0) {
            mode |= FileMode.S_IFREG;
            type = FileMode.S_IFREG;
        }
        if (type != FileMode.S_IFREG && type != FileMode.S_IFCHR && type != FileMode.S_IFBLK
                && type != FileMode.S_IFIFO && type != FileMode.S_IFSOCK) {
            throw new FsException(Errno.EINVAL, "mknod of mode 0" + Integer.toOctalString(mode));
        }
        final int m = type | (mode & FileMode.PERM_MASK);
        final boolean isDevice = type == FileMode.S_IFCHR || type == FileMode.S_IFBLK;
        return createNode(dirIno, name, m, uid, gid, i -> {
            if (isDevice) {
                i.lock.lock();
                try {
                    if ((rdev & ~0xFFFFL) == 0) {
                        i.disk.setBlock(0, rdev);
                    } else {
                        i.disk.setBlock(1, rdev & 0xFFFF_FFFFL);
                    }
                } finally {
                    i.lock.unlock();
                }
            }
        });
    }

    @FunctionalInterface
    private interface InodeInit {
        void init(ExtInode inode) throws IOException;
    }

    private InodeAttr createNode(long dirIno, String name, int mode, int uid, int gid, InodeInit init)
            throws IOException {
        checkWritable();
        InodeAttr a;
        try (Pins pins = new Pins()) {
            ExtInode dir = dirInode(pins, dirIno);
            byte[] nb = nameBytes(name);
            ExtInode inode;
            nsLock.writeLock().lock();
            try {
                inode = createLocked(pins, dir, nb, mode, uid, gid, init);
                ref(inode);
            } finally {
                nsLock.writeLock().unlock();
            }
            a = attr(inode);
        }
        writebackPendingEvictions();
        return a;
    }

    private ExtInode createLocked(Pins pins, ExtInode dir, byte[] nb, int mode, int uid, int gid, InodeInit init)
            throws IOException {
        if (dirs.find(dir, nb) != null) {
            throw new FsException(Errno.EEXIST, "'" + new String(nb, StandardCharsets.UTF_8)
                    + "' exists in directory inode " + dir.ino);
        }
        if (links(dir) == 0) {
            throw new FsException(Errno.ENOENT, "directory inode " + dir.ino + " was removed");
        }
        boolean isDir = FileMode.isDirectory(mode);
        if (isDir && links(dir) >= LINK_MAX) {
            throw new FsException(Errno.EMLINK, "directory inode " + dir.ino + " has " + LINK_MAX + " links");
        }
        ExtInode inode = newInode(pins, dir, mode, uid, gid);
        try {
            init.init(inode);
            dirs.add(dir, nb, inode.ino, DirEntryCodec.fileTypeOfMode(mode));
        } catch (IOException | RuntimeException e) {
            discardNewInode(inode, e);
            throw e;
        }
        if (isDir) {
            addLinks(dir, 1, false);
        }
        touchMtimeCtime(dir);
        return inode;
    }

    @Override
    public InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException {
        return createNode(dirIno, name, FileMode.S_IFDIR | (mode & FileMode.PERM_MASK), uid, gid,
                i -> dirs.init(i, dirIno));
    }

    @Override
    public InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException {
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        if (t.length == 0) {
            throw new FsException(Errno.ENOENT, "empty symlink target");
        }
        if (t.length + 1 > blockSizeBytes) {
            throw new FsException(Errno.ENAMETOOLONG, "symlink target of " + t.length + " bytes");
        }
        return createNode(dirIno, name, FileMode.S_IFLNK | 0777, uid, gid, i -> {
            if (t.length < DiskInode.I_BLOCK_BYTES) {
                i.lock.lock();
                try {
                    i.disk.setBlockBytes(t);
                } finally {
                    i.lock.unlock();
                }
                i.setFastSymlink(true);
                i.setSizeBytes(t.length);
            } else {
                i.setFastSymlink(false);
                ByteBuffer src = ByteBuffer.wrap(t);
                while (src.hasRemaining()) {
                    if (BufferedIo.write(i, src.position(), src, iomapOps) <= 0) {
                        throw new FsException(Errno.EIO, "short write of symlink inode " + i.ino);
                    }
                }
            }
        });
    }

    @Override
    public String readlink(long ino) throws IOException {
        try (Pins pins = new Pins()) {
            return readlink(iget(pins, ino));
        }
    }

    private String readlink(ExtInode i) throws IOException {
        long ino = i.ino;
        if (!i.isSymlink()) {
            throw new FsException(Errno.EINVAL, "inode " + ino + " is not a symlink");
        }
        int size = (int) i.sizeBytes();
        if (i.isFastSymlink()) {
            byte[] b;
            i.lock.lock();
            try {
                b = i.disk.blockBytes();
            } finally {
                i.lock.unlock();
            }
            return new String(b, 0, Math.min(size, b.length), StandardCharsets.UTF_8);
        }
        ByteBuffer dst = ByteBuffer.allocate(size);
        while (dst.hasRemaining()) {
            if (BufferedIo.read(i, dst.position(), dst, iomapOps) <= 0) {
                throw new CorruptFilesystemException("symlink inode " + ino + ": data shorter than its size " + size);
            }
        }
        return new String(dst.array(), StandardCharsets.UTF_8);
    }

    @Override
    public InodeAttr link(long ino, long newDirIno, String newName) throws IOException {
        checkWritable();
        InodeAttr a;
        try (Pins pins = new Pins()) {
            a = link(pins, ino, newDirIno, newName);
        }
        writebackPendingEvictions();
        return a;
    }

    private InodeAttr link(Pins pins, long ino, long newDirIno, String newName) throws IOException {
        ExtInode i = iget(pins, ino);
        if (i.isDir()) {
            throw new FsException(Errno.EPERM, "hard link to directory inode " + ino);
        }
        ExtInode dir = dirInode(pins, newDirIno);
        byte[] nb = nameBytes(newName);
        nsLock.writeLock().lock();
        try {
            if (dirs.find(dir, nb) != null) {
                throw new FsException(Errno.EEXIST, "'" + newName + "' exists in directory inode " + newDirIno);
            }
            int n = links(i);
            if (n == 0) {
                throw new FsException(Errno.ENOENT, "inode " + ino + " was removed");
            }
            if (n >= LINK_MAX) {
                throw new FsException(Errno.EMLINK, "inode " + ino + " has " + LINK_MAX + " links");
            }
            dirs.add(dir, nb, ino, DirEntryCodec.fileTypeOfMode(i.mode()));
            addLinks(i, 1, true);
            touchMtimeCtime(dir);
            ref(i);
        } finally {
            nsLock.writeLock().unlock();
        }
        return attr(i);
    }

    @Override
    public void unlink(long dirIno, String name) throws IOException {
        checkWritable();
        try (Pins pins = new Pins()) {
            unlink(pins, dirIno, name);
        }
        writebackPendingEvictions();
    }

    private void unlink(Pins pins, long dirIno, String name) throws IOException {
        ExtInode dir = dirInode(pins, dirIno);
        byte[] nb = nameBytes(name);
        nsLock.writeLock().lock();
        try {
            Directories.Slot s = dirs.find(dir, nb);
            if (s == null) {
                throw new FsException(Errno.ENOENT, "'" + name + "' not found in directory inode " + dirIno);
            }
            ExtInode i = igetChild(pins, s.ino(), dir);
            if (i.isDir()) {
                throw new FsException(Errno.EISDIR, "'" + name + "' is a directory");
            }
            dirs.remove(dir, s);
            touchMtimeCtime(dir);
            addLinks(i, -1, true);
            maybeFree(i);
        } finally {
            nsLock.writeLock().unlock();
        }
    }

    @Override
    public void rmdir(long dirIno, String name) throws IOException {
        checkWritable();
        try (Pins pins = new Pins()) {
            rmdir(pins, dirIno, name);
        }
        writebackPendingEvictions();
    }

    private void rmdir(Pins pins, long dirIno, String name) throws IOException {
        ExtInode dir = dirInode(pins, dirIno);
        byte[] nb = nameBytes(name);
        if (name.equals(".")) {
            throw new FsException(Errno.EINVAL, "rmdir of '.'");
        }
        if (name.equals("..")) {
            throw new FsException(Errno.ENOTEMPTY, "rmdir of '..'");
        }
        nsLock.writeLock().lock();
        try {
            Directories.Slot s = dirs.find(dir, nb);
            if (s == null) {
                throw new FsException(Errno.ENOENT, "'" + name + "' not found in directory inode " + dirIno);
            }
            ExtInode victim = igetChild(pins, s.ino(), dir);
            if (!victim.isDir()) {
                throw new FsException(Errno.ENOTDIR, "'" + name + "' is not a directory");
            }
            if (!dirs.isEmpty(victim)) {
                throw new FsException(Errno.ENOTEMPTY, "directory '" + name + "' (inode " + victim.ino + ") not empty");
            }
            dirs.remove(dir, s);
            touchMtimeCtime(dir);
            addLinks(victim, -links(victim), true);
            addLinks(dir, -1, false);
            maybeFree(victim);
        } finally {
            nsLock.writeLock().unlock();
        }
    }

    @Override
    public void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException {
        checkWritable();
        if ((flags & ~RENAME_NOREPLACE) != 0) {
            throw new FsException(Errno.EINVAL, "rename flags 0x" + Integer.toHexString(flags) + " not supported by ext2");
        }
        try (Pins pins = new Pins()) {
            rename(pins, oldDirIno, oldName, newDirIno, newName, flags);
        }
        writebackPendingEvictions();
    }

    private void rename(Pins pins, long oldDirIno, String oldName, long newDirIno, String newName, int flags)
            throws IOException {
        ExtInode oldDir = dirInode(pins, oldDirIno);
        ExtInode newDir = dirInode(pins, newDirIno);
        byte[] oldNb = nameBytes(oldName);
        byte[] newNb = nameBytes(newName);
        if (oldName.equals(".") || oldName.equals("..") || newName.equals(".") || newName.equals("..")) {
            throw new FsException(Errno.EINVAL, "rename of '.' or '..'");
        }
        nsLock.writeLock().lock();
        try {
            Directories.Slot os = dirs.find(oldDir, oldNb);
            if (os == null) {
                throw new FsException(Errno.ENOENT, "'" + oldName + "' not found in directory inode " + oldDirIno);
            }
            ExtInode src = igetChild(pins, os.ino(), oldDir);
            Directories.Slot ns = dirs.find(newDir, newNb);
            ExtInode target = ns == null ? null : igetChild(pins, ns.ino(), newDir);
            if (target != null && (flags & RENAME_NOREPLACE) != 0) {
                throw new FsException(Errno.EEXIST, "'" + newName + "' exists (RENAME_NOREPLACE)");
            }
            if (target == src) {
                return; // same inode under both names: POSIX says do nothing
            }
            boolean srcDir = src.isDir();
            // The VFS's order of checks (fs/namei.c do_renameat2): EINVAL for a move into the own subtree
            // comes before the type and emptiness checks on the target.
            if (srcDir && oldDir != newDir) {
                checkNotAncestor(pins, src, newDir);
            }
            if (target != null) {
                if (srcDir && !target.isDir()) {
                    throw new FsException(Errno.ENOTDIR, "'" + newName + "' is not a directory");
                }
                if (!srcDir && target.isDir()) {
                    throw new FsException(Errno.EISDIR, "'" + newName + "' is a directory");
                }
                if (target.isDir() && !dirs.isEmpty(target)) {
                    throw new FsException(Errno.ENOTEMPTY, "directory '" + newName + "' not empty");
                }
            }
            if (srcDir && oldDir != newDir) {
                if (target == null && links(newDir) >= LINK_MAX) {
                    throw new FsException(Errno.EMLINK, "directory inode " + newDirIno + " has " + LINK_MAX + " links");
                }
            }
            int ft = DirEntryCodec.fileTypeOfMode(src.mode());
            if (target != null) {
                dirs.retarget(newDir, ns, src.ino, ft);
                if (target.isDir()) {
                    addLinks(target, -links(target), true);
                } else {
                    addLinks(target, -1, true);
                }
            } else {
                dirs.add(newDir, newNb, src.ino, ft);
                if (srcDir) {
                    addLinks(newDir, 1, false);
                }
            }
            // Adding may have split the entry before the old one: find it again.
            Directories.Slot again = dirs.find(oldDir, oldNb);
            if (again == null || again.ino() != src.ino) {
                throw new CorruptFilesystemException("directory inode " + oldDirIno + ": entry '" + oldName
                        + "' changed during rename");
            }
            dirs.remove(oldDir, again);
            if (srcDir) {
                if (oldDir != newDir) {
                    Directories.Slot dd = dirs.find(src, new byte[] {'.', '.'});
                    if (dd == null) {
                        throw new CorruptFilesystemException("directory inode " + src.ino + " has no '..' entry");
                    }
                    dirs.retarget(src, dd, newDir.ino, DirEntryCodec.FT_DIR);
                }
                addLinks(oldDir, -1, false);
            }
            addLinks(src, 0, true);
            touchMtimeCtime(oldDir);
            touchMtimeCtime(newDir);
            if (target != null) {
                maybeFree(target);
            }
        } finally {
            nsLock.writeLock().unlock();
        }
    }

    /** EINVAL if {@code dir} is {@code src} or below it (walks ".." up to the root, bounded). */
    private void checkNotAncestor(Pins pins, ExtInode src, ExtInode dir) throws IOException {
        ExtInode cur = dir;
        for (long steps = 0; steps <= inodesCount; steps++) {
            if (cur == src) {
                throw new FsException(Errno.EINVAL, "cannot move directory inode " + src.ino + " into its own subtree");
            }
            if (cur.ino == ROOT_INO) {
                return;
            }
            Directories.Slot dd = dirs.find(cur, new byte[] {'.', '.'});
            if (dd == null) {
                throw new CorruptFilesystemException("directory inode " + cur.ino + " has no '..' entry");
            }
            cur = igetChild(pins, dd.ino(), cur);
            if (!cur.isDir()) {
                throw new CorruptFilesystemException("'..' of a directory is inode " + cur.ino + ", not a directory");
            }
        }
        throw new CorruptFilesystemException("'..' chain from directory inode " + dir.ino + " does not reach the root");
    }

    @Override
    public void readdir(long dirIno, long offset, DirSink sink) throws IOException {
        try (Pins pins = new Pins()) {
            readdir(pins, dirIno, offset, sink);
        }
    }

    private void readdir(Pins pins, long dirIno, long offset, DirSink sink) throws IOException {
        ExtInode dir = dirInode(pins, dirIno);
        nsLock.readLock().lock();
        try {
            dirs.iterate(dir, offset, (pos, recLen, ino, block, off) -> {
                int nl = DirEntryCodec.nameLen(block, off);
                String name = new String(block, off + DirEntryCodec.HEADER_BYTES, nl, StandardCharsets.UTF_8);
                int dtype = hasFiletype ? DirEntryCodec.dtypeOfFileType(DirEntryCodec.fileType(block, off))
                        : FileMode.dtype(iget(pins, ino).mode());
                return sink.accept(new DirEntry(name, ino, dtype, pos + recLen));
            });
        } finally {
            nsLock.readLock().unlock();
        }
        touchAtime(dir);
    }

    /** An open regular file; {@code readahead} is non-null for O_DIRECT handles (sequential-stream read-ahead). */
    private record Handle(long ino, int openFlags, ExtInode inode, ErrSeq.Cursor cursor,
            DirectReadahead readahead) implements FileHandle {
    }

    private Handle handle(FileHandle fh) throws FsException {
        if (!(fh instanceof Handle h) || h.inode.fs != this) {
            throw new FsException(Errno.EBADF, "not a handle of this filesystem: " + fh);
        }
        if (h.inode.evicted) {
            // Only a released handle's inode can be evicted (an open one is never unused).
            throw new FsException(Errno.EBADF, "handle of inode " + h.ino + " used after release");
        }
        return h;
    }

    @Override
    public FileHandle open(long ino, int openFlags) throws IOException {
        try (Pins pins = new Pins()) {
            return openInode(iget(pins, ino), openFlags);
        }
    }

    private Handle openInode(ExtInode i, int openFlags) throws IOException {
        if (i.isDir()) {
            throw new FsException(Errno.EISDIR, "inode " + i.ino + " is a directory");
        }
        if (!i.isRegular()) {
            throw new FsException(Errno.EINVAL, "inode " + i.ino + " is not a regular file");
        }
        int acc = openFlags & O_ACCMODE;
        if (acc != O_RDONLY || (openFlags & O_TRUNC) != 0) {
            checkWritable();
        }
        synchronized (icacheLock) {
            i.openCount++;
            i.dropped = false;
        }
        DirectReadahead ra = (openFlags & O_DIRECT) != 0 && !dax && acc != O_WRONLY
                ? new DirectReadahead(readaheadSource(i), dioReadahead, DIO_READAHEAD_MAX_BYTES,
                        dioOps.dioMemoryAlignmentBytes(i))
                : null;
        Handle h = new Handle(i.ino, openFlags, i, i.mapping().errors().newCursor(), ra);
        if ((openFlags & O_TRUNC) != 0 && acc != O_RDONLY && i.sizeBytes() != 0) {
            try {
                truncate(i, 0);
            } catch (IOException | RuntimeException e) {
                release(h);
                throw e;
            }
        }
        return h;
    }

    @Override
    public Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException {
        checkWritable();
        Created c;
        try (Pins pins = new Pins()) {
            c = create(pins, dirIno, name, mode, openFlags, uid, gid);
        }
        writebackPendingEvictions();
        return c;
    }

    private Created create(Pins pins, long dirIno, String name, int mode, int openFlags, int uid, int gid)
            throws IOException {
        ExtInode dir = dirInode(pins, dirIno);
        byte[] nb = nameBytes(name);
        ExtInode inode;
        boolean existed = false;
        nsLock.writeLock().lock();
        try {
            Directories.Slot s = dirs.find(dir, nb);
            if (s != null) {
                if ((openFlags & O_EXCL) != 0) {
                    throw new FsException(Errno.EEXIST, "'" + name + "' exists in directory inode " + dirIno);
                }
                inode = igetChild(pins, s.ino(), dir);
                existed = true;
            } else {
                inode = createLocked(pins, dir, nb, FileMode.S_IFREG | (mode & FileMode.PERM_MASK), uid, gid, i -> { });
            }
            ref(inode);
        } finally {
            nsLock.writeLock().unlock();
        }
        Handle h;
        try {
            h = openInode(inode, existed ? openFlags : openFlags & ~O_TRUNC);
        } catch (IOException | RuntimeException e) {
            forget(inode.ino, 1);
            throw e;
        }
        return new Created(attr(inode), h);
    }

    @Override
    public int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException {
        Handle h = handle(fh);
        if ((h.openFlags & O_ACCMODE) == O_WRONLY) {
            throw new FsException(Errno.EBADF, "inode " + h.ino + " not open for reading");
        }
        if (posBytes < 0) {
            throw new FsException(Errno.EINVAL, "negative position " + posBytes);
        }
        ExtInode i = h.inode;
        int n;
        i.rwsem.readLock().lock();
        try {
            if (dax) {
                n = Dax.read(i, posBytes, dst, iomapOps);
            } else if (h.readahead != null) {
                n = h.readahead.read(posBytes, dst, i.dataSeq, i.sizeBytes(), (p, d) -> directRead(i, p, d));
            } else if ((h.openFlags & O_DIRECT) != 0) {
                n = directRead(i, posBytes, dst);
            } else {
                n = BufferedIo.read(i, posBytes, dst, iomapOps);
            }
        } finally {
            i.rwsem.readLock().unlock();
        }
        touchAtime(i);
        return n;
    }

    @Override
    public int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException {
        Handle h = handle(fh);
        if ((h.openFlags & O_ACCMODE) == O_RDONLY) {
            throw new FsException(Errno.EBADF, "inode " + h.ino + " not open for writing");
        }
        checkWritable();
        ExtInode i = h.inode;
        int n;
        i.rwsem.writeLock().lock();
        i.dataSeq++; // under the write lock: invalidates O_DIRECT read-ahead (DirectReadahead)
        try {
            long pos = (h.openFlags & O_APPEND) != 0 ? i.sizeBytes() : posBytes;
            if (pos < 0) {
                throw new FsException(Errno.EINVAL, "negative position " + pos);
            }
            if (!src.hasRemaining()) {
                return 0;
            }
            if (pos >= maxRegularSizeBytes) {
                throw new FsException(Errno.EFBIG, "write at " + pos + " beyond the maximum file size "
                        + maxRegularSizeBytes);
            }
            ByteBuffer part = src;
            if (src.remaining() > maxRegularSizeBytes - pos) {
                part = src.slice(src.position(), (int) (maxRegularSizeBytes - pos));
            }
            int wanted = part.remaining();
            try {
                n = dax ? Dax.write(i, pos, part, iomapOps)
                        : (h.openFlags & O_DIRECT) != 0 ? directWrite(i, pos, part)
                        : BufferedIo.write(i, pos, part, iomapOps);
            } catch (IOException | RuntimeException e) {
                try {
                    trimBeyondEof(i);
                } catch (IOException | RuntimeException e2) {
                    e.addSuppressed(e2);
                }
                throw e;
            }
            if (part != src) {
                src.position(src.position() + n);
            }
            if (n < wanted) {
                trimBeyondEof(i);
            }
            if (n > 0) {
                touchMtimeCtime(i);
            }
        } finally {
            i.rwsem.writeLock().unlock();
        }
        if ((h.openFlags & O_DSYNC) != 0) {
            fsync(h, (h.openFlags & O_SYNC) != O_SYNC);
        }
        return n;
    }

    // ---------------------------------------------------------------- direct I/O, DAX, sparse-file operations

    /** Zeroes from a new EOF to the end of its block in the cache, or on the mapping under DAX. */
    private void truncatePageData(ExtInode i, long posBytes) throws IOException {
        if (dax && i.isRegular()) {
            Dax.truncatePage(i, posBytes, iomapOps);
        } else {
            BufferedIo.truncatePage(i, posBytes, iomapOps);
        }
    }

    /** Makes a byte range read as zeroes without allocating: in the cache, or on the mapping under DAX. */
    private void zeroData(ExtInode i, long posBytes, long lengthBytes) throws IOException {
        if (lengthBytes <= 0) {
            return;
        }
        if (dax) {
            Dax.zeroRange(i, posBytes, lengthBytes, iomapOps);
        } else {
            BufferedIo.zeroRange(i, posBytes, lengthBytes, iomapOps);
        }
    }

    /** True if {@code buf} can be handed to DirectIo as is: a direct buffer at an aligned address. */
    /**
     * Whether {@code buf} can take a direct transfer as it is: a direct buffer whose address meets the device's
     * memory alignment (none for a buffered image, so FUSE payloads at header offsets need no bounce).
     */
    private boolean dioAligned(ExtInode i, ByteBuffer buf) {
        int memAlign = dioOps.dioMemoryAlignmentBytes(i);
        return buf.isDirect()
                && (memAlign <= 1 || java.lang.foreign.MemorySegment.ofBuffer(buf).address() % memAlign == 0);
    }

    private static ByteBuffer alignedBounce(int bytes, int align) {
        int rounded = (bytes + align - 1) & -align;
        return ByteBuffer.allocateDirect(rounded + align).alignedSlice(align).limit(bytes);
    }

    /**
     * The reads of an O_DIRECT handle's read-ahead, on a {@link #dioReadahead} thread: the inode's rwsem shared,
     * taken only if free at once (waiting could deadlock: a reader holding it may be waiting for this read-ahead
     * while a writer queues), and only while no writer has run since the read-ahead was planned.
     */
    private DirectReadahead.Source readaheadSource(ExtInode i) {
        return new DirectReadahead.Source() {
            @Override
            public long dataSeq() {
                return i.dataSeq;
            }

            @Override
            public long tryReadShared(long posBytes, ByteBuffer dst, long expectedSeq) throws IOException {
                if (closed || !i.rwsem.readLock().tryLock()) {
                    return -1;
                }
                try {
                    return i.dataSeq == expectedSeq ? directRead(i, posBytes, dst) : -1;
                } finally {
                    i.rwsem.readLock().unlock();
                }
            }
        };
    }

    /**
     * O_DIRECT read (caller holds the inode's rwsem shared): position and length must be multiples of the device's
     * logical block size, else EINVAL as on Linux; an unaligned caller buffer (FUSE payloads) is bounced through an
     * aligned one.
     */
    private int directRead(ExtInode i, long posBytes, ByteBuffer dst) throws IOException {
        if (posBytes >= i.sizeBytes()) {
            // EOF before the alignment check: a caller that keeps reading after a short read clipped at an
            // unaligned EOF (FUSE's READ loop) gets 0, not EINVAL.
            return 0;
        }
        int align = dioOps.dioAlignmentBytes(i);
        if (dioAligned(i, dst)) {
            return (int) DirectIo.read(i, posBytes, dst, iomapOps, dioOps, 0);
        }
        if (posBytes % align != 0 || dst.remaining() % align != 0) {
            throw new FsException(Errno.EINVAL, "inode " + i.ino + ": O_DIRECT read at " + posBytes + " of "
                    + dst.remaining() + " bytes is not aligned to " + align + " bytes");
        }
        ByteBuffer bounce = alignedBounce(dst.remaining(), align);
        int n = (int) DirectIo.read(i, posBytes, bounce, iomapOps, dioOps, 0);
        dst.put(bounce.flip());
        return n;
    }

    /**
     * O_DIRECT write (caller holds the inode's rwsem exclusively). Aligned as {@link #directRead}. A direct write
     * that would fill a hole below EOF gets ENOTBLK from ext2's iomapBegin; the rest of the write then goes
     * through the page cache and is written back and dropped from it before returning (the kernel's
     * generic_file_direct_write fallback), so the O_DIRECT caller still finds its data on the device. An error
     * in the fallback after direct progress ends the write short.
     */
    private int directWrite(ExtInode i, long posBytes, ByteBuffer src) throws IOException {
        int align = dioOps.dioAlignmentBytes(i);
        ByteBuffer buf = src;
        if (!dioAligned(i, src)) {
            if (posBytes % align != 0 || src.remaining() % align != 0) {
                throw new FsException(Errno.EINVAL, "inode " + i.ino + ": O_DIRECT write at " + posBytes + " of "
                        + src.remaining() + " bytes is not aligned to " + align + " bytes");
            }
            buf = alignedBounce(src.remaining(), align);
            buf.put(src.duplicate()).flip();
        }
        int wanted = buf.remaining();
        long done;
        try {
            done = DirectIo.write(i, posBytes, buf, iomapOps, dioOps, 0);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOTBLK) {
                throw e;
            }
            done = 0;
        }
        if (done < wanted) {
            long fallbackPos = posBytes + done;
            int m;
            try {
                m = BufferedIo.write(i, fallbackPos, buf, iomapOps);
            } catch (IOException | RuntimeException e) {
                if (done == 0) {
                    throw e;
                }
                m = 0; // short write: the caller sees the direct part; the error repeats on the next write
            }
            i.mapping().invalidateRange(fallbackPos, fallbackPos + m);
            done += m;
        }
        if (buf != src) {
            src.position(src.position() + (int) done);
        }
        return (int) done;
    }

    /**
     * lseek(2) SEEK_DATA / SEEK_HOLE through the core's {@link Seek} over ext2's block map (REPORT mappings never
     * allocate). ext2 has no unwritten extents, so mapped blocks are data and holes (sparse pointers, missing
     * indirect blocks) are holes; there is an implicit hole at EOF.
     *
     * @throws FsException ENXIO at or past EOF (or for SEEK_DATA with no data after the offset); EINVAL for
     *                     another whence
     */
    @Override
    public long seekDataHole(FileHandle fh, long offsetBytes, int whence) throws IOException {
        Handle h = handle(fh);
        ExtInode i = h.inode;
        i.rwsem.readLock().lock();
        try {
            return switch (whence) {
                case SEEK_DATA -> Seek.seekData(i, offsetBytes, iomapOps);
                case SEEK_HOLE -> Seek.seekHole(i, offsetBytes, iomapOps);
                default -> throw new FsException(Errno.EINVAL, "lseek whence " + whence);
            };
        } finally {
            i.rwsem.readLock().unlock();
        }
    }

    /**
     * FIEMAP of inode {@code ino} over {@code [startBytes, startBytes + lengthBytes)} through the core's
     * {@link Fiemap}: one extent per mapping ext2 returns (a physically contiguous run that never crosses the end
     * of its pointer block, flagged MERGED), holes skipped, LAST on the final one. As the kernel's ext2_fiemap, the
     * length is clamped to i_size (at least 1) so that the walk does not cover the whole addressable range.
     *
     * @param fiemapFlags {@link Fiemap#FLAG_SYNC} writes dirty data back first
     * @return the extents (empty for files without a block map: fast symlinks, devices)
     * @throws FsException EINVAL for a negative range; EUCLEAN for a block pointer outside the filesystem
     */
    public List<FiemapExtent> fiemap(long ino, long startBytes, long lengthBytes, int fiemapFlags)
            throws IOException {
        try (Pins pins = new Pins()) {
            return fiemap(iget(pins, ino), startBytes, lengthBytes, fiemapFlags);
        }
    }

    private List<FiemapExtent> fiemap(ExtInode i, long startBytes, long lengthBytes, int fiemapFlags)
            throws IOException {
        if (startBytes < 0 || lengthBytes < 0) {
            throw new FsException(Errno.EINVAL, "fiemap range " + startBytes + "+" + lengthBytes);
        }
        if (!i.hasBlockMap()) {
            return List.of();
        }
        i.rwsem.readLock().lock();
        try {
            long len = Math.min(lengthBytes, Math.max(1, i.sizeBytes()));
            return Fiemap.fiemap(i, startBytes, len, fiemapFlags, 0, iomapOps);
        } finally {
            i.rwsem.readLock().unlock();
        }
    }

    /**
     * bmap (FIBMAP): the physical block holding logical block {@code lblk} of inode {@code ino}, 0 for a hole,
     * after writing the file's dirty data back.
     */
    public long bmap(long ino, long lblk) throws IOException {
        try (Pins pins = new Pins()) {
            return bmap(iget(pins, ino), lblk);
        }
    }

    private long bmap(ExtInode i, long lblk) throws IOException {
        if (!i.hasBlockMap()) {
            return 0;
        }
        i.rwsem.readLock().lock();
        try {
            return Fiemap.bmap(i, lblk, iomapOps);
        } finally {
            i.rwsem.readLock().unlock();
        }
    }

    /**
     * fallocate(2) on ext2, which has no unwritten extents:
     * <ul>
     *   <li>{@code PUNCH_HOLE|KEEP_SIZE}: partial edge blocks are zeroed (in the cache, written back later; on the
     *       mapping under DAX), whole blocks are written back, dropped from the cache and freed, together with
     *       indirect blocks left mapping nothing. A range past EOF frees the block straddling EOF too. PUNCH_HOLE
     *       without KEEP_SIZE is EOPNOTSUPP (as vfs_fallocate).</li>
     *   <li>{@code ZERO_RANGE} [{@code |KEEP_SIZE}]: the range reads as zeroes; mapped blocks stay allocated and are
     *       zeroed in place, holes stay holes (nothing is preallocated); without KEEP_SIZE the size grows to the
     *       end of the range.</li>
     *   <li>mode 0: holes in the range are allocated and filled with zeroes on the device (so the image stays
     *       e2fsck-clean: every allocated block is inside i_size), mapped blocks are left alone, the size grows
     *       to the end of the range. On failure (ENOSPC) blocks allocated beyond EOF are freed again.</li>
     *   <li>{@code KEEP_SIZE} alone (preallocation beyond EOF) is EOPNOTSUPP like the kernel's ext2, which has no
     *       ->fallocate: without unwritten extents it would leave blocks past i_size that e2fsck flags (fuse2fs's
     *       mistake). Other modes (COLLAPSE, INSERT, UNSHARE) are EOPNOTSUPP.</li>
     * </ul>
     *
     * @throws FsException EBADF for a read-only handle, EINVAL for a bad range, EFBIG beyond the maximum file
     *                     size, EOPNOTSUPP as above, ENOSPC, EROFS
     */
    @Override
    public void fallocate(FileHandle fh, int mode, long offsetBytes, long lengthBytes) throws IOException {
        Handle h = handle(fh);
        if ((h.openFlags & O_ACCMODE) == O_RDONLY) {
            throw new FsException(Errno.EBADF, "inode " + h.ino + " not open for writing");
        }
        checkWritable();
        if (offsetBytes < 0 || lengthBytes <= 0) {
            throw new FsException(Errno.EINVAL, "fallocate range " + offsetBytes + "+" + lengthBytes);
        }
        int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
        if ((mode & ~known) != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "fallocate mode 0x" + Integer.toHexString(mode)
                    + " not supported by ext2");
        }
        boolean punch = (mode & FALLOC_FL_PUNCH_HOLE) != 0;
        boolean zero = (mode & FALLOC_FL_ZERO_RANGE) != 0;
        boolean keepSize = (mode & FALLOC_FL_KEEP_SIZE) != 0;
        if (punch && zero) {
            throw new FsException(Errno.EINVAL, "PUNCH_HOLE and ZERO_RANGE together");
        }
        if (punch && !keepSize) {
            throw new FsException(Errno.EOPNOTSUPP, "PUNCH_HOLE needs KEEP_SIZE");
        }
        if (!punch && !zero && keepSize) {
            throw new FsException(Errno.EOPNOTSUPP, "ext2 cannot preallocate beyond EOF (no unwritten extents): "
                    + "fallocate KEEP_SIZE is not supported");
        }
        long endBytes = offsetBytes + lengthBytes;
        if (endBytes < 0 || (!keepSize && endBytes > maxRegularSizeBytes)) {
            throw new FsException(Errno.EFBIG, "fallocate end " + endBytes + " beyond the maximum file size "
                    + maxRegularSizeBytes);
        }
        ExtInode i = h.inode;
        i.rwsem.writeLock().lock();
        i.dataSeq++; // under the write lock: invalidates O_DIRECT read-ahead (DirectReadahead)
        try {
            AddressSpace m = i.mapping();
            m.invalidateLock().writeLock().lock();
            try {
                if (punch) {
                    punchHole(i, offsetBytes, endBytes);
                } else if (zero) {
                    if (!keepSize && endBytes > i.sizeBytes()) {
                        growSize(i, endBytes);
                    }
                    zeroData(i, offsetBytes, Math.min(endBytes, i.sizeBytes()) - offsetBytes);
                } else {
                    allocateZeroed(i, offsetBytes, endBytes);
                }
            } finally {
                m.invalidateLock().writeLock().unlock();
            }
            touchMtimeCtime(i);
        } finally {
            i.rwsem.writeLock().unlock();
        }
    }

    /** Raises i_size to {@code newSize}, zeroing the old EOF block's tail (as truncate does when growing). */
    private void growSize(ExtInode i, long newSize) throws IOException {
        long oldSize = i.sizeBytes();
        i.setSizeBytes(newSize);
        if ((oldSize & (blockSizeBytes - 1)) != 0) {
            truncatePageData(i, oldSize);
        }
    }

    /** PUNCH_HOLE|KEEP_SIZE over {@code [startBytes, endBytes)}; rwsem and invalidate lock held exclusively. */
    private void punchHole(ExtInode i, long startBytes, long endBytes) throws IOException {
        long size = i.sizeBytes();
        long bs = blockSizeBytes;
        long end = Math.min(endBytes, (size + bs - 1) & -bs);
        if (startBytes >= end) {
            return;
        }
        long firstFull = (startBytes + bs - 1) & -bs;
        long lastFull = end & -bs;
        if (firstFull >= lastFull) {
            zeroData(i, startBytes, Math.min(end, size) - startBytes);
            return;
        }
        zeroData(i, startBytes, firstFull - startBytes);
        zeroData(i, lastFull, Math.min(end, size) - lastFull);
        // Write back (nothing is lost: the blocks are about to be freed) and drop the cached whole blocks, so
        // that neither a later read nor writeback touches the freed blocks.
        i.mapping().invalidateRange(firstFull, lastFull);
        i.lock.lock();
        try {
            blockMap.freeRange(i, firstFull >>> blockBits, lastFull >>> blockBits);
        } finally {
            i.lock.unlock();
        }
    }

    private static final int ZERO_CHUNK_BYTES = 1 << 20;

    /** fallocate mode 0 over {@code [startBytes, endBytes)}; rwsem and invalidate lock held exclusively. */
    private void allocateZeroed(ExtInode i, long startBytes, long endBytes) throws IOException {
        long lblk = startBytes >>> blockBits;
        long endLblk = ((endBytes - 1) >>> blockBits) + 1;
        ByteBuffer zeroes = null;
        try {
            while (lblk < endLblk) {
                BlockMap.Run run;
                i.lock.lock();
                try {
                    run = blockMap.map(i, lblk, endLblk - lblk, false);
                    if (run.isHole()) {
                        run = blockMap.map(i, lblk, run.nrBlocks(), true);
                    }
                } finally {
                    i.lock.unlock();
                }
                if (run.fresh()) {
                    // Readers are shut out by the rwsem until the blocks hold zeroes and i_size covers them.
                    if (zeroes == null) {
                        zeroes = ByteBuffer.allocateDirect(ZERO_CHUNK_BYTES);
                    }
                    long addr = run.pblk() << blockBits;
                    long left = run.nrBlocks() << blockBits;
                    while (left > 0) {
                        int n = (int) Math.min(left, ZERO_CHUNK_BYTES);
                        device.write(addr, zeroes.clear().limit(n));
                        addr += n;
                        left -= n;
                    }
                }
                lblk += run.nrBlocks();
            }
        } catch (IOException | RuntimeException e) {
            try {
                trimBeyondEof(i);
            } catch (IOException | RuntimeException e2) {
                e.addSuppressed(e2);
            }
            throw e;
        }
        if (endBytes > i.sizeBytes()) {
            growSize(i, endBytes);
        }
    }

    /**
     * Writes the file's data, its inode and all dirty metadata, then flushes the device. The file is clean
     * afterwards but open, so not evictable here: its release/forget that drops the last handle or reference
     * finds it clean and evicts it at once (see the class comment).
     */
    @Override
    public void fsync(FileHandle fh, boolean dataOnly) throws IOException {
        Handle h = handle(fh);
        ExtInode i = h.inode;
        AddressSpace m = i.mapping();
        if (readOnly) {
            h.cursor.check();
            return;
        }
        try {
            Writeback.writeAndWait(m, 0, Long.MAX_VALUE);
        } catch (IOException e) {
            // The error is recorded on the mapping's ErrSeq: report it through this handle's cursor so that
            // it advances and the error is reported once per handle (Linux file_write_and_wait_range).
            h.cursor.check();
            throw e;
        }
        // The inode, its indirect blocks and the bitmaps/descriptors its blocks depend on (no per-inode
        // tracking of those: all dirty metadata is written, data first).
        dirtyInodes.remove(i);
        try {
            writeInode(i);
        } catch (IOException | RuntimeException e) {
            markDirty(i); // still only in memory: keep it dirty (and so never evicted) for the next sync
            throw e;
        }
        allocator.writeDescriptors();
        bcache.syncDirtyOrdered(this::isInodeTableBlock);
        Writeback.fsync(i, 0, Long.MAX_VALUE, h.cursor, device);
    }

    /**
     * Closes a handle. The last handle of an unlinked, unreferenced file frees it; the last handle of a linked
     * file without lookup references makes it unused: evicted now if clean, else pending (see the class comment).
     * Then pending evictions are written back if too many wait.
     */
    @Override
    public void release(FileHandle fh) throws IOException {
        Handle h = handle(fh);
        ExtInode i = h.inode;
        if (h.readahead != null) {
            h.readahead.close();
        }
        boolean last;
        synchronized (icacheLock) {
            if (i.openCount > 0) {
                i.openCount--;
            }
            last = i.openCount == 0 && i.lookupRefs == 0;
        }
        if (!readOnly && i.unlinked) {
            maybeFreeUnderNs(i);
        }
        if (last) {
            releaseUnused(i, true);
        }
        writebackPendingEvictions();
    }

    private void maybeFreeUnderNs(ExtInode i) throws IOException {
        nsLock.writeLock().lock();
        try {
            maybeFree(i);
        } finally {
            nsLock.writeLock().unlock();
        }
    }

    /**
     * Drops lookup references. The last one of an unlinked file without open handles frees it (as before); the
     * last one of a linked inode without open handles evicts it if clean, else makes it pending until it is
     * clean (sync). Does no I/O for a linked inode: FUSE's FORGET has no reply and must be cheap (it may wait
     * for a writeback already in flight on the evicted inode's folios, in page-cache teardown).
     *
     * <p>Whether to free is decided by {@link ExtInode#unlinked}, set by the unlinking operation while it has
     * the inode pinned: if this forget reads it false, that operation has not unpinned yet and its
     * {@link Pins#close()} sees the references dropped here (both under icacheLock) and frees the inode.
     */
    @Override
    public void forget(long ino, long count) throws IOException {
        ExtInode i;
        boolean last;
        synchronized (icacheLock) {
            i = icache.get(ino);
            if (i == null) {
                return;
            }
            long before = i.lookupRefs;
            i.lookupRefs = Math.max(0, i.lookupRefs - count);
            last = before > 0 && i.lookupRefs == 0 && i.openCount == 0;
        }
        if (!readOnly && i.unlinked) {
            maybeFreeUnderNs(i);
        }
        if (last) {
            releaseUnused(i, true);
        }
    }

    @Override
    public StatFs statfs() throws IOException {
        checkOpen();
        long overhead = firstDataBlock;
        boolean sparse = sb.hasRoCompat(Features.RO_COMPAT_SPARSE_SUPER);
        long gdtBlocks = Layout.gdtBlocks(gds.length, blockSizeBytes);
        for (int g = 0; g < gds.length; g++) {
            if (Layout.hasSuper(g, sparse)) {
                overhead += 1 + gdtBlocks + sb.reservedGdtBlocks();
            }
            overhead += 2 + itableBlocks;
        }
        long free = allocator.freeBlocks();
        long reserved;
        synchronized (sbLock) {
            reserved = sb.reservedBlocksCount();
        }
        return new StatFs(blockSizeBytes, blocksCount - overhead, free, Math.max(0, free - reserved), inodesCount,
                allocator.freeInodes(), DirEntryCodec.NAME_MAX);
    }

    @Override
    public void sync() throws IOException {
        checkOpen();
        if (readOnly) {
            return;
        }
        pageCache.syncAll();
        writeDirtyInodes(); // evicts each unused dropped inode right after writing it
        allocator.writeDescriptors();
        writeSuperblock();
        bcache.syncDirtyOrdered(this::isInodeTableBlock);
        device.flush();
        evictCleanPending(); // the rest: pending inodes whose only dirt was data
    }

    /**
     * Unmounts: frees inodes whose last link went while still referenced, writes back data and metadata, restores
     * the superblock state found at mount (clean if it was clean) with free counts and s_wtime, and closes the
     * device if the filesystem opened it.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            stopDioReadahead();
            stopPendingFlusher(); // sync below writes back whatever it left pending
            if (!readOnly) {
                List<ExtInode> orphans = new ArrayList<>();
                synchronized (icacheLock) {
                    for (ExtInode i : icache.values()) {
                        if (!i.freed && i.ino != ROOT_INO) {
                            orphans.add(i);
                        }
                    }
                }
                nsLock.writeLock().lock();
                try {
                    for (ExtInode i : orphans) {
                        if (links(i) == 0) {
                            synchronized (icacheLock) {
                                if (i.freed) {
                                    continue;
                                }
                                i.freed = true;
                            }
                            evictAndFree(i);
                        }
                    }
                } finally {
                    nsLock.writeLock().unlock();
                }
                sync();
                synchronized (sbLock) {
                    sb.setState(stateAtMount);
                }
                writeSuperblock();
                bcache.flush();
            }
        } finally {
            closed = true;
            pendingFlusher.shutdownNow();
            pageCache.close();
            bcache.close();
            if (ownsDevice) {
                device.close();
            }
        }
    }
}
