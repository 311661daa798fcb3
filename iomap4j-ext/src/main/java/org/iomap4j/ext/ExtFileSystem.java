package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.MappedBlockDevice;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.FeatureSupport;
import org.iomap4j.ext.disk.GroupDescriptor;
import org.iomap4j.fs.GenericFile;
import org.iomap4j.fs.InodeCache;
import org.iomap4j.fs.InodeWriteback;
import org.iomap4j.fs.Pins;
import org.iomap4j.iomap.Dax;
import org.iomap4j.iomap.Fiemap;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.StatFs;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsFallocate;
import org.iomap4j.vfs.VfsNamespace;
import org.iomap4j.vfs.VfsSeek;
import org.iomap4j.vfs.VfsWrite;
import org.iomap4j.vfs.VfsXattr;

/**
 * A mounted ext2 filesystem: the on-disk format exactly as {@code mke2fs -t ext2} and the Linux kernel know it,
 * with file and directory data on iomap4j's page cache ({@link BufferedIo}/{@link Writeback} through
 * {@link ExtIomapOps}) and metadata (superblock, group descriptors, bitmaps, inode tables, indirect blocks)
 * through the core's {@link BufferCache}. This class is the public entry ({@link #mount}, {@link Vfs}); the work
 * is done in kernel-like rooms:
 * <ul>
 *   <li>{@link ExtSuper} (super.c): superblock and descriptor validation, statfs, sync, unmount;</li>
 *   <li>{@link ExtInodeTable} (inode.c): inode table read/write and validation, the generic inode cache's
 *       callbacks, inode creation and freeing, attributes;</li>
 *   <li>{@link ExtNamei} (namei.c) over {@link Directories}/{@link DirIndex} (dir.c): namespace operations;</li>
 *   <li>{@link ExtFile} (file.c) over the core's {@link GenericFile}: open/read/write, setattr/truncate,
 *       fallocate, seek, fiemap, bmap; {@link ExtFsync} (fsync.c);</li>
 *   <li>{@link ExtBlockMapping} chosen per inode ({@link BlockMap}: the indirect tree), answered as iomaps by
 *       {@link ExtIomapOps}; {@link ExtGroups} with {@link ExtBalloc} (balloc.c) and {@link ExtIalloc}
 *       (ialloc.c).</li>
 * </ul>
 * The generic VFS layer is the core's {@code org.iomap4j.fs}: {@link InodeCache} (iget, pins, LRU, eviction),
 * {@link InodeWriteback} (dirty inodes, pending evictions, flusher) and {@link GenericFile}.
 *
 * <p>Features: {@link org.iomap4j.ext.disk.FeatureSupport#classify} decides (read-write, read-only with
 * {@link #readOnlyReason()} naming the feature, or refused with EINVAL naming it); ext4 metadata (64bit, flex_bg,
 * uninit groups, metadata_csum, extra_isize timestamps, the orphan list) is described in docs/architecture.md.
 * Revision 0 and 1, 128- and larger inodes, block sizes 1 KiB to 64 KiB.
 *
 * <p>Lock order (outermost first): {@link #nsLock} (namespace: shared for every namespace operation, exclusive
 * only to free an unlinked inode and at unmount) → ExtNamei's rename lock → directories' i_rwsem
 * ({@link org.iomap4j.fs.Inode#rwsem}, parent before child; see ExtNamei) → a file's {@link org.iomap4j.fs.Inode#rwsem} → the
 * core's invalidate and folio locks → {@link ExtInode#lock} (block map and on-disk fields) → the {@link ExtGroups} monitor →
 * {@code ExtSuper.sbLock} → buffer locks → the buffer cache's monitor. The inode cache's lock is a leaf: nothing
 * is acquired while it is held. {@link InodeWriteback}'s batch lock is taken with no other lock held.
 */
public final class ExtFileSystem implements Vfs, VfsWrite, VfsNamespace, VfsFallocate, VfsSeek, VfsXattr {
    /** The root directory's inode number. */
    public static final long ROOT_INO = 2;
    /** EXT2_LINK_MAX. */
    public static final int LINK_MAX = 32000;

