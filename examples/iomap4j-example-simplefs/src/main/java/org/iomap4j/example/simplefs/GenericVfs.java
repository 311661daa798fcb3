package org.iomap4j.example.simplefs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.fs.GenericFile;
import org.iomap4j.fs.GenericFile.IoMode;
import org.iomap4j.fs.Inode;
import org.iomap4j.fs.InodeCache;
import org.iomap4j.fs.Pins;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.Seek;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.VfsFallocate;
import org.iomap4j.vfs.VfsSeek;
import org.iomap4j.vfs.VfsWrite;

/**
 * The file half of a {@link org.iomap4j.vfs.Vfs} that is the same for every filesystem on core's generic layer:
 * open, read, write, setattr, fallocate (punch, zero), SEEK_DATA/SEEK_HOLE, fsync, release, forget, sync and
 * unmount, each a few lines around {@link GenericFile}, {@link Seek} and the {@link InodeCache} with the locks the
 * architecture prescribes (i_rwsem shared for read and seek, exclusive plus the invalidate lock for truncate and
 * fallocate). Not filesystem code: simplefs' own code is {@link SimpleFs} (namespace, inodes on disk) and
 * {@link SimpleMapping} (the mapping). A filesystem supplies its inodes ({@link #fileInode}), the cache, the generic
 * file and the largest file size.
 *
 * @param <I> the filesystem's inode type
 */
public abstract class GenericVfs<I extends GenericVfs.FileInode> implements VfsWrite, VfsSeek, VfsFallocate {

    /** For subclasses, which call {@link #init} once their parts exist. */
    protected GenericVfs() {
    }

    /** An inode with the attributes setattr changes (guarded by the inode's monitor when changed together). */
    public abstract static class FileInode extends Inode {
        /** st_mode: file type and permission bits. */
        protected volatile int mode;
        /** Owner. */
        protected volatile int uid;
        /** Group. */
        protected volatile int gid;
        /** Access time, seconds since the epoch. */
        protected volatile long atime;
        /** Modification time, seconds since the epoch. */
        protected volatile long mtime;
        /** Change time, seconds since the epoch. */
        protected volatile long ctime;

        /**
         * An inode with all attributes 0.
         *
         * @param ino the inode number
         */
        protected FileInode(long ino) {
            super(ino);
        }

        /**
         * stat(2) of this inode.
         *
         * @return the attributes now
         */
        public abstract InodeAttr attr();
    }

    private record Handle(long ino, int openFlags, FileInode inode, ErrSeq.Cursor cursor) implements FileHandle {
    }

    private volatile boolean closed;
    private BlockDevice dev;
    private PageCache cache;
    private InodeCache<I> icache;
    private GenericFile<I> generic;
    private IomapOps ops;
    private long maxFileBytes;

    /**
     * Wires the filesystem's parts in (from its constructor, once they exist): the device it lives on (closed at
     * unmount), its page cache and inode cache, the generic file over its mapping, and the largest file size.
     *
     * @param dev          the device the filesystem lives on
     * @param cache        its page cache
     * @param icache       its inode cache
     * @param generic      the generic file over its mapping
     * @param ops          its mapping (for SEEK_DATA/SEEK_HOLE)
     * @param maxFileBytes the largest file size in bytes (EFBIG beyond)
     */
    protected final void init(BlockDevice dev, PageCache cache, InodeCache<I> icache, GenericFile<I> generic,
            IomapOps ops, long maxFileBytes) {
        this.dev = dev;
        this.cache = cache;
        this.icache = icache;
        this.generic = generic;
        this.ops = ops;
        this.maxFileBytes = maxFileBytes;
    }

    /**
     * The device the filesystem lives on.
     *
     * @return the device
     */
    protected final BlockDevice device() {
        return dev;
    }

    /**
     * The page cache (tests drop its clean folios).
     *
     * @return the page cache
     */
    public final PageCache cache() {
        return cache;
    }

