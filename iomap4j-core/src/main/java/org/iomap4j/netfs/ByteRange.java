package org.iomap4j.netfs;

/**
 * A half-open range of object bytes {@code [startBytes, endBytes)}.
 *
 * @param startBytes first byte (&ge; 0)
 * @param endBytes   exclusive end (&ge; startBytes)
 */
public record ByteRange(long startBytes, long endBytes) {
    public ByteRange {
        if (startBytes < 0 || endBytes < startBytes) {
            throw new IllegalArgumentException("bad byte range [" + startBytes + ", " + endBytes + ")");
        }
    }

    public long lengthBytes() {
        return endBytes - startBytes;
    }

    /** True if the two ranges share at least one byte. */
    public boolean overlaps(long start, long end) {
        return start < endBytes && end > startBytes;
    }
}
