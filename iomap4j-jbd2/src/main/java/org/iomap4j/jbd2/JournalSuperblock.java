package org.iomap4j.jbd2;

import static org.iomap4j.jbd2.JournalFormat.*;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * The journal superblock ({@code journal_superblock_t}, journal block 0), decoded. Fields are big-endian on disk;
 * block counts and numbers here are journal blocks of {@link #blockSizeBytes()} bytes.
 *
 * <p>Layout and validity rules: Documentation/filesystems/ext4/journal.rst "Super Block", include/linux/jbd2.h,
 * fs/jbd2/journal.c (journal_check_superblock / load_superblock). A v1 superblock ({@code blocktype 3}) has no
 * feature words; they read as 0. The bytes this class does not model ({@code s_users}, padding) are kept and written
 * back unchanged by {@link #encode()}.
 *
 * <p>Mutable: recovery and the writer change {@link #sequence} and {@link #start} (and the writer the features),
 * then {@link #encode()} recomputes the checksum when the journal has checksum v2/v3.
 */
public final class JournalSuperblock {
    private final byte[] raw;
    private final int blocktype;
    private final int blockSizeBytes;
    private final long maxlenBlocks;
    private final long firstBlock;
    /** {@code s_sequence}: the first transaction id expected in the log (or, clean, the next one to use). */
    int sequence;
    /** {@code s_start}: journal block of the log's first transaction; 0 when the journal is clean (empty). */
    long start;
    int errno;
    int featureCompat;
    int featureIncompat;
    int featureRoCompat;
    private final byte[] uuid;
    int checksumType;

    private JournalSuperblock(byte[] raw) {
        this.raw = raw;
        ByteBuffer b = ByteBuffer.wrap(raw);
        blocktype = b.getInt(4);
        blockSizeBytes = b.getInt(SB_BLOCKSIZE);
        maxlenBlocks = Integer.toUnsignedLong(b.getInt(SB_MAXLEN));
        firstBlock = Integer.toUnsignedLong(b.getInt(SB_FIRST));
        sequence = b.getInt(SB_SEQUENCE);
        start = Integer.toUnsignedLong(b.getInt(SB_START));
        errno = b.getInt(SB_ERRNO);
        boolean v2 = blocktype == BLOCKTYPE_SUPERBLOCK_V2;
        featureCompat = v2 ? b.getInt(SB_FEATURE_COMPAT) : 0;
        featureIncompat = v2 ? b.getInt(SB_FEATURE_INCOMPAT) : 0;
        featureRoCompat = v2 ? b.getInt(SB_FEATURE_RO_COMPAT) : 0;
        uuid = Arrays.copyOfRange(raw, SB_UUID, SB_UUID + UUID_BYTES);
        checksumType = raw[SB_CHECKSUM_TYPE] & 0xFF;
    }

    /**
     * Decodes and validates journal block 0.
     *
     * @param block        the block's bytes (at least {@link JournalFormat#SB_BYTES})
     * @param where        names the block in messages ("journal superblock at device block N")
     * @throws CorruptFilesystemException bad magic or block type, v1 and v2/v3 checksums together, v2 and v3
     *                                    together, an unknown checksum type, a checksum mismatch, or a geometry
     *                                    that cannot be ({@code s_first}, {@code s_maxlen}, {@code s_start})
     * @throws FsException                {@link Errno#EOPNOTSUPP} for unknown incompat features or fast commit
     * @return the validated superblock
     */
    public static JournalSuperblock decode(byte[] block, String where) throws FsException {
        if (block.length < SB_BYTES) {
            throw new CorruptFilesystemException(where + ": block of " + block.length + " bytes holds no superblock");
        }
        byte[] raw = Arrays.copyOf(block, SB_BYTES);
        ByteBuffer b = ByteBuffer.wrap(raw);
        if (b.getInt(0) != MAGIC) {
            throw new CorruptFilesystemException(where + ": bad journal magic 0x" + Integer.toHexString(b.getInt(0)));
        }
        int type = b.getInt(4);
        if (type != BLOCKTYPE_SUPERBLOCK_V1 && type != BLOCKTYPE_SUPERBLOCK_V2) {
            throw new CorruptFilesystemException(where + ": block type " + type + " is not a journal superblock");
        }
        JournalSuperblock sb = new JournalSuperblock(raw);
        sb.validate(where);
        return sb;
    }

    private void validate(String where) throws FsException {
        if (blockSizeBytes < 1024 || blockSizeBytes > 65536 || Integer.bitCount(blockSizeBytes) != 1) {
            throw new CorruptFilesystemException(where + ": s_blocksize " + blockSizeBytes + " is not a power of two"
                    + " in [1024, 65536]");
        }
        if (firstBlock == 0 || firstBlock >= maxlenBlocks) {
            throw new CorruptFilesystemException(where + ": s_first " + firstBlock + " outside [1, s_maxlen "
                    + maxlenBlocks + ")");
        }
        if (maxlenBlocks - firstBlock < 2) {
            throw new CorruptFilesystemException(where + ": log of " + (maxlenBlocks - firstBlock)
                    + " blocks (s_first " + firstBlock + ", s_maxlen " + maxlenBlocks + ") is too short");
        }
        if (start != 0 && (start < firstBlock || start >= maxlenBlocks)) {
            throw new CorruptFilesystemException(where + ": s_start " + start + " outside the log [" + firstBlock
                    + ", " + maxlenBlocks + ")");
        }
        if ((featureIncompat & INCOMPAT_FAST_COMMIT) != 0) {
            throw new FsException(Errno.EOPNOTSUPP, where + ": journal has fast commits (incompat 0x20), which "
                    + "iomap4j does not replay");
        }
        int unknown = featureIncompat & ~INCOMPAT_KNOWN;
        if (unknown != 0) {
            throw new FsException(Errno.EOPNOTSUPP, where + ": unknown journal incompat features 0x"
                    + Integer.toHexString(unknown));
        }
        if (hasCsumV2() && hasCsumV3()) {
            throw new CorruptFilesystemException(where + ": journal checksum v2 and v3 both set");
        }
        if (hasCsumV1() && hasCsumV2or3()) {
            throw new CorruptFilesystemException(where + ": journal checksum v1 and v2/v3 both set");
        }
        if (hasCsumV2or3()) {
            if (checksumType != CHECKSUM_TYPE_CRC32C) {
                throw new CorruptFilesystemException(where + ": journal checksum type " + checksumType
                        + " is not crc32c (4)");
            }
            int stored = ByteBuffer.wrap(raw).getInt(SB_CHECKSUM);
            int computed = JournalChecksum.superblock(raw);
            if (stored != computed) {
                throw new CorruptFilesystemException(where + ": journal superblock checksum 0x"
                        + Integer.toHexString(stored) + " != computed 0x" + Integer.toHexString(computed));
            }
        }
    }

    /**
     * The superblock's bytes ({@link JournalFormat#SB_BYTES}) with the current field values; the checksum is
     * recomputed when the journal has checksum v2/v3. A v1 superblock keeps its (absent) feature words.
     *
     * @return the encoded block prefix
     */
    public byte[] encode() {
        byte[] out = raw.clone();
        ByteBuffer b = ByteBuffer.wrap(out);
        b.putInt(SB_SEQUENCE, sequence);
        b.putInt(SB_START, (int) start);
        b.putInt(SB_ERRNO, errno);
        if (blocktype == BLOCKTYPE_SUPERBLOCK_V2) {
            b.putInt(SB_FEATURE_COMPAT, featureCompat);
            b.putInt(SB_FEATURE_INCOMPAT, featureIncompat);
            b.putInt(SB_FEATURE_RO_COMPAT, featureRoCompat);
            out[SB_CHECKSUM_TYPE] = (byte) checksumType;
            if (hasCsumV2or3()) {
                b.putInt(SB_CHECKSUM, JournalChecksum.superblock(out));
            }
        }
        return out;
    }

    /**
     * {@code h_blocktype}: 3 (v1) or 4 (v2).
     *
     * @return the block type
     */
    public int blocktype() {
        return blocktype;
    }

    /**
     * {@code s_blocksize}: bytes per journal block (equal to the filesystem block size).
     *
     * @return the journal block size in bytes
     */
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    /**
     * {@code s_maxlen}: journal length in blocks (the log wraps from s_maxlen - 1 back to s_first).
     *
     * @return the journal length in blocks
     */
    public long maxlenBlocks() {
        return maxlenBlocks;
    }

    /**
     * {@code s_first}: first journal block of the log (block 0 is this superblock).
     *
     * @return the first log block
     */
    public long firstBlock() {
        return firstBlock;
    }

    /**
     * {@code s_sequence}: first transaction id in the log, or the next one to use when clean.
     *
     * @return the first (or next) transaction id
     */
    public int sequence() {
        return sequence;
    }

    /**
     * {@code s_start}: journal block where the log begins; 0 = clean, nothing to replay.
     *
     * @return the log start block, or 0
     */
    public long start() {
        return start;
    }

    /**
     * {@code s_errno}: an error the journal recorded (negative errno), 0 if none.
     *
     * @return the recorded errno, or 0
     */
    public int errno() {
        return errno;
    }

    /** {@return {@code s_feature_compat} (JBD2_FEATURE_COMPAT_* bits)} */
    public int featureCompat() {
        return featureCompat;
    }

    /** {@return {@code s_feature_incompat} (JBD2_FEATURE_INCOMPAT_* bits)} */
    public int featureIncompat() {
        return featureIncompat;
    }

    /** {@return {@code s_feature_ro_compat} (no bit is defined by jbd2.h)} */
    public int featureRoCompat() {
        return featureRoCompat;
    }

    /**
     * {@code s_uuid}: seeds the v2/v3 checksums and follows the first tag of each descriptor block.
     *
     * @return a copy of the 16-byte UUID
     */
    public byte[] uuid() {
        return uuid.clone();
    }

    /** {@return true if revoke blocks may appear (INCOMPAT_REVOKE)} */
    public boolean hasRevoke() {
        return (featureIncompat & INCOMPAT_REVOKE) != 0;
    }

    /** {@return true if block numbers are 64 bits (INCOMPAT_64BIT)} */
    public boolean has64bit() {
        return (featureIncompat & INCOMPAT_64BIT) != 0;
    }

    /**
     * {@return true if commit blocks are written without waiting for the transaction's blocks (INCOMPAT_ASYNC_COMMIT)}
     */
    public boolean hasAsyncCommit() {
        return (featureIncompat & INCOMPAT_ASYNC_COMMIT) != 0;
    }

    /** {@return true if commit blocks carry a crc32_be of the transaction (COMPAT_CHECKSUM, "v1")} */
    public boolean hasCsumV1() {
        return (featureCompat & COMPAT_CHECKSUM) != 0;
    }

    /** {@return true if blocks carry crc32c checksums with 16-bit tag checksums (INCOMPAT_CSUM_V2)} */
    public boolean hasCsumV2() {
        return (featureIncompat & INCOMPAT_CSUM_V2) != 0;
    }

    /** {@return true if blocks carry crc32c checksums with 32-bit tag checksums (INCOMPAT_CSUM_V3)} */
    public boolean hasCsumV3() {
        return (featureIncompat & INCOMPAT_CSUM_V3) != 0;
    }

    /** {@return true if either v2 or v3 checksums are on} */
    public boolean hasCsumV2or3() {
        return hasCsumV2() || hasCsumV3();
    }

    /**
     * Bytes of one descriptor tag, as the kernel's journal_tag_bytes: 16 with checksum v3
     * ({@code journal_block_tag3_t}); else 12 ({@code journal_block_tag_t}) + 2 with checksum v2, minus 4 without
     * the 64bit feature. The 16-byte UUID after a tag without SAME_UUID is extra.
     *
     * @return the tag size in bytes
     */
    public int tagBytes() {
        if (hasCsumV3()) {
            return 16;
        }
        int sz = 12 + (hasCsumV2() ? 2 : 0);
        return has64bit() ? sz : sz - 4;
    }

    /**
     * Bytes at the end of descriptor and revoke blocks that hold the tail checksum: 4 with v2/v3, else 0.
     *
     * @return the tail size in bytes
     */
    public int tailBytes() {
        return hasCsumV2or3() ? BLOCK_TAIL_BYTES : 0;
    }

    /**
     * Number of log blocks, {@code s_maxlen - s_first}.
     *
     * @return the log length in blocks
     */
    public long logBlocks() {
        return maxlenBlocks - firstBlock;
    }

    /**
     * The log block after {@code jblk}, wrapping from {@code s_maxlen - 1} to {@code s_first}.
     *
     * @param jblk a log block number
     * @return the next log block number
     */
    public long next(long jblk) {
        long n = jblk + 1;
        return n >= maxlenBlocks ? n - (maxlenBlocks - firstBlock) : n;
    }

    /**
     * {@code jblk + count} on the circular log.
     *
     * @param jblk a log block number
     * @param count blocks to advance (&ge; 0)
     * @return the log block number {@code count} blocks later
     */
    public long advance(long jblk, long count) {
        long n = jblk + count % logBlocks();
        return n >= maxlenBlocks ? n - logBlocks() : n;
    }

    @Override
    public String toString() {
        return "JournalSuperblock[v" + (blocktype == BLOCKTYPE_SUPERBLOCK_V2 ? 2 : 1) + ", blocksize "
                + blockSizeBytes + ", first " + firstBlock + ", maxlen " + maxlenBlocks + ", sequence "
                + Integer.toUnsignedString(sequence) + ", start " + start + ", compat 0x"
                + Integer.toHexString(featureCompat) + ", incompat 0x" + Integer.toHexString(featureIncompat) + "]";
    }
}
