package org.iomap4j.netfs;

import java.util.Objects;

/**
 * One version of a remote object as the server names it: an opaque tag (S3 ETag, GCS generation, NFS change
 * attribute) and the object's size in bytes in that version. Two versions are the same content iff their tags are
 * equal; the local cache serves a granule only to a reader that expects the tag it was stored under.
 *
 * @param tag       the server's version tag, never empty
 * @param sizeBytes object size in bytes in this version (&ge; 0)
 */
public record ObjectVersion(String tag, long sizeBytes) {
    /**
     * Checks the fields.
     *
     * @throws IllegalArgumentException if the tag is empty or the size negative
     * @throws NullPointerException if the tag is null
     */
    public ObjectVersion {
        Objects.requireNonNull(tag, "tag");
        if (tag.isEmpty() || sizeBytes < 0) {
            throw new IllegalArgumentException("bad object version '" + tag + "' of " + sizeBytes + " bytes");
        }
    }
}