    final BlockDevice device;
    private final boolean ownsDevice;
    final ExtGeometry geo;
    final BufferCache bcache;
    final PageCache pageCache;
    final ExtIomapOps iomapOps;
    final ExtDioOps dioOps;
    /** The indirect block map ({@link ExtBlockMapping} of inodes without EXT4_EXTENTS_FL). */
    private final BlockMap indirectMap;
    /** The extent tree ({@link ExtBlockMapping} of inodes with EXT4_EXTENTS_FL). */
    final ExtentTree extentTree;
    final ExtGroups groups;
    final ExtBalloc balloc;
    final ExtIalloc ialloc;
    final Directories dirs;
    final ExtSuper sup;
    final ExtInodeTable inodes;
    final InodeCache<ExtInode> icache;
    final ExtNamei namei;
    final ExtFile file;
    final ExtFsync fsyncRoom;
    /** The orphan file (compat orphan_file): new orphans are recorded once a read-write mount loaded it. */
    final ExtOrphanFile orphanFile = new ExtOrphanFile(this);
    final ExtXattr xattr;
    /** Inline data: reads and conversion to blocks. */
    final ExtInline inline = new ExtInline(this);
    final ExtAcl acl;
    /** Journaled writes (has_journal, read-write); inactive otherwise, its handles null. */
    final ExtJournaling journal = new ExtJournaling(this);
    /** Regular-file data goes through {@link Dax} on the mapped device (mount option dax). */
    final boolean dax;
    /** Mounted noatime: reads never update atime (else relatime, {@link ExtInodeTable#touchAtime}). */
    final boolean noatime;
    /**
     * Delayed allocation for extent-mapped regular files (mount option, default on; off with DAX): buffered writes
     * into holes are DELALLOC mappings whose blocks the page cache reserves ({@link ExtBalloc#reserveDelalloc})
     * and writeback allocates.
     */
    final boolean delalloc;
    private final long maxRegularSizeBytes;
    private final boolean readOnly;
    private final String readOnlyReason;
    /** The namespace lock (outermost, see the class comment). */
    final ReentrantReadWriteLock nsLock = new ReentrantReadWriteLock();
    /**
     * Runs O_DIRECT read-aheads ({@link org.iomap4j.iomap.DirectReadahead}): two platform threads (they block on
     * the device); a read-ahead still queued when its reader arrives is dropped and read by the reader itself.
     */
    final ExecutorService dioReadahead = Executors.newFixedThreadPool(2,
            Thread.ofPlatform().daemon().name("iomap4j-ext-dio-readahead-", 0).factory());
    volatile boolean closed;

    /**
     * Mounts the ext2 filesystem in an image file (or block device node). The device is closed by
     * {@link #close()}.
     *
     * @throws CorruptFilesystemException (EUCLEAN) for an invalid superblock or group descriptor, naming it
     * @throws FsException EINVAL for an unsupported incompat feature or revision; ENOENT/EACCES for the path
     * @param image the image file or block device node
     * @param opts mount options
     * @return the mounted filesystem
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

    /**
     * Mounts the filesystem on {@code dev}; the caller keeps ownership of the device (close does not close it).
     *
     * @param dev the device holding the filesystem
     * @param opts mount options
     * @return the mounted filesystem
     * @throws IOException CorruptFilesystemException for a bad superblock or group descriptors, EOPNOTSUPP for
     *     incompat features not supported, EIO from the device
     */
    public static ExtFileSystem mount(BlockDevice dev, ExtMountOptions opts) throws IOException {
        return new ExtFileSystem(dev, opts, false);
    }

