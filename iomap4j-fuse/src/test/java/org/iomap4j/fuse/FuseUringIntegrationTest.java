package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.iomap4j.fuse.Shell.sh;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.testkit.vfs.MemoryVfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The io_uring transport's own cases, against the kernel: the fallback to /dev/fuse when the kernel refuses the
 * registration (the same path as a worker that cannot serve), {@code on} failing the mount instead, {@code off},
 * xattrs and 1 MiB O_DIRECT transfers through the ring, the kernel's own CQE counters (/proc/self/fdinfo of the
 * rings) agreeing with the server's count, and teardown with a request stream in flight. A {@link MemoryVfs}
 * (with xattrs) is served; the shell tools are the oracle. Skips where the kernel cannot serve io_uring.
 */
final class FuseUringIntegrationTest {
    @TempDir
    Path tmp;
    private Path mnt;
    private FuseMount mount;

    @BeforeAll
    static void enableUring() {
        Shell.requireRootAndFuse();
        String why = UringTestSupport.enable();
        assumeTrue(why == null, why);
    }

    @BeforeEach
    void mountpoint() throws IOException {
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    @AfterEach
    void unmount() throws Exception {
        FuseUring.declineForTest = false;
        if (mount != null) {
            mount.unmount();
            assertThat(mount.awaitUnmounted(Duration.ofSeconds(60))).as("server stopped after unmount").isTrue();
        }
        assertThat(uringThreads()).as("io_uring workers left running").isZero();
    }

    private FuseMount mount(FuseOptions.IoUringMode mode) throws IOException {
        mount = FuseMount.mount(new MemoryVfs(), mnt, FuseOptions.builder().fsName("memvfs").threads(4).ioUring(mode)
                .build());
        return mount;
    }

    private static long uringThreads() throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            long n = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().contains("-uring-q") && t.isAlive()).count();
            if (n == 0) {
                return 0;
            }
            Thread.sleep(50);
        }
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().contains("-uring-q")).count();
    }

    @Test
    void refused_registration_falls_back_to_dev_fuse_and_serves_everything_there() throws Exception {
        FuseUring.declineForTest = true;
        mount(FuseOptions.IoUringMode.AUTO);
        sh(mnt, "mkdir d && seq 1 20000 > d/f && cp d/f d/g");
        assertThat(sh(mnt, "cmp d/f d/g && wc -l < d/g").trim()).isEqualTo("20000");
        assertThat(mount.transport()).startsWith("/dev/fuse (io_uring: queue ")
                .contains("FUSE_IO_URING_CMD_REGISTER failed: ").contains("(errno 22)");
        Map<String, Long> byTransport = mount.transportCounts();
        assertThat(byTransport.get("io_uring")).isZero();
        assertThat(byTransport.get("/dev/fuse")).isGreaterThan(10);
    }

    @Test
    void on_fails_the_mount_with_the_reason_and_leaves_nothing_mounted() throws Exception {
        FuseUring.declineForTest = true;
        assertThatThrownBy(() -> mount(FuseOptions.IoUringMode.ON))
                .isInstanceOfSatisfying(FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP))
                .hasMessageContaining("FUSE over io_uring unavailable: queue ");
        mount = null;
        assertThat(Shell.run(tmp, "mountpoint -q mnt").exit()).as("still mounted").isNotZero();
    }

    @Test
    void off_serves_through_dev_fuse_only() throws Exception {
        mount(FuseOptions.IoUringMode.OFF);
        sh(mnt, "echo hi > f && cat f > /dev/null");
        assertThat(mount.transport()).isEqualTo("/dev/fuse (io_uring: --io-uring off)");
        assertThat(mount.transportCounts().get("io_uring")).isZero();
    }

    @Test
    void xattrs_of_every_size_go_through_the_ring() throws Exception {
        mount(FuseOptions.IoUringMode.ON);
        sh(mnt, "touch f");
        String big = "v".repeat(4000);
        sh(mnt, "setfattr -n user.small -v 1 f && setfattr -n user.big -v " + big + " f && setfattr -n user.gone -v x f"
                + " && setfattr -x user.gone f");
        assertThat(sh(mnt, "getfattr --only-values -n user.big f")).isEqualTo(big);
        assertThat(sh(mnt, "getfattr -d f").lines().filter(l -> l.startsWith("user.")).toList())
                .containsExactly("user.big=\"" + big + "\"", "user.small=\"1\"");
        assertThat(Shell.run(mnt, "getfattr -n user.gone f").err()).contains("No such attribute");
        assertThat(mount.transportCounts().get("io_uring")).isPositive();
    }

    @Test
    void o_direct_1MiB_transfers_fill_the_payload_buffer_both_ways() throws Exception {
        mount(FuseOptions.IoUringMode.ON);
        sh(tmp, "head -c 9437187 /dev/urandom > src"); // 9 MiB + 3 bytes
        sh(tmp, "dd if=src of=mnt/f bs=1M oflag=direct status=none && dd if=mnt/f of=back bs=1M iflag=direct status=none");
        sh(tmp, "cmp src back && cmp src mnt/f");
        sh(tmp, "dd if=src of=mnt/f bs=4096 seek=7 skip=7 count=300 conv=notrunc oflag=direct status=none");
        sh(tmp, "cmp src mnt/f");
    }

    @Test
    void the_kernels_cqe_counters_agree_with_the_requests_served_through_the_ring() throws Exception {
        mount(FuseOptions.IoUringMode.ON);
        sh(mnt, "for i in $(seq 1 50); do echo $i > f$i; done; cat f* > /dev/null; rm f*");
        long served = mount.transportCounts().get("io_uring");
        long cqes = 0;
        int rings = 0;
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile
                }
                if (!target.equals("anon_inode:[io_uring]")) {
                    continue;
                }
                rings++;
                for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo", fd.getFileName().toString()))) {
                    if (line.startsWith("CqTail:")) {
                        cqes += Long.parseLong(line.substring(7).trim());
                    }
                }
            }
        }
        int queues = FuseUring.possibleCpus();
        assertThat(rings).isEqualTo(queues * Math.max(1, (4 + queues - 1) / queues));
        // One CQE per request delivered; the last request of each ring may be in flight (counted, no CQE yet is
        // impossible: its CQE came first), so the kernel's count is at least ours.
        assertThat(served).isGreaterThan(150);
        assertThat(cqes).isGreaterThanOrEqualTo(served);
    }

    @Test
    void a_lazy_unmount_under_a_stream_of_writes_tears_the_rings_down() throws Exception {
        mount(FuseOptions.IoUringMode.ON);
        Process writer = new ProcessBuilder("bash", "-c", "exec 3>>mnt/f; while echo x >&3; do :; done")
                .directory(tmp.toFile()).start();
        // Wait (bounded) until the ring has served the writer's requests, instead of a fixed pause.
        for (int i = 0; i < 1000 && mount.transportCounts().get("io_uring") <= 10; i++) {
            Thread.sleep(20);
        }
        mount.unmount(); // busy: detached lazily, the connection lives while the writer holds its fd
        writer.destroyForcibly();
        writer.waitFor();
        assertThat(mount.awaitUnmounted(Duration.ofSeconds(60))).as("server stopped").isTrue();
        assertThat(uringThreads()).isZero();
        assertThat(mount.transportCounts().get("io_uring")).isGreaterThan(10);
        mount = null;
    }
}
