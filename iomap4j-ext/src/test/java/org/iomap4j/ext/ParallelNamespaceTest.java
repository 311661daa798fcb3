package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fs.Pins;
import org.iomap4j.vfs.DirEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-directory namespace locks (ExtNamei's lock order): a change in one directory does not wait for another
 * directory's lock, and a concurrent workload of creates, unlinks, hard links, mkdir/rmdir and renames (files
 * across directories, directories between parents, into and out of a shared directory) from several threads
 * leaves exactly what the union of the threads' models says — for our readdir, e2fsck -fn (link counts included)
 * and the kernel's ext4. Each thread owns its names, so its model is exact whatever the interleaving; readers list
 * and look up the shared directory meanwhile. The seed is printed; a hang fails through a watchdog (not a timing
 * assertion: it only bounds a deadlock).
 */
class ParallelNamespaceTest {
    @TempDir
    Path tmp;

    private static long ino(ExtFileSystem fs, String path) throws Exception {
        return fs.lookupPath(path).ino();
    }

    @Test
    void aChangeInOneDirectoryDoesNotWaitForAnother() throws Exception {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("p.img"), 32L << 20, Ext4TestImages.EXT4_NO_CSUM, "-b", "1024");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long x = fs.mkdir(fs.rootIno(), "x", 0755, 0, 0).ino();
            long y = fs.mkdir(fs.rootIno(), "y", 0755, 0, 0).ino();
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try (Pins pins = fs.icache.pins()) {
                ExtInode dx = fs.inodes.iget(pins, x);
                // Hold x's i_rwsem as a long change in x would.
                dx.rwsem.writeLock().lock();
                Future<?> inX;
                try {
                    inX = pool.submit(() -> fs.mknod(x, "blocked", 0100644, 0, 0, 0));
                    while (!dx.rwsem.hasQueuedThreads()) {
                        assertThat(inX).as("a create in x must wait for x's i_rwsem").isNotDone();
                        Thread.onSpinWait(); // the create in x waits on x's lock
                    }
                    // Changes and lookups elsewhere complete while x is locked.
                    Future<?> inY = pool.submit(() -> {
                        fs.mknod(y, "free", 0100644, 0, 0, 0);
                        fs.rename(y, "free", y, "free2", 0);
                        fs.mkdir(y, "sub", 0755, 0, 0);
                        fs.rmdir(y, "sub");
                        return fs.lookup(fs.rootIno(), "x").ino();
                    });
                    assertThat(inY.get(5, TimeUnit.MINUTES)).isEqualTo(x);
                    assertThat(inX).isNotDone();
                } finally {
                    dx.rwsem.writeLock().unlock();
                }
                inX.get(5, TimeUnit.MINUTES);
            } finally {
                pool.shutdownNow();
            }
            assertThat(fs.lookup(x, "blocked").ino()).isPositive();
        }
        Ext2Tools.assertFsckClean(img);
    }

    @Test
    void concurrentWorkloadMatchesTheThreadsModels() throws Exception {
        long seed = Long.getLong("iomap4j.parallel.seed", System.nanoTime());
        System.out.println("ParallelNamespaceTest seed " + seed + " (-Diomap4j.parallel.seed=" + seed + ")");
        int threads = 4;
        int ops = Integer.getInteger("iomap4j.parallel.ops", 2500);
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("w.img"), 96L << 20, Ext4TestImages.EXT4_NO_CSUM, "-b", "1024",
                "-N", "32768");
        // Expected entries per directory path: name → inode (null: a directory, inode checked by type).
        Map<String, Map<String, Long>> expected = new ConcurrentHashMap<>();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            fs.mkdir(fs.rootIno(), "shared", 0755, 0, 0);
            for (int t = 0; t < threads; t++) {
                long d = fs.mkdir(fs.rootIno(), "t" + t, 0755, 0, 0).ino();
                long a = fs.mkdir(d, "a", 0755, 0, 0).ino();
                fs.mkdir(d, "b", 0755, 0, 0);
                fs.mkdir(a, "m", 0755, 0, 0); // moves between a and b
            }
            ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
            AtomicBoolean stop = new AtomicBoolean();
            List<Future<Map<String, Map<String, Long>>>> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                workers.add(pool.submit(() -> worker(fs, tt, new Random(seed + tt), ops)));
            }
            Future<Integer> reader = pool.submit(() -> {
                int passes = 0;
                long shared = ino(fs, "/shared");
                while (!stop.get()) {
                    List<String> names = new ArrayList<>();
                    fs.readdir(shared, 0, (DirEntry e) -> names.add(e.name()));
                    for (int k = 0; k < names.size(); k += 7) {
                        try {
                            fs.forget(fs.lookup(shared, names.get(k)).ino(), 1);
                        } catch (FsException e) {
                            assertThat(e.errno()).isEqualTo(Errno.ENOENT); // removed meanwhile
                        }
                    }
                    passes++;
                }
                return passes;
            });
            try {
                for (Future<Map<String, Map<String, Long>>> w : workers) {
                    for (Map.Entry<String, Map<String, Long>> e : w.get(10, TimeUnit.MINUTES).entrySet()) {
                        expected.computeIfAbsent(e.getKey(), k -> new ConcurrentHashMap<>()).putAll(e.getValue());
                    }
                }
                stop.set(true);
                assertThat(reader.get(10, TimeUnit.MINUTES)).isPositive();
            } finally {
                stop.set(true);
                pool.shutdownNow();
            }
            for (Map.Entry<String, Map<String, Long>> e : expected.entrySet()) {
                Map<String, Long> listed = new TreeMap<>();
                fs.readdir(ino(fs, e.getKey()), 0, (DirEntry d) -> {
                    if (!d.name().equals(".") && !d.name().equals("..")) {
                        listed.put(d.name(), d.ino());
                    }
                    return true;
                });
                assertThat(listed).as("seed %d: %s", seed, e.getKey()).isEqualTo(new TreeMap<>(e.getValue()));
            }
        }
        Ext2Tools.assertFsckClean(img);
        String why = Ext4TestImages.ext4MountUnavailableReason();
        assumeTrue(why == null, "kernel cross-check skipped: " + why);
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, true)) {
            for (Map.Entry<String, Map<String, Long>> e : expected.entrySet()) {
                assertThat(Ext4TestImages.kernelListing(m.root.resolve(e.getKey().substring(1))))
                        .as("seed %d: kernel listing of %s", seed, e.getKey()).isEqualTo(new TreeMap<>(e.getValue()));
            }
        }
    }

    /**
     * One thread's workload on its own names: files in t/a, t/b and /shared (prefixed), hard links between them,
     * its directory t/.../m moving between t/a and t/b, subdirectories made and removed in /shared. Returns the
     * thread's final model: directory path → its entries there (name → inode).
     */
    private static Map<String, Map<String, Long>> worker(ExtFileSystem fs, int t, Random rnd, int ops)
            throws Exception {
        String p = "w" + t + "-";
        String[] dirs = {"/t" + t + "/a", "/t" + t + "/b", "/shared"};
        Map<String, Map<String, Long>> model = new TreeMap<>();
        for (String d : dirs) {
            model.put(d, new TreeMap<>());
        }
        long mIno = ino(fs, "/t" + t + "/a/m");
        String mAt = dirs[0];
        model.get(dirs[0]).put("m", mIno);
        model.put("/t" + t, new TreeMap<>(Map.of("a", ino(fs, dirs[0]), "b", ino(fs, dirs[1]))));
        int serial = 0;
        for (int i = 0; i < ops; i++) {
            String d = dirs[rnd.nextInt(dirs.length)];
            Map<String, Long> names = model.get(d);
            List<String> own = new ArrayList<>(names.keySet());
            own.remove("m");
            own.removeIf(n -> n.startsWith(p + "dir"));
            int k = rnd.nextInt(100);
            if (k < 35 || own.isEmpty()) {
                String n = p + (serial++);
                names.put(n, fs.mknod(ino(fs, d), n, 0100644, 0, 0, 0).ino());
                fs.forget(names.get(n), 1);
            } else if (k < 55) {
                String n = own.get(rnd.nextInt(own.size()));
                fs.unlink(ino(fs, d), n);
                names.remove(n);
            } else if (k < 75) {
                String n = own.get(rnd.nextInt(own.size()));
                String d2 = dirs[rnd.nextInt(dirs.length)];
                String n2 = p + (serial++);
                fs.rename(ino(fs, d), n, ino(fs, d2), n2, 0);
                model.get(d2).put(n2, names.remove(n));
            } else if (k < 82) {
                String n = own.get(rnd.nextInt(own.size()));
                String d2 = dirs[rnd.nextInt(dirs.length)];
                String n2 = p + (serial++);
                fs.forget(fs.link(names.get(n), ino(fs, d2), n2).ino(), 1);
                model.get(d2).put(n2, names.get(n));
            } else if (k < 90) {
                String to = mAt.equals(dirs[0]) ? dirs[1] : dirs[0];
                fs.rename(ino(fs, mAt), "m", ino(fs, to), "m", 0);
                model.get(mAt).remove("m");
                model.get(to).put("m", mIno);
                mAt = to;
            } else {
                Map<String, Long> shared = model.get("/shared");
                List<String> subdirs = new ArrayList<>(shared.keySet().stream().filter(n -> n.startsWith(p + "dir")).toList());
                if (subdirs.isEmpty() || rnd.nextBoolean()) {
                    String n = p + "dir" + (serial++);
                    shared.put(n, fs.mkdir(ino(fs, "/shared"), n, 0755, 0, 0).ino());
                    fs.forget(shared.get(n), 1);
                } else {
                    Collections.shuffle(subdirs, rnd);
                    fs.rmdir(ino(fs, "/shared"), subdirs.get(0));
                    shared.remove(subdirs.get(0));
                }
            }
        }
        return model;
    }
}
