package org.iomap4j.netfs;

import java.nio.ByteBuffer;

/**
 * What a backend read returned: object bytes {@code [posBytes, posBytes + data.remaining())} of {@code version}.
 * It may start before and end after the range that was asked for (a whole compressed block, a larger granule):
 * the netfs layer keeps what it can of the extra in the local cache. It never extends past the object's end.
 *
 * @param posBytes object offset of {@code data}'s first byte
 * @param data     the bytes, position to limit
 * @param version  the object version they belong to
 */
public record RangeData(long posBytes, ByteBuffer data, ObjectVersion version) {

    /**
     * Exclusive end offset of the bytes.
     *
     * @return {@code posBytes + data.remaining()}
     */
    public long endBytes() {
        return posBytes + data.remaining();
    }
}
