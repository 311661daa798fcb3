package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Eight threads on one mounted ext2 (library level): each owns a directory of files whose final state is
 * deterministic (checked against a per-thread model), and all share a directory and two files they race on
 * (create/unlink/rename of shared names, overlapping writes, truncates, fsync, sync). Waits are bounded: a thread
 * that does not finish fails the test with a dump of every thread. Afterwards every private file reads back as
 * modelled, after a remount too, and e2fsck -fn finds the image clean.
 */
class StressExt2Test {
    private static final int THREADS = 8;
    private static final int OPS_PER_THREAD = 1500;
    @TempDir
    Path tmp;

    /** Errnos a racing shared-namespace op may legitimately get. */
    private static boolean raceErrno(FsException e) {
        return e.errno() == Errno.ENOENT || e.errno() == Errno.EEXIST || e.errno() == Errno.ENOTEMPTY
                || e.errno() == Errno.ENOSPC;
    }

    @Test
    void eightThreads_sharedAndPrivateFiles_noDeadlock_modelHolds_fsckClean() throws Exception {
        long seed = 0x428a2f98L;
        Path image = Ext2Tools.mke2fs(tmp.resolve("stress.img"), 64L << 20, "-b", "1024");
        ExtMountOptions opts = new ExtMountOptions(false, 2L << 20, 64 << 10, 1L << 20);
        List<Map<String, byte[]>> models = new ArrayList<>();
        List<Long> privDirs = new ArrayList<>();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        try (ExtFileSystem fs = ExtFileSystem.mount(image, opts)) {
            long root = fs.rootIno();
            long shared = fs.mkdir(root, "shared", 0755, 0, 0).ino();
            long[] sharedFiles = new long[2];
            for (int i = 0; i < 2; i++) {
                Vfs.Created c = fs.create(shared, "common" + i, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                sharedFiles[i] = c.attr().ino();
                fs.release(c.handle());
            }
            for (int t = 0; t < THREADS; t++) {
                privDirs.add(fs.mkdir(root, "t" + t, 0755, 0, 0).ino());
                models.add(new HashMap<>());
            }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int tid = t;
                futures.add(pool.submit(() -> {
                    Random rnd = new Random(seed + tid);
                    Map<String, byte[]> model = models.get(tid);
                    long dir = privDirs.get(tid);
                    for (int op = 0; op < OPS_PER_THREAD; op++) {
                        int k = rnd.nextInt(100);
                        String what = "thread " + tid + " op " + op + " kind " + k + " (seed " + seed + ")";
                        try {
                            if (k < 40) {
                                privateWrite(fs, dir, model, rnd);
                            } else if (k < 50) {
                                String name = "p" + rnd.nextInt(8);
                                if (model.containsKey(name)) {
                                    fs.unlink(dir, name);
                                    model.remove(name);
                                }
                            } else if (k < 70) {
                                long ino = sharedFiles[rnd.nextInt(2)];
                                FileHandle h = fs.open(ino, Vfs.O_RDWR);
                                try {
                                    byte[] d = new byte[1 + rnd.nextInt(8192)];
                                    Arrays.fill(d, (byte) tid);
                                    fs.write(h, rnd.nextInt(128 << 10), ByteBuffer.wrap(d));
                                    ByteBuffer dst = ByteBuffer.allocate(4096);
                                    fs.read(h, rnd.nextInt(128 << 10), dst);
                                    if (rnd.nextInt(10) == 0) {
                                        fs.fsync(h, false);
                                    }
                                } finally {
                                    fs.release(h);
                                }
                            } else if (k < 75) {
                                fs.setattr(sharedFiles[rnd.nextInt(2)], SetAttr.size(rnd.nextInt(128 << 10)));
                            } else if (k < 92) {
                                sharedNamespace(fs, shared, rnd);
                            } else if (k < 96) {
                                fs.sync();
                            } else {
                                List<String> names = new ArrayList<>();
                                fs.readdir(shared, 0, e -> names.add(e.name()));
                            }
                        } catch (FsException e) {
                            if (!(k >= 75 && k < 92 && raceErrno(e))) {
                                failures.add(what + ": " + e);
                                return null;
                            }
                        } catch (IOException | RuntimeException e) {
                            failures.add(what + ": " + e);
                            return null;
                        }
                    }
                    return null;
                }));
            }
            pool.shutdown();
            try {
                for (Future<?> f : futures) {
                    f.get(300, TimeUnit.SECONDS);
                }
            } catch (TimeoutException e) {
                StringBuilder dump = new StringBuilder("stress threads did not finish in 300 s (deadlock?):\n");
                for (ThreadInfo ti : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
                    dump.append(ti);
                }
                pool.shutdownNow();
                throw new AssertionError(dump.toString(), e);
            }
            assertThat(failures).as("seed %d", seed).isEmpty();
            checkPrivate(fs, privDirs, models);
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(image, opts)) {
            checkPrivate(fs, privDirs, models);
        }
        Ext2Tools.assertFsckClean(image);
        System.out.println("stress ext2 library seed " + seed + ": " + THREADS + " threads x " + OPS_PER_THREAD
                + " ops, no deadlock, private files match the model, e2fsck clean");
    }

