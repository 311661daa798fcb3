package org.iomap4j.ext;

import java.util.List;
import java.util.UUID;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.FeatureSupport;
import org.iomap4j.ext.disk.Features;

/**
 * A read-only summary of an ext2/3/4 superblock for {@code info} and {@code df}: counts in filesystem blocks, times
 * in seconds since the epoch, features by their e2fsprogs names. A snapshot: it does not change as the
 * filesystem does.
 *
 * @param blockSizeBytes  block size in bytes
 * @param blocksCount     s_blocks_count
 * @param freeBlocksCount free blocks (s_free_blocks_count; live counts when taken from a mounted filesystem)
 * @param reservedBlocksCount blocks reserved for root
 * @param inodesCount     s_inodes_count
 * @param freeInodesCount free inodes
 * @param inodeSizeBytes  on-disk inode size
 * @param blocksPerGroup  s_blocks_per_group
 * @param inodesPerGroup  s_inodes_per_group
 * @param groupCount      number of block groups
 * @param firstDataBlock  s_first_data_block (1 for 1 KiB blocks, else 0)
 * @param revLevel        0 (good old) or 1 (dynamic)
 * @param compatFeatures  names of s_feature_compat bits
 * @param incompatFeatures names of s_feature_incompat bits
 * @param roCompatFeatures names of s_feature_ro_compat bits
 * @param volumeLabel     s_volume_name
 * @param uuid            s_uuid
 * @param state           s_state (1 = clean)
 * @param mountCount      s_mnt_count
 * @param maxMountCount   s_max_mnt_count (-1 = none)
 * @param mtimeSec        last mount time
 * @param wtimeSec        last write time
 * @param descSizeBytes   bytes per group descriptor (32, or s_desc_size with 64bit)
 * @param featureVerdict  one line saying why the driver serves this image only read-only (or refuses it), ""
 *                        when it serves it read-write ({@link org.iomap4j.ext.disk.FeatureSupport#classify})
 */
public record Superblock(int blockSizeBytes, long blocksCount, long freeBlocksCount, long reservedBlocksCount,
        long inodesCount, long freeInodesCount, int inodeSizeBytes, long blocksPerGroup, long inodesPerGroup,
        long groupCount, long firstDataBlock, long revLevel, List<String> compatFeatures,
        List<String> incompatFeatures, List<String> roCompatFeatures, String volumeLabel, UUID uuid, int state,
        int mountCount, int maxMountCount, long mtimeSec, long wtimeSec, int descSizeBytes, String featureVerdict) {

    static Superblock of(DiskSuperblock sb) {
        byte[] u = sb.uuid();
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 8; i++) {
            hi = hi << 8 | (u[i] & 0xff);
            lo = lo << 8 | (u[8 + i] & 0xff);
        }
        long groups = (sb.blocksCount() - sb.firstDataBlock() + sb.blocksPerGroup() - 1) / sb.blocksPerGroup();
        return new Superblock(sb.blockSizeBytes(), sb.blocksCount(), sb.freeBlocksCount(), sb.reservedBlocksCount(),
                sb.inodesCount(), sb.freeInodesCount(), sb.inodeSize(), sb.blocksPerGroup(), sb.inodesPerGroup(),
                groups, sb.firstDataBlock(), sb.revLevel(), Features.compatNames(sb.featureCompat()),
                Features.incompatNames(sb.featureIncompat()), Features.roCompatNames(sb.featureRoCompat()),
                sb.volumeName(), new UUID(hi, lo), sb.state(), sb.mountCount(), sb.maxMountCount(), sb.mtime(),
                sb.wtime(), sb.descSizeBytes(), FeatureSupport.classify(sb).message());
    }
}
