package org.iomap4j.ext.disk;

import java.util.Arrays;
import org.iomap4j.CorruptFilesystemException;

/**
 * One ext2/3/4 block group descriptor: where the group's block bitmap, inode bitmap and inode table live, its
 * free counts, {@code bg_flags} and checksums. 32 bytes without the 64bit feature, {@code s_desc_size} (at least
 * 64) with it; the {@code _hi} halves (offset 0x20 on) are used only when the descriptor is at least 64 bytes.
 * Bytes this class does not interpret are preserved.
 *
 * <p>Checksums ({@code bg_checksum}, Documentation/filesystems/ext4/group_descr.rst, fs/ext4/super.c
 * ext4_group_desc_csum): with metadata_csum, the low 16 bits of crc32c(fs seed, le32 group || descriptor with
 * bg_checksum as zero); with gdt_csum only, crc16(~0, s_uuid || le32 group || descriptor without bg_checksum).
 * Bitmap checksums (fs/ext4/bitmap.c): crc32c(fs seed, bitmap bytes), inode bitmap over inodes_per_group / 8
 * bytes, block bitmap over clusters_per_group / 8 bytes; low 16 bits in {@code bg_*_bitmap_csum_lo}, high 16 in
 * {@code _hi} when the descriptor reaches it.
 *
 * <p>Layout: fs/ext4/ext4.h {@code struct ext4_group_desc}; e2fsprogs lib/ext2fs/ext2_fs.h. Not thread-safe:
 * guarded by the allocator lock.
 */
public final class GroupDescriptor {
    /** On-disk size of a descriptor without the 64bit feature. */
    public static final int SIZE = 32;
    /** bg_flags: the inode table and bitmap are not initialized (uninit_bg / metadata_csum). */
    public static final int FLAG_INODE_UNINIT = 0x1;
    /** bg_flags: the block bitmap is not initialized. */
    public static final int FLAG_BLOCK_UNINIT = 0x2;
    /** bg_flags: the inode table is zeroed on disk. */
    public static final int FLAG_ITABLE_ZEROED = 0x4;
    private static final int OFF_CHECKSUM = 0x1E;
    /** Descriptor size from which bg_block_bitmap_csum_hi exists (EXT4_BG_BLOCK_BITMAP_CSUM_HI_END). */
    private static final int BLOCK_BITMAP_CSUM_HI_END = 0x3A;
    /** Descriptor size from which bg_inode_bitmap_csum_hi exists (EXT4_BG_INODE_BITMAP_CSUM_HI_END). */
    private static final int INODE_BITMAP_CSUM_HI_END = 0x3C;

    private final byte[] raw;

    private GroupDescriptor(byte[] raw) {
        this.raw = raw;
    }

    /** Decodes the 32-byte descriptor at {@code off} of {@code block}. */
    public static GroupDescriptor decode(byte[] block, int off) {
        return decode(block, off, SIZE);
    }

    /** Decodes the {@code descSizeBytes}-byte descriptor at {@code off} of {@code block} (a copy). */
    public static GroupDescriptor decode(byte[] block, int off, int descSizeBytes) {
        return new GroupDescriptor(Arrays.copyOfRange(block, off, off + descSizeBytes));
    }

    public static GroupDescriptor blank() {
        return new GroupDescriptor(new byte[SIZE]);
    }

    /** An all-zero descriptor of {@code descSizeBytes} bytes. */
    public static GroupDescriptor blank(int descSizeBytes) {
        return new GroupDescriptor(new byte[descSizeBytes]);
    }

    /** Writes the descriptor ({@link #sizeBytes()} bytes) into {@code block} at {@code off}. */
    public void encodeInto(byte[] block, int off) {
        System.arraycopy(raw, 0, block, off, raw.length);
    }

    /** A copy of the raw bytes. */
    public byte[] encode() {
        return raw.clone();
    }

    public int sizeBytes() {
        return raw.length;
    }

