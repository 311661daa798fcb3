package org.iomap4j.ext.disk;

import java.util.Arrays;
import org.iomap4j.CorruptFilesystemException;

/**
 * One on-disk ext2/3/4 inode of s_inode_size bytes (128, or larger with the ext4 extra fields from offset 0x80:
 * i_extra_isize, i_checksum_hi, i_{c,m,a}time_extra, i_crtime(_extra), i_version_hi, i_projid) with typed field
 * access; bytes not interpreted are preserved. uid/gid carry the Linux high 16 bits in osd2.
 *
 * <p>The 32-bit time accessors ({@link #atime()} ...) read the raw base word, as the ext2 driver has. The
 * {@link InodeTimestamp} accessors ({@link #atimeTs()} ...) decode signed seconds with epoch bits and
 * nanoseconds where i_extra_isize leaves room ({@link #fits}), and clamp to the signed 32-bit range where it does
 * not (fs/ext4/ext4.h EXT4_INODE_GET_XTIME / EXT4_INODE_SET_XTIME_VAL).
 *
 * <p>Checksum (metadata_csum; Documentation/filesystems/ext4/checksums.rst, fs/ext4/inode.c ext4_inode_csum):
 * crc32c(fs seed, le32 inode number || le32 i_generation || the whole inode with l_i_checksum_lo and, if
 * i_extra_isize reaches it, i_checksum_hi counted as zero); low 16 bits in l_i_checksum_lo (0x7C), high 16 in
 * i_checksum_hi (0x82) when it fits, else only the low 16 bits are stored and compared.
 *
 * <p>Layout: fs/ext4/ext4.h {@code struct ext4_inode}; e2fsprogs lib/ext2fs/ext2_fs.h;
 * Documentation/filesystems/ext4/inodes.rst. Not thread-safe: guarded by the owning inode's lock.
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
    /** i_flags (EXT4_*_FL, fs/ext4/ext4.h). */
    public static final int FL_SECRM = 0x1;
    public static final int FL_SYNC = 0x8;
    public static final int FL_IMMUTABLE = 0x10;
    public static final int FL_APPEND = 0x20;
    public static final int FL_NODUMP = 0x40;
    public static final int FL_NOATIME = 0x80;
    public static final int FL_ENCRYPT = 0x800;
    /** i_blocks counts fs blocks, not 512-byte sectors (with huge_file). */
    public static final int FL_HUGE_FILE = 0x40000;
    /** i_block holds an extent tree. */
    public static final int FL_EXTENTS = 0x80000;
    public static final int FL_VERITY = 0x100000;
    /** The inode holds a large xattr value (ea_inode). */
    public static final int FL_EA_INODE = 0x200000;
    /** Data lives in i_block and the system.data xattr. */
    public static final int FL_INLINE_DATA = 0x10000000;
    public static final int FL_PROJINHERIT = 0x20000000;
    public static final int FL_CASEFOLD = 0x40000000;

    /** Size of the original inode; the extra fields start here. */
    public static final int GOOD_OLD_SIZE = 128;
    public static final int OFF_EXTRA_ISIZE = 0x80;
    public static final int OFF_CHECKSUM_HI = 0x82;
    public static final int OFF_CTIME_EXTRA = 0x84;
    public static final int OFF_MTIME_EXTRA = 0x88;
    public static final int OFF_ATIME_EXTRA = 0x8C;
    public static final int OFF_CRTIME = 0x90;
    public static final int OFF_CRTIME_EXTRA = 0x94;
    public static final int OFF_VERSION_HI = 0x98;
    public static final int OFF_PROJID = 0x9C;
    private static final int OFF_CHECKSUM_LO = 0x7C;
    private static final int OFF_BLOCK = 40;

    private final byte[] raw;

    /** i_blocks encoding (see {@link #useBlocksEncoding}); 512 = no HUGE_FILE_FL scaling known. */
    private boolean hugeFile;
    private int blockSizeBytes = 512;

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
    /**
     * i_blocks: storage in 512-byte sectors, indirect and tree blocks included, decoded as
     * {@link #blocks512(boolean, int)} with the encoding set by {@link #useBlocksEncoding} (without it: i_blocks_lo
     * alone, as a filesystem without huge_file).
     */
    public long blocks512() { return blocks512(hugeFile, blockSizeBytes); }
    /**
     * Stores i_blocks as {@link #setBlocks512(long, boolean, int)} with the encoding set by
     * {@link #useBlocksEncoding} (l_i_blocks_high and HUGE_FILE_FL rewritten, never a truncated count).
     *
     * @throws IllegalArgumentException for a count this filesystem cannot encode (past 2^32 sectors without huge_file)
     */
    public void setBlocks512(long v) { setBlocks512(v, hugeFile, blockSizeBytes); }

    /**
     * Sets how {@link #blocks512()} and {@link #setBlocks512(long)} encode i_blocks: the ro_compat huge_file
     * feature and the filesystem block size (bytes, for HUGE_FILE_FL's units). Set once when the inode is loaded.
     */
    public void useBlocksEncoding(boolean hugeFileFeature, int fsBlockSizeBytes) {
        this.hugeFile = hugeFileFeature;
        this.blockSizeBytes = fsBlockSizeBytes;
    }
    public long flags() { return Le.u32(raw, 32); }
    public void setFlags(long v) { Le.put32(raw, 32, v); }
    /** i_block[i] (0 = hole). */
    public long block(int i) { return Le.u32(raw, OFF_BLOCK + 4 * i); }
    public void setBlock(int i, long pblk) { Le.put32(raw, OFF_BLOCK + 4 * i, pblk); }
    public long generation() { return Le.u32(raw, 100); }
    public void setGeneration(long v) { Le.put32(raw, 100, v); }
    /** i_file_acl_lo with l_i_file_acl_high (0x76): block number of the xattr block, 0 if none. */
    public long fileAcl() { return Le.u32(raw, 104) | (long) Le.u16(raw, 0x76) << 32; }
    public void setFileAcl(long pblk) { Le.put32(raw, 104, pblk); Le.put16(raw, 0x76, (int) (pblk >>> 32)); }
    /** i_extra_isize: bytes of extra fields past 128 (0 for 128-byte inodes). */
    public int extraIsize() { return raw.length > GOOD_OLD_SIZE ? Le.u16(raw, OFF_EXTRA_ISIZE) : 0; }
    public void setExtraIsize(int v) {
        if (raw.length <= GOOD_OLD_SIZE) {
            throw new IllegalArgumentException("a " + raw.length + "-byte inode has no i_extra_isize");
        }
        Le.put16(raw, OFF_EXTRA_ISIZE, v);
    }

    /** EXT4_FITS_IN_INODE: the extra field at {@code off} of {@code len} bytes lies within 128 + i_extra_isize. */
    public boolean fits(int off, int len) {
        return raw.length > GOOD_OLD_SIZE && off + len <= GOOD_OLD_SIZE + extraIsize() && off + len <= raw.length;
    }

    /**
     * Checks i_extra_isize against the inode size as ext4_iget does (a multiple of 4 within the inode).
     *
     * @throws CorruptFilesystemException naming the inode
     */
    public void validateExtraIsize(long ino) throws CorruptFilesystemException {
        if (raw.length <= GOOD_OLD_SIZE) {
            return;
        }
        int e = extraIsize();
        if (GOOD_OLD_SIZE + e > raw.length || (e & 3) != 0) {
            throw new CorruptFilesystemException("inode " + ino + ": i_extra_isize " + e + " invalid for a "
                    + raw.length + "-byte inode");
        }
    }

    /**
     * i_size with i_size_high as the upper 32 bits when {@code useHigh}: the kernel uses it for regular files
     * and, with large_dir, for directories (ext4_isize).
     */
    public long sizeBytes(boolean useHigh) { return size(useHigh); }

    /**
     * i_blocks in 512-byte sectors: i_blocks_lo, plus l_i_blocks_high (0x74) with huge_file, scaled from fs
     * blocks when the inode has HUGE_FILE_FL (ext4_inode_blocks).
     */
    public long blocks512(boolean hugeFileFeature, int blockSizeBytes) {
        long lo = Le.u32(raw, 28);
        if (!hugeFileFeature) {
            return lo;
        }
        long v = lo | (long) Le.u16(raw, 0x74) << 32;
        return (flags() & FL_HUGE_FILE) != 0 ? v * (blockSizeBytes / 512) : v;
    }

    /**
     * Stores a sector count as ext4_inode_blocks_set does: in i_blocks_lo if it fits 32 bits, else with
     * l_i_blocks_high (huge_file), else in fs block units with HUGE_FILE_FL.
     *
     * @throws IllegalArgumentException if the count needs huge_file and the feature is off, or exceeds 48 bits
     */
    public void setBlocks512(long sectors, boolean hugeFileFeature, int blockSizeBytes) {
        long f = flags() & ~FL_HUGE_FILE;
        if (sectors <= 0xffffffffL) {
            Le.put32(raw, 28, sectors);
            Le.put16(raw, 0x74, 0);
            setFlags(f);
            return;
        }
        if (!hugeFileFeature) {
            throw new IllegalArgumentException(sectors + " sectors need huge_file");
        }
        long v = sectors;
        if (sectors >= 1L << 48) {
            v = sectors / (blockSizeBytes / 512);
            if (v >= 1L << 48) {
                throw new IllegalArgumentException(sectors + " sectors exceed 48 bits of fs blocks");
            }
            f |= FL_HUGE_FILE;
        }
        Le.put32(raw, 28, v);
        Le.put16(raw, 0x74, (int) (v >>> 32));
        setFlags(f);
    }

    /** l_i_version (osd1) with i_version_hi when it fits. */
    public long version() {
        long lo = Le.u32(raw, 0x24);
        return fits(OFF_VERSION_HI, 4) ? lo | Le.u32(raw, OFF_VERSION_HI) << 32 : lo;
    }

    /** i_projid (0 where it does not fit). */
    public long projid() { return fits(OFF_PROJID, 4) ? Le.u32(raw, OFF_PROJID) : 0; }

    public InodeTimestamp atimeTs() { return xtime(8, OFF_ATIME_EXTRA); }
    public void setAtimeTs(InodeTimestamp t) { setXtime(8, OFF_ATIME_EXTRA, t); }
    public InodeTimestamp mtimeTs() { return xtime(16, OFF_MTIME_EXTRA); }
    public void setMtimeTs(InodeTimestamp t) { setXtime(16, OFF_MTIME_EXTRA, t); }
    public InodeTimestamp ctimeTs() { return xtime(12, OFF_CTIME_EXTRA); }
    public void setCtimeTs(InodeTimestamp t) { setXtime(12, OFF_CTIME_EXTRA, t); }

    /** i_crtime with its extra word, or null when i_extra_isize leaves no room for it. */
    public InodeTimestamp crtimeTs() {
        if (!fits(OFF_CRTIME, 4)) {
            return null;
        }
        return fits(OFF_CRTIME_EXTRA, 4) ? InodeTimestamp.decode(Le.u32(raw, OFF_CRTIME), Le.u32(raw, OFF_CRTIME_EXTRA))
                : InodeTimestamp.decode(Le.u32(raw, OFF_CRTIME));
    }

    /** Sets i_crtime if the inode has room for it (ignored otherwise, as the kernel's EXT4_EINODE_SET_XTIME). */
    public void setCrtimeTs(InodeTimestamp t) {
        if (fits(OFF_CRTIME, 4)) {
            setXtime(OFF_CRTIME, OFF_CRTIME_EXTRA, t);
        }
    }

    private InodeTimestamp xtime(int baseOff, int extraOff) {
        long base = Le.u32(raw, baseOff);
        return fits(extraOff, 4) ? InodeTimestamp.decode(base, Le.u32(raw, extraOff)) : InodeTimestamp.decode(base);
    }

    private void setXtime(int baseOff, int extraOff, InodeTimestamp t) {
        boolean extra = fits(extraOff, 4);
        Le.put32(raw, baseOff, t.encodeBase(extra));
        if (extra) {
            Le.put32(raw, extraOff, t.encodeExtra());
        }
    }

    /** The per-inode checksum seed: crc32c(fs seed, le32 ino || le32 generation) (ext4_inode_csum_seed). */
    public static int csumSeed(int fsSeed, long ino, long generation) {
        return Crc32c.seeded(fsSeed).updateLe32(ino).updateLe32(generation).value();
    }

    /** This inode's checksum seed (with its own i_generation); also seeds extent, directory and dx checksums. */
    public int csumSeed(int fsSeed, long ino) {
        return csumSeed(fsSeed, ino, generation());
    }

    /** The full 32-bit checksum of this inode (checksum fields counted as zero). */
    public int computeChecksum(int fsSeed, long ino) {
        Crc32c c = Crc32c.seeded(csumSeed(fsSeed, ino)).update(raw, 0, OFF_CHECKSUM_LO).updateZeros(2)
                .update(raw, OFF_CHECKSUM_LO + 2, GOOD_OLD_SIZE - OFF_CHECKSUM_LO - 2);
        if (raw.length > GOOD_OLD_SIZE) {
            c.update(raw, GOOD_OLD_SIZE, OFF_CHECKSUM_HI - GOOD_OLD_SIZE);
            int off = OFF_CHECKSUM_HI;
            if (fits(OFF_CHECKSUM_HI, 2)) {
                c.updateZeros(2);
                off += 2;
            }
            c.update(raw, off, raw.length - off);
        }
        return c.value();
    }

    /** The stored checksum: l_i_checksum_lo with i_checksum_hi when it fits. */
    public int checksum() {
        int lo = Le.u16(raw, OFF_CHECKSUM_LO);
        return fits(OFF_CHECKSUM_HI, 2) ? lo | Le.u16(raw, OFF_CHECKSUM_HI) << 16 : lo;
    }

    /** Stores the checksum (ext4_inode_csum_set); call after every change with metadata_csum. */
    public void updateChecksum(int fsSeed, long ino) {
        int c = computeChecksum(fsSeed, ino);
        Le.put16(raw, OFF_CHECKSUM_LO, c);
        if (fits(OFF_CHECKSUM_HI, 2)) {
            Le.put16(raw, OFF_CHECKSUM_HI, c >>> 16);
        }
    }

    /**
     * Verifies the checksum (ext4_inode_csum_verify: 16 bits when i_checksum_hi does not fit).
     *
     * @throws CorruptFilesystemException naming the inode
     */
    public void verifyChecksum(int fsSeed, long ino) throws CorruptFilesystemException {
        int want = computeChecksum(fsSeed, ino);
        if (!fits(OFF_CHECKSUM_HI, 2)) {
            want &= 0xffff;
        }
        if (checksum() != want) {
            throw new CorruptFilesystemException(String.format(
                    "inode %d: checksum 0x%08x does not match the computed 0x%08x", ino, checksum(), want));
        }
    }

    /** A copy of the raw bytes. */
    public byte[] encode() { return raw.clone(); }
    /** Replaces all raw bytes with {@code src} (same length: an {@link #encode()} copy edited, e.g. its xattrs). */
    public void copyFrom(byte[] src) { System.arraycopy(src, 0, raw, 0, raw.length); }

    /** The 60 bytes of i_block (a fast symlink's target). */
    public byte[] blockBytes() { return Arrays.copyOfRange(raw, OFF_BLOCK, OFF_BLOCK + I_BLOCK_BYTES); }
    public void setBlockBytes(byte[] b) {
        Arrays.fill(raw, OFF_BLOCK, OFF_BLOCK + I_BLOCK_BYTES, (byte) 0);
        System.arraycopy(b, 0, raw, OFF_BLOCK, Math.min(b.length, I_BLOCK_BYTES));
    }
    public int inodeSize() { return raw.length; }
}
