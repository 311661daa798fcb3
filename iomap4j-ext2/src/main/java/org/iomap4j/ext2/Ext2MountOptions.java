package org.iomap4j.ext2;

import org.iomap4j.pagecache.PageCacheConfig;

/**
 * How {@link Ext2FileSystem#mount} mounts an image.
 *
 * @param readOnly      refuse every change (EROFS) and write nothing to the device, not even the mount count
 * @param cacheBytes    page-cache budget in bytes for file and directory data (at least four max-size folios)
 * @param maxFolioBytes largest folio in bytes: a power of two in [4 KiB, 2 MiB]
 * @param metadataCacheBytes budget of the metadata buffer cache (bitmaps, inode tables, indirect blocks)
 */
public record Ext2MountOptions(boolean readOnly, long cacheBytes, int maxFolioBytes, long metadataCacheBytes) {

    public Ext2MountOptions {
        new PageCacheConfig(cacheBytes, maxFolioBytes, cacheBytes / 2, 5000); // validates
        if (metadataCacheBytes <= 0) {
            throw new IllegalArgumentException("metadata cache budget must be positive: " + metadataCacheBytes);
        }
    }

    /** Read-write, 256 MiB page cache, 2 MiB folios, 32 MiB metadata cache. */
    public static Ext2MountOptions defaults() {
        return new Ext2MountOptions(false, 256L << 20, 2 << 20, 32L << 20);
    }

    public Ext2MountOptions withReadOnly(boolean ro) {
        return new Ext2MountOptions(ro, cacheBytes, maxFolioBytes, metadataCacheBytes);
    }

    public Ext2MountOptions withCache(long bytes, int folioBytes) {
        return new Ext2MountOptions(readOnly, bytes, folioBytes, metadataCacheBytes);
    }

    PageCacheConfig pageCacheConfig() {
        return PageCacheConfig.of(cacheBytes, maxFolioBytes);
    }
}
