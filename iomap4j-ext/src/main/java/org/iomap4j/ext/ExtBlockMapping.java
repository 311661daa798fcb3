package org.iomap4j.ext;

import java.io.IOException;

/**
 * How an inode's i_block maps logical blocks to physical blocks: the indirect block tree of ext2/3
 * ({@link BlockMap}) and the ext4 extent tree ({@link ExtentTree}), a second implementation, chosen per inode by
 * EXT4_EXTENTS_FL as fs/ext4/inode.c ext4_map_blocks does ({@link ExtFileSystem#blockMappingFor}). Units are
 * logical blocks ({@code lblk}) and physical blocks ({@code pblk}) of the filesystem's block size.
 *
 * <p>Every method is called with the inode's {@link ExtInode#lock} held (that lock alone guards i_block and the
 * mapping's metadata blocks); implementations take the allocators ({@link ExtGroups} monitor) and buffer locks inside, and bump the
 * inode's block-map sequence ({@link ExtInode#bumpMapSeq}) on every allocation and free (the iomap validity
 * cookie).
 */
interface ExtBlockMapping {
    /**
     * One answer of the map.
     *
     * @param lblk     first logical block
     * @param nrBlocks blocks in the run (&ge; 1)
     * @param pblk     physical block of {@code lblk}, 0 for a hole
     * @param boundary the block after the run has its pointer in another metadata block (BH_Boundary)
     * @param fresh    the run was just allocated
     * @param unwritten the run is an unwritten extent (allocated, reads as zeroes; extent-mapped inodes only)
     */
    record Run(long lblk, long nrBlocks, long pblk, boolean boundary, boolean fresh, boolean unwritten) {
        Run(long lblk, long nrBlocks, long pblk, boolean boundary, boolean fresh) {
            this(lblk, nrBlocks, pblk, boundary, fresh, false);
        }

        boolean isHole() {
            return pblk == 0;
        }
    }

    /** Logical blocks this mapping can address; beyond is always a hole. */
    long addressableBlocks();

    /**
     * The run at {@code lblk} of at most {@code maxBlocks} blocks: a mapped run (physically contiguous), or a hole
     * (up to the next mapped block). With {@code create} a hole is allocated (data and metadata blocks together)
     * and answered {@code fresh}.
     *
     * @throws org.iomap4j.CorruptFilesystemException for a pointer outside the filesystem, naming the inode
     * @throws org.iomap4j.FsException               ENOSPC when allocating
     */
    Run map(ExtInode inode, long lblk, long maxBlocks, boolean create) throws IOException;

    /** Frees every block at or after {@code fromLblk} and metadata blocks left mapping nothing; blocks freed. */
    long freeFrom(ExtInode inode, long fromLblk) throws IOException;

    /** Frees the blocks in {@code [fromLblk, toLblk)} and metadata blocks left mapping nothing; blocks freed. */
    long freeRange(ExtInode inode, long fromLblk, long toLblk) throws IOException;
}
