package org.iomap4j.ext2;

import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.ext2.disk.DiskInode;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.vfs.FileMode;

/**
 * The in-memory ext2 inode: the on-disk fields (a {@link DiskInode} copy written back to the inode table on
 * sync), the block-map lock and sequence counter, and the page cache ({@link AddressSpace}) through which its
 * file or directory data flows.
 *
 * <p>Locks, outermost first (the filesystem's lock order, see {@link Ext2FileSystem}): {@link #rwsem} (i_rwsem:
 * shared for reads, exclusive for writes and truncate) → core invalidate/folio locks → {@link #lock} (block map
 * and every {@link #disk} field; held only inside one iomapBegin/mapBlocks/metadata update, never from
 * iomapBegin to iomapEnd) → allocator → buffer locks.
 */
final class Ext2Inode implements IomapInode {
    final Ext2FileSystem fs;
    final long ino;
    /** On-disk fields; guarded by {@link #lock}. */
    final DiskInode disk;
    final ReentrantLock lock = new ReentrantLock();
    final ReentrantReadWriteLock rwsem = new ReentrantReadWriteLock();
    /** Block-map sequence counter: bumped by every allocation and free; the iomap validity cookie. */
    private volatile long mapSeq;
    private volatile long sizeBytes;
    private volatile AddressSpace mapping;
    private volatile boolean fastSymlink;
    /** Allocation hint: the last allocated logical/physical block (guarded by {@link #lock}). */
    long lastAllocLblk = -2;
    long lastAllocPblk;
    // Guarded by fs.icacheLock.
    long lookupRefs;
    int openCount;
    boolean freed;

    Ext2Inode(Ext2FileSystem fs, long ino, DiskInode disk) {
        this.fs = fs;
        this.ino = ino;
        this.disk = disk;
        this.sizeBytes = disk.size(FileMode.isRegular(disk.mode()));
        long aclBlocks = disk.fileAcl() != 0 ? fs.blockSizeBytes / 512 : 0;
        this.fastSymlink = disk.blocks512() - aclBlocks == 0;
    }

    @Override
    public long ino() {
        return ino;
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    /** Called by the core's buffered write (folio lock held) and by truncate; records i_size on disk. */
    @Override
    public void setSizeBytes(long newSizeBytes) {
        lock.lock();
        try {
            sizeBytes = newSizeBytes;
            disk.setSize(newSizeBytes, isRegular());
        } finally {
            lock.unlock();
        }
        if (newSizeBytes > Integer.MAX_VALUE) {
            fs.noteLargeFile();
        }
        fs.markDirty(this);
    }

    @Override
    public int blockSizeBytes() {
        return fs.blockSizeBytes;
    }

    @Override
    public AddressSpace mapping() {
        AddressSpace m = mapping;
        if (m == null) {
            synchronized (this) {
                m = mapping;
                if (m == null) {
                    m = fs.pageCache.createMapping(this, fs.iomapOps);
                    mapping = m;
                }
            }
        }
        return m;
    }

    /** The page cache if one was created, else null (no data was ever cached). */
    AddressSpace mappingIfCreated() {
        return mapping;
    }

    long mapSeq() {
        return mapSeq;
    }

    /** Bumps the block-map sequence counter; caller holds {@link #lock}. */
    void bumpMapSeq() {
        mapSeq++;
    }

    int mode() {
        return disk.mode();
    }

    boolean isDir() {
        return FileMode.isDirectory(disk.mode());
    }

    boolean isRegular() {
        return FileMode.isRegular(disk.mode());
    }

    boolean isSymlink() {
        return FileMode.isSymlink(disk.mode());
    }

    /**
     * A symlink whose target lives in i_block (ext2_inode_is_fast_symlink: no data blocks when loaded; a new
     * symlink is fast or slow by its target length).
     */
    boolean isFastSymlink() {
        return isSymlink() && fastSymlink;
    }

    void setFastSymlink(boolean fast) {
        fastSymlink = fast;
    }

    /** True if i_block holds block pointers (regular files, directories, slow symlinks). */
    boolean hasBlockMap() {
        return isRegular() || isDir() || (isSymlink() && !isFastSymlink());
    }

    @Override
    public String toString() {
        return "ext2 inode " + ino;
    }
}
