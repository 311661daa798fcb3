package org.iomap4j.ext;

import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.vfs.FileMode;

/**
 * The in-memory ext2 inode: the on-disk fields (a {@link DiskInode} copy written back to the inode table on
 * sync), the block-map lock and sequence counter, and the page cache ({@link AddressSpace}) through which its
 * file or directory data flows.
 *
 * <p>Locks, outermost first (the filesystem's lock order, see {@link ExtFileSystem}): {@link #rwsem} (i_rwsem:
 * shared for reads, exclusive for writes and truncate) → core invalidate/folio locks → {@link #lock} (block map
 * and every {@link #disk} field; held only inside one iomapBegin/mapBlocks/metadata update, never from
 * iomapBegin to iomapEnd) → allocator → buffer locks.
 */
final class ExtInode implements IomapInode {
    final ExtFileSystem fs;
    final long ino;
    /** On-disk fields; guarded by {@link #lock}. */
    final DiskInode disk;
    final ReentrantLock lock = new ReentrantLock();
    final ReentrantReadWriteLock rwsem = new ReentrantReadWriteLock();
    /** Block-map sequence counter: bumped by every allocation and free; the iomap validity cookie. */
    private volatile long mapSeq;
    /**
     * Data sequence counter: bumped by every holder of {@link #rwsem}'s write lock right after taking it (write,
     * truncate, fallocate), so a value read under the shared lock stays the same exactly as long as no writer has
     * run since. Validates O_DIRECT read-ahead ({@link org.iomap4j.iomap.DirectReadahead}).
     */
    volatile long dataSeq;
    private volatile long sizeBytes;
    private volatile AddressSpace mapping;
    private volatile boolean fastSymlink;
    /** Allocation hint: the last allocated logical/physical block (guarded by {@link #lock}). */
    long lastAllocLblk = -2;
    long lastAllocPblk;
    // Guarded by fs.icacheLock (see "Inode cache eviction" in ExtFileSystem).
    long lookupRefs;
    int openCount;
    boolean freed;
    /** Operations using this object right now (each iget pins it until the operation ends). */
    int pins;
    /**
     * Its last lookup reference or open handle was dropped (forget/release): evict it as soon as it is unused
     * and clean, without a stay in the unused-inode LRU. Cleared by a new reference or open.
     */
    boolean dropped;
    /** Removed from the inode cache; this object must not be used any more. Written under fs.icacheLock. */
    volatile boolean evicted;
    /**
     * The link count reached 0 (never goes back: link() refuses an unlinked inode). Set under {@link #lock} by
     * the operation that dropped the last link, while that operation has the inode pinned.
     */
    volatile boolean unlinked;

    ExtInode(ExtFileSystem fs, long ino, DiskInode disk) {
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

    /**
     * The inode's page cache, created on first use.
     *
     * @throws IllegalStateException after {@link #detachMapping()} (eviction or free): a caller that still holds
     *                               this object is a bug, and a new mapping here would cache data nobody syncs
     */
    @Override
    public AddressSpace mapping() {
        AddressSpace m = mapping;
        if (m == null) {
            synchronized (this) {
                m = mapping;
                if (m == null) {
                    if (mappingDetached) {
                        throw new IllegalStateException(this + ": page cache used after the inode was evicted or freed");
                    }
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

    private boolean mappingDetached;

    /**
     * Takes the page cache away from this object for eviction or free (the caller removes it from the page
     * cache); later {@link #mapping()} calls throw. Returns the mapping, or null if none was created.
     */
    AddressSpace detachMapping() {
        synchronized (this) {
            AddressSpace m = mapping;
            mapping = null;
            mappingDetached = true;
            return m;
        }
    }

    /** Sets i_links_count; caller holds {@link #lock}. Reaching 0 marks the inode {@link #unlinked}. */
    void setLinksCount(int links) {
        disk.setLinksCount(links);
        if (links == 0) {
            unlinked = true;
        }
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
