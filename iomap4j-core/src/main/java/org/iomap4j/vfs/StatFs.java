package org.iomap4j.vfs;

/**
 * statfs(2) figures. Block counts are in units of {@code blockSizeBytes}.
 *
 * @param blocks          data blocks in the filesystem
 * @param freeBlocks      free blocks
 * @param availBlocks     free blocks available to unprivileged users (free minus reserved)
 * @param files           inodes
 * @param freeFiles       free inodes
 * @param nameMaxBytes    longest name (255 for ext2)
 * @param blockSizeBytes the unit of the block counts, in bytes (f_bsize)
 */
public record StatFs(int blockSizeBytes, long blocks, long freeBlocks, long availBlocks, long files, long freeFiles,
        int nameMaxBytes) {
}
