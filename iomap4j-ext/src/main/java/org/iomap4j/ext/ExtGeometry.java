package org.iomap4j.ext;

import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;

/**
 * The mounted filesystem's fixed geometry and feature switches, read once from a validated superblock
 * (ExtSuper.readSuperblock); field meanings from Documentation/filesystems/ext4/super.rst. Units are in the
 * names: blocks of {@code blockSizeBytes}, inode numbers from 1.
 *
 * @param blockSizeBytes 1024 &lt;&lt; s_log_block_size
 * @param blockBits      log2 of the block size
 * @param blocksCount    s_blocks_count (with s_blocks_count_hi under 64bit)
 * @param firstDataBlock s_first_data_block (1 for 1 KiB blocks, else 0)
 * @param blocksPerGroup s_blocks_per_group
 * @param inodesPerGroup s_inodes_per_group
 * @param inodesCount    s_inodes_count
 * @param firstIno       s_first_ino: the first non-reserved inode
 * @param inodeSize      s_inode_size in bytes
 * @param itableBlocks   blocks of one group's inode table
 * @param groups         block groups
 * @param hasFiletype    incompat filetype: directory entries carry the file type
 * @param descSizeBytes  bytes of one group descriptor: 32, or s_desc_size with 64bit
 * @param metadataCsum   ro_compat metadata_csum: crc32c over superblock, descriptors, bitmaps, inodes, ...
 * @param gdtCsum        ro_compat gdt_csum (uninit_bg) without metadata_csum: crc16 descriptor checksums
 * @param csumSeed       the crc32c seed of every metadata checksum (s_checksum_seed with metadata_csum_seed,
 *                       else crc32c(~0, s_uuid)); 0 without metadata_csum
 * @param hugeFile       ro_compat huge_file: i_blocks has 48 bits and may count fs blocks (EXT4_HUGE_FILE_FL)
 * @param wantExtraIsize i_extra_isize of new inodes (fs/ext4/super.c ext4_set_def_extra_isize: at least 32, or
 *                       s_want_extra_isize / s_min_extra_isize if larger); 0 for 128-byte inodes
 */
record ExtGeometry(int blockSizeBytes, int blockBits, long blocksCount, long firstDataBlock, long blocksPerGroup,
        long inodesPerGroup, long inodesCount, long firstIno, int inodeSize, long itableBlocks, int groups,
        boolean hasFiletype, int descSizeBytes, boolean metadataCsum, boolean gdtCsum, int csumSeed,
        boolean hugeFile, int wantExtraIsize) {

    /** sizeof(struct ext4_inode) - EXT4_GOOD_OLD_INODE_SIZE: the extra fields the kernel knows (through i_projid). */
    static final int DEFAULT_EXTRA_ISIZE = 32;

    static ExtGeometry of(DiskSuperblock sb) {
        int bs = sb.blockSizeBytes();
        long itable = (sb.inodesPerGroup() * sb.inodeSize() + bs - 1) / bs;
        long groups = (sb.blocksCount() - sb.firstDataBlock() + sb.blocksPerGroup() - 1) / sb.blocksPerGroup();
        int extra = 0;
        if (sb.inodeSize() > DiskSuperblock.GOOD_OLD_INODE_SIZE) {
            extra = Math.max(DEFAULT_EXTRA_ISIZE, Math.max(sb.wantExtraIsize(), sb.minExtraIsize()));
            extra = Math.min(extra, sb.inodeSize() - DiskSuperblock.GOOD_OLD_INODE_SIZE);
        }
        return new ExtGeometry(bs, Integer.numberOfTrailingZeros(bs), sb.blocksCount(), sb.firstDataBlock(),
                sb.blocksPerGroup(), sb.inodesPerGroup(), sb.inodesCount(), sb.firstIno(), sb.inodeSize(), itable,
                (int) groups, sb.hasIncompat(Features.INCOMPAT_FILETYPE), sb.descSizeBytes(), sb.hasMetadataCsum(),
                sb.hasGdtCsum(), sb.hasMetadataCsum() ? sb.csumSeed() : 0,
                sb.hasRoCompat(Features.RO_COMPAT_HUGE_FILE), extra);
    }

    /** Group descriptors carry checksums and the uninit flags mean something (ext4_has_group_desc_csum). */
    boolean hasGroupDescCsum() {
        return metadataCsum || gdtCsum;
    }
}
