package org.iomap4j.ext.disk;

/**
 * Little-endian unsigned field access on byte arrays: every ext2 on-disk integer is little-endian
 * (Documentation/filesystems/ext2.rst). Exists so that codecs read fields by offset without ByteBuffer churn.
 */
public final class Le {
    private Le() {}

    /** Unsigned 8-bit value at {@code off}. */
    public static int u8(byte[] b, int off) {
        return b[off] & 0xff;
    }

    /** Unsigned 16-bit value at {@code off}. */
    public static int u16(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8;
    }

    /** Unsigned 32-bit value at {@code off}, as a non-negative long. */
    public static long u32(byte[] b, int off) {
        return (b[off] & 0xffL) | (b[off + 1] & 0xffL) << 8 | (b[off + 2] & 0xffL) << 16 | (b[off + 3] & 0xffL) << 24;
    }

    public static void put8(byte[] b, int off, int v) {
        b[off] = (byte) v;
    }

    public static void put16(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }

    public static void put32(byte[] b, int off, long v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
        b[off + 2] = (byte) (v >>> 16);
        b[off + 3] = (byte) (v >>> 24);
    }
}
