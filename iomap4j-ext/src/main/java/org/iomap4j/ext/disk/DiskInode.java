package org.iomap4j.ext.disk;

import java.util.Arrays;

/**
 * One on-disk ext2 inode (128 bytes, or s_inode_size bytes with the extra space preserved) with typed field
 * access. Times are 32-bit seconds; uid/gid carry the Linux high 16 bits in osd2.
 *
 * <p>Layout: e2fsprogs lib/ext2fs/ext2_fs.h {@code struct ext2_inode} (Linux osd1/osd2);
 * Documentation/filesystems/ext2.rst. Not thread-safe: guarded by the owning inode's lock.
 */
public final class DiskInode {
    /** Number of block pointers in i_block: 12 direct, then IND, DIND, TIND. */
    public static final int N_BLOCKS = 15;
    public static final int NDIR_BLOCKS = 12;
    public static final int IND_BLOCK = 12;
    public static final int DIND_BLOCK = 13;
    public static final int TIND_BLOCK = 14;
    /** Bytes of i_block (fast symlinks keep their target here). */
    public static final int I_BLOCK_BYTES = 60;
    /** i_flags: hashed-indexed directory (dir_index). */
    public static final int FL_INDEX = 0x1000;
    private static final int OFF_BLOCK = 40;

    private final byte[] raw;

    private DiskInode(byte[] raw) {
        this.raw = raw;
    }

    /** Decodes {@code inodeSize} bytes at {@code off} (a copy). */
    public static DiskInode decode(byte[] bytes, int off, int inodeSize) {
        return new DiskInode(Arrays.copyOfRange(bytes, off, off + inodeSize));
    }

    /** An all-zero inode of {@code inodeSize} bytes. */
    public static DiskInode blank(int inodeSize) {
        return new DiskInode(new byte[inodeSize]);
    }

    /** Writes the inode's bytes into {@code block} at {@code off}. */
    public void encodeInto(byte[] block, int off) {
        System.arraycopy(raw, 0, block, off, raw.length);
    }

    /** Zeroes every byte (a freshly allocated inode, as the kernel's ext2_new_inode writes it). */
    public void clear() {
        Arrays.fill(raw, (byte) 0);
    }

    public int mode() { return Le.u16(raw, 0); }
    public void setMode(int v) { Le.put16(raw, 0, v); }
    public int uid() { return Le.u16(raw, 2) | Le.u16(raw, 120) << 16; }
    public void setUid(int v) { Le.put16(raw, 2, v & 0xffff); Le.put16(raw, 120, v >>> 16); }
    public int gid() { return Le.u16(raw, 24) | Le.u16(raw, 122) << 16; }
    public void setGid(int v) { Le.put16(raw, 24, v & 0xffff); Le.put16(raw, 122, v >>> 16); }
    /** i_size with i_size_high (i_dir_acl) as the upper 32 bits; only regular files use the high word. */
    public long size(boolean regular) { return Le.u32(raw, 4) | (regular ? Le.u32(raw, 108) << 32 : 0); }
    public void setSize(long v, boolean regular) {
        Le.put32(raw, 4, v);
        if (regular) {
            Le.put32(raw, 108, v >>> 32);
        }
    }
    public long atime() { return Le.u32(raw, 8); }
    public void setAtime(long v) { Le.put32(raw, 8, v); }
    public long ctime() { return Le.u32(raw, 12); }
    public void setCtime(long v) { Le.put32(raw, 12, v); }
    public long mtime() { return Le.u32(raw, 16); }
    public void setMtime(long v) { Le.put32(raw, 16, v); }
    public long dtime() { return Le.u32(raw, 20); }
    public void setDtime(long v) { Le.put32(raw, 20, v); }
    public int linksCount() { return Le.u16(raw, 26); }
    public void setLinksCount(int v) { Le.put16(raw, 26, v); }
    /** i_blocks: storage in 512-byte sectors, indirect blocks included. */
    public long blocks512() { return Le.u32(raw, 28); }
    public void setBlocks512(long v) { Le.put32(raw, 28, v); }
    public long flags() { return Le.u32(raw, 32); }
    public void setFlags(long v) { Le.put32(raw, 32, v); }
    /** i_block[i] (0 = hole). */
    public long block(int i) { return Le.u32(raw, OFF_BLOCK + 4 * i); }
    public void setBlock(int i, long pblk) { Le.put32(raw, OFF_BLOCK + 4 * i, pblk); }
    public long generation() { return Le.u32(raw, 100); }
    public void setGeneration(long v) { Le.put32(raw, 100, v); }
    public long fileAcl() { return Le.u32(raw, 104); }
    public int extraIsize() { return raw.length > 128 ? Le.u16(raw, 128) : 0; }

    /** The 60 bytes of i_block (a fast symlink's target). */
    public byte[] blockBytes() { return Arrays.copyOfRange(raw, OFF_BLOCK, OFF_BLOCK + I_BLOCK_BYTES); }
    public void setBlockBytes(byte[] b) {
        Arrays.fill(raw, OFF_BLOCK, OFF_BLOCK + I_BLOCK_BYTES, (byte) 0);
        System.arraycopy(b, 0, raw, OFF_BLOCK, Math.min(b.length, I_BLOCK_BYTES));
    }
    public int inodeSize() { return raw.length; }
}
