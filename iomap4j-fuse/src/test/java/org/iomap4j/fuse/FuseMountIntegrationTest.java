package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iomap4j.fuse.Shell.sh;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.iomap4j.fuse.testing.MemoryVfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mounts a {@link MemoryVfs} through the kernel and drives it with ordinary shell tools and java.nio: the
 * kernel's VFS and coreutils are the oracle for POSIX behaviour; byte contents are compared with a model kept
 * on the host. Needs root and /dev/fuse (fails with a message otherwise). Always unmounts, also on failure.
 */
final class FuseMountIntegrationTest {
    private static final long SEED = Long.getLong("iomap4j.seed", 0x10_4a_95L);

    @TempDir
    Path tmp;
    private Path mnt;
    private MemoryVfs vfs;
    private FuseMount mount;

    @BeforeEach
    void mountMemoryVfs() throws IOException {
        Shell.requireRootAndFuse();
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        vfs = new MemoryVfs();
        mount = FuseMount.mount(vfs, mnt, FuseOptions.builder().fsName("memvfs").threads(4).build());
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            mount.unmount();
            assertThat(mount.awaitUnmounted(Duration.ofSeconds(60))).as("server stopped after unmount").isTrue();
            assertThat(mount.isMounted()).isFalse();
        }
    }

    /** Unmounts now (for tests that check the Vfs after the kernel let go). */
    private void unmountNow() throws Exception {
        mount.unmount();
        assertThat(mount.awaitUnmounted(Duration.ofSeconds(60))).isTrue();
    }

    private static byte[] random(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    @Test
    void mkdirP_ls_stat_statfs() throws Exception {
        sh(mnt, "mkdir -p a/b/c && touch a/b/c/f && echo hello > a/b/g");
        assertThat(sh(mnt, "ls a/b").lines().toList()).containsExactly("c", "g");
        assertThat(sh(mnt, "cat a/b/g")).isEqualTo("hello\n");
        assertThat(sh(mnt, "stat -c '%F %s %h' a/b a/b/g a/b/c/f").lines().toList())
                .containsExactly("directory 4096 3", "regular file 6 1", "regular empty file 0 1");
        assertThat(sh(mnt, "findmnt -n -o FSTYPE,SOURCE " + mnt).trim()).isEqualTo("fuse.iomap4j memvfs");
        assertThat(sh(mnt, "df -B4096 --output=size . | tail -1").trim()).isEqualTo(String.valueOf(1 << 20));
    }
}
