package org.iomap4j.ext;

import java.io.IOException;
import java.util.concurrent.ThreadLocalRandom;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.InodeTimestamp;
import org.iomap4j.fs.BlockTruncateOps;
import org.iomap4j.fs.Pins;
import org.iomap4j.fs.SuperOperations;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;

/**
 * The inode room (fs/ext2/inode.c, ialloc.c's callers): reading an inode from its group's inode table and
 * validating it, writing it back, the generic {@link org.iomap4j.fs.InodeCache}'s callbacks
 * ({@link SuperOperations}: read, write, evict, free), creating and freeing inodes, attributes and timestamps,
 * and the block-freeing half of truncate and punch ({@link BlockTruncateOps}, through the inode's
 * {@link ExtBlockMapping}).
 *
 * <p>Lock order: the namespace lock ({@link #freeInode} takes it) → {@link ExtInode#lock} → {@link ExtGroups} monitor (allocators) → buffer
 * locks. Inode-table buffers are modified under their buffer lock with the inode's lock held.
 */
final class ExtInodeTable implements SuperOperations<ExtInode>, BlockTruncateOps<ExtInode> {
    private final ExtFileSystem fs;
    private final ExtGeometry geo;

    /** Orphans being processed at mount (ExtOrphan): they may be read with no links. */
    private final java.util.Set<Long> orphans = java.util.concurrent.ConcurrentHashMap.newKeySet();

    void allowOrphan(long ino) {
        orphans.add(ino);
    }

    void disallowOrphan(long ino) {
        orphans.remove(ino);
    }

    ExtInodeTable(ExtFileSystem fs) {
        this.fs = fs;
        this.geo = fs.geo;
    }

    private long inodeBlock(long ino) {
        long idx = (ino - 1) % geo.inodesPerGroup();
        return fs.sup.gds[(int) ((ino - 1) / geo.inodesPerGroup())].inodeTable()
                + idx * geo.inodeSize() / geo.blockSizeBytes();
    }

    private int inodeOffset(long ino) {
        long idx = (ino - 1) % geo.inodesPerGroup();
        return (int) ((idx * geo.inodeSize()) % geo.blockSizeBytes());
    }

    /**
     * The in-memory inode {@code ino} (iget), loaded and validated on first use, pinned for {@code pins}'s
     * operation: it cannot be evicted until that operation ends, so whatever the operation writes into it is not
     * lost.
     *
     * @throws FsException ENOENT for a number outside [1, s_inodes_count]; EIO after unmount; EINTR if
     *                     interrupted while an older copy is being evicted
     * @throws CorruptFilesystemException for an inode not in use or with impossible fields
     */
    ExtInode iget(Pins pins, long ino) throws IOException {
        fs.checkOpen();
        if (ino < 1 || ino > geo.inodesCount()) {
            throw new FsException(Errno.ENOENT, "inode " + ino + " out of range [1, " + geo.inodesCount() + "]");
        }
        return fs.icache.iget(pins, ino);
    }

