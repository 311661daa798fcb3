package org.iomap4j.pagecache;

/**
 * What the page cache knows of the inode that owns an {@link AddressSpace} (the kernel's
 * {@code mapping->host}): its number and geometry, nothing of its filesystem. An iomap filesystem's inode
 * ({@code org.iomap4j.iomap.IomapInode}) extends it.
 *
 * <p>Thread-safety: every method may be called without locks; {@link #sizeBytes()} must be a volatile (or
 * equivalent) read.
 */
public interface MappingHost {

    /**
     * The inode number, for messages and keys.
     *
     * @return the inode number
     */
    long ino();

    /**
     * The file size in bytes (i_size).
     *
     * @return i_size in bytes
     */
    long sizeBytes();

    /**
     * The filesystem block size in bytes: a power of two, 512..65536 (the unit of per-block uptodate and dirty
     * state; checked by {@link PageCache#createMapping}). Must not change while the mapping exists.
     *
     * @return the block size in bytes
     */
    int blockSizeBytes();

    /**
     * Delayed allocation: reserves space for {@code nrBlocks} filesystem blocks that a buffered write is about
     * to dirty inside a DELALLOC mapping and that hold no reservation yet (seed 003: the reservation lives with
     * the dirty state, one bit per block in the folio, so a block is never reserved twice). The filesystem
     * counts it against free space (data; its worst-case metadata comes from the filesystem's own reserve) and
     * must fail here, not in writeback: this is where a write's ENOSPC comes from.
     *
     * <p>The page cache gives every reservation back exactly once through {@link #releaseDelalloc}: after
     * writeback has mapped the block (the filesystem allocated it meanwhile, drawing on the space the
     * reservation kept free) or when the dirty block is dropped (truncate, punch, invalidate, failed
     * writeback). Called with a folio lock held: the filesystem's counter must be a leaf (an atomic, or a
     * lock that nothing else is taken under).
     *
     * @throws java.io.IOException {@code FsException(ENOSPC)} when the space is not there; nothing is reserved
     * @param nrBlocks filesystem blocks to reserve (&gt; 0)
     */
    default void reserveDelalloc(long nrBlocks) throws java.io.IOException {
    }

    /**
     * Gives back {@code nrBlocks} blocks reserved by {@link #reserveDelalloc}. Folio lock may be held; never fails.
     *
     * @param nrBlocks filesystem blocks to give back
     */
    default void releaseDelalloc(long nrBlocks) {
    }
}
