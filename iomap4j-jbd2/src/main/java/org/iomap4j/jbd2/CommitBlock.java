package org.iomap4j.jbd2;

import static org.iomap4j.jbd2.JournalFormat.*;

import java.nio.ByteBuffer;

/**
 * Commit block codec ({@code struct commit_header}, include/linux/jbd2.h; Documentation/filesystems/ext4/journal.rst
 * "Commit Block"): header, u8 h_chksum_type @0x0C, u8 h_chksum_size @0x0D, be32 h_chksum[8] @0x10, be64
 * h_commit_sec @0x30, be32 h_commit_nsec @0x38. Checksum v1 stores crc32_be of the transaction in h_chksum[0] with
 * type 1 / size 4; checksum v2/v3 store crc32c of the whole block (h_chksum[0] read as 0) there, type and size 0.
 *
 * @param tid          h_sequence
 * @param chksumType   h_chksum_type
 * @param chksumSize   h_chksum_size
 * @param chksum0      h_chksum[0]
 * @param commitSec    h_commit_sec (seconds since the epoch)
 * @param commitNsec   h_commit_nsec
 */
public record CommitBlock(int tid, int chksumType, int chksumSize, int chksum0, long commitSec, int commitNsec) {

    /**
     * Decodes the fields (the header's magic and type are the caller's to check).
     *
     * @param block the commit block's bytes (one journal block)
     * @return the fields
     */
    public static CommitBlock decode(byte[] block) {
        ByteBuffer b = ByteBuffer.wrap(block);
        return new CommitBlock(b.getInt(8), block[COMMIT_CHKSUM_TYPE] & 0xFF, block[COMMIT_CHKSUM_SIZE] & 0xFF,
                b.getInt(COMMIT_CHKSUM0), b.getLong(COMMIT_SEC), b.getInt(COMMIT_NSEC));
    }

    /**
     * Encodes a commit block of {@code tid}.
     *
     * @param crc32SumV1 the transaction's crc32_be (used only with checksum v1)
     * @param sb the journal superblock (its features choose the layout)
     * @param csum the checksums seeded by the journal UUID
     * @param tid the transaction id (h_sequence)
     * @param commitSec commit time, seconds since the epoch (h_commit_sec)
     * @param commitNsec its nanoseconds (h_commit_nsec)
     * @return the block, {@code sb.blockSizeBytes()} bytes
     */
    public static byte[] encode(JournalSuperblock sb, JournalChecksum csum, int tid, long commitSec, int commitNsec,
                                int crc32SumV1) {
        byte[] block = new byte[sb.blockSizeBytes()];
        ByteBuffer b = ByteBuffer.wrap(block);
        b.putInt(0, MAGIC).putInt(4, BLOCKTYPE_COMMIT).putInt(8, tid);
        b.putLong(COMMIT_SEC, commitSec).putInt(COMMIT_NSEC, commitNsec);
        if (sb.hasCsumV1()) {
            block[COMMIT_CHKSUM_TYPE] = COMMIT_CHKSUM_CRC32;
            block[COMMIT_CHKSUM_SIZE] = COMMIT_CHKSUM_CRC32_SIZE;
            b.putInt(COMMIT_CHKSUM0, crc32SumV1);
        }
        if (sb.hasCsumV2or3()) {
            b.putInt(COMMIT_CHKSUM0, csum.commit(block));
        }
        return block;
    }

    /**
     * Whether a commit block's v2/v3 checksum matches (true without v2/v3), as recovery.c's commit verify.
     *
     * @param block the commit block's bytes
     * @param sb the journal superblock (its features choose the layout)
     * @param csum the checksums seeded by the journal UUID
     * @return true if the checksum matches or the journal has no v2/v3 checksum
     */
    public static boolean verifies(byte[] block, JournalSuperblock sb, JournalChecksum csum) {
        if (!sb.hasCsumV2or3()) {
            return true;
        }
        return ByteBuffer.wrap(block).getInt(COMMIT_CHKSUM0) == csum.commit(block);
    }

    /** {@code sizeof(struct commit_header)}: the bytes of a commit block that carry fields. */
    public static final int HEADER_STRUCT_BYTES = 0x3C;

    /**
     * Whether the v2/v3 checksum matches the commit block's fields with the rest of the block read as zeroes: a
     * commit block of which only the first sector(s) reached the disk (the kernel's
     * jbd2_commit_block_csum_verify_partial; since Linux 6.x such a commit counts as complete, as the rest of a
     * commit block is zero when written).
     *
     * @param block the commit block's bytes
     * @param sb the journal superblock (its features choose the layout)
     * @param csum the checksums seeded by the journal UUID
     * @return true if the checksum over the fields matches
     */
    public static boolean verifiesPartial(byte[] block, JournalSuperblock sb, JournalChecksum csum) {
        if (!sb.hasCsumV2or3()) {
            return true;
        }
        byte[] fields = new byte[block.length];
        System.arraycopy(block, 0, fields, 0, HEADER_STRUCT_BYTES);
        return ByteBuffer.wrap(block).getInt(COMMIT_CHKSUM0) == csum.commit(fields);
    }
}
