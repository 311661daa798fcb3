package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.fs.GenericFile;
import org.iomap4j.fs.GenericFile.IoMode;
import org.iomap4j.fs.Pins;
import org.iomap4j.iomap.DirectReadahead;
import org.iomap4j.iomap.Fiemap;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.iomap.Seek;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;

/**
 * The file room (fs/ext2/file.c and ext2_setattr/ext2_setsize of inode.c): open/release of regular files,
 * read/write (buffered, O_DIRECT or DAX through the generic {@link GenericFile} helpers), setattr and truncate,
 * fallocate, SEEK_DATA/SEEK_HOLE, FIEMAP and bmap. fsync is {@link ExtFsync}'s.
 *
 * <p>Lock order: a file's {@link org.iomap4j.fs.Inode#rwsem} (shared for read, seek, fiemap; exclusive for write,
 * truncate, fallocate) → the mapping's invalidate lock → folio locks → {@link ExtInode#lock} (inside the block
 * mapping only) → {@link ExtGroups} monitor (allocators) → buffer locks. The namespace lock is not taken here except to free an unlinked
 * inode at its last release.
 */
final class ExtFile {
    /** Largest O_DIRECT read that is read ahead (FUSE's largest READ). */
    private static final int DIO_READAHEAD_MAX_BYTES = 1 << 20;
    private static final int ZERO_CHUNK_BYTES = 1 << 20;

    private final ExtFileSystem fs;
    private final GenericFile<ExtInode> generic;

    ExtFile(ExtFileSystem fs, GenericFile<ExtInode> generic) {
        this.fs = fs;
        this.generic = generic;
    }

    /** An open regular file; {@code readahead} is non-null for O_DIRECT handles (sequential-stream read-ahead). */
    record Handle(long ino, int openFlags, ExtInode inode, ErrSeq.Cursor cursor,
            DirectReadahead readahead) implements FileHandle {
    }

    /** The handle's state; EBADF for a foreign or released handle. */
    Handle handle(FileHandle fh) throws FsException {
        if (!(fh instanceof Handle h) || h.inode.fs != fs) {
            throw new FsException(Errno.EBADF, "not a handle of this filesystem: " + fh);
        }
        if (h.inode.isEvicted()) {
            // Only a released handle's inode can be evicted (an open one is never unused).
            throw new FsException(Errno.EBADF, "handle of inode " + h.ino + " used after release");
        }
        return h;
    }

