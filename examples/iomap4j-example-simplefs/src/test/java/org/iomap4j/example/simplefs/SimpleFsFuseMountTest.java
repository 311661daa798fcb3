package org.iomap4j.example.simplefs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Random;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.fuse.FuseMount;
import org.iomap4j.fuse.FuseOptions;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.exercise.ExerciseConfig;
import org.iomap4j.testkit.exercise.ExerciseTarget.Capability;
import org.iomap4j.testkit.exercise.Exerciser;
import org.iomap4j.testkit.exercise.PathTarget;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * simplefs mounted for real through iomap4j's FUSE server and driven by the kernel: coreutils (cp, cmp, ls, stat),
 * a shared mmap written through the mount, and the exerciser through the mount point (PathTarget: buffered and
 * O_DIRECT reads and writes, truncate, fsync, fallocate punch/zero, SEEK_DATA/SEEK_HOLE; remount = unmount, close,
 * mount again). Needs root and /dev/fuse: fails with a message otherwise, as the FUSE module's mount tests do.
 */
class SimpleFsFuseMountTest {
    @TempDir
    Path tmp;
    private Path image;
    private Path mnt;
    private SimpleFs fs;
    private FuseMount mount;

    @BeforeEach
    void mkfsAndMount() throws IOException {
        assertThat(Path.of("/dev/fuse")).as("/dev/fuse (modprobe fuse)").exists();
        assertThat(run("id -u").trim()).as("FUSE mount(2) needs root").isEqualTo("0");
        image = tmp.resolve("simplefs.img");
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (FileBlockDevice dev = FileBlockDevice.create(image, 64L << 20)) {
            SimpleFs.mkfs(dev, 128);
        }
        mountNow();
    }

    private void mountNow() throws IOException {
        fs = SimpleFs.mount(FileBlockDevice.open(image, false), PageCacheConfig.of(4L << 20, 64 << 10));
        mount = FuseMount.mount(fs, mnt, FuseOptions.builder().fsName("simplefs").threads(2).build());
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            mount.unmount();
            assertThat(mount.awaitUnmounted(Duration.ofSeconds(60))).isTrue();
            fs.close();
            mount = null;
        }
    }

    private void remount() throws IOException {
        try {
            unmount();
        } catch (Exception e) {
            throw new IOException(e);
        }
        mountNow();
    }

    private String run(String script) throws IOException {
        Process p = new ProcessBuilder("bash", "-c", script).directory(tmp.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            assertThat(p.waitFor()).as("exit of `%s`: %s", script, out).isZero();
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
        return out;
    }

    @Test
    void coreutilsAndMmapThroughTheMountSurviveARemount() throws Exception {
        byte[] data = new byte[3 << 20];
        new Random(42).nextBytes(data);
        Files.write(tmp.resolve("src.bin"), data);
        run("cp src.bin mnt/a.bin && cmp src.bin mnt/a.bin && echo hello > mnt/b.txt && truncate -s 10M mnt/sparse");
        assertThat(run("ls mnt").lines().toList()).containsExactly("a.bin", "b.txt", "sparse");
        assertThat(run("stat -c %b mnt/sparse").trim()).as("a hole takes no blocks").isEqualTo("0");
        // A shared mapping, unmapped when the arena closes (a MappedByteBuffer would keep the mount busy).
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(mnt.resolve("sparse"),
                StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment m = ch.map(FileChannel.MapMode.READ_WRITE, 4096, 8192, arena);
            MemorySegment.copy(MemorySegment.ofArray("mapped".getBytes(StandardCharsets.US_ASCII)), 0, m, 0, 6);
            m.force();
        }
        remount();
        run("cmp src.bin mnt/a.bin");
        assertThat(run("cat mnt/b.txt")).isEqualTo("hello\n");
        byte[] got = new byte[6];
        try (FileChannel ch = FileChannel.open(mnt.resolve("sparse"))) {
            ch.read(ByteBuffer.wrap(got), 4096);
            assertThat(ch.size()).isEqualTo(10 << 20);
        }
        assertThat(new String(got, StandardCharsets.US_ASCII)).isEqualTo("mapped");
        assertThat(run("stat -c %b mnt/sparse").trim()).as("one data block and its map block").isEqualTo("16");
    }

    @Test
    void exerciserThroughTheMount() throws Exception {
        long seed = Long.getLong("simplefs.seed", System.nanoTime());
        System.out.println("SimpleFsFuseMountTest seed " + seed);
        ExerciseConfig cfg = ExerciseConfig.of(seed, Long.getLong("exercise.ops", 2_000)).withMaxSize(2L << 20);
        Exerciser.Result r;
        try (PathTarget t = new PathTarget(mnt.resolve("exercised"), SimpleFs.BLOCK, EnumSet.allOf(Capability.class),
                this::remount, false)) {
            r = new Exerciser(t, cfg).run();
            System.out.println("simplefs via FUSE seed " + seed + " capabilities " + t.capabilities() + ": " + r);
            assertThat(t.capabilities()).contains(Capability.SEEK_DATA_HOLE, Capability.PUNCH_HOLE,
                    Capability.ZERO_RANGE, Capability.REMOUNT);
        }
        assertThat(r.ops()).isEqualTo(cfg.ops());
    }
}