    private boolean wide() {
        return raw.length >= DiskSuperblock.DESC_SIZE_64;
    }

    private long lohi32(int lo, int hi) {
        return Le.u32(raw, lo) | (wide() ? Le.u32(raw, hi) << 32 : 0);
    }

    private void setLohi32(int lo, int hi, long v) {
        Le.put32(raw, lo, v);
        if (wide()) {
            Le.put32(raw, hi, v >>> 32);
        }
    }

    private int lohi16(int lo, int hi) {
        return Le.u16(raw, lo) | (wide() ? Le.u16(raw, hi) << 16 : 0);
    }

    private void setLohi16(int lo, int hi, int v) {
        Le.put16(raw, lo, v);
        if (wide()) {
            Le.put16(raw, hi, v >>> 16);
        }
    }

    /** bg_block_bitmap_lo/_hi: block number of the block bitmap. */
    public long blockBitmap() { return lohi32(0x0, 0x20); }
    public void setBlockBitmap(long v) { setLohi32(0x0, 0x20, v); }
    /** bg_inode_bitmap_lo/_hi. */
    public long inodeBitmap() { return lohi32(0x4, 0x24); }
    public void setInodeBitmap(long v) { setLohi32(0x4, 0x24, v); }
    /** bg_inode_table_lo/_hi: first block of the inode table. */
    public long inodeTable() { return lohi32(0x8, 0x28); }
    public void setInodeTable(long v) { setLohi32(0x8, 0x28, v); }
    /** bg_free_blocks_count_lo/_hi (in clusters). */
    public int freeBlocksCount() { return lohi16(0xC, 0x2C); }
    public void setFreeBlocksCount(int v) { setLohi16(0xC, 0x2C, v); }
    public int freeInodesCount() { return lohi16(0xE, 0x2E); }
    public void setFreeInodesCount(int v) { setLohi16(0xE, 0x2E, v); }
    public int usedDirsCount() { return lohi16(0x10, 0x30); }
    public void setUsedDirsCount(int v) { setLohi16(0x10, 0x30, v); }
    /** bg_flags: {@link #FLAG_INODE_UNINIT}, {@link #FLAG_BLOCK_UNINIT}, {@link #FLAG_ITABLE_ZEROED}. */
    public int flags() { return Le.u16(raw, 0x12); }
    public void setFlags(int v) { Le.put16(raw, 0x12, v); }
    public boolean hasFlag(int flag) { return (flags() & flag) != 0; }
    /** bg_exclude_bitmap_lo/_hi (snapshots; preserved). */
    public long excludeBitmap() { return lohi32(0x14, 0x34); }
    /** bg_itable_unused_lo/_hi: inodes at the end of the table never used (uninit_bg). */
    public int itableUnused() { return lohi16(0x1C, 0x32); }
    public void setItableUnused(int v) { setLohi16(0x1C, 0x32, v); }
    /** bg_checksum as stored. */
    public int checksum() { return Le.u16(raw, OFF_CHECKSUM); }
    public void setChecksum(int v) { Le.put16(raw, OFF_CHECKSUM, v); }

    /** bg_block_bitmap_csum_lo with _hi when present (else the 16 low bits only). */
    public int blockBitmapChecksum() {
        int lo = Le.u16(raw, 0x18);
        return raw.length >= BLOCK_BITMAP_CSUM_HI_END ? lo | Le.u16(raw, 0x38) << 16 : lo;
    }

    public void setBlockBitmapChecksum(int csum) {
        Le.put16(raw, 0x18, csum);
        if (raw.length >= BLOCK_BITMAP_CSUM_HI_END) {
            Le.put16(raw, 0x38, csum >>> 16);
        }
    }

    /** bg_inode_bitmap_csum_lo with _hi when present. */
    public int inodeBitmapChecksum() {
        int lo = Le.u16(raw, 0x1A);
        return raw.length >= INODE_BITMAP_CSUM_HI_END ? lo | Le.u16(raw, 0x3A) << 16 : lo;
    }