    /** iget of a directory entry's target: reserved inodes other than the root cannot be named. */
    ExtInode igetChild(Pins pins, long ino, ExtInode dir) throws IOException {
        if (ino != ExtFileSystem.ROOT_INO && ino < geo.firstIno()) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + " names reserved inode " + ino);
        }
        return iget(pins, ino);
    }

    /** iget of a directory: ENOTDIR otherwise. */
    ExtInode dirInode(Pins pins, long ino) throws IOException {
        ExtInode d = iget(pins, ino);
        if (!d.isDir()) {
            throw new FsException(Errno.ENOTDIR, "inode " + ino + " is not a directory");
        }
        return d;
    }

    // ---------------------------------------------------------------- SuperOperations

    @Override
    public ExtInode readInode(long ino) throws IOException {
        DiskInode d = rawInode(ino);
        d.validateExtraIsize(ino);
        if (geo.metadataCsum()) {
            d.verifyChecksum(geo.csumSeed(), ino); // ext4_inode_csum_verify: CorruptFilesystemException naming ino
        }
        validate(ino, d);
        return new ExtInode(fs, ino, d);
    }

    /** Inode {@code ino} as stored, neither verified nor validated (the journal inode for statfs, orphans). */
    DiskInode rawInode(long ino) throws IOException {
        try (Buffer b = fs.bcache.read(inodeBlock(ino))) {
            return DiskInode.decode(b.array(), inodeOffset(ino), geo.inodeSize());
        }
    }

    /**
     * Journal: the handle is started before the inode writeback takes the dirty mark, so that a commit never
     * freezes while the inode is neither marked nor written (its in-memory changes would miss the transaction that
     * holds the bitmap changes they belong with).
     */
    @Override
    public InodeWriteScope beginInodeWrite() throws IOException {
        var h = fs.journal.begin(2);
        return h == null ? () -> { } : h::close;
    }

    @Override
    public void writeInode(ExtInode inode) throws IOException {
        // Journal: its own handle outside an operation (the inode flusher), nested inside one.
        try (var h = fs.journal.begin(2); Buffer b = fs.bcache.read(inodeBlock(inode.ino))) {
            inode.lock.lock();
            try {
                b.lock();
                try {
                    if (geo.metadataCsum()) {
                        inode.disk.updateChecksum(geo.csumSeed(), inode.ino); // ext4_inode_csum_set
                    }
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

    /** A linked directory left the cache: its in-memory index goes with it. */
    @Override
    public void evictInode(ExtInode inode) {
        fs.balloc.discardPrealloc(inode.ino);
        if (inode.isDir()) {
            fs.dirs.dropIndex(inode);
        }
    }

    /** The last user of an unlinked inode is gone: free it under the namespace lock (see {@link #maybeFree}). */
    @Override
    public void freeInode(ExtInode inode) throws IOException {
        try (var h = fs.journal.begin(fs.journal.freeCredits())) { // before the namespace lock (outermost)
            freeInodeLocked(inode);
        }
    }

    private void freeInodeLocked(ExtInode inode) throws IOException {
        fs.nsLock.writeLock().lock();
        try {
            maybeFree(inode);
        } finally {
            fs.nsLock.writeLock().unlock();
        }
    }

    // ---------------------------------------------------------------- BlockTruncateOps

    @Override
    public void truncateBlocks(ExtInode inode, long firstLblk) throws IOException {
        try (var h = fs.journal.begin(fs.journal.freeCredits())) { // extends the operation's handle
            truncateBlocksLocked(inode, firstLblk);
        }
    }

    private void truncateBlocksLocked(ExtInode inode, long firstLblk) throws IOException {
        inode.lock.lock();
        try {
            inode.blockMapping.freeFrom(inode, firstLblk);
            fs.balloc.discardPrealloc(inode.ino); // ext4_truncate: ext4_discard_preallocations
        } finally {
            inode.lock.unlock();
        }
    }

    @Override
    public void punchBlocks(ExtInode inode, long startLblk, long endLblk) throws IOException {
        try (var h = fs.journal.begin(fs.journal.freeCredits())) { // extends the operation's handle
            punchBlocksLocked(inode, startLblk, endLblk);
        }
    }

    private void punchBlocksLocked(ExtInode inode, long startLblk, long endLblk) throws IOException {
        inode.lock.lock();
        try {
            inode.blockMapping.freeRange(inode, startLblk, endLblk);
        } finally {
            inode.lock.unlock();
        }
    }

    // ---------------------------------------------------------------- validation

    void validate(long ino, DiskInode d) throws CorruptFilesystemException {
        int type = d.mode() & FileMode.S_IFMT;
        if ((d.linksCount() == 0 && !orphans.contains(ino)) || d.mode() == 0) {
            throw new CorruptFilesystemException("inode " + ino + " is referenced but not in use (mode 0"
                    + Integer.toOctalString(d.mode()) + ", links " + d.linksCount() + ", dtime " + d.dtime() + ")");
        }
        if (FileMode.dtype(d.mode()) == FileMode.DT_UNKNOWN) {
            throw new CorruptFilesystemException("inode " + ino + ": invalid file type in mode 0"
                    + Integer.toOctalString(d.mode()));
        }
        boolean regular = type == FileMode.S_IFREG;
        long size = d.size(regular);
        if (size < 0 || (regular && size > fs.maxFileSizeBytes())) {
            throw new CorruptFilesystemException("inode " + ino + ": i_size " + Long.toUnsignedString(size)
                    + " exceeds the maximum file size " + fs.maxFileSizeBytes());
        }
        long blocks512 = blocks512(d);
        if (blocks512 > geo.blocksCount() * (geo.blockSizeBytes() / 512)) {
            throw new CorruptFilesystemException("inode " + ino + ": i_blocks " + blocks512
                    + " exceeds the filesystem size");
        }
        long aclBlocks = d.fileAcl() != 0 ? geo.blockSizeBytes() / 512 : 0;
        if ((d.flags() & DiskInode.FL_INLINE_DATA) != 0) {
            // inline_data: i_block plus system.data, which lives in the inode body (ExtInline checks the rest).
            if (size > DiskInode.I_BLOCK_BYTES + (long) fs.sup.disk().inodeSize()) {
                throw new CorruptFilesystemException("inode " + ino + ": inline-data i_size " + size
                        + " exceeds i_block plus the inode body");
            }
            return;
        }
        if (type == FileMode.S_IFLNK && blocks512 - aclBlocks == 0 && size >= DiskInode.I_BLOCK_BYTES) {
            throw new CorruptFilesystemException("inode " + ino + ": fast symlink of size " + size + " (max 59)");
        }
        if (type == FileMode.S_IFLNK && size >= geo.blockSizeBytes()) {
            throw new CorruptFilesystemException("inode " + ino + ": symlink of size " + size + " (max block size)");
        }
        if (type == FileMode.S_IFDIR && size % geo.blockSizeBytes() != 0) {
            throw new CorruptFilesystemException("directory inode " + ino + ": size " + size
                    + " is not a multiple of the block size " + geo.blockSizeBytes());
        }
    }

    // ---------------------------------------------------------------- attributes and timestamps

    /** i_blocks in 512-byte units: 48 bits and fs-block units (HUGE_FILE_FL) with huge_file (ext4_inode_blocks). */
    long blocks512(DiskInode d) {
        return d.blocks512(geo.hugeFile(), geo.blockSizeBytes());
    }

    InodeAttr attr(ExtInode i) {
        i.lock.lock();
        try {
            DiskInode d = i.disk;
            long rdev = 0;
            int type = d.mode() & FileMode.S_IFMT;
            if (type == FileMode.S_IFCHR || type == FileMode.S_IFBLK) {
                rdev = d.block(0) != 0 ? d.block(0) : d.block(1);
            }
            InodeTimestamp a = d.atimeTs();
            InodeTimestamp m = d.mtimeTs();
            InodeTimestamp c = d.ctimeTs();
            return new InodeAttr(i.ino, d.mode(), d.linksCount(), d.uid(), d.gid(), rdev, i.sizeBytes(),
                    blocks512(d) + i.delallocBlocks() * (geo.blockSizeBytes() / 512), geo.blockSizeBytes(), a.seconds(), a.nanos(), m.seconds(), m.nanos(), c.seconds(),
                    c.nanos(), d.generation());
        } finally {
            i.lock.unlock();
        }
    }

    /**
     * The current time as an inode stores it (current_time): nanoseconds where the inode has an extra word,
     * clamped to the signed 32-bit range where it has not ({@link DiskInode#setAtimeTs} and friends do both).
     */
    static InodeTimestamp now() {
        java.time.Instant t = java.time.Instant.now();
        return new InodeTimestamp(t.getEpochSecond(), t.getNano());
    }

    /**
     * Applies the times of a setattr (caller holds the inode's lock): explicit times with their nanoseconds,
     * UTIME_NOW, and ctime = now (ext4_setattr / setattr_copy).
     */
    void applyTimes(DiskInode d, org.iomap4j.vfs.SetAttr ch) {
        InodeTimestamp t = now();
        if (ch.atimeNow()) {
            d.setAtimeTs(t);
        } else if (ch.atimeSec() != null) {
            d.setAtimeTs(truncate(ch.atimeSec(), ch.atimeNsec()));
        }
        if (ch.mtimeNow()) {
            d.setMtimeTs(t);
        } else if (ch.mtimeSec() != null) {
            d.setMtimeTs(truncate(ch.mtimeSec(), ch.mtimeNsec()));
        }
        d.setCtimeTs(ch.ctimeSec() != null ? truncate(ch.ctimeSec(), ch.ctimeNsec()) : t);
    }

    /**
     * fs/inode.c timestamp_truncate with ext4's s_time_min/s_time_max/s_time_gran (ext4_fill_super: inodes of
     * 256 bytes or more hold [S32_MIN, EXT4_EXTRA_TIMESTAMP_MAX] with nanoseconds, smaller ones the signed
     * 32-bit range in whole seconds): clamped, and a time at either bound loses its nanoseconds.
     */
    InodeTimestamp truncate(long sec, int nsec) {
        boolean extra = geo.inodeSize() >= 256;
        long max = extra ? InodeTimestamp.MAX_EXTRA_SECONDS : InodeTimestamp.MAX_NO_EXTRA_SECONDS;
        long s = Math.clamp(sec, InodeTimestamp.MIN_SECONDS, max);
        boolean atBound = s == max || s == InodeTimestamp.MIN_SECONDS;
        return new InodeTimestamp(s, extra && !atBound ? nsec : 0);
    }

    int links(ExtInode i) {
        i.lock.lock();
        try {
            return i.disk.linksCount();
        } finally {
            i.lock.unlock();
        }
    }

    void addLinks(ExtInode i, int delta, boolean ctime) throws IOException {
        int links;
        i.lock.lock();
        try {
            links = Math.max(0, i.disk.linksCount() + delta);
            i.setLinksCount(links);
            if (ctime) {
                i.disk.setCtimeTs(now());
            }
        } finally {
            i.lock.unlock();
        }
        markDirty(i);
        if (links == 0) {
            fs.orphanFile.add(i); // ext4_orphan_add at the last unlink: freed at last close, or after a crash
        }
    }

    /**
     * relatime, the kernel's default (fs/inode.c {@code relatime_need_update}): reading a file or listing a
     * directory sets atime to now when atime is not later than mtime or ctime, or is a day old; otherwise the
     * inode stays clean. Never on a read-only mount. Times compare with their nanoseconds.
     */
    void touchAtime(ExtInode inode) {
        if (fs.isReadOnly() || fs.noatime) {
            return;
        }
        InodeTimestamp t = now();
        boolean changed = false;
        inode.lock.lock();
        try {
            InodeTimestamp a = inode.disk.atimeTs();
            if ((notAfter(a, inode.disk.mtimeTs()) || notAfter(a, inode.disk.ctimeTs())
                    || t.seconds() - a.seconds() >= 86_400) && a.seconds() != t.seconds()) {
                inode.disk.setAtimeTs(t);
                changed = true;
            }
        } finally {
            inode.lock.unlock();
        }
        if (changed) {
            markDirty(inode);
        }
    }

    private static boolean notAfter(InodeTimestamp a, InodeTimestamp b) {
        return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() <= b.nanos());
    }

    /** Sets mtime and ctime to now (a directory whose entries changed, a file whose data or size changed). */
    void touchMtimeCtime(ExtInode inode) {
        inode.lock.lock();
        try {
            InodeTimestamp t = now();
            inode.disk.setMtimeTs(t);
            inode.disk.setCtimeTs(t);
        } finally {
            inode.lock.unlock();
        }
        markDirty(inode);
    }

    // ---------------------------------------------------------------- create and free

    /** mark_inode_dirty: the inode is written into its inode-table buffer by the next sync or fsync. */
    void markDirty(ExtInode inode) {
        fs.icache.writeback().markInodeDirty(inode);
    }

    /**
     * Frees an inode whose last link, reference, open handle and pin are gone (caller holds the namespace lock
     * exclusively). An operation that unlinks an inode it has pinned leaves the free to its {@link Pins#close()}.
     */
    void maybeFree(ExtInode i) throws IOException {
        if (i.ino == ExtFileSystem.ROOT_INO || links(i) != 0) {
            return;
        }
        if (fs.icache.startFreeing(i)) {
            evictAndFree(i);
        }
    }

    /**
     * Frees a claimed inode on disk: drops its page cache and directory index, frees its blocks, writes it with
     * dtime set and links 0, frees its inode-bitmap bit and takes it out of the cache (ext2_evict_inode with
     * i_nlink == 0, then ext2_free_inode).
     */
    void evictAndFree(ExtInode i) throws IOException {
        try (var h = fs.journal.begin(fs.journal.freeCredits())) { // extends the operation's handle
            evictAndFreeInHandle(i);
        }
    }

    private void evictAndFreeInHandle(ExtInode i) throws IOException {
        AddressSpace m = i.detachMapping();
        if (m != null) {
            fs.pageCache.removeMapping(m);
        }
        if (i.isDir()) {
            fs.dirs.dropIndex(i);
        }
        boolean dir = i.isDir();
        fs.xattr.dropBlock(i);
        i.lock.lock();
        try {
            if (i.hasBlockMap()) {
                i.blockMapping.freeFrom(i, 0);
            }
            i.disk.setDtime(ExtSuper.now());
            i.disk.setSize(0, i.isRegular());
            i.setLinksCount(0);
        } finally {
            i.lock.unlock();
        }
        writeInode(i);
        fs.icache.writeback().clearDirty(i);
        fs.ialloc.freeInode(i.ino, dir);
        fs.icache.removeFreed(i); // a concurrent iget must not cache what it read before the free
        fs.orphanFile.remove(i.ino); // ext4_orphan_del in ext4_evict_inode
        fs.balloc.discardPrealloc(i.ino);
    }

    /** Allocates and initialises a new inode near {@code parent}, cached and pinned for {@code pins}'s operation. */
    ExtInode newInode(Pins pins, ExtInode parent, int mode, int uid, int gid) throws IOException {
        long ino = fs.ialloc.allocInode(parent.ino, FileMode.isDirectory(mode));
        DiskInode d = DiskInode.blank(geo.inodeSize());
        if (geo.wantExtraIsize() > 0) {
            d.setExtraIsize(geo.wantExtraIsize()); // __ext4_new_inode: room for the extra times and crtime
        }
        InodeTimestamp t = now();
        d.setMode(mode);
        d.setUid(uid);
        d.setGid(gid);
        d.setLinksCount(FileMode.isDirectory(mode) ? 2 : 1);
        d.setAtimeTs(t);
        d.setCtimeTs(t);
        d.setMtimeTs(t);
        d.setCrtimeTs(t);
        d.setGeneration(ThreadLocalRandom.current().nextInt() & 0xFFFF_FFFFL);
        if (fs.newInodesUseExtents()
                && (FileMode.isRegular(mode) || FileMode.isDirectory(mode) || FileMode.isSymlink(mode))) {
            // ext4_new_inode: EXT4_EXTENTS_FL and an empty extent root (ext4_ext_tree_init); a fast symlink
            // clears it again when it stores its target in i_block (ExtNamei.symlink).
            d.setFlags(d.flags() | DiskInode.FL_EXTENTS);
            ExtentTree.initEmptyRoot(d);
        }
        ExtInode inode = fs.icache.insertNew(pins, new ExtInode(fs, ino, d));
        markDirty(inode);
        return inode;
    }

    /** Undoes {@link #newInode} after a later step failed (ENOSPC in the directory, ...). */
    void discardNewInode(ExtInode inode, Throwable cause) {
        try {
            inode.lock.lock();
            try {
                inode.setLinksCount(0);
            } finally {
                inode.lock.unlock();
            }
            fs.icache.claimFreeing(inode);
            evictAndFree(inode);
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