    private ExtFileSystem(BlockDevice dev, ExtMountOptions opts, boolean ownsDevice) throws IOException {
        dev = ExtJournal.recoverAtMount(dev, opts.readOnly()); // needs_recovery: replay first (an overlay if read-only)
        this.device = dev;
        this.ownsDevice = ownsDevice;
        if (opts.dax() && !(dev instanceof MappedBlockDevice)) {
            throw new FsException(Errno.EINVAL, "dax needs a byte-addressable device (MappedBlockDevice), not " + dev);
        }
        this.dax = opts.dax();
        this.delalloc = opts.delalloc() && !opts.dax();
        this.noatime = opts.noatime();
        this.dioOps = new ExtDioOps(this);
        DiskSuperblock sb = ExtSuper.readSuperblock(dev);
        this.geo = ExtGeometry.of(sb);
        this.maxRegularSizeBytes = ExtSuper.maxFileSize(geo.blockBits());
        FeatureSupport.Verdict verdict = FeatureSupport.classify(sb); // REFUSE already thrown by readSuperblock
        String roReason = null;
        if (!verdict.readWrite()) {
            roReason = verdict.message();
        } else if (dev.isReadOnly() && !opts.readOnly()) {
            roReason = "the device is read-only";
        }
        this.readOnly = opts.readOnly() || roReason != null;
        this.readOnlyReason = opts.readOnly() ? "mounted read-only" : roReason;

        this.bcache = new BufferCache(dev, geo.blockSizeBytes(), opts.metadataCacheBytes());
        boolean ok = false;
        PageCache pc = null;
        InodeCache<ExtInode> ic = null;
        try {
            GroupDescriptor[] gds = ExtSuper.readGroupDescriptors(bcache, geo, sb);
            this.sup = new ExtSuper(this, sb, gds);
            this.groups = new ExtGroups(bcache, gds, geo, sb);
            this.balloc = new ExtBalloc(groups, sb.reservedBlocksCount(), sb.defResuid(), sb.defResgid(),
                    sb.hasIncompat(org.iomap4j.ext.disk.Features.INCOMPAT_EXTENTS) ? Math.min(geo.blocksCount() / 50, 4096) : 0);
            this.ialloc = new ExtIalloc(groups);
            this.indirectMap = new BlockMap(this, bcache);
            this.extentTree = new ExtentTree(this, bcache);
            this.iomapOps = new ExtIomapOps(this);
            this.dirs = new Directories(this);
            pc = new PageCache(opts.pageCacheConfig());
            this.pageCache = pc;
            this.inodes = new ExtInodeTable(this);
            ic = new InodeCache<>(inodes, pc, readOnly, "iomap4j-ext-inode-flush");
            this.icache = ic;
            this.namei = new ExtNamei(this);
            this.file = new ExtFile(this, new GenericFile<>(iomapOps, dioOps, dax, inodes));
            this.fsyncRoom = new ExtFsync(this);
            this.xattr = new ExtXattr(this);
            this.acl = new ExtAcl(this, xattr);
            ExtInode root = inodes.iget(icache.pins(), ROOT_INO); // the root is never evicted: its pin is never dropped
            if (!root.isDir()) {
                throw new CorruptFilesystemException("root inode 2 is not a directory (mode 0"
                        + Integer.toOctalString(root.mode()) + ")");
            }
            if (!readOnly && sb.hasCompat(org.iomap4j.ext.disk.Features.COMPAT_HAS_JOURNAL)) {
                sup.markMounted();
                journal.start(ExtJournaling.DEFAULT_COMMIT_INTERVAL); // needs_recovery set, then every change is logged
                ExtOrphan.cleanup(this); // in a handle of its own: its frees and the emptied list commit together
            } else if (!readOnly) {
                ExtOrphan.cleanup(this); // before the mount is marked: the orphans' frees are in its first sync
                sup.markMounted();
            }
            ok = true;
        } finally {
            if (!ok) {
                abandonJournal();
                if (ic != null) {
                    ic.writeback().shutdown();
                }
                dioReadahead.shutdownNow();
                if (pc != null) {
                    pc.close();
                }
                bcache.close();
            }
        }
    }

    /** A failed mount or unmount: the journal stops without a commit (the log is left for recovery). */
    private void abandonJournal() {
        if (journal.active()) {
            try {
                journal.close();
            } catch (IOException | RuntimeException e) {
                e.printStackTrace(); // the log is replayed by the next mount
            }
        }
    }

