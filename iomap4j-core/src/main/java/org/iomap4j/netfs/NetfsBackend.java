package org.iomap4j.netfs;

import java.util.concurrent.CompletableFuture;

/**
 * What a network filesystem supplies to the netfs layer: asynchronous byte-range access to the server's objects
 * (David Howells' netfslib asks the same of a network filesystem: an async direct read and an async direct write,
 * no pages).
 *
 * <p>Errors complete the future exceptionally with an {@link org.iomap4j.FsException}: ENOENT for a missing
 * object, ESTALE when {@code expect} no longer names the object's current version, EIO for a server error, and
 * {@link BackendUnavailableException} (also EIO) when the server cannot be reached. Thread-safe.
 */
public interface NetfsBackend extends AutoCloseable {

    /**
     * Reads object bytes starting at {@code posBytes}, about {@code lengthBytes} of them: the result may start
     * before {@code posBytes} and run past {@code posBytes + lengthBytes}, but it covers the asked range up to the
     * object's end. Ranges need not be aligned.
     *
     * @param key         object key
     * @param posBytes    first byte wanted (&ge; 0, &lt; the object's size)
     * @param lengthBytes bytes wanted (&gt; 0)
     * @param expect      the version the caller caches, or null to read whatever is current
     * @return a future of the bytes read; fails with {@link BackendUnavailableException} when the server is
     *     unreachable, ESTALE when {@code expect} is no longer current, ENOENT for a missing object
     */
    CompletableFuture<RangeData> read(String key, long posBytes, int lengthBytes, ObjectVersion expect);

    /**
     * Stores a new version of an object described by {@code plan} and returns its version. The new version is
     * durable on the server when the future completes. Unchanged ranges may be copied from the base on the
     * server; if the base is no longer current that copy must fail with ESTALE rather than copy other bytes.
     *
     * @param plan what to store
     * @return a future of the new version; fails with {@link BackendUnavailableException} when the server is
     *     unreachable, ESTALE when the base changed
     */
    CompletableFuture<ObjectVersion> write(WritePlan plan);

    /** Releases connections. */
    @Override
    void close();
}
