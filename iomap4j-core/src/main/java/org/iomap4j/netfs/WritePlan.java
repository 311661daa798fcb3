package org.iomap4j.netfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * A new version of an object for {@link NetfsBackend#write}: its size, the ranges that differ from the base
 * version, and a source of the new bytes. Ranges the plan calls {@linkplain #unchanged unchanged} may be copied
 * on the server from the base version (S3 UploadPartCopy) instead of being sent; any range may instead be read
 * from {@link #source()}, which stitches dirty data, the local cache, the base on the server and zeroes.
 *
 * @param key             object key
 * @param base            the version this one replaces, or null when the object is new (or its base is unknown)
 * @param sizeBytes       size of the new version in bytes
 * @param baseValidBytes  base bytes at and past this offset are not part of the new version (a truncate down and up
 *                        made them zeroes); at most {@code base.sizeBytes()}
 * @param changed         sorted, disjoint ranges of new bytes that differ from the base (written data)
 * @param attributes      filesystem attributes to store with the object (S3 user metadata); opaque to netfs
 * @param source          reads any range of the new version
 */
public record WritePlan(String key, ObjectVersion base, long sizeBytes, long baseValidBytes, List<ByteRange> changed,
        Map<String, String> attributes, RangeSource source) {

    /** Reads bytes of the new version. */
    @FunctionalInterface
    public interface RangeSource {
        /**
         * Fills {@code dst} (all its remaining bytes) with new-version bytes starting at {@code posBytes}.
         *
         * @throws IOException EIO (or {@link BackendUnavailableException}) when base bytes cannot be fetched
         * @param posBytes object byte offset of the first byte
         * @param dst buffer filled to its limit
         */
        void read(long posBytes, ByteBuffer dst) throws IOException;
    }

    /** Copies the lists and clips {@code baseValidBytes} to the base size (0 without a base). */
    public WritePlan {
        changed = List.copyOf(changed);
        attributes = Map.copyOf(attributes);
        if (base == null) {
            baseValidBytes = 0;
        } else {
            baseValidBytes = Math.min(baseValidBytes, base.sizeBytes());
        }
    }

    /**
     * True if {@code [posBytes, posBytes + lengthBytes)} of the new version equals the same range of the base:
     * inside the valid part of the base and touching no changed range.
     *
     * @param posBytes object byte offset
     * @param lengthBytes range length in bytes
     * @return true if the range can be copied from the base
     */
    public boolean unchanged(long posBytes, long lengthBytes) {
        long end = posBytes + lengthBytes;
        if (base == null || end > baseValidBytes || end > sizeBytes) {
            return false;
        }
        for (ByteRange r : changed) {
            if (r.overlaps(posBytes, end)) {
                return false;
            }
        }
        return true;
    }
}
