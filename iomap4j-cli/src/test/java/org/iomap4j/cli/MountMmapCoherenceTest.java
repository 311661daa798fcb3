package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;

import com.sun.nio.file.ExtendedOpenOption;
import org.iomap4j.ext.Ext2Tools;
import org.iomap4j.internal.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fsx-style coherence through a real {@code iomapfs mount --writeback-cache} (the FUSE writeback cache): seeded random
 * buffered writes and reads, mmap writes and reads (MAP_SHARED, sometimes msync'd), O_DIRECT writes and reads,
 * truncates and punched holes on one file, three open descriptions at once; every read is compared with a byte
 * model, and after unmount the file in the image (debugfs dump) must equal the model. Catches stale mmap pages after
 * a direct write or truncate, writeback of stale pages over newer data, and a size the kernel and the server
 * disagree on. {@code -Dmmapfsx.ops=N} for a longer run, {@code -Dmmapfsx.seed=S} to replay.
 */
class MountMmapCoherenceTest {
    private static final int MAX_BYTES = 1 << 20;
    private static final int BLOCK = 4096;
    private static final int FALLOC_FL_KEEP_SIZE = 1;
    private static final int FALLOC_FL_PUNCH_HOLE = 2;

    @TempDir
    Path tmp;

    private final byte[] model = new byte[MAX_BYTES];
    private long size;

    @Test
    void mmapBufferedDirectTruncateAndPunch_agreeWithTheModel_withTheWritebackCache() throws Exception {
        long seed = Long.getLong("mmapfsx.seed", new Random().nextLong());
        int ops = Integer.getInteger("mmapfsx.ops", 3000);
        System.out.println("MountMmapCoherenceTest seed " + seed + " ops " + ops);
        Random rnd = new Random(seed);
        Path img = tmp.resolve("t.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "64M").exit()).isZero();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0", "--writeback-cache")) {
            Path f = mnt.resolve("fsx");
            int i = 0;
            String last = "";
            try (FileChannel buf = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
                    FileChannel dio = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE,
                            ExtendedOpenOption.DIRECT)) {
                int fd = Libc.open(f, Libc.O_RDWR);
                try {
                    for (; i < ops; i++) {
                        last = step(rnd, buf, dio, fd);
                    }
                } catch (AssertionError | Exception e) {
                    throw new AssertionError("seed " + seed + ", op " + i + " (" + last + "): " + e.getMessage(), e);
                } finally {
                    Libc.close(fd);
                }
            }
            assertThat(Files.size(f)).as("size seen through the mount, seed " + seed).isEqualTo(size);
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).isZero();
        }
        byte[] onDisk = Ext2Tools.debugfsDump(img, "/fsx", tmp);
        assertThat(onDisk.length).as("size in the image, seed " + seed).isEqualTo(size);
        assertThat(Arrays.equals(onDisk, 0, (int) size, model, 0, (int) size)).as("contents in the image, seed " + seed)
                .isTrue();
        Ext2Tools.assertFsckClean(img);
    }

    /**
     * The testkit's exerciser (buffered and O_DIRECT reads and writes, truncate, zero range, punch, SEEK_DATA/HOLE,
     * drop_caches) through a {@code --writeback-cache} mount, then e2fsck; ExerciseMountTest runs it without.
     */
    @Test
    void exerciserThroughAWritebackCachedMount_matchesTheModel() throws Exception {
        long seed = Long.getLong("exercise.seed", new Random().nextLong());
        long ops = Long.getLong("exercise.ops", 30_000);
        Path img = tmp.resolve("x.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "128M").exit()).isZero();
        Path mnt = Files.createDirectory(tmp.resolve("xmnt"));
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0", "--writeback-cache")) {
            Cli.Run r = Cli.run("exercise", "--dir", mnt.toString(), "--seed", Long.toString(seed), "--ops",
                    Long.toString(ops), "--max-size", "256K");
            assertThat(r.exit()).as("seed " + seed + "\n" + r).isZero();
            assertThat(r.out()).contains("passed: " + ops + " ops");
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
    }

    private String step(Random rnd, FileChannel buf, FileChannel dio, int fd) throws Exception {
        int op = rnd.nextInt(10);
        switch (op) {
            case 0, 1 -> {
                int len = 1 + rnd.nextInt(64 << 10);
                long pos = rnd.nextInt(MAX_BYTES - len);
                byte[] data = random(rnd, len);
                assertThat(buf.write(ByteBuffer.wrap(data), pos)).isEqualTo(len);
                apply(pos, data);
                return "write " + pos + "+" + len;
            }
            case 2 -> {
                if (size == 0) {
                    return "skip";
                }
                long pos = rnd.nextLong(size);
                int len = (int) Math.min(size - pos, 1 + rnd.nextInt(64 << 10));
                ByteBuffer dst = ByteBuffer.allocate(len);
                int n = buf.read(dst, pos);
                check("read", pos, Arrays.copyOf(dst.array(), Math.max(n, 0)), len);
                return "read " + pos + "+" + len;
            }
            case 3 -> {
                if (size == 0) {
                    return "skip";
                }
                long pos = rnd.nextLong(size);
                int len = (int) Math.min(size - pos, 1 + rnd.nextInt(32 << 10));
                byte[] data = random(rnd, len);
                boolean sync = rnd.nextBoolean();
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment map = buf.map(FileChannel.MapMode.READ_WRITE, pos, len, a);
                    MemorySegment.copy(data, 0, map, ValueLayout.JAVA_BYTE, 0, len);
                    if (sync) {
                        map.force();
                    }
                }
                apply(pos, data);
                return "mapwrite " + pos + "+" + len + (sync ? " msync" : "");
            }
            case 4 -> {
                if (size == 0) {
                    return "skip";
                }
                long pos = rnd.nextLong(size);
                int len = (int) Math.min(size - pos, 1 + rnd.nextInt(64 << 10));
                byte[] got = new byte[len];
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment map = buf.map(FileChannel.MapMode.READ_ONLY, pos, len, a);
                    MemorySegment.copy(map, ValueLayout.JAVA_BYTE, 0, got, 0, len);
                }
                check("mapread", pos, got, len);
                return "mapread " + pos + "+" + len;
            }
            case 5 -> {
                int blocks = 1 + rnd.nextInt(16);
                long pos = (long) rnd.nextInt(MAX_BYTES / BLOCK - blocks) * BLOCK;
                byte[] data = random(rnd, blocks * BLOCK);
                ByteBuffer src = ByteBuffer.allocateDirect(data.length + BLOCK).alignedSlice(BLOCK);
                src.put(data).flip();
                assertThat(dio.write(src, pos)).isEqualTo(data.length);
                apply(pos, data);
                return "dwrite " + pos + "+" + data.length;
            }
            case 6 -> {
                if (size == 0) {
                    return "skip";
                }
                long pos = rnd.nextLong((size + BLOCK - 1) / BLOCK) * BLOCK;
                int len = (1 + rnd.nextInt(16)) * BLOCK;
                ByteBuffer dst = ByteBuffer.allocateDirect(len + BLOCK).alignedSlice(BLOCK);
                dst.limit(len);
                int n = Math.max(dio.read(dst, pos), 0);
                byte[] got = new byte[n];
                dst.flip().get(got);
                check("dread", pos, got, (int) Math.min(len, Math.max(0, size - pos)));
                return "dread " + pos + "+" + len;
            }
            case 7 -> {
                long newSize = rnd.nextInt(MAX_BYTES);
                Libc.ftruncate(fd, newSize);
                if (newSize < size) {
                    Arrays.fill(model, (int) newSize, (int) size, (byte) 0);
                }
                size = newSize;
                return "truncate " + newSize;
            }
            case 8 -> {
                if (size == 0) {
                    return "skip";
                }
                long pos = rnd.nextLong(size);
                int len = 1 + rnd.nextInt(128 << 10);
                Libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len);
                Arrays.fill(model, (int) pos, (int) Math.min(size, pos + len), (byte) 0);
                return "punch " + pos + "+" + len;
            }
            default -> {
                buf.force(rnd.nextBoolean());
                return "fsync";
            }
        }
    }

    private static byte[] random(Random rnd, int len) {
        byte[] b = new byte[len];
        rnd.nextBytes(b);
        return b;
    }

    private void apply(long pos, byte[] data) {
        System.arraycopy(data, 0, model, (int) pos, data.length);
        size = Math.max(size, pos + data.length);
    }

    private void check(String what, long pos, byte[] got, int expectedLen) {
        assertThat(got.length).as(what + " at " + pos + ": bytes returned (size " + size + ")").isEqualTo(expectedLen);
        for (int k = 0; k < got.length; k++) {
            if (got[k] != model[(int) pos + k]) {
                throw new AssertionError(what + " at " + pos + ": byte " + (pos + k) + " is " + got[k] + ", model "
                        + model[(int) pos + k] + " (size " + size + ")");
            }
        }
    }
}
