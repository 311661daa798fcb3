package org.iomap4j.ext.disk;

import java.util.zip.CRC32C;

/**
 * The kernel's raw crc32c as ext4's metadata_csum uses it: Castagnoli polynomial, reflected, a caller-chosen
 * 32-bit seed and <em>no</em> final inversion ({@code ext4_chksum(sbi, seed, data, len)} in fs/ext4/ext4.h;
 * Documentation/filesystems/ext4/checksums.rst). Bytes go through the JDK's {@link CRC32C}.
 *
 * <p>The JDK type always starts from the register value {@code ~0} and inverts its result. A seed other than
 * {@code ~0} (an inode's seed, {@code s_checksum_seed}) is reached by first feeding the four bytes that drive
 * the register from {@code ~0} to the seed: CRC register updates over four bytes are a bijection, and the
 * bytes are found by walking the table backwards from the seed. Not thread-safe; one instance per checksum.
 */
public final class Crc32c {
    /** Reflected Castagnoli polynomial. */
    private static final int POLY_REFLECTED = 0x82F63B78;
    private static final int[] TABLE = new int[256];
    /** Index of the table entry whose top byte is {@code i} (the top bytes of a CRC table are all distinct). */
    private static final int[] INDEX_OF_TOP = new int[256];

    static {
        java.util.Arrays.fill(INDEX_OF_TOP, -1);
        for (int i = 0; i < 256; i++) {
            int r = i;
            for (int k = 0; k < 8; k++) {
                r = (r & 1) != 0 ? (r >>> 1) ^ POLY_REFLECTED : r >>> 1;
            }
            TABLE[i] = r;
            if (INDEX_OF_TOP[r >>> 24] != -1) {
                throw new AssertionError("crc32c table top bytes collide");
            }
            INDEX_OF_TOP[r >>> 24] = i;
        }
    }

    private final CRC32C crc = new CRC32C();

    private Crc32c() {}

    /** A checksum whose register starts at {@code seed} (raw kernel value; {@code ~0} for the superblock). */
    public static Crc32c seeded(int seed) {
        Crc32c c = new Crc32c();
        if (seed != ~0) {
            c.crc.update(prefixReaching(seed));
        }
        return c;
    }

    /** {@code crc32c(seed, b[off..off+len))} as the kernel computes it. */
    public static int of(int seed, byte[] b, int off, int len) {
        return seeded(seed).update(b, off, len).value();
    }

    /** {@code crc32c(seed, b)}. */
    public static int of(int seed, byte[] b) {
        return of(seed, b, 0, b.length);
    }

    public Crc32c update(byte[] b, int off, int len) {
        crc.update(b, off, len);
        return this;
    }

    public Crc32c update(byte[] b) {
        crc.update(b, 0, b.length);
        return this;
    }

    /** Feeds {@code n} zero bytes (a checksum field counted as zero, as the kernel's {@code dummy_csum}). */
    public Crc32c updateZeros(int n) {
        for (int i = 0; i < n; i++) {
            crc.update(0);
        }
        return this;
    }

    /** Feeds {@code v} as 4 little-endian bytes. */
    public Crc32c updateLe32(long v) {
        return update(Le.bytes32(v));
    }

    /** Feeds {@code v} as 8 little-endian bytes. */
    public Crc32c updateLe64(long v) {
        return update(Le.bytes64(v));
    }

    /** The raw register: the kernel's return value, usable as the seed of a chained checksum. */
    public int value() {
        return ~(int) crc.getValue();
    }

    /** Four bytes taking the register from {@code ~0} to {@code target}. */
    static byte[] prefixReaching(int target) {
        int[] idx = new int[4];
        int cur = target;
        for (int k = 3; k >= 0; k--) {
            idx[k] = INDEX_OF_TOP[cur >>> 24];
            cur = (cur ^ TABLE[idx[k]]) << 8;
        }
        byte[] out = new byte[4];
        int reg = ~0;
        for (int k = 0; k < 4; k++) {
            out[k] = (byte) ((reg ^ idx[k]) & 0xff);
            reg = (reg >>> 8) ^ TABLE[idx[k]];
        }
        return out;
    }
}
