package org.iomap4j.ext.disk;

/**
 * One 32-byte ext2 block group descriptor: where the group's block bitmap, inode bitmap and inode table live, and
 * its free counts. Bytes 18..31 (ext4's flags and checksums) are preserved as read.
 *
 * <p>Layout: e2fsprogs lib/ext2fs/ext2_fs.h {@code struct ext2_group_desc}. Not thread-safe: guarded by the
 * allocator lock.
 */
public final class GroupDescriptor {
    /** On-disk size of a descriptor without the 64bit feature. */
    public static final int SIZE = 32;
    private final byte[] raw;

    private GroupDescriptor(byte[] raw) {
        this.raw = raw;
    }

    /** Decodes the descriptor at {@code off} of {@code block}. */
    public static GroupDescriptor decode(byte[] block, int off) {
        byte[] r = new byte[SIZE];
        System.arraycopy(block, off, r, 0, SIZE);
        return new GroupDescriptor(r);
    }

    public static GroupDescriptor blank() {
        return new GroupDescriptor(new byte[SIZE]);
    }

    /** Writes the descriptor into {@code block} at {@code off}. */
    public void encodeInto(byte[] block, int off) {
        System.arraycopy(raw, 0, block, off, SIZE);
    }

    public long blockBitmap() { return Le.u32(raw, 0); }
    public void setBlockBitmap(long v) { Le.put32(raw, 0, v); }
    public long inodeBitmap() { return Le.u32(raw, 4); }
    public void setInodeBitmap(long v) { Le.put32(raw, 4, v); }
    public long inodeTable() { return Le.u32(raw, 8); }
    public void setInodeTable(long v) { Le.put32(raw, 8, v); }
    public int freeBlocksCount() { return Le.u16(raw, 12); }
    public void setFreeBlocksCount(int v) { Le.put16(raw, 12, v); }
    public int freeInodesCount() { return Le.u16(raw, 14); }
    public void setFreeInodesCount(int v) { Le.put16(raw, 14, v); }
    public int usedDirsCount() { return Le.u16(raw, 16); }
    public void setUsedDirsCount(int v) { Le.put16(raw, 16, v); }
}
