package org.iomap4j.pagecache;

/**
 * Sizing of a {@link PageCache}.
 *
 * @param budgetBytes          most bytes of folio memory the cache holds (clean folios are reclaimed above it)
 * @param maxFolioBytes        largest folio: a power of two from 4 KiB to 2 MiB (order 0..9), never below the
 *                             filesystem block size (a larger block size raises it for that mapping)
 * @param dirtyThresholdBytes  writers are throttled (made to write back) when dirty bytes pass this
 * @param writebackIntervalMillis background writeback wakes this often and writes dirty data older than it;
 *                             0 disables the background thread
 */
public record PageCacheConfig(long budgetBytes, int maxFolioBytes, long dirtyThresholdBytes,
        long writebackIntervalMillis) {

    public static final int MIN_FOLIO_BYTES = 4096;
    public static final int MAX_FOLIO_BYTES = 2 << 20;

    /**
     * Checks the configuration.
     *
     * @throws IllegalArgumentException if the folio size is not a power of two in 4 KiB..2 MiB, or a size or interval
     *     is negative
     */
    public PageCacheConfig {
        if (Integer.bitCount(maxFolioBytes) != 1 || maxFolioBytes < MIN_FOLIO_BYTES || maxFolioBytes > MAX_FOLIO_BYTES) {
            throw new IllegalArgumentException("max folio size must be a power of two in [4 KiB, 2 MiB]: " + maxFolioBytes);
        }
        if (budgetBytes < 4L * maxFolioBytes) {
            throw new IllegalArgumentException("cache budget " + budgetBytes + " below four max-size folios");
        }
        if (dirtyThresholdBytes <= 0 || dirtyThresholdBytes > budgetBytes) {
            throw new IllegalArgumentException("dirty threshold must be in (0, budget]: " + dirtyThresholdBytes);
        }
    }

    /**
     * 512 MiB budget, 2 MiB folios, dirty threshold half the budget, background writeback every 5 s.
     *
     * @return the default configuration
     */
    public static PageCacheConfig defaults() {
        return of(512L << 20, 2 << 20);
    }

    /**
     * Budget and folio size with the default dirty threshold (half) and writeback interval (5 s).
     *
     * @param budgetBytes memory budget for folios in bytes
     * @param maxFolioBytes largest folio in bytes (a power of two, 4 KiB..2 MiB)
     * @return the configuration
     */
    public static PageCacheConfig of(long budgetBytes, int maxFolioBytes) {
        return new PageCacheConfig(budgetBytes, maxFolioBytes, budgetBytes / 2, 5000);
    }
}
