package org.iomap4j.ext.disk;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Little-endian field access on byte arrays: every ext2/3/4 on-disk integer is little-endian
 * (Documentation/filesystems/ext4/about.rst; the jbd2 journal, big-endian, does not use this class). The one
 * idiom of this package: the JDK's unaligned {@link ValueLayout}s with {@link ByteOrder#LITTLE_ENDIAN} over a
 * heap {@link MemorySegment} of the array.
 *
 * <p>Offsets are byte offsets into the array. Callers validate offsets read off disk before calling: an offset
 * outside the array throws {@link IndexOutOfBoundsException}, which codecs never let escape (they check bounds
 * first and throw {@link org.iomap4j.CorruptFilesystemException} naming the block or inode).
 */
public final class Le {
    private Le() {}

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static MemorySegment seg(byte[] b) {
        return MemorySegment.ofArray(b);
    }

    /** Unsigned 8-bit value at {@code off}. */
    public static int u8(byte[] b, int off) {
        return b[off] & 0xff;
    }

    /** Unsigned 16-bit value at {@code off}. */
    public static int u16(byte[] b, int off) {
        return Short.toUnsignedInt(seg(b).get(LE16, off));
    }

    /** Unsigned 32-bit value at {@code off}, as a non-negative long. */
    public static long u32(byte[] b, int off) {
        return Integer.toUnsignedLong(seg(b).get(LE32, off));
    }

    /** The 32 bits at {@code off} as a Java int (signed view; checksums and hashes use this). */
    public static int s32(byte[] b, int off) {
        return seg(b).get(LE32, off);
    }

    /** The 64 bits at {@code off} (callers treat values above {@link Long#MAX_VALUE} as corrupt). */
    public static long u64(byte[] b, int off) {
        return seg(b).get(LE64, off);
    }

    public static void put8(byte[] b, int off, int v) {
        b[off] = (byte) v;
    }

    /** Stores the low 16 bits of {@code v}. */
    public static void put16(byte[] b, int off, int v) {
        seg(b).set(LE16, off, (short) v);
    }

    /** Stores the low 32 bits of {@code v}. */
    public static void put32(byte[] b, int off, long v) {
        seg(b).set(LE32, off, (int) v);
    }

    public static void put64(byte[] b, int off, long v) {
        seg(b).set(LE64, off, v);
    }

    /** {@code v} as 4 little-endian bytes (checksum seeds: inode number, generation, group number). */
    public static byte[] bytes32(long v) {
        byte[] b = new byte[4];
        put32(b, 0, v);
        return b;
    }

    /** {@code v} as 8 little-endian bytes (checksum seeds: xattr and orphan block numbers). */
    public static byte[] bytes64(long v) {
        byte[] b = new byte[8];
        put64(b, 0, v);
        return b;
    }
}
