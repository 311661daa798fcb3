package org.iomap4j.coretest.pagecache;

import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The memory budget, background writeback, and concurrent writers/readers/writeback/reclaim on one file. */
class CacheBudgetAndConcurrencyTest {

    @Test
    void writingEightTimesTheBudgetStaysUnderBudget() throws IOException {
        long budget = 1 << 20;
        int maxFolio = 64 << 10;
        try (MemoryBlockDevice dev = new MemoryBlockDevice(64L << 20, 512);
                PageCache cache = new PageCache(new PageCacheConfig(budget, maxFolio, budget / 2, 0))) {
            TestFs fs = new TestFs(dev, 4096, cache);
            TestInode f = fs.create(TestFs.Mode.DELALLOC);
            Random rnd = new Random(20);
            byte[] chunk = new byte[48 << 10];
            long slack = 2L * maxFolio;
            long peak = 0;
            long total = 8 * budget;
            List<byte[]> written = new ArrayList<>();
            for (long pos = 0; pos < total; pos += chunk.length) {
                rnd.nextBytes(chunk);
                written.add(chunk.clone());
                fs.write(f, pos, ByteBuffer.wrap(chunk));
                peak = Math.max(peak, cache.cachedBytes());
                assertThat(cache.cachedBytes()).as("cached bytes after writing to %d", pos)
                        .isLessThanOrEqualTo(budget + slack);
            }
            System.out.println("8x budget write: budget " + budget + " B, peak cached " + peak + " B");
            fs.fsync(f, null);
            // Read it all back (cold, through readahead) under the same budget.
            long pos = 0;
            ByteBuffer dst = ByteBuffer.allocate(chunk.length);
            for (byte[] expect : written) {
                dst.clear();
                assertThat(fs.read(f, pos, dst)).isEqualTo(expect.length);
                assertThat(dst.array()).isEqualTo(expect);
                assertThat(cache.cachedBytes()).isLessThanOrEqualTo(budget + slack);
                pos += expect.length;
            }
        }
    }

    @Test
    void backgroundWritebackWritesOldDirtyData() throws Exception {
        try (MemoryBlockDevice dev = new MemoryBlockDevice(16L << 20, 512);
                PageCache cache = new PageCache(new PageCacheConfig(8L << 20, 65536, 4L << 20, 20))) {
            TestFs fs = new TestFs(dev, 4096, cache);
            TestInode f = fs.create(TestFs.Mode.NEW);
            CountDownLatch written = new CountDownLatch(1);
            fs.onIoend(io -> written.countDown());
            byte[] data = new byte[10000];
            new Random(21).nextBytes(data);
            fs.write(f, 0, ByteBuffer.wrap(data));
            // No fsync: only the background thread can write it.
            assertThat(written.await(30, TimeUnit.SECONDS)).as("background writeback ran").isTrue();
            ByteBuffer disk = ByteBuffer.allocate(10000);
            dev.read(f.pblkOf(0) * 4096, disk);
            assertThat(disk.array()).isEqualTo(data);
        }
    }