    /**
     * The inode cache.
     *
     * @return the inode cache
     */
    protected final InodeCache<I> icache() {
        return icache;
    }

    private GenericFile<I> generic() {
        return generic;
    }

    private long maxFileBytes() {
        return maxFileBytes;
    }

    /**
     * The regular file {@code ino}, pinned for the operation.
     *
     * @param pins the operation's pins
     * @param ino  the inode number
     * @return the cached inode
     * @throws IOException EISDIR for a directory, ENOENT for an unused number, device errors
     */
    protected abstract I fileInode(Pins pins, long ino) throws IOException;

    /**
     * The time now.
     *
     * @return whole seconds since the epoch
     */
    protected static long now() {
        return Instant.now().getEpochSecond();
    }

    /**
     * Refuses changes on a read-only mount.
     *
     * @throws FsException EROFS on a read-only mount
     */
    protected final void checkWritable() throws FsException {
        if (device().isReadOnly()) {
            throw new FsException(Errno.EROFS, "mounted read-only");
        }
    }

    @Override
    public boolean isReadOnly() {
        return device().isReadOnly();
    }

    @Override
    public FileHandle open(long ino, int openFlags) throws IOException {
        try (Pins pins = icache().pins()) {
            return open(fileInode(pins, ino), openFlags);
        }
    }

    /**
     * Opens {@code i} (pinned by the caller): O_TRUNC truncates; the handle holds the inode in the cache.
     *
     * @param i         the file
     * @param openFlags the open(2) flags
     * @return the new handle
     * @throws IOException EROFS for a write open of a read-only mount, errors of the truncate
     */
    protected final FileHandle open(I i, int openFlags) throws IOException {
        if ((openFlags & (O_ACCMODE | O_TRUNC)) != O_RDONLY) {
            checkWritable();
        }
        if ((openFlags & O_TRUNC) != 0 && i.sizeBytes() > 0) {
            setSize(i, 0);
        }
        icache().open(i);
        return new Handle(i.ino(), openFlags, i, i.mapping().errors().newCursor());
    }

    @SuppressWarnings("unchecked")
    private I inode(FileHandle fh, boolean write) throws FsException {
        Handle h = (Handle) fh;
        if (write && (h.openFlags & O_ACCMODE) == O_RDONLY) {
            throw new FsException(Errno.EBADF, "inode " + h.ino + " not open for writing");
        }
        return (I) h.inode;
    }

    private static IoMode ioMode(FileHandle fh) {
        return (fh.openFlags() & O_DIRECT) != 0 ? IoMode.DIRECT : IoMode.BUFFERED;
    }

    @Override
    public int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException {
        I i = inode(fh, false);
        if (posBytes < 0) {
            throw new FsException(Errno.EINVAL, "negative position " + posBytes);
        }
        i.rwsem.readLock().lock();
        try {
            return generic().read(i, posBytes, dst, ioMode(fh));
        } finally {
            i.rwsem.readLock().unlock();
        }
    }

    @Override
    public int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException {
        I i = inode(fh, true);
        i.beginWrite();
        try {
            long pos = (fh.openFlags() & O_APPEND) != 0 ? i.sizeBytes() : posBytes;
            if (pos < 0) {
                throw new FsException(Errno.EINVAL, "negative position " + pos);
            }
            int n = src.hasRemaining() ? generic().write(i, pos, src, ioMode(fh), maxFileBytes()) : 0;
            touch(i, true);
            return n;
        } finally {
            i.endWrite();
        }
    }

    /**
     * Sets ctime (and mtime) to now and marks the inode dirty.
     *
     * @param i        the inode
     * @param mtimeToo also set the mtime
     */
    protected final void touch(I i, boolean mtimeToo) {
        long t = now();
        i.mtime = mtimeToo ? t : i.mtime;
        i.ctime = t;
        icache().writeback().markInodeDirty(i);
    }

