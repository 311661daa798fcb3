package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stress through the FUSE mount: 8 threads mixing file and directory operations on one iomapfs mount of ext2 —
 * each in a private directory (final state checked against a per-thread model) and all of them on shared files and
 * names (races whose outcome is not deterministic: only the errors Linux gives are allowed). Waits are bounded; on
 * a timeout the serving JVM's threads are dumped with jcmd. Afterwards the image is e2fsck-clean.
 */
class StressMountTest {
    private static final int THREADS = 8;
    private static final int OPS_PER_THREAD = Integer.getInteger("stress.ops", 1500);

    @TempDir
    Path tmp;

    @Test
    void eightThreads_privateAndShared_endEqualToModel_andClean() throws Exception {
        long seed = new Random().nextLong();
        Path img = tmp.resolve("t.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "256M").exit()).isZero();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (MountedImage m = MountedImage.start(img, mnt)) {
            Path shared = Files.createDirectory(mnt.resolve("shared"));
            for (int i = 0; i < 4; i++) {
                Files.write(shared.resolve("file" + i), new byte[64 << 10]);
            }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<Map<String, byte[]>>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int tt = t;
                results.add(pool.submit(() -> worker(mnt, shared, tt, new Random(seed + tt))));
            }
            pool.shutdown();
            if (!pool.awaitTermination(300, TimeUnit.SECONDS)) {
                String dump = Ext2Tools.run("jcmd", Long.toString(m.process.pid()), "Thread.print").stdout();
                pool.shutdownNow();
                throw new AssertionError("stress did not finish in 300 s (seed " + seed + "); iomapfs threads:\n" + dump);
            }
            for (int t = 0; t < THREADS; t++) {
                Map<String, byte[]> model = results.get(t).get();
                Path dir = mnt.resolve("t" + t);
                try (var s = Files.list(dir)) {
                    assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).as("seed " + seed + " thread " + t)
                            .containsExactlyElementsOf(model.keySet().stream().sorted().toList());
                }
                for (var e : model.entrySet()) {
                    assertThat(Files.readAllBytes(dir.resolve(e.getKey()))).as("seed " + seed + " " + e.getKey())
                            .isEqualTo(e.getValue());
                }
            }
            for (int i = 0; i < 4; i++) {
                assertThat(Files.size(shared.resolve("file" + i))).isBetween(0L, 256L << 10);
            }
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
    }

    /** One thread's ops; returns the model of its private directory. */
    private static Map<String, byte[]> worker(Path mnt, Path shared, int t, Random rnd) throws IOException {
        Path dir = Files.createDirectory(mnt.resolve("t" + t));
        Map<String, byte[]> model = new HashMap<>();
        for (int op = 0; op < OPS_PER_THREAD; op++) {
            String name = "f" + rnd.nextInt(24);
            Path p = dir.resolve(name);
            switch (rnd.nextInt(10)) {
                case 0, 1 -> { // write a new version of a private file
                    byte[] b = new byte[rnd.nextInt(200_000)];
                    rnd.nextBytes(b);
                    Files.write(p, b);
                    model.put(name, b);
                }
                case 2 -> { // overwrite in the middle
                    byte[] cur = model.get(name);
                    if (cur != null && cur.length > 10) {
                        int off = rnd.nextInt(cur.length);
                        byte[] patch = new byte[1 + rnd.nextInt(Math.min(20_000, cur.length - off))];
                        rnd.nextBytes(patch);
                        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                            ch.write(ByteBuffer.wrap(patch), off);
                        }
                        System.arraycopy(patch, 0, cur, off, patch.length);
                    }
                }
                case 3 -> { // unlink
                    if (model.remove(name) != null) {
                        Files.delete(p);
                    }
                }
                case 4 -> { // rename within the private directory
                    String to = "f" + rnd.nextInt(24);
                    if (model.containsKey(name) && !to.equals(name)) {
                        Files.move(p, dir.resolve(to), StandardCopyOption.REPLACE_EXISTING);
                        model.put(to, model.remove(name));
                    }
                }
                case 5 -> { // read back and compare
                    if (model.containsKey(name)) {
                        assertThat(Files.readAllBytes(p)).as(p.toString()).isEqualTo(model.get(name));
                    }
                }
                case 6 -> { // shared file: overlapping writes and truncates
                    Path s = shared.resolve("file" + rnd.nextInt(4));
                    try (FileChannel ch = FileChannel.open(s, StandardOpenOption.WRITE)) {
                        if (rnd.nextInt(8) == 0) {
                            ch.truncate(rnd.nextInt(128 << 10));
                        } else {
                            byte[] b = new byte[rnd.nextInt(32 << 10)];
                            rnd.nextBytes(b);
                            ch.write(ByteBuffer.wrap(b), rnd.nextInt(200 << 10));
                        }
                        if (rnd.nextInt(10) == 0) {
                            ch.force(false);
                        }
                    }
                }
                case 7 -> { // shared names: create/unlink races (EEXIST/ENOENT are the allowed outcomes)
                    Path s = shared.resolve("name" + rnd.nextInt(8));
                    try {
                        if (rnd.nextBoolean()) {
                            Files.createFile(s);
                        } else {
                            Files.delete(s);
                        }
                    } catch (FileAlreadyExistsException | NoSuchFileException expected) {
                        assertThat(expected.getFile()).isEqualTo(s.toString());
                    }
                }
                case 8 -> { // shared directories: mkdir/rmdir races
                    Path s = shared.resolve("dir" + rnd.nextInt(4));
                    try {
                        if (rnd.nextBoolean()) {
                            Files.createDirectory(s);
                        } else {
                            Files.delete(s);
                        }
                    } catch (FileAlreadyExistsException | NoSuchFileException | DirectoryNotEmptyException expected) {
                        assertThat(expected.getFile()).isEqualTo(s.toString());
                    }
                }
                default -> { // list and stat
                    try (var s = Files.list(shared)) {
                        assertThat(s.count()).isGreaterThanOrEqualTo(4);
                    }
                }
            }
        }
        return model;
    }
}