    /**
     * The block mapping of an inode with these on-disk fields (ext4_map_blocks' choice): the extent tree for an
     * inode with EXT4_EXTENTS_FL, else the indirect tree.
     */
    ExtBlockMapping blockMappingFor(DiskInode disk) {
        if ((disk.flags() & DiskInode.FL_INLINE_DATA) != 0) {
            return ExtInline.MAPPING;
        }
        return (disk.flags() & DiskInode.FL_EXTENTS) != 0 ? extentTree : indirectMap;
    }

    /** True if new regular files, directories and symlinks get extent trees (the {@code extent} feature). */
    boolean newInodesUseExtents() {
        return sup.disk().hasIncompat(org.iomap4j.ext.disk.Features.INCOMPAT_EXTENTS);
    }

    // ---------------------------------------------------------------- public API beyond Vfs

    /**
     * Why the filesystem is read-only (requested, device, or an unsupported ro_compat feature), or null.
     *
     * @return the reason, or null if writable
     */
    public String readOnlyReason() {
        return readOnly ? readOnlyReason : null;
    }

    /**
     * A snapshot of the superblock with the live free counts.
     *
     * @return the superblock snapshot
     */
    public Superblock superblock() {
        return sup.snapshot();
    }

    /**
     * The largest size a regular file may have here (bytes).
     *
     * @return the maximum file size in bytes
     */
    public long maxFileSizeBytes() {
        return maxRegularSizeBytes;
    }

    long maxFileSizeBytes(ExtInode inode) {
        return inode.isRegular() ? maxRegularSizeBytes : 0xFFFF_FFFFL;
    }

    /**
     * The metadata buffer cache (for statistics and tests).
     *
     * @return the buffer cache
     */
    public BufferCache bufferCache() {
        return bcache;
    }

    /**
     * The page cache of file and directory data (for statistics and tests).
     *
     * @return the page cache
     */
    public PageCache pageCache() {
        return pageCache;
    }

    /**
     * Resolves an absolute path ("/", "/a/b") without following symlinks and without taking a reference.
     *
     * @throws FsException ENOENT, ENOTDIR, EINVAL for a relative path
     * @param absPath an absolute path
     * @return the attributes of the inode found
     */
    public InodeAttr lookupPath(String absPath) throws IOException {
        return namei.lookupPath(absPath);
    }

    /** Receives the entries of {@link #walkTree}. */
    @FunctionalInterface
    public interface TreeVisitor {
        /**
         * Visits one path.
         *
         * @param path the absolute path
         * @param attr its inode's attributes
         * @throws IOException to stop the walk with this error
         */
        void visit(String path, InodeAttr attr) throws IOException;
    }

    /**
     * Visits {@code absPath} and everything below it, parents before children, "." and ".." excluded. A directory
     * reached twice (a loop in the tree, or a directory hard link) is corruption.
     *
     * @throws CorruptFilesystemException naming the directory inode reached twice
     * @param absPath the absolute path to start at
     * @param visitor receives each path
     */
    public void walkTree(String absPath, TreeVisitor visitor) throws IOException {
        namei.walkTree(absPath, visitor);
    }

