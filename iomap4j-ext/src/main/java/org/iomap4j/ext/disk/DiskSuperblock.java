package org.iomap4j.ext.disk;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The 1024-byte ext2 superblock (primary copy at device byte 1024) as raw bytes with typed field access. Fields
 * this implementation does not manage are never touched, so an ext3/ext4-compatible superblock survives a mount
 * byte for byte apart from the counters and timestamps ext2 maintains.
 *
 * <p>Layout: e2fsprogs lib/ext2fs/ext2_fs.h {@code struct ext2_super_block}; Documentation/filesystems/ext2.rst.
 * Not thread-safe: the filesystem guards it with its superblock lock.
 */
public final class DiskSuperblock {
    /** Size of the superblock structure in bytes. */
    public static final int SIZE = 1024;
    /** Device byte offset of the primary superblock. */
    public static final long PRIMARY_OFFSET_BYTES = 1024;
    public static final int MAGIC = 0xEF53;
    /** s_state: cleanly unmounted. */
    public static final int STATE_VALID = 0x0001;
    /** s_state: errors detected. */
    public static final int STATE_ERROR = 0x0002;
    public static final int GOOD_OLD_REV = 0;
    public static final int DYNAMIC_REV = 1;
    public static final int GOOD_OLD_INODE_SIZE = 128;
    public static final int GOOD_OLD_FIRST_INO = 11;

    private final byte[] raw;

    private DiskSuperblock(byte[] raw) {
        this.raw = raw;
    }

    /** Wraps a copy of {@code bytes} (at least {@link #SIZE} long, from {@code off}). */
    public static DiskSuperblock decode(byte[] bytes, int off) {
        return new DiskSuperblock(Arrays.copyOfRange(bytes, off, off + SIZE));
    }

    /** An all-zero superblock for mkfs. */
    public static DiskSuperblock blank() {
        return new DiskSuperblock(new byte[SIZE]);
    }

    /** A copy of the raw bytes. */
    public byte[] encode() {
        return raw.clone();
    }

    public DiskSuperblock copy() {
        return new DiskSuperblock(raw.clone());
    }

    public long inodesCount() { return Le.u32(raw, 0); }
    public void setInodesCount(long v) { Le.put32(raw, 0, v); }
    public long blocksCount() { return Le.u32(raw, 4); }
    public void setBlocksCount(long v) { Le.put32(raw, 4, v); }
    public long reservedBlocksCount() { return Le.u32(raw, 8); }
    public void setReservedBlocksCount(long v) { Le.put32(raw, 8, v); }
    public long freeBlocksCount() { return Le.u32(raw, 12); }
    public void setFreeBlocksCount(long v) { Le.put32(raw, 12, v); }
    public long freeInodesCount() { return Le.u32(raw, 16); }
    public void setFreeInodesCount(long v) { Le.put32(raw, 16, v); }
    public long firstDataBlock() { return Le.u32(raw, 20); }
    public void setFirstDataBlock(long v) { Le.put32(raw, 20, v); }
    public long logBlockSize() { return Le.u32(raw, 24); }
    public void setLogBlockSize(long v) { Le.put32(raw, 24, v); }
    public long logFragSize() { return Le.u32(raw, 28); }
    public void setLogFragSize(long v) { Le.put32(raw, 28, v); }
    public long blocksPerGroup() { return Le.u32(raw, 32); }
    public void setBlocksPerGroup(long v) { Le.put32(raw, 32, v); }
    public long fragsPerGroup() { return Le.u32(raw, 36); }
    public void setFragsPerGroup(long v) { Le.put32(raw, 36, v); }
    public long inodesPerGroup() { return Le.u32(raw, 40); }
    public void setInodesPerGroup(long v) { Le.put32(raw, 40, v); }
    public long mtime() { return Le.u32(raw, 44); }
    public void setMtime(long v) { Le.put32(raw, 44, v); }
    public long wtime() { return Le.u32(raw, 48); }
    public void setWtime(long v) { Le.put32(raw, 48, v); }
    public int mountCount() { return Le.u16(raw, 52); }
    public void setMountCount(int v) { Le.put16(raw, 52, v); }
    /** s_max_mnt_count, signed 16-bit (-1 = no limit). */
    public int maxMountCount() { return (short) Le.u16(raw, 54); }
    public void setMaxMountCount(int v) { Le.put16(raw, 54, v); }
    public int magic() { return Le.u16(raw, 56); }
    public void setMagic(int v) { Le.put16(raw, 56, v); }
    public int state() { return Le.u16(raw, 58); }
    public void setState(int v) { Le.put16(raw, 58, v); }
    public int errors() { return Le.u16(raw, 60); }
    public void setErrors(int v) { Le.put16(raw, 60, v); }
    public int minorRevLevel() { return Le.u16(raw, 62); }
    public long lastCheck() { return Le.u32(raw, 64); }
    public void setLastCheck(long v) { Le.put32(raw, 64, v); }
    public long checkInterval() { return Le.u32(raw, 68); }
    public long creatorOs() { return Le.u32(raw, 72); }
    public long revLevel() { return Le.u32(raw, 76); }
    public void setRevLevel(long v) { Le.put32(raw, 76, v); }
    public int defResuid() { return Le.u16(raw, 80); }
    public int defResgid() { return Le.u16(raw, 82); }

