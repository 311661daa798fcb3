package org.iomap4j.jbd2;

/**
 * On-disk constants of the jbd2 journal. Every field of the journal is big-endian.
 *
 * <p>Sources: the kernel's Documentation/filesystems/ext4/journal.rst and include/linux/jbd2.h (e2fsprogs
 * lib/ext2fs/kernel-jbd.h carries the same values).
 */
public final class JournalFormat {
    private JournalFormat() {}

    /** {@code h_magic} of every journal metadata block (jbd2.h JBD2_MAGIC_NUMBER). */
    public static final int MAGIC = 0xC03B3998;

    /** Size of the common block header {@code journal_header_t}: magic, blocktype, sequence (3 x be32). */
    public static final int HEADER_BYTES = 12;

    // h_blocktype values (jbd2.h).
    /** A descriptor block: tags naming the filesystem blocks whose copies follow. */
    public static final int BLOCKTYPE_DESCRIPTOR = 1;
    /** A commit block: the transaction is complete once it is durable. */
    public static final int BLOCKTYPE_COMMIT = 2;
    /** Journal superblock, version 1 (no feature words). */
    public static final int BLOCKTYPE_SUPERBLOCK_V1 = 3;
    /** Journal superblock, version 2 (feature words, UUID, checksums). */
    public static final int BLOCKTYPE_SUPERBLOCK_V2 = 4;
    /** A revoke block: filesystem blocks whose older logged copies must not be replayed. */
    public static final int BLOCKTYPE_REVOKE = 5;
    /** A fast-commit block; only inside the fast-commit area, which this module refuses. */
    public static final int BLOCKTYPE_FC = 6;

    // s_feature_compat (jbd2.h JBD2_FEATURE_COMPAT_*).
    /** Commit blocks carry a crc32_be over the transaction's blocks ("checksum v1"). */
    public static final int COMPAT_CHECKSUM = 0x1;

    // s_feature_incompat (jbd2.h JBD2_FEATURE_INCOMPAT_*).
    /** Revoke blocks may be present. */
    public static final int INCOMPAT_REVOKE = 0x1;
    /** Block numbers in tags and revoke records are 64 bits. */
    public static final int INCOMPAT_64BIT = 0x2;
    /** Commit blocks are written without waiting for the transaction's blocks (needs a checksum to be safe). */
    public static final int INCOMPAT_ASYNC_COMMIT = 0x4;
    /** crc32c checksums, tags keep the low 16 bits (checksum v2). */
    public static final int INCOMPAT_CSUM_V2 = 0x8;
    /** crc32c checksums, tags keep 32 bits ({@code journal_block_tag3_t}, checksum v3). */
    public static final int INCOMPAT_CSUM_V3 = 0x10;
    /** A fast-commit area follows the log (recognised, then refused with EOPNOTSUPP). */
    public static final int INCOMPAT_FAST_COMMIT = 0x20;
    /** Every incompat bit this module understands (fast commit is recognised, then refused). */
    public static final int INCOMPAT_KNOWN = INCOMPAT_REVOKE | INCOMPAT_64BIT | INCOMPAT_ASYNC_COMMIT
            | INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3;

    /** {@code s_checksum_type} for crc32c, the only type v2/v3 journals use (jbd2.h JBD2_CRC32C_CHKSUM). */
    public static final int CHECKSUM_TYPE_CRC32C = 4;
    /** Commit block {@code h_chksum_type} of checksum v1 (JBD2_CRC32_CHKSUM) and its size. */
    public static final int COMMIT_CHKSUM_CRC32 = 1;
    /** Size in bytes of the v1 commit checksum (h_chksum_size). */
    public static final int COMMIT_CHKSUM_CRC32_SIZE = 4;

    // Descriptor tag t_flags (jbd2.h JBD2_FLAG_*).
    /** The logged copy had its first 4 bytes (the jbd2 magic) zeroed; replay puts the magic back. */
    public static final int FLAG_ESCAPE = 0x1;
    /** The tag is not followed by a 16-byte UUID (it has the previous tag's). */
    public static final int FLAG_SAME_UUID = 0x2;
    /** Unused by jbd2 (was "deleted by this transaction"). */
    public static final int FLAG_DELETED = 0x4;
    /** Last tag of this descriptor block. */
    public static final int FLAG_LAST_TAG = 0x8;

    /** Size of the UUID that follows a tag without {@link #FLAG_SAME_UUID}. */
    public static final int UUID_BYTES = 16;
    /** {@code struct jbd2_journal_block_tail}: be32 checksum at the end of descriptor and revoke blocks (v2/v3). */
    public static final int BLOCK_TAIL_BYTES = 4;
    /** {@code jbd2_journal_revoke_header_t}: block header + be32 r_count. */
    public static final int REVOKE_HEADER_BYTES = 16;

    // Journal superblock field offsets (journal_superblock_t).
    static final int SB_BLOCKSIZE = 0x0C;
    static final int SB_MAXLEN = 0x10;
    static final int SB_FIRST = 0x14;
    static final int SB_SEQUENCE = 0x18;
    static final int SB_START = 0x1C;
    static final int SB_ERRNO = 0x20;
    static final int SB_FEATURE_COMPAT = 0x24;
    static final int SB_FEATURE_INCOMPAT = 0x28;
    static final int SB_FEATURE_RO_COMPAT = 0x2C;
    static final int SB_UUID = 0x30;
    static final int SB_NR_USERS = 0x40;
    static final int SB_MAX_TRANSACTION = 0x48;
    static final int SB_CHECKSUM_TYPE = 0x50;
    static final int SB_NUM_FC_BLKS = 0x54;
    static final int SB_CHECKSUM = 0xFC;
    /** {@code sizeof(journal_superblock_t)}: the bytes the superblock checksum covers. */
    public static final int SB_BYTES = 1024;

    // Commit block field offsets (struct commit_header).
    static final int COMMIT_CHKSUM_TYPE = 0x0C;
    static final int COMMIT_CHKSUM_SIZE = 0x0D;
    static final int COMMIT_CHKSUM0 = 0x10;
    static final int COMMIT_SEC = 0x30;
    static final int COMMIT_NSEC = 0x38;

    /** Offset of {@code r_count} in a revoke block. */
    static final int REVOKE_COUNT = 0x0C;

    /**
     * A human name of a block type, for messages.
     *
     * @param blocktype an h_blocktype value
     * @return its name, or "unknown type N"
     */
    public static String blockTypeName(int blocktype) {
        return switch (blocktype) {
            case BLOCKTYPE_DESCRIPTOR -> "descriptor";
            case BLOCKTYPE_COMMIT -> "commit";
            case BLOCKTYPE_SUPERBLOCK_V1 -> "superblock v1";
            case BLOCKTYPE_SUPERBLOCK_V2 -> "superblock v2";
            case BLOCKTYPE_REVOKE -> "revoke";
            case BLOCKTYPE_FC -> "fast commit";
            default -> "type " + blocktype;
        };
    }

    /**
     * Journal transaction ids wrap at 2^32; {@code a} is at or after {@code b} as the kernel's tid_geq.
     *
     * @param a a transaction id
     * @param b a transaction id
     * @return true if {@code (int) (a - b) >= 0}
     */
    public static boolean tidGeq(int a, int b) {
        return a - b >= 0;
    }

    /**
     * {@code a} is strictly after {@code b} as the kernel's tid_gt.
     *
     * @param a a transaction id
     * @param b a transaction id
     * @return true if {@code (int) (a - b) > 0}
     */
    public static boolean tidGt(int a, int b) {
        return a - b > 0;
    }
}
