package org.iomap4j.ext;

import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;

/**
 * Block-group geometry shared by mkfs and mount: which groups carry superblock/descriptor backups, where a
 * group starts and how many blocks it has. Sources: Documentation/filesystems/ext4/overview.rst ("Block
 * Groups", sparse_super, sparse_super2); fs/ext4/balloc.c ext4_bg_has_super, ext4_num_base_meta_blocks;
 * e2fsprogs lib/ext2fs/closefs.c (ext2fs_bg_has_super).
 */
final class Layout {
    private Layout() {}

    /** True if group {@code g} holds a superblock (and group-descriptor) copy under sparse_super (or always without it). */
    static boolean hasSuper(long g, boolean sparseSuper) {
        if (g <= 1 || !sparseSuper) {
            return true;
        }
        return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
    }

    /**
     * ext4_bg_has_super: group 0 always; with sparse_super2 only the (at most two) groups in s_backup_bgs; with
     * sparse_super group 1 and powers of 3, 5, 7; without either every group.
     */
    static boolean hasSuper(DiskSuperblock sb, long g) {
        if (g == 0) {
            return true;
        }
        if (sb.hasCompat(Features.COMPAT_SPARSE_SUPER2)) {
            return g == sb.backupBg(0) || g == sb.backupBg(1);
        }
        return hasSuper(g, sb.hasRoCompat(Features.RO_COMPAT_SPARSE_SUPER));
    }

    private static boolean isPowerOf(long g, int base) {
        long p = base;
        while (p < g) {
            p *= base;
        }
        return p == g;
    }

    /** Number of blocks holding {@code groups} 32-byte descriptors. */
    static long gdtBlocks(long groups, int blockSizeBytes) {
        return gdtBlocks(groups, blockSizeBytes, 32);
    }

    /** Number of blocks holding {@code groups} descriptors of {@code descSizeBytes} each (s_gdb_count). */
    static long gdtBlocks(long groups, int blockSizeBytes, int descSizeBytes) {
        long perBlock = blockSizeBytes / descSizeBytes;
        return (groups + perBlock - 1) / perBlock;
    }

    /**
     * Blocks at the start of group {@code g} taken by the superblock copy, the descriptor table and the reserved
     * GDT blocks (resize_inode), 0 for a group without a superblock copy (ext4_num_base_meta_blocks without
     * meta_bg, which is refused).
     */
    static long baseMetaBlocks(DiskSuperblock sb, ExtGeometry geo, long g) {
        if (!hasSuper(sb, g)) {
            return 0;
        }
        return 1 + gdtBlocks(geo.groups(), geo.blockSizeBytes(), geo.descSizeBytes()) + sb.reservedGdtBlocks();
    }
}
