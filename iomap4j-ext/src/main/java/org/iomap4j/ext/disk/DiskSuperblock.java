package org.iomap4j.ext.disk;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.iomap4j.CorruptFilesystemException;

/**
 * The 1024-byte ext2/3/4 superblock (primary copy at device byte 1024) as raw bytes with typed field access.
 * Fields this implementation does not manage are never touched, so a superblock survives a mount byte for byte
 * apart from the counters, timestamps and checksum the driver maintains.
 *
 * <p>Block counts ({@link #blocksCount()}, {@link #freeBlocksCount()}, {@link #reservedBlocksCount()}) combine
 * the {@code _lo} word with the {@code s_*_hi} word when the {@code 64bit} incompat feature is set, and are the
 * 32-bit words alone otherwise (as the kernel's ext4_blocks_count). Offsets are those of
 * {@code struct ext4_super_block}.
 *
 * <p>Layout: fs/ext4/ext4.h {@code struct ext4_super_block}; e2fsprogs lib/ext2fs/ext2_fs.h;
 * Documentation/filesystems/ext4/super.rst; checksum: Documentation/filesystems/ext4/checksums.rst
 * (crc32c(~0, bytes 0..0x3FC) stored at 0x3FC). Not thread-safe: the filesystem guards it with its superblock
 * lock.
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
    /** s_checksum_type value for crc32c, the only one defined. */
    public static final int CHECKSUM_TYPE_CRC32C = 1;
    /** Byte offset of s_checksum (the checksum covers the bytes before it). */
    public static final int OFF_CHECKSUM = 0x3FC;
    /** s_flags: directory hashes use signed chars (e2fsprogs EXT2_FLAGS_SIGNED_HASH). */
    public static final int FLAGS_SIGNED_HASH = 0x1;
    /** s_flags: directory hashes use unsigned chars. */
    public static final int FLAGS_UNSIGNED_HASH = 0x2;
    /** s_flags: a test filesystem. */
    public static final int FLAGS_TEST_FILESYS = 0x4;
    /** Group descriptor size without 64bit. */
    public static final int DESC_SIZE_32 = 32;
    /** Smallest s_desc_size with 64bit (EXT4_MIN_DESC_SIZE_64BIT). */
    public static final int DESC_SIZE_64 = 64;
    /** Largest s_desc_size (EXT4_MAX_DESC_SIZE = EXT4_MIN_BLOCK_SIZE). */
    public static final int DESC_SIZE_MAX = 1024;

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
    /** s_blocks_count_lo, plus s_blocks_count_hi (0x150) with 64bit: blocks on the device. */
    public long blocksCount() { return lohi(4, 0x150); }
    public void setBlocksCount(long v) { setLohi(4, 0x150, v); }
    /** s_r_blocks_count_lo/_hi (0x154): blocks reserved for the superuser. */
    public long reservedBlocksCount() { return lohi(8, 0x154); }
    public void setReservedBlocksCount(long v) { setLohi(8, 0x154, v); }
    /** s_free_blocks_count_lo/_hi (0x158). */
    public long freeBlocksCount() { return lohi(12, 0x158); }
    public void setFreeBlocksCount(long v) { setLohi(12, 0x158, v); }
    public long freeInodesCount() { return Le.u32(raw, 16); }
    public void setFreeInodesCount(long v) { Le.put32(raw, 16, v); }
    public long firstDataBlock() { return Le.u32(raw, 20); }
    public void setFirstDataBlock(long v) { Le.put32(raw, 20, v); }
    public long logBlockSize() { return Le.u32(raw, 24); }
    public void setLogBlockSize(long v) { Le.put32(raw, 24, v); }
    /** s_log_cluster_size (s_log_frag_size in ext2): cluster size is 1024 &lt;&lt; this (bigalloc). */
    public long logFragSize() { return Le.u32(raw, 28); }
    public void setLogFragSize(long v) { Le.put32(raw, 28, v); }
    public long blocksPerGroup() { return Le.u32(raw, 32); }
    public void setBlocksPerGroup(long v) { Le.put32(raw, 32, v); }
    /** s_clusters_per_group (s_frags_per_group in ext2). */
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
    /** s_journal_uuid (0xD0), 16 bytes. */
    public byte[] journalUuid() { return Arrays.copyOfRange(raw, 0xD0, 0xE0); }
    /** s_journal_dev (0xE4). */
    public long journalDev() { return Le.u32(raw, 0xE4); }
    /** s_last_orphan (0xE8): head of the orphan inode list (linked through i_dtime), 0 if empty. */
    public long lastOrphan() { return Le.u32(raw, 0xE8); }
    public void setLastOrphan(long ino) { Le.put32(raw, 0xE8, ino); }
    /** s_hash_seed (0xEC): the 16 bytes seeding half_md4 and tea directory hashes (all zero: default seed). */
    public byte[] hashSeed() { return Arrays.copyOfRange(raw, 236, 252); }
    public void setHashSeed(byte[] seed16) { System.arraycopy(seed16, 0, raw, 236, 16); }
    /** s_def_hash_version (0xFC): {@link DxHash} version for new directories. */
    public int defHashVersion() { return Le.u8(raw, 252); }
    public void setDefHashVersion(int v) { Le.put8(raw, 252, v); }
    /** s_jnl_backup_type (0xFD). */
    public int journalBackupType() { return Le.u8(raw, 0xFD); }
    /** s_desc_size (0xFE) as stored; see {@link #descSizeBytes()}. */
    public int rawDescSize() { return Le.u16(raw, 0xFE); }
    public void setDescSize(int v) { Le.put16(raw, 0xFE, v); }
    /** s_default_mount_opts (0x100). */
    public long defaultMountOpts() { return Le.u32(raw, 0x100); }
    /** s_first_meta_bg (0x104). */
    public long firstMetaBg() { return Le.u32(raw, 0x104); }
    public long mkfsTime() { return Le.u32(raw, 264); }
    public void setMkfsTime(long v) { Le.put32(raw, 264, v); }
    /** s_jnl_blocks[i] (0x10C, 17 words): backup of the journal inode's i_block and size. */
    public long journalBlock(int i) { return Le.u32(raw, 0x10C + 4 * i); }
    /** s_min_extra_isize (0x15C): every inode has at least this many extra bytes. */
    public int minExtraIsize() { return Le.u16(raw, 0x15C); }
    public void setMinExtraIsize(int v) { Le.put16(raw, 0x15C, v); }
    /** s_want_extra_isize (0x15E): new inodes should have this many extra bytes. */
    public int wantExtraIsize() { return Le.u16(raw, 0x15E); }
    public void setWantExtraIsize(int v) { Le.put16(raw, 0x15E, v); }
    /** s_flags (0x160): {@link #FLAGS_SIGNED_HASH}, {@link #FLAGS_UNSIGNED_HASH}, {@link #FLAGS_TEST_FILESYS}. */
    public long flags() { return Le.u32(raw, 0x160); }
    public void setFlags(long v) { Le.put32(raw, 0x160, v); }
    /** s_raid_stride (0x164), in blocks. */
    public int raidStride() { return Le.u16(raw, 0x164); }
    /** s_mmp_interval (0x166), seconds. */
    public int mmpInterval() { return Le.u16(raw, 0x166); }
    /** s_mmp_block (0x168). */
    public long mmpBlock() { return Le.u64(raw, 0x168); }
    /** s_raid_stripe_width (0x170), in blocks. */
    public long raidStripeWidth() { return Le.u32(raw, 0x170); }
    /** s_log_groups_per_flex (0x174): a flex group is 2^this block groups (flex_bg). */
    public int logGroupsPerFlex() { return Le.u8(raw, 0x174); }
    public void setLogGroupsPerFlex(int v) { Le.put8(raw, 0x174, v); }
    /** s_checksum_type (0x175): {@link #CHECKSUM_TYPE_CRC32C}. */
    public int checksumType() { return Le.u8(raw, 0x175); }
    public void setChecksumType(int v) { Le.put8(raw, 0x175, v); }
    /** s_kbytes_written (0x178): lifetime KiB written. */
    public long kbytesWritten() { return Le.u64(raw, 0x178); }
    public void setKbytesWritten(long v) { Le.put64(raw, 0x178, v); }
    /** s_error_count (0x194). */
    public long errorCount() { return Le.u32(raw, 0x194); }
    /** s_usr_quota_inum (0x240). */
    public long usrQuotaInum() { return Le.u32(raw, 0x240); }
    /** s_grp_quota_inum (0x244). */
    public long grpQuotaInum() { return Le.u32(raw, 0x244); }
    /** s_overhead_clusters (0x248). */
    public long overheadClusters() { return Le.u32(raw, 0x248); }
    /** s_backup_bgs[i] (0x24C, 2 words): the groups holding backups with sparse_super2. */
    public long backupBg(int i) { return Le.u32(raw, 0x24C + 4 * i); }
    /** s_lpf_ino (0x268). */
    public long lostFoundIno() { return Le.u32(raw, 0x268); }
    /** s_prj_quota_inum (0x26C). */
    public long prjQuotaInum() { return Le.u32(raw, 0x26C); }
    /** s_checksum_seed (0x270): crc32c(~0, s_uuid) stored at mkfs or tune2fs time; used with metadata_csum_seed. */
    public int checksumSeedField() { return Le.s32(raw, 0x270); }
    public void setChecksumSeedField(int v) { Le.put32(raw, 0x270, v); }
    /** s_encoding (0x27C): casefold encoding (1 = utf8-12.1). */
    public int encoding() { return Le.u16(raw, 0x27C); }
    /** s_encoding_flags (0x27E). */
    public int encodingFlags() { return Le.u16(raw, 0x27E); }
    /** s_orphan_file_inum (0x280): the orphan file's inode (orphan_file), 0 if none. */
    public long orphanFileInum() { return Le.u32(raw, 0x280); }
    public void setOrphanFileInum(long v) { Le.put32(raw, 0x280, v); }

    /** s_wtime with s_wtime_hi (0x274) as bits 32..39: seconds since the epoch. */
    public long wtimeSeconds() { return Le.u32(raw, 48) | (long) Le.u8(raw, 0x274) << 32; }
    /** s_mtime with s_mtime_hi (0x275). */
    public long mtimeSeconds() { return Le.u32(raw, 44) | (long) Le.u8(raw, 0x275) << 32; }
    /** s_mkfs_time with s_mkfs_time_hi (0x276). */
    public long mkfsTimeSeconds() { return Le.u32(raw, 264) | (long) Le.u8(raw, 0x276) << 32; }
    /** s_lastcheck with s_lastcheck_hi (0x277). */
    public long lastCheckSeconds() { return Le.u32(raw, 64) | (long) Le.u8(raw, 0x277) << 32; }

    /** Sets s_wtime and s_wtime_hi from seconds since the epoch (as the kernel's ext4_update_tstamp). */
    public void setWtimeSeconds(long sec) { Le.put32(raw, 48, sec); Le.put8(raw, 0x274, (int) (sec >>> 32)); }
    /** Sets s_mtime and s_mtime_hi. */
    public void setMtimeSeconds(long sec) { Le.put32(raw, 44, sec); Le.put8(raw, 0x275, (int) (sec >>> 32)); }

    /** s_checksum (0x3FC) as stored. */
    public int checksum() { return Le.s32(raw, OFF_CHECKSUM); }
    /** crc32c(~0, bytes 0..0x3FC): what s_checksum must hold (ext4_superblock_csum). */
    public int computeChecksum() { return Crc32c.of(~0, raw, 0, OFF_CHECKSUM); }
    /** Stores {@link #computeChecksum()} (call after every change, with metadata_csum). */
    public void updateChecksum() { Le.put32(raw, OFF_CHECKSUM, computeChecksum()); }
    /** True if metadata_csum is off or s_checksum matches. */
    public boolean checksumValid() { return !hasMetadataCsum() || checksum() == computeChecksum(); }

    /**
     * The filesystem checksum seed every other metadata checksum starts from: s_checksum_seed with
     * metadata_csum_seed, else crc32c(~0, s_uuid) (ext4_fill_super; checksums.rst).
     */
    public int csumSeed() {
        if (hasIncompat(Features.INCOMPAT_CSUM_SEED)) {
            return checksumSeedField();
        }
        return Crc32c.of(~0, raw, 104, 16);
    }

    public boolean hasMetadataCsum() { return hasRoCompat(Features.RO_COMPAT_METADATA_CSUM); }
    /** gdt_csum (uninit_bg) without metadata_csum: group descriptors carry crc16. */
    public boolean hasGdtCsum() { return hasRoCompat(Features.RO_COMPAT_GDT_CSUM) && !hasMetadataCsum(); }
    public boolean is64bit() { return hasIncompat(Features.INCOMPAT_64BIT); }

    /** Group descriptor size in bytes: s_desc_size with 64bit, else 32 (EXT4_DESC_SIZE). */
    public int descSizeBytes() { return is64bit() ? rawDescSize() : DESC_SIZE_32; }

    /**
     * Whether directory hashes treat name bytes as unsigned: s_flags UNSIGNED_HASH (ext4_fill_super sets
     * s_hash_unsigned = 3 from it, added to the hash version).
     */
    public boolean unsignedDirHash() { return (flags() & FLAGS_UNSIGNED_HASH) != 0; }

    /**
     * Checks the ext4 fields other codecs trust: s_desc_size, s_log_groups_per_flex, s_inode_size and the
     * extra-isize fields, s_checksum_type and the superblock checksum.
     *
     * @throws CorruptFilesystemException naming the superblock field
     */
    public void validateExt4() throws CorruptFilesystemException {
        if (is64bit()) {
            int d = rawDescSize();
            if (d < DESC_SIZE_64 || d > DESC_SIZE_MAX || Integer.bitCount(d) != 1) {
                throw bad("s_desc_size " + d + " is not a power of two in [64, 1024] with 64bit");
            }
        }
        if (hasIncompat(Features.INCOMPAT_FLEX_BG) && logGroupsPerFlex() > 31) {
            throw bad("s_log_groups_per_flex " + logGroupsPerFlex() + " > 31");
        }
        int inodeSize = inodeSize();
        if (inodeSize < GOOD_OLD_INODE_SIZE || Integer.bitCount(inodeSize) != 1 || inodeSize > blockSizeBytesChecked()) {
            throw bad("s_inode_size " + inodeSize + " is not a power of two in [128, block size]");
        }
        int room = inodeSize - GOOD_OLD_INODE_SIZE;
        if (minExtraIsize() > room || wantExtraIsize() > room || (minExtraIsize() & 3) != 0 || (wantExtraIsize() & 3) != 0) {
            throw bad("s_min_extra_isize " + minExtraIsize() + " / s_want_extra_isize " + wantExtraIsize()
                    + " do not fit the " + inodeSize + "-byte inode or are not multiples of 4");
        }
        if (hasMetadataCsum()) {
            if (checksumType() != CHECKSUM_TYPE_CRC32C) {
                throw bad("s_checksum_type " + checksumType() + " is not crc32c (1)");
            }
            if (checksum() != computeChecksum()) {
                throw bad(String.format("checksum 0x%08x does not match the computed 0x%08x", checksum(), computeChecksum()));
            }
        }
    }

    private int blockSizeBytesChecked() throws CorruptFilesystemException {
        if (logBlockSize() > 6) {
            throw bad("s_log_block_size " + logBlockSize() + " > 6 (block size over 64 KiB)");
        }
        return blockSizeBytes();
    }

    private static CorruptFilesystemException bad(String why) {
        return new CorruptFilesystemException("superblock: " + why);
    }

    private long lohi(int loOff, int hiOff) {
        long lo = Le.u32(raw, loOff);
        return is64bit() ? lo | Le.u32(raw, hiOff) << 32 : lo;
    }

    private void setLohi(int loOff, int hiOff, long v) {
        Le.put32(raw, loOff, v);
        if (is64bit()) {
            Le.put32(raw, hiOff, v >>> 32);
        }
    }

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
