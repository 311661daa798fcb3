package org.iomap4j.fuse;

/**
 * The whole mount suite again with FUSE_WRITEBACK_CACHE negotiated (the default; {@code iomapfs mount}): the
 * kernel caches writes and owns size, mtime and ctime, so this checks that coherence (another handle, truncate,
 * unlink, rename, O_DIRECT, SEEK_DATA/SEEK_HOLE answered by the kernel) still holds.
 */
final class FuseMountWritebackCacheIntegrationTest extends FuseMountIntegrationTest {
    @Override
    FuseOptions.Builder options() {
        FuseOptions.Builder b = FuseOptions.builder();
        assert b.build().writebackCache() : "the writeback cache is the default";
        return b;
    }
}
