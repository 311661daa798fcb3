package org.iomap4j.s3;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.netfs.NetfsFile;
import org.iomap4j.netfs.NetfsInode;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.vfs.FileMode;

/**
 * The in-memory inode of an S3 object or directory: its path below the mount root, attributes, and for regular
 * files the page cache and {@link NetfsFile}. Attribute fields are guarded by the inode's monitor; the data path
 * takes {@link #rwsem} (shared for read, exclusive for write and truncate) outside it.
 */
final class S3Inode implements NetfsInode {
    /** Block size of the page cache's per-block state for S3 files. */
    static final int BLOCK_BYTES = 4096;

    private final long ino;
    /** i_rwsem. */
    final ReentrantReadWriteLock rwsem = new ReentrantReadWriteLock();
    // Guarded by this.
    private String path;
    int mode;
    int uid;
    int gid;
    long mtimeSec;
    int mtimeNsec;
    long ctimeSec;
    long lookups;
    /** System.nanoTime() when the server last told this inode's attributes (HEAD, create, upload), 0 never. */
    volatile long validatedNanos;
    /** System.nanoTime() of the last release that left the file closed (an open after it revalidates). */
    volatile long closedNanos;
    /** ETag of the object version the attributes were read from (HEAD, upload), or null: a listing with the same
     * ETag needs no HEAD to answer a lookup. */
    volatile String serverTag;
    int openCount;
    /** Attributes changed here (setattr, write, truncate) since the last upload took them. */
    boolean attrsChanged;
    boolean unlinked;
    private volatile long sizeBytes;
    private NetfsFile file;
    private AddressSpace mapping;

    S3Inode(long ino, String path, int mode, int uid, int gid, long mtimeSec) {
        this.ino = ino;
        this.path = path;
        this.mode = mode;
        this.uid = uid;
        this.gid = gid;
        this.mtimeSec = mtimeSec;
        this.ctimeSec = mtimeSec;
    }

    /** Attaches the data path of a regular file (once). */
    synchronized void attach(NetfsFile f, AddressSpace m) {
        this.file = f;
        this.mapping = m;
        this.sizeBytes = f.sizeBytes();
    }

    synchronized boolean hasData() {
        return file != null;
    }

    @Override
    public long ino() {
        return ino;
    }

    synchronized String path() {
        return path;
    }

    synchronized void setPath(String p) {
        path = p;
    }

    boolean isDirectory() {
        return FileMode.isDirectory(mode);
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    /** Called by the core after extending writes and by truncate; the netfs file records it for the upload. */
    @Override
    public void setSizeBytes(long newSizeBytes) {
        sizeBytes = newSizeBytes;
        NetfsFile f = netfsFileOrNull();
        if (f != null) {
            f.setSize(newSizeBytes);
        }
    }

    /** A size learnt from the server (listing, HEAD) for an inode without local changes. */
    void setSizeFromServer(long n) {
        sizeBytes = n;
    }

    @Override
    public int blockSizeBytes() {
        return BLOCK_BYTES;
    }

    @Override
    public synchronized AddressSpace mapping() {
        return mapping;
    }

    @Override
    public synchronized NetfsFile netfsFile() {
        return file;
    }

    synchronized NetfsFile netfsFileOrNull() {
        return file;
    }

    @Override
    public String toString() {
        return "S3Inode[" + ino + " '" + path() + "']";
    }
}
