package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The whole mount suite again served through FUSE over io_uring ({@code --io-uring on}): reads, writes, O_DIRECT,
 * directory operations, renames, sparse files, notifications. After each test the counts prove that every request
 * the kernel may send through the ring came through it: /dev/fuse served only INIT, FORGET, BATCH_FORGET and
 * INTERRUPT (fs/fuse/dev_uring.c: forgets and interrupts stay on /dev/fuse). Skips where the kernel cannot.
 */
final class FuseMountIoUringIntegrationTest extends FuseMountIntegrationTest {
    @BeforeAll
    static void enableUring() {
        String why = UringTestSupport.enable();
        assumeTrue(why == null, why);
    }

    @Override
    FuseOptions.Builder options() {
        return FuseOptions.builder().ioUring(FuseOptions.IoUringMode.ON);
    }

    @AfterEach
    void everyRequestButForgetsCameThroughTheRing() {
        FuseMount m = currentMount();
        assertThat(m.transport()).startsWith("io_uring (");
        Map<String, Long> byOp = m.requestCounts();
        Map<String, Long> byTransport = m.transportCounts();
        long devFuseOnly = byOp.getOrDefault("INIT", 0L) + byOp.getOrDefault("FORGET", 0L)
                + byOp.getOrDefault("BATCH_FORGET", 0L) + byOp.getOrDefault("INTERRUPT", 0L);
        assertThat(byTransport.get("io_uring")).as("requests through the ring (%s)", byOp).isPositive();
        assertThat(byTransport.get("/dev/fuse")).as("requests through /dev/fuse (%s)", byOp).isEqualTo(devFuseOnly);
    }
}
