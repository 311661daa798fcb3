package org.iomap4j.netfs;

/**
 * A half-open range of object bytes {@code [startBytes, endBytes)}.
 *
 * @param startBytes first byte (&ge; 0)
 * @param endBytes   exclusive end (&ge; startBytes)
 */
public record ByteRange(long startBytes, long endBytes) {
    /**
     * Checks the bounds.
     *
     * @throws IllegalArgumentException if {@code startBytes < 0} or {@code endBytes < startBytes}
     */
    public ByteRange {
        if (startBytes < 0 || endBytes < startBytes) {
            throw new IllegalArgumentException("bad byte range [" + startBytes + ", " + endBytes + ")");
        }
    }

    /** {@return {@code endBytes - startBytes}} */
    public long lengthBytes() {
        return endBytes - startBytes;
    }

    /**
     * True if the two ranges share at least one byte.
     *
     * @param start first byte of the other range
     * @param end its exclusive end
     * @return true if they overlap
     */
    public boolean overlaps(long start, long end) {
        return start < endBytes && end > startBytes;
    }
}