    private static void privateWrite(ExtFileSystem fs, long dir, Map<String, byte[]> model, Random rnd)
            throws IOException {
        String name = "p" + rnd.nextInt(8);
        Vfs.Created c = fs.create(dir, name, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        try {
            byte[] old = model.getOrDefault(name, new byte[0]);
            int pos = rnd.nextInt(64 << 10);
            byte[] d = new byte[1 + rnd.nextInt(16 << 10)];
            rnd.nextBytes(d);
            fs.write(c.handle(), pos, ByteBuffer.wrap(d));
            byte[] now = Arrays.copyOf(old, Math.max(old.length, pos + d.length));
            System.arraycopy(d, 0, now, pos, d.length);
            model.put(name, now);
        } finally {
            fs.release(c.handle());
            fs.forget(c.attr().ino(), 1);
        }
    }

    private static void sharedNamespace(ExtFileSystem fs, long shared, Random rnd) throws IOException {
        String a = "s" + rnd.nextInt(6);
        String b = "s" + rnd.nextInt(6);
        switch (rnd.nextInt(5)) {
            case 0 -> {
                Vfs.Created c = fs.create(shared, a, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
                fs.write(c.handle(), 0, ByteBuffer.wrap(new byte[1 + rnd.nextInt(3000)]));
                fs.release(c.handle());
                fs.forget(c.attr().ino(), 1);
            }
            case 1 -> fs.unlink(shared, a);
            case 2 -> fs.rename(shared, a, shared, b, 0);
            case 3 -> fs.forget(fs.mkdir(shared, "d" + a, 0755, 0, 0).ino(), 1);
            default -> fs.rmdir(shared, "d" + a);
        }
    }

    private static void checkPrivate(ExtFileSystem fs, List<Long> dirs, List<Map<String, byte[]>> models)
            throws IOException {
        for (int t = 0; t < dirs.size(); t++) {
            List<String> names = new ArrayList<>();
            fs.readdir(dirs.get(t), 0, e -> {
                if (!e.name().equals(".") && !e.name().equals("..")) {
                    names.add(e.name());
                }
                return true;
            });
            assertThat(names).as("thread %d's directory", t).containsExactlyInAnyOrderElementsOf(models.get(t).keySet());
            for (Map.Entry<String, byte[]> e : models.get(t).entrySet()) {
                long ino = fs.lookup(dirs.get(t), e.getKey()).ino();
                FileHandle h = fs.open(ino, Vfs.O_RDONLY);
                ByteBuffer dst = ByteBuffer.allocate(e.getValue().length + 10);
                int n = 0;
                while (true) {
                    int k = fs.read(h, n, dst);
                    if (k <= 0) {
                        break;
                    }
                    n += k;
                }
                fs.release(h);
                fs.forget(ino, 1);
                assertThat(Arrays.copyOf(dst.array(), n)).as("thread %d file %s", t, e.getKey())
                        .isEqualTo(e.getValue());
            }
        }
    }
}
