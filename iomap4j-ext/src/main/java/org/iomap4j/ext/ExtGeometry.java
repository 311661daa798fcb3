package org.iomap4j.ext;

import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;

/**
 * The mounted filesystem's fixed geometry, read once from a validated superblock (ExtSuper.readSuperblock);
 * field meanings from Documentation/filesystems/ext4/super.rst. Units are in the names: blocks of
 * {@code blockSizeBytes}, inode numbers from 1.
 *
 * @param blockSizeBytes 1024 &lt;&lt; s_log_block_size
 * @param blockBits      log2 of the block size
 * @param blocksCount    s_blocks_count
 * @param firstDataBlock s_first_data_block (1 for 1 KiB blocks, else 0)
 * @param blocksPerGroup s_blocks_per_group
 * @param inodesPerGroup s_inodes_per_group
 * @param inodesCount    s_inodes_count
 * @param firstIno       s_first_ino: the first non-reserved inode
 * @param inodeSize      s_inode_size in bytes
 * @param itableBlocks   blocks of one group's inode table
 * @param groups         block groups
 * @param hasFiletype    incompat filetype: directory entries carry the file type
 */
record ExtGeometry(int blockSizeBytes, int blockBits, long blocksCount, long firstDataBlock, long blocksPerGroup,
        long inodesPerGroup, long inodesCount, long firstIno, int inodeSize, long itableBlocks, int groups,
        boolean hasFiletype) {

    static ExtGeometry of(DiskSuperblock sb) {
        int bs = sb.blockSizeBytes();
        long itable = (sb.inodesPerGroup() * sb.inodeSize() + bs - 1) / bs;
        long groups = (sb.blocksCount() - sb.firstDataBlock() + sb.blocksPerGroup() - 1) / sb.blocksPerGroup();
        return new ExtGeometry(bs, Integer.numberOfTrailingZeros(bs), sb.blocksCount(), sb.firstDataBlock(),
                sb.blocksPerGroup(), sb.inodesPerGroup(), sb.inodesCount(), sb.firstIno(), sb.inodeSize(), itable,
                (int) groups, sb.hasIncompat(Features.INCOMPAT_FILETYPE));
    }
}