    /** s_first_ino: first non-reserved inode (11 for revision 0). */
    public long firstIno() { return revLevel() == GOOD_OLD_REV ? GOOD_OLD_FIRST_INO : Le.u32(raw, 84); }
    public void setFirstIno(long v) { Le.put32(raw, 84, v); }
    /** s_inode_size (128 for revision 0). */
    public int inodeSize() { return revLevel() == GOOD_OLD_REV ? GOOD_OLD_INODE_SIZE : Le.u16(raw, 88); }
    public void setInodeSize(int v) { Le.put16(raw, 88, v); }
    public int blockGroupNr() { return Le.u16(raw, 90); }
    public void setBlockGroupNr(int v) { Le.put16(raw, 90, v); }
    public long featureCompat() { return revLevel() == GOOD_OLD_REV ? 0 : Le.u32(raw, 92); }
    public void setFeatureCompat(long v) { Le.put32(raw, 92, v); }
    public long featureIncompat() { return revLevel() == GOOD_OLD_REV ? 0 : Le.u32(raw, 96); }
    public void setFeatureIncompat(long v) { Le.put32(raw, 96, v); }
    public long featureRoCompat() { return revLevel() == GOOD_OLD_REV ? 0 : Le.u32(raw, 100); }
    public void setFeatureRoCompat(long v) { Le.put32(raw, 100, v); }

    public byte[] uuid() { return Arrays.copyOfRange(raw, 104, 120); }
    public void setUuid(byte[] uuid16) { System.arraycopy(uuid16, 0, raw, 104, 16); }

    /** s_volume_name: up to 16 bytes, NUL-padded. */
    public String volumeName() { return cString(120, 16); }
    public void setVolumeName(String name) { putCString(120, 16, name); }
    public String lastMounted() { return cString(136, 64); }
    public int reservedGdtBlocks() { return Le.u16(raw, 206); }
    public void setReservedGdtBlocks(int v) { Le.put16(raw, 206, v); }
    public long journalInum() { return Le.u32(raw, 224); }
    public void setHashSeed(byte[] seed16) { System.arraycopy(seed16, 0, raw, 236, 16); }
    public int defHashVersion() { return Le.u8(raw, 252); }
    public void setDefHashVersion(int v) { Le.put8(raw, 252, v); }
    public long mkfsTime() { return Le.u32(raw, 264); }
    public void setMkfsTime(long v) { Le.put32(raw, 264, v); }

    public boolean hasCompat(int bit) { return (featureCompat() & bit) != 0; }
    public boolean hasRoCompat(int bit) { return (featureRoCompat() & bit) != 0; }
    public boolean hasIncompat(int bit) { return (featureIncompat() & bit) != 0; }

    /** Block size in bytes: {@code 1024 << s_log_block_size} (caller validates the shift first). */
    public int blockSizeBytes() { return 1024 << (int) logBlockSize(); }

    private String cString(int off, int max) {
        int n = 0;
        while (n < max && raw[off + n] != 0) {
            n++;
        }
        return new String(raw, off, n, StandardCharsets.UTF_8);
    }

    private void putCString(int off, int max, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > max) {
            throw new IllegalArgumentException("'" + s + "' longer than " + max + " bytes");
        }
        Arrays.fill(raw, off, off + max, (byte) 0);
        System.arraycopy(b, 0, raw, off, b.length);
    }
}
