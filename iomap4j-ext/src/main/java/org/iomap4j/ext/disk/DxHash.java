package org.iomap4j.ext.disk;

/**
 * The htree directory hash functions of fs/ext4/hash.c: legacy (dx_hack_hash), half_md4 and tea, each with a
 * signed-char and an unsigned-char variant. Hash version numbers are those of dx_root_info.hash_version and
 * s_def_hash_version; the kernel adds 3 to versions 0..2 when the superblock's s_flags says unsigned
 * ({@link #effectiveVersion}). siphash (6, casefold with encryption) is not served.
 *
 * <p>Algorithm facts (Documentation/filesystems/ext4/directory.rst "Hash Tree Directories", fs/ext4/hash.c):
 * the state starts from the MD4 constants, or the four little-endian words of s_hash_seed if any is non-zero;
 * names are folded into 32-bit words with a length-derived pad (str2hashbuf); half_md4 hashes 32-byte chunks
 * with 3 rounds of 8 steps (major = buf[1], minor = buf[2]); tea hashes 16-byte chunks with 16 TEA rounds
 * (major = buf[0], minor = buf[1]); the major hash's low bit is cleared and 0xFFFFFFFE (EOF) becomes 0xFFFFFFFC.
 * Thread-safe (stateless).
 */
public final class DxHash {
    private DxHash() {}

    public static final int LEGACY = 0;
    public static final int HALF_MD4 = 1;
    public static final int TEA = 2;
    public static final int LEGACY_UNSIGNED = 3;
    public static final int HALF_MD4_UNSIGNED = 4;
    public static final int TEA_UNSIGNED = 5;
    public static final int SIPHASH = 6;

    /** Major and minor hash of a name. */
    public record Hash(int major, int minor) {}

    private static final int[] DEFAULT_SEED = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

    /** The hash version a directory uses: its root's version, +3 for 0..2 when the superblock says unsigned. */
    public static int effectiveVersion(int rootHashVersion, DiskSuperblock sb) {
        return rootHashVersion <= TEA && sb.unsignedDirHash() ? rootHashVersion + 3 : rootHashVersion;
    }

    /** The 16 bytes of s_hash_seed as four little-endian words. */
    public static int[] seedWords(byte[] hashSeed16) {
        int[] w = new int[4];
        for (int i = 0; i < 4; i++) {
            w[i] = Le.s32(hashSeed16, 4 * i);
        }
        return w;
    }

    /**
     * Hashes {@code name[off .. off+len)}.
     *
     * @param seed four words from {@link #seedWords}, or null for the default
     * @throws IllegalArgumentException for siphash or an unknown version
     */
    public static Hash hash(int version, byte[] name, int off, int len, int[] seed) {
        int[] buf = DEFAULT_SEED.clone();
        if (seed != null && (seed[0] | seed[1] | seed[2] | seed[3]) != 0) {
            System.arraycopy(seed, 0, buf, 0, 4);
        }
        int major;
        int minor;
        switch (version) {
            case LEGACY, LEGACY_UNSIGNED -> {
                major = hackHash(name, off, len, version == LEGACY_UNSIGNED);
                minor = 0;
            }
            case HALF_MD4, HALF_MD4_UNSIGNED -> {
                boolean unsigned = version == HALF_MD4_UNSIGNED;
                int[] in = new int[8];
                for (int p = off, rem = len; rem > 0; p += 32, rem -= 32) {
                    strToHashBuf(name, p, rem, in, 8, unsigned);
                    halfMd4(buf, in);
                }
                major = buf[1];
                minor = buf[2];
            }
            case TEA, TEA_UNSIGNED -> {
                boolean unsigned = version == TEA_UNSIGNED;
                int[] in = new int[4];
                for (int p = off, rem = len; rem > 0; p += 16, rem -= 16) {
                    strToHashBuf(name, p, rem, in, 4, unsigned);
                    tea(buf, in);
                }
                major = buf[0];
                minor = buf[1];
            }
            default -> throw new IllegalArgumentException("directory hash version " + version + " not supported");
        }
        major &= ~1;
        if (major == 0x7fffffff << 1) {
            major = (0x7fffffff - 1) << 1;
        }
        return new Hash(major, minor);
    }

    public static Hash hash(int version, byte[] name, int[] seed) {
        return hash(version, name, 0, name.length, seed);
    }

    private static int hackHash(byte[] name, int off, int len, boolean unsigned) {
        int hash0 = 0x12a3fe2d;
        int hash1 = 0x37abe8f9;
        for (int i = off; i < off + len; i++) {
            int c = unsigned ? name[i] & 0xff : name[i];
            int hash = hash1 + (hash0 ^ (c * 7152373));
            if ((hash & 0x80000000) != 0) {
                hash -= 0x7fffffff;
            }
            hash1 = hash0;
            hash0 = hash;
        }
        return hash0 << 1;
    }

