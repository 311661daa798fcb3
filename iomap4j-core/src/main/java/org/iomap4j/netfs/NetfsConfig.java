package org.iomap4j.netfs;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Settings of one netfs mount.
 *
 * @param cacheDir         directory of the persistent local cache and the dirty log (created if absent); one
 *                         mount at a time may use it
 * @param granuleBytes     local cache granule in bytes: a power of two, 64 KiB..64 MiB (default 1 MiB)
 * @param cacheLimitBytes  bound of the clean granules' bytes on disk; least recently used granules are evicted
 *                         above it (dirty data is never evicted)
 * @param retryMillis      interval of upload retries while the server is unreachable
 */
public record NetfsConfig(Path cacheDir, int granuleBytes, long cacheLimitBytes, long retryMillis) {
    public static final int DEFAULT_GRANULE_BYTES = 1 << 20;
    /** Smallest granule: 64 KiB. */
    public static final int MIN_GRANULE_BYTES = 64 << 10;
    /** Largest granule: 64 MiB. */
    public static final int MAX_GRANULE_BYTES = 64 << 20;

    /**
     * Checks the configuration.
     *
     * @throws IllegalArgumentException if the granule is not a power of two in 64 KiB..64 MiB, the cache limit is
     *     below one granule, or the retry interval is not positive
     */
    public NetfsConfig {
        Objects.requireNonNull(cacheDir, "cacheDir");
        if (Integer.bitCount(granuleBytes) != 1 || granuleBytes < MIN_GRANULE_BYTES || granuleBytes > MAX_GRANULE_BYTES) {
            throw new IllegalArgumentException("granule must be a power of two in [64 KiB, 64 MiB]: " + granuleBytes);
        }
        if (cacheLimitBytes < granuleBytes || retryMillis <= 0) {
            throw new IllegalArgumentException("cache limit " + cacheLimitBytes + " below one granule, or retry "
                    + retryMillis + " ms not positive");
        }
    }

    /**
     * 1 MiB granules, the given cache bound, retries every second.
     *
     * @param cacheDir the cache directory
     * @param cacheLimitBytes bound of the clean granule bytes on disk
     * @return the configuration
     */
    public static NetfsConfig of(Path cacheDir, long cacheLimitBytes) {
        return new NetfsConfig(cacheDir, DEFAULT_GRANULE_BYTES, cacheLimitBytes, 1000);
    }
}
