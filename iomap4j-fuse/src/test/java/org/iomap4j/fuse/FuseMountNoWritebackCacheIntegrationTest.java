package org.iomap4j.fuse;

/**
 * The whole mount suite again without FUSE_WRITEBACK_CACHE ({@code --no-writeback-cache}): every write is sent
 * through at once and the server owns size and mtime. The base suite runs with the defaults, where the kernel caches
 * writes and owns size and mtime.
 */
final class FuseMountNoWritebackCacheIntegrationTest extends FuseMountIntegrationTest {
    @Override
    FuseOptions.Builder options() {
        return FuseOptions.builder().writebackCache(false);
    }
}
