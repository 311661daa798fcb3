package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;

/**
 * The whole mount suite again through read/write on /dev/fuse ({@code --io-uring off}): where the fuse module's
 * {@code enable_uring} is on, the default suite runs through the rings, and this one keeps the /dev/fuse loop
 * covered.
 */
final class FuseMountDevFuseIntegrationTest extends FuseMountIntegrationTest {
    @Override
    FuseOptions.Builder options() {
        return FuseOptions.builder().ioUring(FuseOptions.IoUringMode.OFF);
    }

    @AfterEach
    void servedThroughDevFuse() {
        assertThat(currentMount().transportCounts().get("io_uring")).isZero();
    }
}