    public void setInodeBitmapChecksum(int csum) {
        Le.put16(raw, 0x1A, csum);
        if (raw.length >= INODE_BITMAP_CSUM_HI_END) {
            Le.put16(raw, 0x3A, csum >>> 16);
        }
    }

    /**
     * What bg_checksum must hold for group {@code group}: crc32c-based with metadata_csum, crc16 with gdt_csum,
     * 0 with neither (ext4_group_desc_csum).
     */
    public int computeChecksum(DiskSuperblock sb, long group) {
        int descSize = raw.length;
        if (sb.hasMetadataCsum()) {
            Crc32c c = Crc32c.seeded(sb.csumSeed()).updateLe32(group).update(raw, 0, OFF_CHECKSUM).updateZeros(2);
            if (OFF_CHECKSUM + 2 < descSize) {
                c.update(raw, OFF_CHECKSUM + 2, descSize - OFF_CHECKSUM - 2);
            }
            return c.value() & 0xffff;
        }
        if (sb.hasRoCompat(Features.RO_COMPAT_GDT_CSUM)) {
            int crc = Crc16.update(0xffff, sb.uuid());
            crc = Crc16.update(crc, Le.bytes32(group));
            crc = Crc16.update(crc, raw, 0, OFF_CHECKSUM);
            if (sb.is64bit() && OFF_CHECKSUM + 2 < descSize) {
                crc = Crc16.update(crc, raw, OFF_CHECKSUM + 2, descSize - OFF_CHECKSUM - 2);
            }
            return crc;
        }
        return 0;
    }

    /** Stores {@link #computeChecksum} (call after every change when the fs has group descriptor checksums). */
    public void updateChecksum(DiskSuperblock sb, long group) {
        setChecksum(computeChecksum(sb, group));
    }

    /**
     * Checks bg_checksum when the filesystem has metadata_csum or gdt_csum.
     *
     * @throws CorruptFilesystemException naming the group
     */
    public void verifyChecksum(DiskSuperblock sb, long group) throws CorruptFilesystemException {
        if (!sb.hasMetadataCsum() && !sb.hasRoCompat(Features.RO_COMPAT_GDT_CSUM)) {
            return;
        }
        int want = computeChecksum(sb, group);
        if (checksum() != want) {
            throw new CorruptFilesystemException(String.format(
                    "block group %d: descriptor checksum 0x%04x does not match the computed 0x%04x", group, checksum(), want));
        }
    }

    /** crc32c(fs seed, bitmap[0..lenBytes)): a bitmap's full 32-bit checksum (ext4_*_bitmap_csum_set). */
    public static int bitmapChecksum(DiskSuperblock sb, byte[] bitmap, int lenBytes) {
        return Crc32c.of(sb.csumSeed(), bitmap, 0, lenBytes);
    }

    /** Bytes of the block bitmap the checksum covers: clusters per group / 8. */
    public static int blockBitmapChecksumBytes(DiskSuperblock sb) {
        return (int) (sb.fragsPerGroup() / 8);
    }

    /** Bytes of the inode bitmap the checksum covers: inodes per group / 8. */
    public static int inodeBitmapChecksumBytes(DiskSuperblock sb) {
        return (int) (sb.inodesPerGroup() / 8);
    }

    /** True if the stored block bitmap checksum matches {@code computed} (only the low 16 bits for 32-byte descriptors). */
    public boolean blockBitmapChecksumMatches(int computed) {
        return raw.length >= BLOCK_BITMAP_CSUM_HI_END ? blockBitmapChecksum() == computed
                : blockBitmapChecksum() == (computed & 0xffff);
    }

    /** True if the stored inode bitmap checksum matches {@code computed}. */
    public boolean inodeBitmapChecksumMatches(int computed) {
        return raw.length >= INODE_BITMAP_CSUM_HI_END ? inodeBitmapChecksum() == computed
                : inodeBitmapChecksum() == (computed & 0xffff);
    }
}
