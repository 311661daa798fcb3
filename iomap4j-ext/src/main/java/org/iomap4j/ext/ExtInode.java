package org.iomap4j.ext;

import java.util.concurrent.locks.ReentrantLock;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.fs.Inode;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.vfs.FileMode;

/**
 * The in-memory ext2 inode: the on-disk fields (a {@link DiskInode} copy written back to the inode table on
 * sync), the block-map lock and sequence counter, and the page cache ({@link AddressSpace}) through which its
 * file or directory data flows.
 *
 * <p>The generic part (i_rwsem, page cache, cache references) is {@link Inode}'s.
 *
 * <p>Locks, outermost first (the filesystem's lock order, see {@link ExtFileSystem}): {@link Inode#rwsem} (i_rwsem:
 * shared for reads, exclusive for writes and truncate) → core invalidate/folio locks → {@link #lock} (block map
 * and every {@link #disk} field; held only inside one iomapBegin/mapBlocks/metadata update, never from
 * iomapBegin to iomapEnd) → {@link ExtGroups} monitor (allocators) → buffer locks.
 */
final class ExtInode extends Inode {
    final ExtFileSystem fs;
    final long ino;
    /** On-disk fields; guarded by {@link #lock}. */
    final DiskInode disk;
    final ReentrantLock lock = new ReentrantLock();
    /**
     * How i_block maps logical to physical blocks (ext4_map_blocks' choice by EXT4_EXTENTS_FL), chosen when the
     * inode is loaded or created; {@link ExtInline#MAPPING} for an inline-data inode until it is converted
     * (written under {@link #lock} and i_rwsem).
     */
    volatile ExtBlockMapping blockMapping;
    /** Block-map sequence counter: bumped by every allocation and free; the iomap validity cookie. */
    private volatile long mapSeq;
    private volatile long sizeBytes;
    private volatile boolean fastSymlink;
    /** Allocation hint: the last allocated logical/physical block (guarded by {@link #lock}). */
    long lastAllocLblk = -2;
    long lastAllocPblk;

    ExtInode(ExtFileSystem fs, long ino, DiskInode disk) {
        super(ino);
        this.fs = fs;
        this.ino = ino;
        this.disk = disk;
        disk.useBlocksEncoding(fs.geo.hugeFile(), fs.geo.blockSizeBytes()); // i_blocks as ext4_inode_blocks(_set)
        this.blockMapping = fs.blockMappingFor(disk);
        this.sizeBytes = disk.size(FileMode.isRegular(disk.mode()) || (FileMode.isDirectory(disk.mode()) && fs.largeDirSizes()));
        long aclBlocks = disk.fileAcl() != 0 ? fs.geo.blockSizeBytes() / 512 : 0;
        this.fastSymlink = disk.blocks512() - aclBlocks == 0;
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
            disk.setSize(newSizeBytes, isRegular() || (isDir() && fs.largeDirSizes()));
        } finally {
            lock.unlock();
        }
        if (newSizeBytes > Integer.MAX_VALUE) {
            fs.sup.noteLargeFile();
        }
        fs.markDirty(this);
    }

    @Override
    public int blockSizeBytes() {
        return fs.geo.blockSizeBytes();
    }

    @Override
    protected AddressSpace createMapping() {
        return fs.pageCache.createMapping(this, fs.iomapOps);
    }

    /** Sets i_links_count; caller holds {@link #lock}. Reaching 0 marks the inode unlinked. */
    void setLinksCount(int links) {
        disk.setLinksCount(links);
        if (links == 0) {
            setUnlinked();
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

    /** Blocks of this inode's dirty data reserved but not yet allocated (ext4's i_reserved_data_blocks). */
    private final java.util.concurrent.atomic.AtomicLong delallocBlocks = new java.util.concurrent.atomic.AtomicLong();

    /** Delayed allocation: a dirty block of a DELALLOC mapping reserves space (core page cache, seed 003). */
    @Override
    public void reserveDelalloc(long nrBlocks) throws java.io.IOException {
        fs.balloc.reserveDelalloc(nrBlocks);
        delallocBlocks.addAndGet(nrBlocks);
    }

    @Override
    public void releaseDelalloc(long nrBlocks) {
        delallocBlocks.addAndGet(-nrBlocks);
        fs.balloc.releaseDelalloc(nrBlocks);
    }

    /** Reserved delalloc blocks, counted in st_blocks as ext4_getattr does. */
    long delallocBlocks() {
        return delallocBlocks.get();
    }
}
