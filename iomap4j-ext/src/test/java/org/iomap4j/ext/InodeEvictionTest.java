package org.iomap4j.ext;

import org.iomap4j.testkit.block.RecordingBlockDevice;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.ForwardingBlockDevice;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inode cache eviction in {@link ExtFileSystem}: the icache stays bounded when files are looked up and forgotten
 * (the FUSE FORGET pattern), a dirty inode is kept until sync made it clean, an inode an operation is using is
 * not evicted under it, and after every eviction the data and metadata read back from disk equal an in-memory
 * model; e2fsck -fn and debugfs are the on-disk oracles. Mounts are noatime so that a read leaves an inode clean
 * (under relatime the first read in a new second dirties it; Ext2AtimeTest covers that).
 */
class InodeEvictionTest {
    @TempDir
    Path tmp;

    @Test
    void fiveThousandFiles_lookupForget_icacheStaysBounded_dataReadsBackFromDisk_fsckClean() throws Exception {
        long seed = 0x5eed_e71cL;
        Random rnd = new Random(seed);
        int n = 5000;
        int pendingLimit = 256;
        Path img = Ext2Tools.mke2fs(tmp.resolve("many.img"), 128L << 20, "-b", "1024", "-N", "8192");
        byte[][] model = new byte[n][];
        long[] inos = new long[n];
        long dir;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withNoatime(true))) {
            fs.setPendingEvictionLimit(pendingLimit);
            long root = fs.rootIno();
            dir = fs.mkdir(root, "d", 0755, 0, 0).ino(); // keeps its reference until the end
            int maxCached = 0;
            for (int i = 0; i < n; i++) {
                // Mostly small files, every fifth one beyond the 12 direct blocks (an indirect block too).
                int size = rnd.nextInt(5) == 0 ? (12 << 10) + rnd.nextInt(8 << 10) : rnd.nextInt(3000);
                model[i] = new byte[size];
                rnd.nextBytes(model[i]);
                Vfs.Created c = fs.create(dir, "f" + i, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
                inos[i] = c.attr().ino();
                writeFully(fs, c.handle(), 0, model[i]);
                fs.release(c.handle());
                fs.forget(inos[i], 1);
                maxCached = Math.max(maxCached, fs.cachedInodeCount());
            }
            // Root, d, at most pendingLimit + 1 dirty forgotten files (the next create writes them back).
            assertThat(maxCached).as("largest icache while creating %d files (pending limit %d)", n, pendingLimit)
                    .isLessThanOrEqualTo(pendingLimit + 3);
            fs.sync();
            assertThat(fs.pendingEvictionCount()).as("pending evictions after sync").isZero();
            assertThat(fs.cachedInodeCount()).as("after sync only the root and d are cached").isEqualTo(2);
            assertThat(fs.isInodeCached(root)).isTrue();
            assertThat(fs.isInodeCached(dir)).isTrue();
            assertThat(fs.pageCache().cachedBytes()).as("evicted files' page caches are gone (d's stays)")
                    .isLessThan(1L << 20);

            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                order.add(i);
            }
            Collections.shuffle(order, rnd);
            for (int i : order) {
                InodeAttr a = fs.lookup(dir, "f" + i);
                assertThat(a.ino()).as("f%d's inode number", i).isEqualTo(inos[i]);
                assertThat(a.sizeBytes()).as("f%d's size read from disk", i).isEqualTo(model[i].length);
                assertSameBytes(readAll(fs, a.ino()), model[i], String.format("f%d's data read from disk", i));
                fs.forget(a.ino(), 1);
                assertThat(fs.isInodeCached(a.ino())).as("f%d evicted at its last forget (clean)", i).isFalse();
            }
            assertThat(fs.cachedInodeCount()).isEqualTo(2);

            // The directory goes too once forgotten, with its page cache and index; a new lookup rebuilds both.
            fs.forget(dir, 1);
            assertThat(fs.isInodeCached(dir)).as("d evicted at its last forget").isFalse();
            assertThat(fs.pageCache().cachedBytes()).as("d's page cache went with it").isLessThan(64L << 10);
            assertThat(fs.lookup(root, "d").ino()).isEqualTo(dir);
            assertSameBytes(readAll(fs, fs.lookup(dir, "f4321").ino()), model[4321], "file data");
            fs.forget(inos[4321], 1);
            fs.forget(dir, 1);
        }
        Ext2Tools.assertFsckClean(img);
        for (int k = 0; k < 12; k++) {
            int i = rnd.nextInt(n);
            assertSameBytes(Ext2Tools.debugfsDump(img, "/d/f" + i, tmp), model[i], "debugfs dump of /d/f" + i);
        }
        System.out.println("inode eviction: " + n + " files created/forgotten/read back (seed " + seed
                + "), icache at most " + (pendingLimit + 3) + ", e2fsck clean");
    }

    @Test
    void dirtyAtForget_staysCachedWithoutIo_untilSyncEvictsIt_thenDataAndMetadataComeFromDisk() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("dirty.img"), 32L << 20, "-b", "4096");
        byte[] data = new byte[40_000];
        new Random(11).nextBytes(data);
        long ino;
        try (FileBlockDevice file = FileBlockDevice.open(img, false)) {
            RecordingBlockDevice dev = new RecordingBlockDevice(file);
            try (ExtFileSystem fs = ExtFileSystem.mount(dev, ExtMountOptions.defaults().withNoatime(true))) {
                long root = fs.rootIno();
                Vfs.Created c = fs.create(root, "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                ino = c.attr().ino();
                writeFully(fs, c.handle(), 0, data);
                fs.release(c.handle());
                fs.setattr(ino, SetAttr.mode(0600)); // metadata-only change, not yet on disk either

                dev.clear();
                fs.forget(ino, 1);
                assertThat(dev.trace()).as("forget of a dirty inode does no I/O").isEmpty();
                assertThat(fs.isInodeCached(ino)).as("dirty at forget: not evicted").isTrue();
                assertThat(fs.pendingEvictionCount()).isEqualTo(1);
                assertSameBytes(readAll(fs, ino), data, "data intact before sync");
                InodeAttr before = fs.getattr(ino);
                assertThat(before.mode() & 07777).isEqualTo(0600);
                assertThat(fs.isInodeCached(ino)).as("still dirty after reading it").isTrue();

                fs.sync();
                assertThat(fs.isInodeCached(ino)).as("evicted by sync once clean").isFalse();
                assertThat(fs.pendingEvictionCount()).isZero();

                List<Extent> extents = fs.mapExtents(ino);
                assertThat(extents).isNotEmpty();
                dev.clear();
                InodeAttr after = fs.getattr(ino);
                assertThat(after).as("attributes re-read from the inode table").isEqualTo(before);
                assertSameBytes(readAll(fs, ino), data, "data re-read after eviction");
                for (Extent e : extents) {
                    assertThat(dev.trace()).as("a device read of the data at %d", e.physicalBytes())
                            .anyMatch(r -> !r.write() && r.devAddrBytes() < e.physicalBytes() + e.lengthBytes()
                                    && r.devAddrBytes() + r.lengthBytes() > e.physicalBytes());
                }
            }
        }
        Ext2Tools.assertFsckClean(img);
        assertSameBytes(Ext2Tools.debugfsDump(img, "/f", tmp), data, "file data");
        assertThat(Ext2Tools.debugfs(img, "stat /f").ok().stdout()).contains("Mode:  0600");
    }

    /**
     * The FUSE pattern without sync (a /dev/fuse mount never gets SYNCFS): the kernel forgets many dirty inodes
     * and sends nothing else. Forget does no I/O itself but hands the write-back to the flusher thread, which
     * keeps the pending evictions (and so the icache) within the limit.
     */
    @Test
    void forgetStormOfDirtyInodes_withoutSyncOrOtherOperations_flusherKeepsPendingBounded() throws Exception {
        int n = 600;
        int limit = 64;
        Path img = Ext2Tools.mke2fs(tmp.resolve("storm.img"), 64L << 20, "-b", "1024");
        Random rnd = new Random(0x57024dL);
        byte[][] model = new byte[n][];
        long[] inos = new long[n];
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withNoatime(true))) {
            fs.setPendingEvictionLimit(limit);
            long root = fs.rootIno();
            for (int i = 0; i < n; i++) { // every file referenced, as by the kernel: nothing pending yet
                model[i] = new byte[1 + rnd.nextInt(5000)];
                rnd.nextBytes(model[i]);
                Vfs.Created c = fs.create(root, "f" + i, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                writeFully(fs, c.handle(), 0, model[i]);
                fs.release(c.handle());
                inos[i] = c.attr().ino();
            }
            assertThat(fs.pendingEvictionCount()).isZero();
            for (int i = 0; i < n; i++) {
                fs.forget(inos[i], 1); // all dirty: pending, written back by the flusher when over the limit
            }
            fs.awaitPendingWriteback();
            assertThat(fs.pendingEvictionCount()).as("pending after %d forgets, limit %d", n, limit)
                    .isLessThanOrEqualTo(limit);
            assertThat(fs.cachedInodeCount()).as("root + pending").isLessThanOrEqualTo(limit + 1);
            for (int i = 0; i < n; i++) {
                assertSameBytes(readAll(fs, inos[i]), model[i], "f" + i + " after the forget storm");
            }
        }
        Ext2Tools.assertFsckClean(img);
        for (int i = 0; i < n; i += 97) {
            assertSameBytes(Ext2Tools.debugfsDump(img, "/f" + i, tmp), model[i], "debugfs dump of /f" + i);
        }
    }

    @Test
    void anInodeInUseByAnOperationIsNotEvictedUnderIt() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("pin.img"), 32L << 20, "-b", "1024");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withNoatime(true))) {
            long root = fs.rootIno();
            long d = fs.mkdir(root, "d", 0755, 0, 0).ino();
            Map<String, Long> inos = new HashMap<>();
            for (String name : List.of("a", "b", "c")) {
                Vfs.Created c = fs.create(d, name, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                writeFully(fs, c.handle(), 0, name.repeat(100).getBytes());
                fs.release(c.handle());
                inos.put(name, c.attr().ino());
            }
            fs.sync();
            long b = inos.get("b");
            boolean[] cachedDuringWalk = new boolean[1];
            fs.walkTree("/d", (path, attr) -> {
                if (path.equals("/d/b")) {
                    fs.forget(b, 1); // the last reference goes while the walk holds the inode
                    cachedDuringWalk[0] = fs.isInodeCached(b);
                }
            });
            assertThat(cachedDuringWalk[0]).as("not evicted while the walk used it").isTrue();
            assertThat(fs.isInodeCached(b)).as("evicted when the walk ended").isFalse();
            assertThat(fs.isInodeCached(inos.get("a"))).as("a is still referenced").isTrue();
            assertSameBytes(readAll(fs, b), "b".repeat(100).getBytes(), "file data");
            // A released handle's inode may be gone: using the handle again is EBADF, not a write into nothing.
            FileHandle h = fs.open(b, Vfs.O_RDWR);
            fs.release(h);
            assertThat(fs.isInodeCached(b)).isFalse();
            assertThat(errno(() -> fs.write(h, 0, ByteBuffer.wrap(new byte[10])))).isEqualTo(Errno.EBADF);
        }
        Ext2Tools.assertFsckClean(img);
    }

    /**
     * The race the pins exist for, made deterministic with a device gate: link(ino) has loaded the inode and is
     * stalled reading the target directory's block when another caller drops the inode's last reference. The
     * object must stay (else link would raise the link count of a stale copy and a reload would show 1).
     */
    @Test
    void forgetDuringAnOperationByNumber_doesNotEvictTheObjectItIsChanging() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("gate.img"), 32L << 20, "-b", "1024");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withNoatime(true))) {
            fs.forget(fs.mkdir(fs.rootIno(), "dir2", 0755, 0, 0).ino(), 1);
            Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
            fs.release(c.handle());
            fs.forget(c.attr().ino(), 1);
        }
        long dir2Block = Ext2Tools.debugfsBlocks(img, "/dir2")[0];
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (FileBlockDevice file = FileBlockDevice.open(img, false)) {
            ReadGate gate = new ReadGate(file, dir2Block * 1024, 1024);
            try (ExtFileSystem fs = ExtFileSystem.mount(gate, ExtMountOptions.defaults().withNoatime(true))) {
                long f = fs.lookup(fs.rootIno(), "f").ino();
                long dir2 = fs.lookup(fs.rootIno(), "dir2").ino();
                Future<InodeAttr> link;
                boolean cachedWhileLinking;
                try {
                    gate.close.countDown();
                    link = pool.submit(() -> fs.link(f, dir2, "g"));
                    assertThat(gate.arrived.await(60, TimeUnit.SECONDS))
                            .as("link reached the read of dir2's block").isTrue();
                    fs.forget(f, 1); // the last reference goes while link holds the inode
                    cachedWhileLinking = fs.isInodeCached(f);
                } finally {
                    gate.open.countDown();
                }
                assertThat(link.get(60, TimeUnit.SECONDS).nlink()).isEqualTo(2);
                assertThat(cachedWhileLinking).as("not evicted while link used it").isTrue();
                assertThat(fs.getattr(f).nlink()).as("the change went to the cached object").isEqualTo(2);
                fs.forget(f, 1); // the reference link() took
                assertThat(fs.isInodeCached(f)).as("dirty (link count): pending, not evicted").isTrue();
                fs.sync();
                assertThat(fs.isInodeCached(f)).as("evicted by sync once clean").isFalse();
                assertThat(fs.getattr(f).nlink()).as("link count re-read from disk").isEqualTo(2);
                fs.forget(dir2, 1);
            }
        } finally {
            pool.shutdownNow();
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "stat /dir2/g").ok().stdout()).contains("Links: 2");
    }

    /** Stalls device reads overlapping one byte range (once armed by {@link #close}) until {@link #open}. */
    private static final class ReadGate extends ForwardingBlockDevice {
        final CountDownLatch close = new CountDownLatch(1);
        final CountDownLatch arrived = new CountDownLatch(1);
        final CountDownLatch open = new CountDownLatch(1);
        private final long startBytes;
        private final long lengthBytes;

        ReadGate(BlockDevice inner, long startBytes, long lengthBytes) {
            super(inner);
            this.startBytes = startBytes;
            this.lengthBytes = lengthBytes;
        }

        private void maybeWait(long addr, long len) throws IOException {
            if (close.getCount() == 0 && addr < startBytes + lengthBytes && addr + len > startBytes) {
                arrived.countDown();
                try {
                    if (!open.await(120, TimeUnit.SECONDS)) {
                        throw new IOException("test gate never opened");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted at the test gate", e);
                }
            }
        }

        @Override
        public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
            maybeWait(devAddrBytes, dst.remaining());
            inner.read(devAddrBytes, dst);
        }

        @Override
        public void read(long devAddrBytes, MemorySegment dst) throws IOException {
            maybeWait(devAddrBytes, dst.byteSize());
            inner.read(devAddrBytes, dst);
        }

        @Override
        public CompletableFuture<Void> submit(Bio bio) {
            if (bio.op() == Bio.Op.READ) {
                try {
                    maybeWait(bio.devAddrBytes(), bio.lengthBytes());
                } catch (IOException e) {
                    return CompletableFuture.failedFuture(e);
                }
            }
            return inner.submit(bio);
        }
    }

    @Test
    void inodesReachedWithoutReference_keptInABoundedLru() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("lru.img"), 32L << 20, "-b", "1024");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withNoatime(true))) {
            fs.setUnusedInodeLimit(8);
            long d = fs.mkdir(fs.rootIno(), "d", 0755, 0, 0).ino();
            List<Long> inos = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                Vfs.Created c = fs.create(d, "f" + i, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                fs.release(c.handle());
                fs.forget(c.attr().ino(), 1);
                inos.add(c.attr().ino());
            }
            fs.sync();
            assertThat(fs.cachedInodeCount()).isEqualTo(2);
            for (int i = 0; i < 40; i++) {
                assertThat(fs.lookupPath("/d/f" + i).ino()).isEqualTo(inos.get(i)); // no reference taken
                assertThat(fs.cachedInodeCount()).as("root, d and at most 8 unused").isLessThanOrEqualTo(10);
            }
            for (int i = 0; i < 40; i++) {
                assertThat(fs.isInodeCached(inos.get(i))).as("f%d cached: one of the 8 most recent", i)
                        .isEqualTo(i >= 32);
            }
            // An unreferenced inode changed by number is written before it leaves the LRU, never lost.
            fs.setattr(inos.get(0), SetAttr.size(1234));
            for (int i = 1; i < 20; i++) {
                fs.getattr(inos.get(i));
            }
            assertThat(fs.isInodeCached(inos.get(0))).as("pushed out of the LRU, dirty: pending").isTrue();
            fs.sync();
            assertThat(fs.isInodeCached(inos.get(0))).isFalse();
            assertThat(fs.getattr(inos.get(0)).sizeBytes()).isEqualTo(1234);
        }
        Ext2Tools.assertFsckClean(img);
    }

    @Test
    void readOnlyMountEvictsToo() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("ro.img"), 32L << 20, "-b", "4096");
        byte[] data = new byte[9000];
        new Random(5).nextBytes(data);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withNoatime(true))) {
            Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
            writeFully(fs, c.handle(), 0, data);
            fs.release(c.handle());
            fs.forget(c.attr().ino(), 1);
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(img,
                ExtMountOptions.defaults().withNoatime(true).withReadOnly(true))) {
            for (int round = 0; round < 3; round++) {
                long ino = fs.lookup(fs.rootIno(), "f").ino();
                assertSameBytes(readAll(fs, ino), data, "file data");
                fs.forget(ino, 1);
                assertThat(fs.isInodeCached(ino)).as("round %d: evicted at forget on a read-only mount", round)
                        .isFalse();
            }
            assertThat(fs.cachedInodeCount()).isEqualTo(1);
        }
        Ext2Tools.assertFsckClean(img);
    }

    // ---------------------------------------------------------------- concurrency

    private static final int THREADS = 4;
    private static final int FILES_PER_THREAD = 60;
    private static final int OPS_PER_THREAD = 2500;
    private static final int HOT_FILES = 4;

    /**
     * Four threads on one directory of 240 files (half of all picks from 16 hot ones). Each thread owns 60 names
     * and is the only one to write,
     * truncate, unlink and re-create them (checked exactly against its model: contents through lookup+open and
     * sizes through getattr by number, i.e. without a reference), while every thread also looks up, forgets,
     * reads and stats the others' files, and syncs. Limits are tiny (8 unused inodes, 16 pending) so that
     * inodes are evicted and reloaded all the time under the racing operations.
     */
    @Test
    void fourThreads_lookupForgetWriteReadStatUnlink_modelHolds_fsckClean() throws Exception {
        long seed = Long.getLong("iomap4j.evictionSeed", 0x7f4a7c15L);
        Path img = Ext2Tools.mke2fs(tmp.resolve("race.img"), 64L << 20, "-b", "1024");
        ExtMountOptions opts = new ExtMountOptions(false, 8L << 20, 64 << 10, 2L << 20).withNoatime(true);
        List<Map<String, byte[]>> models = new ArrayList<>();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        long dir;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, opts)) {
            fs.setUnusedInodeLimit(8);
            fs.setPendingEvictionLimit(16);
            dir = fs.mkdir(fs.rootIno(), "w", 0755, 0, 0).ino();
            Random init = new Random(seed);
            for (int t = 0; t < THREADS; t++) {
                Map<String, byte[]> model = new HashMap<>();
                for (int k = 0; k < FILES_PER_THREAD; k++) {
                    byte[] d = new byte[init.nextInt(6000)];
                    init.nextBytes(d);
                    String name = name(t, k);
                    Vfs.Created c = fs.create(dir, name, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
                    writeFully(fs, c.handle(), 0, d);
                    fs.release(c.handle());
                    fs.forget(c.attr().ino(), 1);
                    model.put(name, d);
                }
                models.add(model);
            }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int tid = t;
                futures.add(pool.submit(() -> {
                    new Worker(fs, dir, tid, seed, models.get(tid), failures).run();
                    return null;
                }));
            }
            pool.shutdown();
            try {
                for (Future<?> f : futures) {
                    f.get(300, TimeUnit.SECONDS);
                }
            } catch (TimeoutException e) {
                StringBuilder dump = new StringBuilder("eviction race threads did not finish in 300 s (seed " + seed
                        + ", deadlock?):\n");
                for (ThreadInfo ti : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
                    dump.append(ti);
                }
                pool.shutdownNow();
                throw new AssertionError(dump.toString(), e);
            }
            assertThat(failures).as("seed %d (rerun with -Diomap4j.evictionSeed=%d)", seed, seed).isEmpty();
            fs.sync();
            assertThat(fs.pendingEvictionCount()).as("seed %d: pending after the final sync", seed).isZero();
            assertThat(fs.cachedInodeCount()).as("seed %d: root, w and at most 8 unused inodes", seed)
                    .isLessThanOrEqualTo(2 + 8);
            checkAgainstModels(fs, dir, models, seed);
        }
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, opts.withReadOnly(true))) {
            checkAgainstModels(fs, dir, models, seed);
        }
        System.out.println("inode eviction race seed " + seed + ": " + THREADS + " threads x " + OPS_PER_THREAD
                + " ops, models hold, e2fsck clean");
    }

    private static String name(int owner, int k) {
        return "t" + owner + "f" + k;
    }

    /** One thread of the race test; its own files are modelled exactly, the others' only exercised. */
    private static final class Worker {
        private final ExtFileSystem fs;
        private final long dir;
        private final int tid;
        private final long seed;
        private final Map<String, byte[]> model;
        private final ConcurrentLinkedQueue<String> failures;
        private final Random rnd;
        /** Own name → its inode number (changes when the name is unlinked and created again). */
        private final Map<String, Long> ownIno = new HashMap<>();
        /** Lookup references this thread holds, by inode number. */
        private final Map<Long, Long> refs = new HashMap<>();

        Worker(ExtFileSystem fs, long dir, int tid, long seed, Map<String, byte[]> model,
                ConcurrentLinkedQueue<String> failures) throws IOException {
            this.fs = fs;
            this.dir = dir;
            this.tid = tid;
            this.seed = seed;
            this.model = model;
            this.failures = failures;
            this.rnd = new Random(seed * 31 + tid);
            for (String name : model.keySet()) {
                ownIno.put(name, fs.lookupPath("/w/" + name).ino());
            }
        }

        void run() {
            String what = "start";
            try {
                for (int op = 0; op < OPS_PER_THREAD; op++) {
                    int k = rnd.nextInt(100);
                    // Half of the picks go to a hot set of 4 files per thread, so that threads collide on
                    // the same inodes often (an eviction racing a by-number operation on the same inode).
                    String own = name(tid, pick());
                    String any = name(rnd.nextInt(THREADS), pick());
                    what = "seed " + seed + " thread " + tid + " op " + op + " kind " + k + " own " + own + " any "
                            + any;
                    step(k, own, any);
                }
                what = "seed " + seed + " thread " + tid + " final forgets";
                for (Map.Entry<Long, Long> e : refs.entrySet()) {
                    fs.forget(e.getKey(), e.getValue());
                }
                refs.clear();
            } catch (IOException | RuntimeException | AssertionError e) {
                failures.add(what + ": " + e);
                e.printStackTrace();
            }
        }

        private int pick() {
            return rnd.nextBoolean() ? rnd.nextInt(HOT_FILES) : rnd.nextInt(FILES_PER_THREAD);
        }

        private void step(int k, String own, String any) throws IOException {
            if (k < 18) { // lookup any file and keep the reference
                try {
                    long ino = fs.lookup(dir, any).ino();
                    refs.merge(ino, 1L, Long::sum);
                } catch (FsException e) {
                    expectRaceErrno(e, any);
                }
            } else if (k < 32) { // forget some references
                if (!refs.isEmpty()) {
                    List<Long> held = new ArrayList<>(refs.keySet());
                    long ino = held.get(rnd.nextInt(held.size()));
                    long have = refs.get(ino);
                    long drop = rnd.nextBoolean() ? have : 1 + rnd.nextInt((int) Math.min(have, 3));
                    fs.forget(ino, drop);
                    if (have == drop) {
                        refs.remove(ino);
                    } else {
                        refs.put(ino, have - drop);
                    }
                }
            } else if (k < 52) {
                writeOwn(own);
            } else if (k < 64) { // read own through lookup + open: exact
                byte[] want = model.get(own);
                if (want != null) {
                    long ino = fs.lookup(dir, own).ino();
                    try {
                        assertThat(ino).isEqualTo(ownIno.get(own));
                        assertSameBytes(readAll(fs, ino), want, String.format("%s's data", own));
                    } finally {
                        fs.forget(ino, 1);
                    }
                }
            } else if (k < 72) { // read and stat another thread's file (racing with its owner)
                try {
                    long ino = fs.lookup(dir, any).ino();
                    try {
                        InodeAttr a = fs.getattr(ino);
                        assertThat(a.isRegular()).isTrue();
                        FileHandle h = fs.open(ino, Vfs.O_RDONLY);
                        try {
                            fs.read(h, rnd.nextInt(4096), ByteBuffer.allocate(4096));
                        } finally {
                            fs.release(h);
                        }
                    } finally {
                        fs.forget(ino, 1);
                    }
                } catch (FsException e) {
                    expectRaceErrno(e, any);
                }
            } else if (k < 82) { // stat own by number, without a reference: may reload an evicted inode
                byte[] want = model.get(own);
                if (want != null) {
                    InodeAttr a = fs.getattr(ownIno.get(own));
                    assertThat(a.sizeBytes()).as("%s's size by number", own).isEqualTo(want.length);
                    assertThat(a.nlink()).isEqualTo(1);
                }
            } else if (k < 87) {
                if (model.containsKey(own)) {
                    fs.unlink(dir, own);
                    model.remove(own);
                    ownIno.remove(own);
                }
            } else if (k < 92) { // truncate own by number
                byte[] old = model.get(own);
                if (old != null) {
                    int size = rnd.nextInt(8000);
                    fs.setattr(ownIno.get(own), SetAttr.size(size));
                    model.put(own, Arrays.copyOf(old, size));
                }
            } else if (k < 95) {
                fs.sync();
            } else {
                Set<String> listed = new HashSet<>();
                fs.readdir(dir, 0, e -> {
                    if (e.name().startsWith("t" + tid + "f")) {
                        listed.add(e.name());
                    }
                    return true;
                });
                assertThat(listed).as("thread %d's names in the directory", tid).isEqualTo(model.keySet());
            }
        }

        private void writeOwn(String own) throws IOException {
            byte[] old = model.get(own);
            byte[] d = new byte[1 + rnd.nextInt(3000)];
            rnd.nextBytes(d);
            if (old == null) {
                Vfs.Created c = fs.create(dir, own, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
                try {
                    writeFully(fs, c.handle(), 0, d);
                } finally {
                    fs.release(c.handle());
                    fs.forget(c.attr().ino(), 1);
                }
                model.put(own, d);
                ownIno.put(own, c.attr().ino());
                return;
            }
            int pos = rnd.nextInt(old.length + 2000);
            boolean byNumber = rnd.nextBoolean(); // open by number without a reference, or after a lookup
            long ino = byNumber ? ownIno.get(own) : fs.lookup(dir, own).ino();
            try {
                FileHandle h = fs.open(ino, Vfs.O_RDWR);
                try {
                    writeFully(fs, h, pos, d);
                    if (rnd.nextInt(8) == 0) {
                        fs.fsync(h, false);
                    }
                } finally {
                    fs.release(h);
                }
            } finally {
                if (!byNumber) {
                    fs.forget(ino, 1);
                }
            }
            byte[] now = Arrays.copyOf(old, Math.max(old.length, pos + d.length));
            System.arraycopy(d, 0, now, pos, d.length);
            model.put(own, now);
        }

        /** Another thread's file may be unlinked (ENOENT) at any time by its owner. */
        private void expectRaceErrno(FsException e, String name) throws FsException {
            if (e.errno() != Errno.ENOENT || name.startsWith("t" + tid + "f") && model.containsKey(name)) {
                throw e;
            }
        }
    }

    private static void checkAgainstModels(ExtFileSystem fs, long dir, List<Map<String, byte[]>> models, long seed)
            throws IOException {
        Set<String> listed = new HashSet<>();
        fs.readdir(dir, 0, e -> {
            if (!e.name().equals(".") && !e.name().equals("..")) {
                listed.add(e.name());
            }
            return true;
        });
        Set<String> want = new HashSet<>();
        for (Map<String, byte[]> m : models) {
            want.addAll(m.keySet());
        }
        assertThat(listed).as("seed %d: directory listing", seed).isEqualTo(want);
        for (Map<String, byte[]> m : models) {
            for (Map.Entry<String, byte[]> e : m.entrySet()) {
                long ino = fs.lookup(dir, e.getKey()).ino();
                assertSameBytes(readAll(fs, ino), e.getValue(), String.format("seed %d: %s", seed, e.getKey()));
                fs.forget(ino, 1);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Byte-array equality that reports sizes and the first difference instead of printing both arrays. */
    private static void assertSameBytes(byte[] got, byte[] want, String what) {
        if (!Arrays.equals(got, want)) {
            throw new AssertionError(what + ": read " + got.length + " bytes, expected " + want.length
                    + ", first difference at byte " + Arrays.mismatch(got, want));
        }
    }

    private static void writeFully(ExtFileSystem fs, FileHandle h, long pos, byte[] data) throws IOException {
        ByteBuffer src = ByteBuffer.wrap(data);
        while (src.hasRemaining()) {
            int n = fs.write(h, pos + src.position(), src);
            if (n <= 0) {
                throw new AssertionError("write returned " + n);
            }
        }
    }

    /** The whole file, read through a handle opened by number (no lookup reference). */
    private static byte[] readAll(ExtFileSystem fs, long ino) throws IOException {
        FileHandle h = fs.open(ino, Vfs.O_RDONLY);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(16 << 10);
            long pos = 0;
            while (true) {
                buf.clear();
                int n = fs.read(h, pos, buf);
                if (n <= 0) {
                    return out.toByteArray();
                }
                out.write(buf.array(), 0, n);
                pos += n;
            }
        } finally {
            fs.release(h);
        }
    }

    @FunctionalInterface
    private interface Action {
        void run() throws IOException;
    }

    private static Errno errno(Action a) throws IOException {
        try {
            a.run();
        } catch (FsException e) {
            return e.errno();
        }
        throw new AssertionError("expected an FsException");
    }
}
