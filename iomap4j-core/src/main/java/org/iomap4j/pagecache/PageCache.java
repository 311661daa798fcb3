package org.iomap4j.pagecache;

import java.io.IOException;
import org.iomap4j.iomap.IomapInode;

/**
 * The cache-wide part of the page cache: one memory budget shared by every {@link AddressSpace}, reclaim of
 * clean folios, dirty throttling and background writeback. SKELETON: API fixed, implementation in progress.
 */
public final class PageCache implements AutoCloseable {
    private final PageCacheConfig config;

    public PageCache(PageCacheConfig config) {
        this.config = config;
    }

    public PageCacheConfig config() {
        return config;
    }

    /** Creates the page cache of one inode, written back through {@code wbOps}. */
    public AddressSpace createMapping(IomapInode host, WritebackOps wbOps) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Forgets an inode's cache (inode eviction): its folios are dropped, dirty ones included. */
    public void removeMapping(AddressSpace mapping) {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Bytes of folio memory held now. */
    public long cachedBytes() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Bytes in dirty blocks now. */
    public long dirtyBytes() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Writes back every dirty folio of every mapping and waits; throws the first error. */
    public void syncAll() throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Drops every clean, unlocked folio (like {@code echo 1 > /proc/sys/vm/drop_caches}). */
    public void dropCleanCaches() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Stops background writeback. Does not write back (call {@link #syncAll()} first). */
    @Override
    public void close() {
    }
}
