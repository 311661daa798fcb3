package org.iomap4j.coretest.pagecache;

import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Random;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Model-based test of buffered read/write/truncate/zero-range/fsync/drop-cache against an in-memory byte model,
 * one file per {@link TestFs.Mode} (NEW, UNWRITTEN, DELALLOC, COW, INLINE), half the run with BOUNDARY
 * mappings. Seeded: set {@code -Diomap4j.seed=N} to replay a failure; {@code -Diomap4j.modelOps=N} to change
 * the number of operations (default 100,000 per configuration). Prints the seed, the failing op and the ops
 * before it.
 */
class PageCacheModelTest {
    private static final int MAX_FILE = 384 << 10;

    @ParameterizedTest(name = "block {0} B, max folio {1} B")
    @CsvSource({"1024, 4096", "1024, 65536", "1024, 2097152", "4096, 4096", "4096, 65536", "4096, 2097152"})
    void randomOpsMatchModel(int blockSize, int maxFolio) throws Exception {
        long seed = Long.getLong("iomap4j.seed", new Random().nextLong());
        int ops = Integer.getInteger("iomap4j.modelOps", 100_000);
        System.out.println("PageCacheModelTest block=" + blockSize + " maxFolio=" + maxFolio + " seed=" + seed
                + " (replay: -Diomap4j.seed=" + seed + ")");
        long t0 = System.nanoTime();
        new Run(blockSize, maxFolio, seed).go(ops);
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("  %d ops in %.1f s = %.0f ops/s%n", ops, secs, ops / secs);
    }

    /** Growable byte model of one file. */
    private static final class Model {
        byte[] data = new byte[0];
        long size;

        void write(long pos, byte[] src) {
            ensure(pos + src.length);
            System.arraycopy(src, 0, data, (int) pos, src.length);
            size = Math.max(size, pos + src.length);
        }

        void truncate(long newSize) {
            ensure(newSize);
            if (newSize < size) {
                Arrays.fill(data, (int) newSize, (int) size, (byte) 0);
            }
            size = newSize;
        }

        void zero(long pos, long len) {
            long end = Math.min(size, pos + len);
            if (pos < end) {
                Arrays.fill(data, (int) pos, (int) end, (byte) 0);
            }
        }

        private void ensure(long n) {
            if (n > data.length) {
                data = Arrays.copyOf(data, (int) Math.max(n, data.length * 2L));
            }
        }
    }

    private static final class Run {
        final Random rnd;
        final long seed;
        final int bs;
        final PageCache cache;
        final MemoryBlockDevice dev;
        final TestFs fs;
        final TestInode[] files;
        final Model[] models;
        final ErrSeq.Cursor[] cursors;
        final ArrayDeque<String> recent = new ArrayDeque<>();

        Run(int bs, int maxFolio, long seed) {
            this.seed = seed;
            this.rnd = new Random(seed);
            this.bs = bs;
            long budget = Math.max(1L << 20, 8L * maxFolio);
            cache = new PageCache(new PageCacheConfig(budget, maxFolio, budget / 2, 0));
            dev = new MemoryBlockDevice(64L << 20, 512);
            fs = new TestFs(dev, bs, cache);
            TestFs.Mode[] modes = TestFs.Mode.values();
            files = new TestInode[modes.length];
            models = new Model[modes.length];
            cursors = new ErrSeq.Cursor[modes.length];
            for (int i = 0; i < modes.length; i++) {
                models[i] = new Model();
                if (modes[i] == TestFs.Mode.INLINE) {
                    byte[] init = new byte[rnd.nextInt(bs)];
                    rnd.nextBytes(init);
                    files[i] = fs.createInline(init);
                    models[i].write(0, init);
                } else {
                    files[i] = fs.create(modes[i]);
                }
                cursors[i] = files[i].mapping().errors().newCursor();
            }
        }

        void go(int ops) throws Exception {
            try {
                for (int i = 0; i < ops; i++) {
                    if (i == ops / 2) {
                        fs.setBoundaryEvery(7);
                    }
                    step(i);
                }
                note("final: syncAll + drop caches + verify all");
                cache.syncAll();
                cache.dropCleanCaches();
                for (int f = 0; f < files.length; f++) {
                    verifyWhole(f);
                }
            } catch (Throwable t) {
                throw new AssertionError("model test failed, seed=" + seed + " (replay: -Diomap4j.seed=" + seed
                        + "); last ops:\n  " + String.join("\n  ", recent) + "\ncause: " + t, t);
            } finally {
                cache.close();
                dev.close();
            }
        }

