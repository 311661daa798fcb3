package org.iomap4j.ext.disk;

/**
 * An index entry of an extent tree ({@code struct ext4_extent_idx}, fs/ext4/ext4_extents.h): the subtree in
 * block {@code leafPblk} covers logical blocks from {@code lblk}. Documentation/filesystems/ext4/ifork.rst.
 *
 * @param lblk     first logical block covered
 * @param leafPblk physical block of the next-lower tree node (48 bits)
 */
public record ExtentIndex(long lblk, long leafPblk) {
    public ExtentIndex {
        if (lblk < 0 || lblk >= 1L << 32 || leafPblk < 0 || leafPblk >= 1L << 48) {
            throw new IllegalArgumentException("index " + lblk + " -> " + leafPblk + " out of range");
        }
    }
}
