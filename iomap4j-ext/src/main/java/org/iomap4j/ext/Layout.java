package org.iomap4j.ext;

/**
 * Block-group geometry shared by mkfs and mount: which groups carry superblock/descriptor backups, where a
 * group starts and how many blocks it has. Source: Documentation/filesystems/ext2.rst "Block Groups";
 * e2fsprogs lib/ext2fs/closefs.c (ext2fs_bg_has_super).
 */
final class Layout {
    private Layout() {}

    /** True if group {@code g} holds a superblock (and group-descriptor) copy. */
    static boolean hasSuper(long g, boolean sparseSuper) {
        if (g <= 1 || !sparseSuper) {
            return true;
        }
        return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
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
        return (groups * 32 + blockSizeBytes - 1) / blockSizeBytes;
    }
}
