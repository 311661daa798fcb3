package org.iomap4j.fs;

import java.io.IOException;
import org.iomap4j.iomap.IomapInode;

/**
 * The block-freeing half of a filesystem's truncate and hole punch, called by {@link GenericFile} after it
 * sequenced the page cache (the kernel splits it the same way: truncate_setsize / truncate_pagecache_range in
 * mm/truncate.c, then the filesystem's ext2_truncate_blocks or punch). Units: logical blocks of the inode's block
 * size.
 *
 * <p>Lock order: called with the inode's i_rwsem ({@link Inode#rwsem}) and its mapping's invalidate lock held
 * exclusively; the implementation takes its own block-map lock (and allocator locks) inside.
 *
 * @param <I> the filesystem's in-memory inode type
 */
public interface BlockTruncateOps<I extends IomapInode> {

    /**
     * Frees every block mapped at or after logical block {@code firstLblk}, and the filesystem's mapping metadata
     * left mapping nothing. The page cache beyond was already dropped and i_size already set.
     *
     * @throws IOException device errors; the filesystem stays consistent (blocks may be leaked, never reused twice)
     * @param inode the file
     * @param firstLblk first logical block (in filesystem blocks) to free
     */
    void truncateBlocks(I inode, long firstLblk) throws IOException;

    /**
     * Frees the blocks mapped in {@code [startLblk, endLblk)} (a hole punch); i_size does not change. The cached
     * whole blocks of the range were already written back and dropped.
     *
     * @param inode the file
     * @param startLblk first logical block of the hole, in filesystem blocks
     * @param endLblk exclusive end logical block
     * @throws IOException EIO, EUCLEAN for a corrupt block map, ENOSPC when a split needs a block the filesystem cannot
     *     find
     */
    void punchBlocks(I inode, long startLblk, long endLblk) throws IOException;
}