    private void setSize(I i, long sizeBytes) throws IOException {
        if (sizeBytes < 0 || sizeBytes > maxFileBytes()) {
            throw new FsException(sizeBytes < 0 ? Errno.EINVAL : Errno.EFBIG, "size " + sizeBytes);
        }
        i.beginWrite();
        try {
            generic().truncateSetsize(i, sizeBytes);
            touch(i, true);
        } finally {
            i.endWrite();
        }
    }

    @Override
    public InodeAttr setattr(long ino, SetAttr ch) throws IOException {
        checkWritable();
        try (Pins pins = icache().pins()) {
            I i = fileInode(pins, ino);
            if (ch.sizeBytes() != null) {
                setSize(i, ch.sizeBytes());
            }
            synchronized (i) {
                i.mode = ch.mode() != null ? (i.mode & FileMode.S_IFMT) | (ch.mode() & FileMode.PERM_MASK) : i.mode;
                i.uid = ch.uid() != null ? ch.uid() : i.uid;
                i.gid = ch.gid() != null ? ch.gid() : i.gid;
                i.atime = ch.atimeNow() ? now() : ch.atimeSec() != null ? ch.atimeSec() : i.atime;
                i.mtime = ch.mtimeNow() ? now() : ch.mtimeSec() != null ? ch.mtimeSec() : i.mtime;
                touch(i, false);
            }
            return i.attr();
        }
    }

    /** PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE (with or without KEEP_SIZE); preallocation is EOPNOTSUPP. */
    @Override
    public void fallocate(FileHandle fh, int mode, long offsetBytes, long lengthBytes) throws IOException {
        I i = inode(fh, true);
        boolean punch = mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
        if (!punch && (mode & ~FALLOC_FL_KEEP_SIZE) != FALLOC_FL_ZERO_RANGE) {
            throw new FsException(Errno.EOPNOTSUPP, "fallocate mode 0x" + Integer.toHexString(mode));
        }
        long end = offsetBytes + lengthBytes;
        if (offsetBytes < 0 || lengthBytes <= 0 || end > maxFileBytes()) {
            throw new FsException(end > maxFileBytes() ? Errno.EFBIG : Errno.EINVAL, offsetBytes + "+" + lengthBytes);
        }
        i.beginWrite();
        i.mapping().invalidateLock().writeLock().lock();
        try {
            if (punch) {
                generic().punchHole(i, offsetBytes, end);
            } else {
                if ((mode & FALLOC_FL_KEEP_SIZE) == 0 && end > i.sizeBytes()) {
                    generic().growSize(i, end);
                }
                generic().zeroData(i, offsetBytes, Math.min(end, i.sizeBytes()) - offsetBytes);
            }
            touch(i, true);
        } finally {
            i.mapping().invalidateLock().writeLock().unlock();
            i.endWrite();
        }
    }

    @Override
    public long seekDataHole(FileHandle fh, long offsetBytes, int whence) throws IOException {
        I i = inode(fh, false);
        i.rwsem.readLock().lock();
        try {
            return whence == SEEK_DATA ? Seek.seekData(i, offsetBytes, ops)
                    : Seek.seekHole(i, offsetBytes, ops);
        } finally {
            i.rwsem.readLock().unlock();
        }
    }

    @Override
    public void fsync(FileHandle fh, boolean dataOnly) throws IOException {
        I i = inode(fh, false);
        GenericFile.writeAndWait(i, ((Handle) fh).cursor);
        icache().writeback().writeInodeIfDirty(i);
        device().flush();
    }

    @Override
    public void release(FileHandle fh) throws IOException {
        icache().release(inode(fh, false));
    }

    @Override
    public void forget(long ino, long count) throws IOException {
        if (ino != rootIno()) {
            icache().forget(ino, count);
        }
    }

    @Override
    public void sync() throws IOException {
        cache().syncAll();
        icache().writeback().writeDirtyInodes();
        device().flush();
        icache().writeback().evictCleanPending();
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (!device().isReadOnly()) {
                sync();
            }
        } finally {
            icache().writeback().shutdown();
            cache().close();
            device().close();
        }
    }
}
