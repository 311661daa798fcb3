package org.iomap4j.ext.disk;

/**
 * A leaf extent ({@code struct ext4_extent}, fs/ext4/ext4_extents.h): {@code lenBlocks} logical blocks from
 * {@code lblk} map to physical blocks from {@code pblk}; an unwritten extent reads as zeroes (stored as
 * ee_len = length + 32768). Documentation/filesystems/ext4/ifork.rst.
 *
 * @param lblk      first logical block
 * @param lenBlocks 1..32768 (initialized) or 1..32767 (unwritten)
 * @param pblk      first physical block (48 bits)
 * @param unwritten allocated but not yet written
 */
public record ExtentLeaf(long lblk, int lenBlocks, long pblk, boolean unwritten) {
    public ExtentLeaf {
        int maxLen = unwritten ? ExtentNode.UNWRITTEN_MAX_LEN : ExtentNode.INIT_MAX_LEN;
        if (lenBlocks < 1 || lenBlocks > maxLen) {
            throw new IllegalArgumentException("extent length " + lenBlocks + " outside 1.." + maxLen);
        }
        if (lblk < 0 || lblk + lenBlocks > 1L << 32 || pblk < 0 || pblk >= 1L << 48) {
            throw new IllegalArgumentException("extent " + lblk + "+" + lenBlocks + " -> " + pblk + " out of range");
        }
    }

    /** ee_len as stored. */
    public int rawLen() {
        return unwritten ? lenBlocks + ExtentNode.INIT_MAX_LEN : lenBlocks;
    }

    /** One past the last logical block. */
    public long endLblk() {
        return lblk + lenBlocks;
    }
}