        private void note(String s) {
            if (recent.size() == 25) {
                recent.removeFirst();
            }
            recent.addLast(s);
        }

        private int smallLen() {
            int r = rnd.nextInt(100);
            if (r < 70) {
                return 1 + rnd.nextInt(5000);
            } else if (r < 95) {
                return 1 + rnd.nextInt(64 << 10);
            }
            return 1 + rnd.nextInt(256 << 10);
        }

        private void step(int i) throws IOException {
            int f = rnd.nextInt(files.length);
            TestInode ino = files[f];
            Model m = models[f];
            int r = rnd.nextInt(100);
            if (r < 38) {
                long pos = rnd.nextInt(100) < 20 ? m.size : rnd.nextLong(Math.min(MAX_FILE, m.size + 32768) + 1);
                int len = (int) Math.min(smallLen(), MAX_FILE - pos);
                if (len <= 0) {
                    return;
                }
                byte[] data = new byte[len];
                rnd.nextBytes(data);
                note("#" + i + " write f" + f + " pos=" + pos + " len=" + len);
                int n = fs.write(ino, pos, ByteBuffer.wrap(data));
                assertThat(n).as("bytes written").isEqualTo(len);
                m.write(pos, data);
                assertThat(ino.sizeBytes()).as("size after write").isEqualTo(m.size);
            } else if (r < 70) {
                long pos = rnd.nextLong(m.size + 4097);
                int len = smallLen();
                note("#" + i + " read f" + f + " pos=" + pos + " len=" + len + " size=" + m.size);
                checkRead(f, pos, len);
            } else if (r < 77) {
                long newSize = rnd.nextInt(100) < 50 ? rnd.nextLong(m.size + 1) : rnd.nextLong(MAX_FILE + 1);
                note("#" + i + " truncate f" + f + " " + m.size + " -> " + newSize);
                fs.truncate(ino, newSize);
                m.truncate(newSize);
                assertThat(ino.sizeBytes()).isEqualTo(newSize);
            } else if (r < 85) {
                if (m.size == 0) {
                    return;
                }
                long pos = rnd.nextLong(m.size);
                long len = Math.min(m.size - pos, smallLen());
                note("#" + i + " zeroRange f" + f + " pos=" + pos + " len=" + len);
                fs.zeroRange(ino, pos, len);
                m.zero(pos, len);
            } else if (r < 91) {
                note("#" + i + " fsync f" + f);
                fs.fsync(ino, cursors[f]);
                assertThat(ino.mapping().dirtyBytes()).as("dirty after fsync").isZero();
            } else if (r < 94) {
                note("#" + i + " syncAll + dropCleanCaches");
                cache.syncAll();
                cache.dropCleanCaches();
                assertThat(cache.dirtyBytes()).isZero();
                assertThat(cache.cachedBytes()).isZero();
            } else if (r < 97) {
                note("#" + i + " dropCleanCaches");
                cache.dropCleanCaches();
            } else {
                note("#" + i + " verify whole f" + f);
                verifyWhole(f);
            }
        }

        private void checkRead(int f, long pos, int len) throws IOException {
            Model m = models[f];
            ByteBuffer dst = ByteBuffer.allocate(len);
            int n = fs.read(files[f], pos, dst);
            long expectN = Math.max(0, Math.min(len, m.size - pos));
            assertThat(n).as("bytes read at " + pos).isEqualTo(expectN);
            for (int k = 0; k < n; k++) {
                if (dst.get(k) != m.data[(int) pos + k]) {
                    throw new AssertionError("f" + f + " byte at " + (pos + k) + ": read " + dst.get(k) + ", model "
                            + m.data[(int) pos + k] + " (size " + m.size + ")");
                }
            }
        }

        private void verifyWhole(int f) throws IOException {
            Model m = models[f];
            checkRead(f, 0, (int) m.size + 1);
        }
    }
}
