package org.iomap4j.fuse;

/**
 * The whole mount suite again with FUSE_WRITEBACK_CACHE negotiated: the kernel caches writes and owns size and
 * mtime, so this checks that coherence (another handle, truncate, unlink, rename, O_DIRECT) still holds.
 */
final class FuseMountWritebackCacheIntegrationTest extends FuseMountIntegrationTest {
    @Override
    FuseOptions.Builder options() {
        return FuseOptions.builder().writebackCache(true);
    }
}
