package org.iomap4j.ext.disk;

/**
 * An inode timestamp as ext4 stores it: a signed 32-bit seconds field plus, where the inode has room, a
 * {@code *_extra} word whose low 2 bits are an epoch (adding epoch &times; 2^32 to the seconds) and whose upper 30
 * bits are nanoseconds. Range with the extra word: [-2^31, 2^34 - 2^31 - 1] seconds (1901 to 2446); without it
 * (128-byte inodes, or an i_extra_isize too small for the field) the signed 32-bit range (1901 to 2038) with no
 * nanoseconds, and larger or smaller times are clamped to it, as the kernel does.
 *
 * <p>Sources: fs/ext4/ext4.h ext4_encode_extra_time / ext4_decode_extra_time, EXT4_INODE_SET_XTIME_VAL
 * (clamp_t(int32_t, sec, S32_MIN, S32_MAX) without room), EXT4_EXTRA_TIMESTAMP_MAX;
 * Documentation/filesystems/ext4/inodes.rst "Inode Timestamps".
 *
 * @param seconds seconds since 1970-01-01 UTC (negative before)
 * @param nanos   nanoseconds, 0..999,999,999
 */
public record InodeTimestamp(long seconds, int nanos) {
    /** Smallest representable seconds (S32_MIN). */
    public static final long MIN_SECONDS = Integer.MIN_VALUE;
    /** Largest seconds with the extra word: EXT4_EXTRA_TIMESTAMP_MAX = 2^34 - 1 + S32_MIN. */
    public static final long MAX_EXTRA_SECONDS = (1L << 34) - 1 + Integer.MIN_VALUE;
    /** Largest seconds without the extra word (S32_MAX). */
    public static final long MAX_NO_EXTRA_SECONDS = Integer.MAX_VALUE;
    private static final int EPOCH_MASK = 3;

    public InodeTimestamp {
        if (nanos < 0 || nanos > 999_999_999) {
            throw new IllegalArgumentException("nanos " + nanos + " outside 0..999999999");
        }
    }

    /** Decodes a base seconds word alone (no extra word): signed 32-bit seconds. */
    public static InodeTimestamp decode(long base32) {
        return new InodeTimestamp((int) base32, 0);
    }

    /**
     * Decodes a base word with its extra word. Nanoseconds above 999,999,999 (only a corrupt or foreign image
     * stores them) are clamped so the record stays valid.
     */
    public static InodeTimestamp decode(long base32, long extra32) {
        long sec = (int) base32;
        int epoch = (int) (extra32 & EPOCH_MASK);
        if (epoch != 0) {
            sec += (long) epoch << 32;
        }
        int nsec = (int) ((extra32 & 0xffffffffL) >>> 2);
        return new InodeTimestamp(sec, Math.min(nsec, 999_999_999));
    }

    /** This time clamped to what an inode with ({@code withExtra}) or without the extra word holds. */
    public InodeTimestamp clampTo(boolean withExtra) {
        if (seconds < MIN_SECONDS) {
            return new InodeTimestamp(MIN_SECONDS, withExtra ? nanos : 0);
        }
        long max = withExtra ? MAX_EXTRA_SECONDS : MAX_NO_EXTRA_SECONDS;
        if (seconds > max) {
            return new InodeTimestamp(max, withExtra ? nanos : 0);
        }
        return withExtra ? this : new InodeTimestamp(seconds, 0);
    }

    /** The base seconds word: the low 32 bits of the (clamped) seconds, or the clamped value without extra. */
    public long encodeBase(boolean withExtra) {
        return clampTo(withExtra).seconds & 0xffffffffL;
    }

    /** The extra word: epoch bits (seconds - (s32) seconds) &gt;&gt; 32 and nanoseconds &lt;&lt; 2. */
    public long encodeExtra() {
        InodeTimestamp t = clampTo(true);
        long epoch = ((t.seconds - (int) t.seconds) >> 32) & EPOCH_MASK;
        return (epoch | (long) t.nanos << 2) & 0xffffffffL;
    }
}
