package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import org.iomap4j.ext.ExtMountOptions;
import org.iomap4j.fuse.FuseWarmup;
import org.junit.jupiter.api.Test;

/**
 * The mount's JIT warm-up runs the whole request path over a scratch ext2 image (through ext2's iomap ops, page
 * cache fills and reclaim, direct I/O and directory operations) without a failed reply, and removes its scratch.
 */
final class JitWarmupTest {
    @Test
    void warm_up_over_ext2_succeeds_and_removes_its_scratch_image() throws IOException {
        List<Path> before = scratchDirs();
        StringWriter err = new StringWriter();

        FuseWarmup.Result r = JitWarmup.run(ExtMountOptions.defaults(), Duration.ZERO, true, new PrintWriter(err));

        assertThat(err.toString()).isEmpty();
        assertThat(r).isNotNull();
        assertThat(r.rounds()).isEqualTo(1);
        assertThat(r.requests()).isGreaterThan(10_000);
        assertThat(scratchDirs()).isEqualTo(before);
    }

    @Test
    void warm_up_with_noatime_and_small_folios_succeeds() {
        StringWriter err = new StringWriter();

        FuseWarmup.Result r = JitWarmup.run(ExtMountOptions.defaults().withNoatime(true).withCache(64L << 20, 4096),
                Duration.ZERO, true, new PrintWriter(err));

        assertThat(err.toString()).isEmpty();
        assertThat(r).isNotNull();
    }

    private static List<Path> scratchDirs() throws IOException {
        Path shm = Path.of("/dev/shm");
        Path parent = Files.isDirectory(shm) && Files.isWritable(shm) ? shm
                : Path.of(System.getProperty("java.io.tmpdir"));
        try (Stream<Path> s = Files.list(parent)) {
            return s.filter(p -> p.getFileName().toString().startsWith("iomapfs-warmup")).sorted().toList();
        }
    }
}
