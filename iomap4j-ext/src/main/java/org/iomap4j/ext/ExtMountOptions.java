package org.iomap4j.ext;

import org.iomap4j.pagecache.PageCacheConfig;

/**
 * How {@link ExtFileSystem#mount} mounts an image.
 *
 * @param readOnly      refuse every change (EROFS) and write nothing to the device, not even the mount count
 * @param cacheBytes    page-cache budget in bytes for file and directory data (at least four max-size folios)
 * @param maxFolioBytes largest folio in bytes: a power of two in [4 KiB, 2 MiB]
 * @param metadataCacheBytes budget of the metadata buffer cache (bitmaps, inode tables, indirect blocks)
 * @param dax           DAX: {@link ExtFileSystem#mount(java.nio.file.Path, ExtMountOptions)} maps the image
 *                      as a {@link org.iomap4j.block.MappedBlockDevice} and regular-file data is copied straight
 *                      between callers and the mapping ({@link org.iomap4j.iomap.Dax}), bypassing the page cache
 *                      (directories and metadata still use their caches, on the same mapping)
 * @param noatime       never update atime on read or readdir (mount -o noatime); otherwise relatime, the kernel's
 *                      default (see Documentation/filesystems/vfs.rst, fs/inode.c relatime_need_update)
 * @param directReadMinBytes when an image file is opened by path (not DAX): device reads of at least this many
 *                      bytes, 4096-aligned, bypass the host's page cache ({@link
 *                      org.iomap4j.block.FileBlockDevice#enableDirectReads}); 0 keeps every read buffered
 * @param delalloc delayed allocation for extent-mapped regular files (the default, as ext4's; false is mount -o
 *                      nodelalloc: writes into holes allocate unwritten extents at write())
 */
public record ExtMountOptions(boolean readOnly, long cacheBytes, int maxFolioBytes, long metadataCacheBytes,
        boolean dax, boolean noatime, int directReadMinBytes, boolean delalloc) {

    /** Default {@link #directReadMinBytes}: reads this large are throughput-bound, smaller ones latency-bound. */
    public static final int DEFAULT_DIRECT_READ_MIN_BYTES = 64 << 10;

    /**
     * Checks the budgets.
     *
     * @throws IllegalArgumentException for a page-cache budget or folio size {@link PageCacheConfig} refuses, a
     *     non-positive metadata budget or a negative direct-read threshold
     */
    public ExtMountOptions {
        new PageCacheConfig(cacheBytes, maxFolioBytes, cacheBytes / 2, 5000); // validates
        if (metadataCacheBytes <= 0) {
            throw new IllegalArgumentException("metadata cache budget must be positive: " + metadataCacheBytes);
        }
        if (directReadMinBytes < 0) {
            throw new IllegalArgumentException("direct-read threshold must be >= 0: " + directReadMinBytes);
        }
    }

    /**
     * With delayed allocation (ext4's default: extent files reserve space at write() and allocate at writeback);
     * {@link #withDelalloc withDelalloc(false)} is mount -o nodelalloc.
     *
     * @param readOnly refuse every change (EROFS)
     * @param cacheBytes page-cache budget in bytes
     * @param maxFolioBytes largest folio in bytes
     * @param metadataCacheBytes metadata buffer cache budget in bytes
     * @param dax map the image and bypass the page cache for file data
     * @param noatime never update atime
     * @param directReadMinBytes smallest device read that bypasses the host page cache, in bytes (0: none)
     */
    public ExtMountOptions(boolean readOnly, long cacheBytes, int maxFolioBytes, long metadataCacheBytes,
            boolean dax, boolean noatime, int directReadMinBytes) {
        this(readOnly, cacheBytes, maxFolioBytes, metadataCacheBytes, dax, noatime, directReadMinBytes, true);
    }

    /**
     * Without DAX, relatime, every device read buffered, delalloc.
     *
     * @param readOnly refuse every change (EROFS)
     * @param cacheBytes page-cache budget in bytes
     * @param maxFolioBytes largest folio in bytes
     * @param metadataCacheBytes metadata buffer cache budget in bytes
     */
    public ExtMountOptions(boolean readOnly, long cacheBytes, int maxFolioBytes, long metadataCacheBytes) {
        this(readOnly, cacheBytes, maxFolioBytes, metadataCacheBytes, false, false, 0);
    }

    /**
     * Read-write, 256 MiB page cache, 2 MiB folios, 32 MiB metadata cache, no DAX, relatime, direct device reads
     * from {@link #DEFAULT_DIRECT_READ_MIN_BYTES}, delalloc (as ext4's defaults).
     *
     * @return the default options
     */
    public static ExtMountOptions defaults() {
        return new ExtMountOptions(false, 256L << 20, 2 << 20, 32L << 20, false, false,
                DEFAULT_DIRECT_READ_MIN_BYTES);
    }

    /**
     * The same options, read-only or not.
     *
     * @param ro true to refuse every change
     * @return the new options
     */
    public ExtMountOptions withReadOnly(boolean ro) {
        return new ExtMountOptions(ro, cacheBytes, maxFolioBytes, metadataCacheBytes, dax, noatime, directReadMinBytes, delalloc);
    }

    /**
     * The same options with another page-cache budget and folio size.
     *
     * @param bytes page-cache budget in bytes
     * @param folioBytes largest folio in bytes (a power of two, 4 KiB..2 MiB)
     * @return the new options
     */
    public ExtMountOptions withCache(long bytes, int folioBytes) {
        return new ExtMountOptions(readOnly, bytes, folioBytes, metadataCacheBytes, dax, noatime, directReadMinBytes, delalloc);
    }

    /**
     * The same options with DAX on or off.
     *
     * @param on true for DAX
     * @return the new options
     */
    public ExtMountOptions withDax(boolean on) {
        return new ExtMountOptions(readOnly, cacheBytes, maxFolioBytes, metadataCacheBytes, on, noatime, directReadMinBytes, delalloc);
    }

    /**
     * The same options with noatime on or off (off: relatime).
     *
     * @param on true for noatime
     * @return the new options
     */
    public ExtMountOptions withNoatime(boolean on) {
        return new ExtMountOptions(readOnly, cacheBytes, maxFolioBytes, metadataCacheBytes, dax, on, directReadMinBytes, delalloc);
    }

    /**
     * The same options with device reads of at least {@code minBytes} going direct (0: none).
     *
     * @param minBytes the threshold in bytes
     * @return the new options
     */
    public ExtMountOptions withDirectReadMin(int minBytes) {
        return new ExtMountOptions(readOnly, cacheBytes, maxFolioBytes, metadataCacheBytes, dax, noatime, minBytes, delalloc);
    }

    /**
     * The same options with delayed allocation on or off for extent-mapped regular files: buffered writes reserve
     * space at write() and allocate at writeback (large contiguous extents), as ext4's default {@code delalloc}
     * (ours too); off ({@code nodelalloc}), they allocate unwritten extents at write(). Other files (ext2/ext3
     * indirect-mapped, directories, DAX and O_DIRECT writes) never use it.
     *
     * @param on true for delalloc, false for nodelalloc
     * @return the new options
     */
    public ExtMountOptions withDelalloc(boolean on) {
        return new ExtMountOptions(readOnly, cacheBytes, maxFolioBytes, metadataCacheBytes, dax, noatime,
                directReadMinBytes, on);
    }

    PageCacheConfig pageCacheConfig() {
        return PageCacheConfig.of(cacheBytes, maxFolioBytes);
    }
}
