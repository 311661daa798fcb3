package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code iomapfs mount --io-uring on|off --stats} as a user runs it: the files written come back, and the transport
 * line at unmount names the transport that served (io_uring: all but INIT and forgets through the rings; off:
 * nothing through them). A bad value is a usage error. The io_uring case skips where the kernel cannot serve it
 * (the fuse module's enable_uring is N and cannot be set).
 */
class MountIoUringTest {
    private static final Path PARAM = Path.of("/sys/module/fuse/parameters/enable_uring");
    private static final Pattern TRANSPORT = Pattern.compile("iomapfs: transport (.*): io_uring (\\d+), /dev/fuse (\\d+)");

    @TempDir
    Path tmp;

    private Matcher mountWriteReadUnmount(String mode) throws Exception {
        Path img = tmp.resolve("t.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "64M").exit()).isZero();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (MountedImage m = MountedImage.start(img, mnt, "--io-uring", mode, "--stats")) {
            Files.writeString(mnt.resolve("f"), "through " + mode);
            assertThat(Files.readString(mnt.resolve("f"))).isEqualTo("through " + mode);
            assertThat(new ProcessBuilder("umount", mnt.toString()).inheritIO().start().waitFor()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
            Matcher t = TRANSPORT.matcher(m.output);
            assertThat(t.find()).as(m.output.toString()).isTrue();
            return t;
        }
    }

    @Test
    void on_serves_through_the_rings_and_says_so() throws Exception {
        MountedImage.requireFuse();
        assumeTrue(Files.exists(PARAM), "kernel without FUSE over io_uring (" + PARAM + " missing)");
        try {
            Files.writeString(PARAM, "Y");
        } catch (IOException e) {
            assumeTrue(false, "cannot enable FUSE over io_uring: " + e);
        }
        Matcher t = mountWriteReadUnmount("on");
        assertThat(t.group(1)).startsWith("io_uring (");
        assertThat(Long.parseLong(t.group(2))).isGreaterThan(3);
    }

    @Test
    void off_serves_through_dev_fuse_and_says_why() throws Exception {
        MountedImage.requireFuse();
        Matcher t = mountWriteReadUnmount("off");
        assertThat(t.group(1)).isEqualTo("/dev/fuse (io_uring: --io-uring off)");
        assertThat(Long.parseLong(t.group(2))).isZero();
        assertThat(Long.parseLong(t.group(3))).isGreaterThan(3);
    }

    @Test
    void a_bad_value_is_a_usage_error() {
        Cli.Run r = Cli.run("mount", tmp.resolve("none.img").toString(), tmp.toString(), "--io-uring", "maybe");
        assertThat(r.exit()).as(r.toString()).isEqualTo(2);
        assertThat(r.err()).contains("--io-uring must be auto, on or off: maybe");
    }
}