    /** str2hashbuf: folds up to {@code num * 4} bytes into {@code num} words, padding with a length pattern. */
    private static void strToHashBuf(byte[] msg, int off, int len, int[] out, int num, boolean unsigned) {
        int pad = len | (len << 8);
        pad |= pad << 16;
        int val = pad;
        int n = Math.min(len, num * 4);
        int w = 0;
        for (int i = 0; i < n; i++) {
            int c = unsigned ? msg[off + i] & 0xff : msg[off + i];
            val = c + (val << 8);
            if (i % 4 == 3) {
                out[w++] = val;
                val = pad;
            }
        }
        if (w < num) {
            out[w++] = val;
        }
        while (w < num) {
            out[w++] = pad;
        }
    }

    private static final int K2 = 0x5A827999;
    private static final int K3 = 0x6ED9EBA1;

    private static int f(int x, int y, int z) {
        return z ^ (x & (y ^ z));
    }

    private static int g(int x, int y, int z) {
        return (x & y) + ((x ^ y) & z);
    }

    private static int h(int x, int y, int z) {
        return x ^ y ^ z;
    }

    /** The kernel's half_md4_transform (lib/ or fs/ext4/hash.c): three rounds of eight steps. */
    private static void halfMd4(int[] buf, int[] in) {
        int a = buf[0];
        int b = buf[1];
        int c = buf[2];
        int d = buf[3];
        // Round 1: F, word order 0..7, shifts 3 7 11 19.
        int[] s1 = {3, 7, 11, 19};
        for (int i = 0; i < 8; i++) {
            int k = i % 4;
            int t;
            switch (k) {
                case 0 -> { t = a + f(b, c, d) + in[i]; a = Integer.rotateLeft(t, s1[0]); }
                case 1 -> { t = d + f(a, b, c) + in[i]; d = Integer.rotateLeft(t, s1[1]); }
                case 2 -> { t = c + f(d, a, b) + in[i]; c = Integer.rotateLeft(t, s1[2]); }
                default -> { t = b + f(c, d, a) + in[i]; b = Integer.rotateLeft(t, s1[3]); }
            }
        }
        // Round 2: G, words 1 3 5 7 0 2 4 6, shifts 3 5 9 13.
        int[] w2 = {1, 3, 5, 7, 0, 2, 4, 6};
        int[] s2 = {3, 5, 9, 13};
        for (int i = 0; i < 8; i++) {
            int x = in[w2[i]] + K2;
            switch (i % 4) {
                case 0 -> a = Integer.rotateLeft(a + g(b, c, d) + x, s2[0]);
                case 1 -> d = Integer.rotateLeft(d + g(a, b, c) + x, s2[1]);
                case 2 -> c = Integer.rotateLeft(c + g(d, a, b) + x, s2[2]);
                default -> b = Integer.rotateLeft(b + g(c, d, a) + x, s2[3]);
            }
        }
        // Round 3: H, words 3 7 2 6 1 5 0 4, shifts 3 9 11 15.
        int[] w3 = {3, 7, 2, 6, 1, 5, 0, 4};
        int[] s3 = {3, 9, 11, 15};
        for (int i = 0; i < 8; i++) {
            int x = in[w3[i]] + K3;
            switch (i % 4) {
                case 0 -> a = Integer.rotateLeft(a + h(b, c, d) + x, s3[0]);
                case 1 -> d = Integer.rotateLeft(d + h(a, b, c) + x, s3[1]);
                case 2 -> c = Integer.rotateLeft(c + h(d, a, b) + x, s3[2]);
                default -> b = Integer.rotateLeft(b + h(c, d, a) + x, s3[3]);
            }
        }
        buf[0] += a;
        buf[1] += b;
        buf[2] += c;
        buf[3] += d;
    }

    /** TEA_transform: 16 rounds with delta 0x9E3779B9 over buf[0..1]. */
    private static void tea(int[] buf, int[] in) {
        int sum = 0;
        int b0 = buf[0];
        int b1 = buf[1];
        int a = in[0];
        int b = in[1];
        int c = in[2];
        int d = in[3];
        for (int n = 0; n < 16; n++) {
            sum += 0x9E3779B9;
            b0 += ((b1 << 4) + a) ^ (b1 + sum) ^ ((b1 >>> 5) + b);
            b1 += ((b0 << 4) + c) ^ (b0 + sum) ^ ((b0 >>> 5) + d);
        }
        buf[0] += b0;
        buf[1] += b1;
    }
}