    @ParameterizedTest
    @EnumSource(value = TestFs.Mode.class, names = {"NEW", "UNWRITTEN", "DELALLOC", "COW"})
    void concurrentWritersReadersWritebackAndReclaimEndEqualToModel(TestFs.Mode mode) throws Exception {
        long seed = Long.getLong("iomap4j.seed", new Random().nextLong());
        System.out.println("concurrency test " + mode + " seed=" + seed);
        final int fileSize = 512 << 10;
        final int stripe = 1000; // unaligned stripes: threads share blocks and folios
        final int writers = 4;
        final int opsPerWriter = 1500;
        byte[] model = new byte[fileSize];
        try (MemoryBlockDevice dev = new MemoryBlockDevice(256L << 20, 512);
                PageCache cache = new PageCache(new PageCacheConfig(512L << 10, 16384, 128L << 10, 5))) {
            TestFs fs = new TestFs(dev, 1024, cache);
            TestInode f = fs.create(mode);
            fs.truncate(f, fileSize);
            ExecutorService pool = Executors.newFixedThreadPool(writers + 2);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong flusherPasses = new AtomicLong();
            List<Future<?>> futures = new ArrayList<>();
            try {
                for (int w = 0; w < writers; w++) {
                    final int id = w;
                    final Random rnd = new Random(seed + w);
                    futures.add(pool.submit(() -> {
                        for (int op = 0; op < opsPerWriter; op++) {
                            // Pick one of this writer's stripes and a sub-range of it.
                            int nStripes = fileSize / stripe / writers;
                            int s = (rnd.nextInt(nStripes) * writers + id) * stripe;
                            int off = rnd.nextInt(stripe);
                            int len = 1 + rnd.nextInt(stripe - off);
                            byte[] data = new byte[len];
                            rnd.nextBytes(data);
                            try {
                                if (rnd.nextInt(10) < 7) {
                                    assertThat(fs.write(f, s + off, ByteBuffer.wrap(data))).isEqualTo(len);
                                    synchronized (model) {
                                        System.arraycopy(data, 0, model, s + off, len);
                                    }
                                } else {
                                    // Read back a whole own stripe: nobody else writes it.
                                    ByteBuffer dst = ByteBuffer.allocate(stripe);
                                    assertThat(fs.read(f, s, dst)).isEqualTo(stripe);
                                    byte[] expect;
                                    synchronized (model) {
                                        expect = Arrays.copyOfRange(model, s, s + stripe);
                                    }
                                    if (!Arrays.equals(dst.array(), expect)) {
                                        throw new AssertionError("seed " + seed + " writer " + id + " op " + op
                                                + ": stripe at " + s + " differs from the model");
                                    }
                                }
                            } catch (IOException e) {
                                throw new AssertionError("seed " + seed + " writer " + id + " op " + op, e);
                            }
                        }
                        return null;
                    }));
                }
                // A flusher and a reclaimer racing with everything.
                futures.add(pool.submit(() -> {
                    while (!stop.get()) {
                        Writeback.writeAndWait(f.mapping(), 0, Long.MAX_VALUE);
                        flusherPasses.incrementAndGet();
                    }
                    return null;
                }));
                futures.add(pool.submit(() -> {
                    Random rnd = new Random(seed ^ 0x5eed);
                    while (!stop.get()) {
                        if (rnd.nextBoolean()) {
                            cache.dropCleanCaches();
                        } else {
                            ByteBuffer dst = ByteBuffer.allocate(64 << 10);
                            long pos = rnd.nextInt(fileSize);
                            if (mode != TestFs.Mode.NEW) {
                                // A reader without the inode lock (like the kernel's filemap_read) racing with
                                // writers; its data is not checked, the final comparison is. Only safe where
                                // iomapBegin never publishes allocated-but-unwritten blocks as MAPPED: NEW does
                                // (the new block is in the map before the write lands), so there readers must
                                // hold the inode lock shared, as BufferedIo's contract says.
                                BufferedIo.read(f, pos, dst, fs);
                            } else {
                                fs.read(f, pos, dst);
                            }
                        }
                    }
                    return null;
                }));
                for (int w = 0; w < writers; w++) {
                    futures.get(w).get(5, TimeUnit.MINUTES);
                }
            } finally {
                stop.set(true);
                pool.shutdown();
                assertThat(pool.awaitTermination(5, TimeUnit.MINUTES)).isTrue();
            }
            for (Future<?> fu : futures) {
                fu.get(); // rethrows any failure
            }
            cache.syncAll();
            cache.dropCleanCaches();
            ByteBuffer all = ByteBuffer.allocate(fileSize);
            assertThat(fs.read(f, 0, all)).isEqualTo(fileSize);
            for (int i = 0; i < fileSize; i++) {
                if (all.get(i) != model[i]) {
                    throw new AssertionError("seed " + seed + ": byte " + i + " is " + all.get(i) + ", model "
                            + model[i]);
                }
            }
            System.out.println("  flusher passes: " + flusherPasses.get());
        }
    }
}