    /**
     * The file's data extents (fiemap without holes): physically contiguous runs, merged across pointer-block
     * boundaries, the last one flagged. Empty for files without data blocks (and fast symlinks, devices).
     *
     * @param ino the inode number
     * @return the extents, ascending by logical block
     * @throws IOException ENOENT for a free inode, EUCLEAN for a corrupt block map, EIO
     */
    public List<Extent> mapExtents(long ino) throws IOException {
        return file.mapExtents(ino);
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
     * @param ino the inode number
     * @param startBytes file byte offset of the range
     * @param lengthBytes range length in bytes
     */
    public List<FiemapExtent> fiemap(long ino, long startBytes, long lengthBytes, int fiemapFlags)
            throws IOException {
        return file.fiemap(ino, startBytes, lengthBytes, fiemapFlags);
    }

    /**
     * bmap (FIBMAP): the physical block holding logical block {@code lblk} of inode {@code ino}, 0 for a hole,
     * after writing the file's dirty data back.
     *
     * @param ino the inode number
     * @param lblk the logical block number
     * @return the physical block number (pblk), or 0
     * @throws IOException ENOENT for a free inode, EUCLEAN for a corrupt block map, EIO
     */
    public long bmap(long ino, long lblk) throws IOException {
        return file.bmap(ino, lblk);
    }

    // ---------------------------------------------------------------- shared by the rooms

    void checkOpen() throws FsException {
        if (closed) {
            throw new FsException(Errno.EIO, "filesystem is unmounted");
        }
    }

    void checkWritable() throws FsException {
        if (readOnly) {
            throw new FsException(Errno.EROFS, "read-only filesystem: " + readOnlyReason);
        }
    }

    /** mark_inode_dirty. */
    /** large_dir: directory sizes use i_size_high (ext4_isize), for directories past 2 GiB. */
    boolean largeDirSizes() {
        return sup.disk().hasIncompat(org.iomap4j.ext.disk.Features.INCOMPAT_LARGEDIR);
    }

    void markDirty(ExtInode inode) {
        icache.writeback().markInodeDirty(inode);
    }

    // ---------------------------------------------------------------- tests

    /**
     * Tests only: iget with a pin that is never dropped, so the object stays the cached one (never evicted) for
     * the rest of the mount.
     */
    ExtInode iget(long ino) throws IOException {
        return inodes.iget(icache.pins(), ino);
    }

    int cachedInodeCount() {
        return icache.size();
    }

    boolean isInodeCached(long ino) {
        return icache.peek(ino) != null;
    }

    int pendingEvictionCount() {
        return icache.pendingEvictionCount();
    }

    void setUnusedInodeLimit(int n) {
        icache.setUnusedInodeLimit(n);
    }

    void setPendingEvictionLimit(int n) {
        icache.setPendingEvictionLimit(n);
    }

    void awaitPendingWriteback() throws InterruptedException, ExecutionException {
        icache.writeback().awaitFlusher();
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
        return namei.lookup(dirIno, name);
    }

    @Override
    public InodeAttr getattr(long ino) throws IOException {
        try (Pins pins = icache.pins()) {
            return inodes.attr(inodes.iget(pins, ino));
        }
    }

    @Override
    public InodeAttr setattr(long ino, SetAttr ch) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            return file.setattr(ino, ch);
        }
    }

    @Override
    public InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            return namei.mknod(dirIno, name, mode, rdev, uid, gid);
        }
    }

    @Override
    public InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            return namei.mkdir(dirIno, name, mode, uid, gid);
        }
    }

    @Override
    public InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            return namei.symlink(dirIno, name, target, uid, gid);
        }
    }

    @Override
    public String readlink(long ino) throws IOException {
        return namei.readlink(ino);
    }

    @Override
    public InodeAttr link(long ino, long newDirIno, String newName) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            return namei.link(ino, newDirIno, newName);
        }
    }

    @Override
    public void unlink(long dirIno, String name) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            namei.unlink(dirIno, name);
        }
    }

    @Override
    public void rmdir(long dirIno, String name) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            namei.rmdir(dirIno, name);
        }
    }

    @Override
    public void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            namei.rename(oldDirIno, oldName, newDirIno, newName, flags);
        }
    }

    @Override
    public void readdir(long dirIno, long offset, DirSink sink) throws IOException {
        namei.readdir(dirIno, offset, sink);
    }

    @Override
    public FileHandle open(long ino, int openFlags) throws IOException {
        if ((openFlags & O_TRUNC) == 0) {
            return file.open(ino, openFlags);
        }
        try (var h = journal.begin(journal.freeCredits())) {
            return file.open(ino, openFlags);
        }
    }

    @Override
    public Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException {
        try (var h = journal.begin(journal.namespaceCredits())) {
            return namei.create(dirIno, name, mode, openFlags, uid, gid);
        }
    }

    @Override
    public int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException {
        return file.read(fh, posBytes, dst);
    }

    @Override
    public int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException {
        return file.write(fh, posBytes, src);
    }

    /**
     * lseek(2) SEEK_DATA / SEEK_HOLE (see {@link ExtFile#seekDataHole}).
     *
     * @throws FsException ENXIO at or past EOF (or for SEEK_DATA with no data after the offset); EINVAL for
     *                     another whence
     */
    @Override
    public long seekDataHole(FileHandle fh, long offsetBytes, int whence) throws IOException {
        return file.seekDataHole(fh, offsetBytes, whence);
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
        try (var h = journal.begin(journal.namespaceCredits() + journal.allocCredits(lengthBytes >>> geo.blockBits()))) {
            file.fallocate(fh, mode, offsetBytes, lengthBytes);
        }
    }

    /** See {@link ExtFsync#fsync}. */
    @Override
    public void fsync(FileHandle fh, boolean dataOnly) throws IOException {
        fsyncRoom.fsync(file.handle(fh), dataOnly);
    }

    @Override
    public void release(FileHandle fh) throws IOException {
        file.release(fh);
    }

    /**
     * Drops lookup references ({@link InodeCache#forget}): the last one of an unlinked file without open handles
     * frees it; the last one of a linked inode without open handles evicts it if clean, else makes it pending.
     * Does no I/O for a linked inode (FUSE's FORGET has no reply).
     */
    @Override
    public void forget(long ino, long count) throws IOException {
        icache.forget(ino, count);
    }

    // ---------------------------------------------------------------- VfsXattr (ExtXattr, ExtAcl)

    @Override
    public byte[] getxattr(long ino, String name) throws IOException {
        ExtXattr.checkName(name);
        try (Pins pins = icache.pins()) {
            ExtInode i = inodes.iget(pins, ino);
            return ExtAcl.isAclName(name) ? acl.get(i, name) : xattr.get(i, name);
        }
    }

    @Override
    public void setxattr(long ino, String name, byte[] value, int flags) throws IOException {
        checkWritable();
        ExtXattr.checkName(name);
        try (var h = journal.begin(journal.namespaceCredits()); Pins pins = icache.pins()) {
            ExtInode i = inodes.iget(pins, ino);
            if (ExtAcl.isAclName(name)) {
                acl.set(i, name, value, flags);
            } else {
                xattr.set(i, name, value, flags, false);
            }
        }
    }

    @Override
    public List<String> listxattr(long ino) throws IOException {
        try (Pins pins = icache.pins()) {
            return xattr.list(inodes.iget(pins, ino));
        }
    }

    @Override
    public void removexattr(long ino, String name) throws IOException {
        checkWritable();
        ExtXattr.checkName(name);
        try (var h = journal.begin(journal.namespaceCredits()); Pins pins = icache.pins()) {
            ExtInode i = inodes.iget(pins, ino);
            if (ExtAcl.isAclName(name)) {
                acl.set(i, name, null, 0);
            } else {
                xattr.set(i, name, null, 0, false);
            }
        }
    }

    /** ext4 stores POSIX ACLs and applies them on chmod and create ({@link ExtAcl}). */
    @Override
    public boolean posixAcls() {
        return true;
    }

    @Override
    public StatFs statfs() throws IOException {
        checkOpen();
        return sup.statfs();
    }

    @Override
    public void sync() throws IOException {
        checkOpen();
        if (readOnly) {
            return;
        }
        fsyncRoom.clearNewEntries();
        sup.sync();
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
            // Queued and running O_DIRECT read-aheads finish (each is at most one device read). Not shutdownNow:
            // an interrupt during a FileChannel read closes the channel (ClosedByInterruptException).
            InodeWriteback.stopAndWait(dioReadahead, 1, "an O_DIRECT read-ahead");
            icache.writeback().stopFlusher(); // the sync below writes back whatever it left pending
            if (!readOnly) {
                sup.unmount();
            }
        } finally {
            abandonJournal(); // only after a failed unmount: the log keeps what was committed
            closed = true;
            icache.writeback().shutdown();
            pageCache.close();
            bcache.close();
            if (ownsDevice) {
                device.close();
            }
        }
    }
}
