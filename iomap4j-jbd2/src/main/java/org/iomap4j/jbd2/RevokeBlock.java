package org.iomap4j.jbd2;

import static org.iomap4j.jbd2.JournalFormat.*;

import java.nio.ByteBuffer;
import org.iomap4j.CorruptFilesystemException;

/**
 * Revoke block codec ({@code jbd2_journal_revoke_header_t}, include/linux/jbd2.h; journal.rst "Revocation Block"):
 * header, be32 r_count @0x0C = bytes used including the 16-byte header, then block numbers (be64 with the 64bit
 * feature, else be32), then (checksum v2/v3) the be32 tail checksum. Records are read as the kernel's
 * scan_revoke_records: while a whole record lies before r_count.
 */
public final class RevokeBlock {
    private RevokeBlock() {}

    /**
     * Bytes of one record: 8 with the 64bit feature, else 4.
     *
     * @param sb the journal superblock (its features choose the layout)
     * @return the record size in bytes
     */
    public static int recordBytes(JournalSuperblock sb) {
        return sb.has64bit() ? 8 : 4;
    }

    /**
     * Records one revoke block holds.
     *
     * @param sb the journal superblock (its features choose the layout)
     * @return the record capacity
     */
    public static int capacity(JournalSuperblock sb) {
        return (sb.blockSizeBytes() - REVOKE_HEADER_BYTES - sb.tailBytes()) / recordBytes(sb);
    }

    /**
     * The revoked filesystem block numbers.
     *
     * @param where names the journal block in messages
     * @throws CorruptFilesystemException r_count larger than the block minus its tail (as recovery.c's -EINVAL)
     * @param block the revoke block's bytes
     * @param sb the journal superblock (its features choose the layout)
     * @return the block numbers, in block order
     */
    public static long[] decode(byte[] block, JournalSuperblock sb, String where) throws CorruptFilesystemException {
        ByteBuffer b = ByteBuffer.wrap(block);
        long rcount = Integer.toUnsignedLong(b.getInt(REVOKE_COUNT));
        if (rcount > block.length - sb.tailBytes()) {
            throw new CorruptFilesystemException(where + ": revoke block r_count " + rcount + " exceeds the "
                    + (block.length - sb.tailBytes()) + " bytes the block holds");
        }
        int rec = recordBytes(sb);
        int n = rcount < REVOKE_HEADER_BYTES ? 0 : (int) ((rcount - REVOKE_HEADER_BYTES) / rec);
        long[] blocks = new long[n];
        for (int i = 0; i < n; i++) {
            int off = REVOKE_HEADER_BYTES + i * rec;
            blocks[i] = rec == 8 ? b.getLong(off) : Integer.toUnsignedLong(b.getInt(off));
        }
        return blocks;
    }

    /**
     * Encodes a revoke block of {@code tid} holding {@code blocks[from, from + count)}.
     *
     * @throws IllegalArgumentException more than {@link #capacity} records, or a block above 32 bits without 64bit
     * @param sb the journal superblock (its features choose the layout)
     * @param csum the checksums seeded by the journal UUID
     * @param tid the transaction id
     * @param blocks filesystem block numbers to revoke
     * @param from index of the first one in {@code blocks}
     * @param count how many
     * @return the block, {@code sb.blockSizeBytes()} bytes
     */
    public static byte[] encode(JournalSuperblock sb, JournalChecksum csum, int tid, long[] blocks, int from,
                                int count) {
        if (count < 1 || count > capacity(sb)) {
            throw new IllegalArgumentException(count + " revoke records for a block of capacity " + capacity(sb));
        }
        byte[] block = new byte[sb.blockSizeBytes()];
        ByteBuffer b = ByteBuffer.wrap(block);
        b.putInt(0, MAGIC).putInt(4, BLOCKTYPE_REVOKE).putInt(8, tid);
        int rec = recordBytes(sb);
        for (int i = 0; i < count; i++) {
            long blk = blocks[from + i];
            int off = REVOKE_HEADER_BYTES + i * rec;
            if (rec == 8) {
                b.putLong(off, blk);
            } else {
                if ((blk >>> 32) != 0) {
                    throw new IllegalArgumentException("revoked block " + blk + " needs the journal 64bit feature");
                }
                b.putInt(off, (int) blk);
            }
        }
        b.putInt(REVOKE_COUNT, REVOKE_HEADER_BYTES + count * rec);
        if (sb.hasCsumV2or3()) {
            b.putInt(block.length - BLOCK_TAIL_BYTES, csum.blockTail(block));
        }
        return block;
    }
}