    FileHandle open(long ino, int openFlags) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            return openInode(fs.inodes.iget(pins, ino), openFlags);
        }
    }

    /** Opens a pinned inode: EISDIR/EINVAL for non-regular files; O_TRUNC truncates. */
    Handle openInode(ExtInode i, int openFlags) throws IOException {
        if (i.isDir()) {
            throw new FsException(Errno.EISDIR, "inode " + i.ino + " is a directory");
        }
        if (!i.isRegular()) {
            throw new FsException(Errno.EINVAL, "inode " + i.ino + " is not a regular file");
        }
        int acc = openFlags & Vfs.O_ACCMODE;
        if (acc != Vfs.O_RDONLY || (openFlags & Vfs.O_TRUNC) != 0) {
            fs.checkWritable();
        }
        fs.icache.open(i);
        DirectReadahead ra = (openFlags & Vfs.O_DIRECT) != 0 && !fs.dax && acc != Vfs.O_WRONLY
                ? new DirectReadahead(generic.readaheadSource(i, i.rwsem, i::dataSeq, () -> fs.closed), fs.dioReadahead,
                        DIO_READAHEAD_MAX_BYTES, fs.dioOps.dioMemoryAlignmentBytes(i))
                : null;
        Handle h = new Handle(i.ino, openFlags, i, i.mapping().errors().newCursor(), ra);
        if ((openFlags & Vfs.O_TRUNC) != 0 && i.sizeBytes() != 0) { // also O_RDONLY|O_TRUNC, as Linux's do_open
            try {
                truncate(i, 0);
            } catch (IOException | RuntimeException e) {
                release(h);
                throw e;
            }
        }
        return h;
    }

    /**
     * Closes a handle. The last handle of an unlinked, unreferenced file frees it; the last handle of a linked
     * file without lookup references makes it unused: evicted now if clean, else pending. Then pending evictions
     * are written back if too many wait.
     */
    void release(FileHandle fh) throws IOException {
        Handle h = handle(fh);
        if (h.readahead != null) {
            h.readahead.close();
        }
        if ((h.openFlags & Vfs.O_ACCMODE) != Vfs.O_RDONLY && h.inode.delallocBlocks() == 0) {
            fs.balloc.discardPrealloc(h.ino); // ext4_release_file: a writer gone, no delalloc left to place
        }
        fs.icache.release(h.inode);
        fs.icache.writeback().writebackPendingEvictions();
    }

    private static IoMode ioMode(ExtFileSystem fs, Handle h) {
        return fs.dax ? IoMode.DAX : (h.openFlags & Vfs.O_DIRECT) != 0 ? IoMode.DIRECT : IoMode.BUFFERED;
    }

    int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException {
        Handle h = handle(fh);
        if ((h.openFlags & Vfs.O_ACCMODE) == Vfs.O_WRONLY) {
            throw new FsException(Errno.EBADF, "inode " + h.ino + " not open for reading");
        }
        if (posBytes < 0) {
            throw new FsException(Errno.EINVAL, "negative position " + posBytes);
        }
        ExtInode i = h.inode;
        int n;
        i.rwsem.readLock().lock();
        try {
            if (h.readahead != null) {
                n = h.readahead.read(posBytes, dst, i.dataSeq(), i.sizeBytes(),
                        (p, d) -> generic.directRead(i, p, d));
            } else {
                n = generic.read(i, posBytes, dst, ioMode(fs, h));
            }
        } finally {
            i.rwsem.readLock().unlock();
        }
        fs.inodes.touchAtime(i);
        return n;
    }

    int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException {
        Handle h = handle(fh);
        if ((h.openFlags & Vfs.O_ACCMODE) == Vfs.O_RDONLY) {
            throw new FsException(Errno.EBADF, "inode " + h.ino + " not open for writing");
        }
        fs.checkWritable();
        ExtInode i = h.inode;
        int n;
        for (boolean retried = false; ; retried = true) {
            try {
                n = writeInHandle(h, i, posBytes, src);
                break;
            } catch (FsException e) {
                // ENOSPC while blocks freed by the running transaction wait for its commit: commit and retry once,
                // outside the handle (ext4_should_retry_alloc). Nothing was written (a partial write returns).
                if (retried || e.errno() != Errno.ENOSPC || fs.journal.pendingFreeBlocks() == 0) {
                    throw e;
                }
                fs.journal.commitAll();
            }
        }
        if ((h.openFlags & Vfs.O_DSYNC) != 0) {
            fs.fsyncRoom.fsync(h, (h.openFlags & Vfs.O_SYNC) != Vfs.O_SYNC);
        }
        return n;
    }

    /** One write(2) inside a journal handle (outermost: before the rwsem); block allocations extend it. */
    private int writeInHandle(Handle h, ExtInode i, long posBytes, ByteBuffer src) throws IOException {
        int n;
        try (var jh = fs.journal.begin(16)) {
            i.beginWrite();
            try {
                long pos = (h.openFlags & Vfs.O_APPEND) != 0 ? i.sizeBytes() : posBytes;
                if (pos < 0) {
                    throw new FsException(Errno.EINVAL, "negative position " + pos);
                }
                if (!src.hasRemaining()) {
                    return 0;
                }
                n = generic.write(i, pos, src, ioMode(fs, h), fs.maxFileSizeBytes());
                if (n > 0) {
                    fs.inodes.touchMtimeCtime(i);
                }
            } finally {
                i.endWrite();
            }
        }
        return n;
    }

    // ---------------------------------------------------------------- setattr, truncate

    InodeAttr setattr(long ino, SetAttr ch) throws IOException {
        fs.checkWritable();
        InodeAttr a;
        try (Pins pins = fs.icache.pins()) {
            ExtInode i = fs.inodes.iget(pins, ino);
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
                if (ch.mode() != null) {
                    d.setMode((d.mode() & FileMode.S_IFMT) | (ch.mode() & FileMode.PERM_MASK));
                }
                if (ch.uid() != null) {
                    d.setUid(ch.uid());
                }
                if (ch.gid() != null) {
                    d.setGid(ch.gid());
                }
                fs.inodes.applyTimes(d, ch);
            } finally {
                i.lock.unlock();
            }
            fs.markDirty(i);
            if (ch.mode() != null) { fs.acl.chmod(i); } // posix_acl_chmod
            a = fs.inodes.attr(i);
        }
        fs.icache.writeback().writebackPendingEvictions();
        return a;
    }

    /** truncate(2) of a regular file: shrink frees blocks beyond the new size, grow leaves a hole. */
    private void truncate(ExtInode i, long newSize) throws IOException {
        if (newSize < 0) {
            throw new FsException(Errno.EINVAL, "negative size " + newSize);
        }
        if (newSize > fs.maxFileSizeBytes()) {
            throw new FsException(Errno.EFBIG, "size " + newSize + " beyond the maximum " + fs.maxFileSizeBytes());
        }
        i.beginWrite();
        boolean shrink = newSize < i.sizeBytes();
        try {
            if (shrink) {
                fs.orphanFile.add(i); // ext4_setattr: an interrupted shrink is finished at the next mount
            }
            fs.inline.convert(i);
            generic.truncateSetsize(i, newSize);
            fs.inodes.touchMtimeCtime(i);
        } finally {
            i.endWrite();
        }
        if (shrink && fs.inodes.links(i) != 0) {
            fs.orphanFile.remove(i.ino); // ext4_truncate's ext4_orphan_del (an unlinked inode stays recorded)
        }
    }

    // ---------------------------------------------------------------- seek, fiemap, bmap

    /**
     * lseek(2) SEEK_DATA / SEEK_HOLE through the core's {@link Seek} over the block mapping (REPORT mappings
     * never allocate). Mapped blocks are data and holes (sparse pointers, missing indirect blocks, gaps between
     * extents) are holes; there is an implicit hole at EOF. Unwritten extents are holes except for blocks cached
     * in the page cache (written but not yet converted, or read), as the kernel's iomap seek decides.
     *
     * @throws FsException ENXIO at or past EOF (or for SEEK_DATA with no data after the offset); EINVAL for
     *                     another whence
     */
    long seekDataHole(FileHandle fh, long offsetBytes, int whence) throws IOException {
        ExtInode i = handle(fh).inode;
        i.rwsem.readLock().lock();
        try {
            return switch (whence) {
                case Vfs.SEEK_DATA -> Seek.seekData(i, offsetBytes, fs.iomapOps);
                case Vfs.SEEK_HOLE -> Seek.seekHole(i, offsetBytes, fs.iomapOps);
                default -> throw new FsException(Errno.EINVAL, "lseek whence " + whence);
            };
        } finally {
            i.rwsem.readLock().unlock();
        }
    }

    /** See {@link ExtFileSystem#fiemap}. */
    List<FiemapExtent> fiemap(long ino, long startBytes, long lengthBytes, int fiemapFlags) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            ExtInode i = fs.inodes.iget(pins, ino);
            if (startBytes < 0 || lengthBytes < 0) {
                throw new FsException(Errno.EINVAL, "fiemap range " + startBytes + "+" + lengthBytes);
            }
            if (!i.hasBlockMap()) {
                return List.of();
            }
            i.rwsem.readLock().lock();
            try {
                long len = Math.min(lengthBytes, Math.max(1, i.sizeBytes()));
                return Fiemap.fiemap(i, startBytes, len, fiemapFlags, 0, fs.iomapOps);
            } finally {
                i.rwsem.readLock().unlock();
            }
        }
    }

    /** See {@link ExtFileSystem#bmap}. */
    long bmap(long ino, long lblk) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            ExtInode i = fs.inodes.iget(pins, ino);
            if (!i.hasBlockMap()) {
                return 0;
            }
            i.rwsem.readLock().lock();
            try {
                return Fiemap.bmap(i, lblk, fs.iomapOps);
            } finally {
                i.rwsem.readLock().unlock();
            }
        }
    }

    /**
     * See {@link ExtFileSystem#mapExtents}: the core's {@link Fiemap} over the whole mapped size (no rwsem, as a
     * report of the block map), with extents that continue each other both logically and physically merged
     * across pointer-block boundaries.
     */
    List<Extent> mapExtents(long ino) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            ExtInode inode = fs.inodes.iget(pins, ino);
            List<Extent> out = new ArrayList<>();
            if (!inode.hasBlockMap()) {
                return out;
            }
            int bits = fs.geo.blockBits();
            long nrBlocks = (inode.sizeBytes() + fs.geo.blockSizeBytes() - 1) >>> bits;
            nrBlocks = Math.min(nrBlocks, inode.blockMapping.addressableBlocks());
            if (nrBlocks == 0) {
                return out;
            }
            long curL = -1;
            long curP = 0;
            long curN = 0;
            for (FiemapExtent e : Fiemap.fiemap(inode, 0, nrBlocks << bits, 0, 0, fs.iomapOps)) {
                if (curN > 0 && curL + curN == e.logicalBytes() && curP + curN == e.physicalBytes()) {
                    curN += e.lengthBytes();
                } else {
                    if (curN > 0) {
                        out.add(new Extent(curL, curP, curN, false));
                    }
                    curL = e.logicalBytes();
                    curP = e.physicalBytes();
                    curN = e.lengthBytes();
                }
            }
            if (curN > 0) {
                out.add(new Extent(curL, curP, curN, true));
            }
            return out;
        }
    }

    // ---------------------------------------------------------------- fallocate

    /** See {@link ExtFileSystem#fallocate}. */
    void fallocate(FileHandle fh, int mode, long offsetBytes, long lengthBytes) throws IOException {
        Handle h = handle(fh);
        if ((h.openFlags & Vfs.O_ACCMODE) == Vfs.O_RDONLY) {
            throw new FsException(Errno.EBADF, "inode " + h.ino + " not open for writing");
        }
        fs.checkWritable();
        if (offsetBytes < 0 || lengthBytes <= 0) {
            throw new FsException(Errno.EINVAL, "fallocate range " + offsetBytes + "+" + lengthBytes);
        }
        int known = Vfs.FALLOC_FL_KEEP_SIZE | Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_ZERO_RANGE;
        if ((mode & ~known) != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "fallocate mode 0x" + Integer.toHexString(mode)
                    + " not supported by ext2");
        }
        boolean punch = (mode & Vfs.FALLOC_FL_PUNCH_HOLE) != 0;
        boolean zero = (mode & Vfs.FALLOC_FL_ZERO_RANGE) != 0;
        boolean keepSize = (mode & Vfs.FALLOC_FL_KEEP_SIZE) != 0;
        if (punch && zero) {
            throw new FsException(Errno.EINVAL, "PUNCH_HOLE and ZERO_RANGE together");
        }
        if (punch && !keepSize) {
            throw new FsException(Errno.EOPNOTSUPP, "PUNCH_HOLE needs KEEP_SIZE");
        }
        ExtInode i = h.inode;
        if (ExtInline.isInline(i)) {
            i.beginWrite();
            try {
                fs.inline.convert(i);
            } finally {
                i.endWrite();
            }
        }
        boolean extents = i.blockMapping instanceof ExtentTree;
        if (!punch && !zero && keepSize && !extents) {
            throw new FsException(Errno.EOPNOTSUPP, "ext2 cannot preallocate beyond EOF (no unwritten extents): "
                    + "fallocate KEEP_SIZE is not supported");
        }
        long endBytes = offsetBytes + lengthBytes;
        if (endBytes < 0 || (!keepSize && endBytes > fs.maxFileSizeBytes())) {
            throw new FsException(Errno.EFBIG, "fallocate end " + endBytes + " beyond the maximum file size "
                    + fs.maxFileSizeBytes());
        }
        i.beginWrite();
        try {
            AddressSpace m = i.mapping();
            m.invalidateLock().writeLock().lock();
            try {
                if (punch) {
                    generic.punchHole(i, offsetBytes, endBytes);
                } else if (zero) {
                    if (!keepSize && endBytes > i.sizeBytes()) {
                        generic.growSize(i, endBytes);
                    }
                    generic.zeroData(i, offsetBytes, Math.min(endBytes, i.sizeBytes()) - offsetBytes);
                    if (extents) {
                        allocateUnwritten(i, offsetBytes, endBytes, true);
                    }
                } else if (extents) {
                    allocateUnwritten(i, offsetBytes, endBytes, keepSize);
                } else {
                    allocateZeroed(i, offsetBytes, endBytes);
                }
            } finally {
                m.invalidateLock().writeLock().unlock();
            }
            fs.inodes.touchMtimeCtime(i);
        } finally {
            i.endWrite();
        }
    }

    /**
     * fallocate mode 0 or KEEP_SIZE of an extent file (ext4_alloc_file_blocks): every hole in
     * {@code [startBytes, endBytes)} becomes unwritten extents, which read as zeroes without writing them;
     * extents already there stay. Without {@code keepSize} i_size grows to {@code endBytes}. On ENOSPC blocks
     * allocated beyond EOF are freed again. rwsem and invalidate lock held exclusively.
     */
    private void allocateUnwritten(ExtInode i, long startBytes, long endBytes, boolean keepSize) throws IOException {
        int bits = fs.geo.blockBits();
        ExtentTree tree = (ExtentTree) i.blockMapping;
        long lblk = startBytes >>> bits;
        long endLblk = Math.min(((endBytes - 1) >>> bits) + 1, ExtentTree.MAX_LBLK);
        try {
            while (lblk < endLblk) {
                ExtBlockMapping.Run run;
                i.lock.lock();
                try {
                    run = tree.map(i, lblk, endLblk - lblk, true, true);
                } finally {
                    i.lock.unlock();
                }
                lblk += run.nrBlocks();
            }
        } catch (IOException | RuntimeException e) {
            try {
                generic.trimBeyondEof(i);
            } catch (IOException | RuntimeException e2) {
                e.addSuppressed(e2);
            }
            throw e;
        }
        if (!keepSize && endBytes > i.sizeBytes()) {
            generic.growSize(i, endBytes);
        }
    }

    /** fallocate mode 0 over {@code [startBytes, endBytes)}; rwsem and invalidate lock held exclusively. */
    private void allocateZeroed(ExtInode i, long startBytes, long endBytes) throws IOException {
        int bits = fs.geo.blockBits();
        long lblk = startBytes >>> bits;
        long endLblk = ((endBytes - 1) >>> bits) + 1;
        ByteBuffer zeroes = null;
        try {
            while (lblk < endLblk) {
                ExtBlockMapping.Run run;
                i.lock.lock();
                try {
                    run = i.blockMapping.map(i, lblk, endLblk - lblk, false);
                    if (run.isHole()) {
                        run = i.blockMapping.map(i, lblk, run.nrBlocks(), true);
                    }
                } finally {
                    i.lock.unlock();
                }
                if (run.fresh()) {
                    // Readers are shut out by the rwsem until the blocks hold zeroes and i_size covers them.
                    if (zeroes == null) {
                        zeroes = ByteBuffer.allocateDirect(ZERO_CHUNK_BYTES);
                    }
                    long addr = run.pblk() << bits;
                    long left = run.nrBlocks() << bits;
                    while (left > 0) {
                        int n = (int) Math.min(left, ZERO_CHUNK_BYTES);
                        fs.device.write(addr, zeroes.clear().limit(n));
                        addr += n;
                        left -= n;
                    }
                }
                lblk += run.nrBlocks();
            }
        } catch (IOException | RuntimeException e) {
            try {
                generic.trimBeyondEof(i);
            } catch (IOException | RuntimeException e2) {
                e.addSuppressed(e2);
            }
            throw e;
        }
        if (endBytes > i.sizeBytes()) {
            generic.growSize(i, endBytes);
        }
    }
}
