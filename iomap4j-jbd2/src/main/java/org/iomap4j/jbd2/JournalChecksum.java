package org.iomap4j.jbd2;

import java.util.zip.CRC32C;

/**
 * The journal's checksums.
 *
 * <p>v2/v3 (Documentation/filesystems/ext4/journal.rst "Checksumming", fs/jbd2/recovery.c, commit.c): the kernel's
 * raw crc32c (no final inversion) seeded with {@code crc32c(~0, s_uuid)}; the superblock's is
 * {@code crc32c(~0, superblock with s_checksum = 0)}. With the JDK's {@link CRC32C} (initial ~0, final inversion),
 * {@code raw(~0, a || b) = ~CRC32C(a || b)} and chaining a seed equals continuing over the concatenation, so every
 * checksum here is {@code ~CRC32C(uuid || covered bytes)}.
 *
 * <p>v1 ({@code COMPAT_CHECKSUM}): the commit block's {@code h_chksum[0]} is the kernel's {@code crc32_be} (the
 * non-reflected CRC-32, polynomial 0x04C11DB7, no inversions) seeded with ~0 and run over every descriptor block
 * and logged copy of the transaction (fs/jbd2/commit.c jbd2_checksum_data, recovery.c calc_chksums).
 */
public final class JournalChecksum {
    private static final int[] CRC32_BE_TABLE = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int c = i << 24;
            for (int k = 0; k < 8; k++) {
                c = (c & 0x80000000) != 0 ? (c << 1) ^ 0x04C11DB7 : c << 1;
            }
            CRC32_BE_TABLE[i] = c;
        }
    }

    private final byte[] uuid;

    /**
     * Checksums of a journal whose superblock UUID is {@code uuid} (16 bytes).
     *
     * @param uuid the journal superblock's s_uuid
     */
    public JournalChecksum(byte[] uuid) {
        if (uuid.length != JournalFormat.UUID_BYTES) {
            throw new IllegalArgumentException("journal UUID must be 16 bytes, got " + uuid.length);
        }
        this.uuid = uuid.clone();
    }

    private CRC32C seeded() {
        CRC32C c = new CRC32C();
        c.update(uuid);
        return c;
    }

    /**
     * Journal superblock checksum: over {@link JournalFormat#SB_BYTES} bytes with {@code s_checksum} read as 0.
     *
     * @param sb the superblock's bytes
     * @return the crc32c to store in s_checksum
     */
    public static int superblock(byte[] sb) {
        CRC32C c = new CRC32C();
        c.update(sb, 0, JournalFormat.SB_CHECKSUM);
        c.update(new byte[4]);
        c.update(sb, JournalFormat.SB_CHECKSUM + 4, JournalFormat.SB_BYTES - JournalFormat.SB_CHECKSUM - 4);
        return (int) ~c.getValue();
    }

    /**
     * Tail checksum of a descriptor or revoke block (v2/v3): over the whole block with the last 4 bytes read as 0.
     *
     * @param block the block's bytes
     * @return the crc32c to store in the tail
     */
    public int blockTail(byte[] block) {
        CRC32C c = seeded();
        int tail = block.length - JournalFormat.BLOCK_TAIL_BYTES;
        c.update(block, 0, tail);
        c.update(new byte[JournalFormat.BLOCK_TAIL_BYTES]);
        return (int) ~c.getValue();
    }

    /**
     * Commit block checksum (v2/v3): over the whole block with {@code h_chksum[0]} read as 0.
     *
     * @param block the commit block's bytes
     * @return the crc32c to store in h_chksum[0]
     */
    public int commit(byte[] block) {
        CRC32C c = seeded();
        c.update(block, 0, JournalFormat.COMMIT_CHKSUM0);
        c.update(new byte[4]);
        int from = JournalFormat.COMMIT_CHKSUM0 + 4;
        c.update(block, from, block.length - from);
        return (int) ~c.getValue();
    }

    /**
     * Tag checksum of one logged copy (v2/v3): over be32 {@code tid} then the block as it lies in the log (escaped).
     * v3 stores all 32 bits, v2 the low 16.
     *
     * @param tid the transaction id
     * @param loggedCopy the block as it lies in the log
     * @return the 32-bit crc32c (v2 stores its low 16 bits)
     */
    public int tag(int tid, byte[] loggedCopy) {
        CRC32C c = seeded();
        c.update(new byte[] {(byte) (tid >>> 24), (byte) (tid >>> 16), (byte) (tid >>> 8), (byte) tid});
        c.update(loggedCopy);
        return (int) ~c.getValue();
    }

    /**
     * The kernel's {@code crc32_be(crc, data)}: non-reflected CRC-32, no pre/post inversion.
     *
     * @param crc the running CRC (0 to start)
     * @param data the bytes
     * @return the updated CRC
     */
    public static int crc32Be(int crc, byte[] data) {
        for (byte b : data) {
            crc = (crc << 8) ^ CRC32_BE_TABLE[((crc >>> 24) ^ b) & 0xFF];
        }
        return crc;
    }
}
