package org.iomap4j.coretest.iomap;

import org.iomap4j.iomap.DirectIo;
import org.iomap4j.iomap.IomapDioOps;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapType;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.iomap.Ioend;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Direct I/O rules from iomap's direct-io.c and its bug history, over the test filesystem on a device pre-filled
 * with 0xAA "stale data": any byte that direct I/O should have zeroed and did not shows up as 0xAA.
 */
class DirectIoTest {
    private static final int BS = 4096;
    private static final byte STALE = (byte) 0xAA;

    private final MemoryBlockDevice mem = new MemoryBlockDevice(64L << 20, 512);
    private final FaultInjectingBlockDevice dev = new FaultInjectingBlockDevice(mem);
    private final PageCache cache = new PageCache(new PageCacheConfig(32L << 20, 64 << 10, 16L << 20, 0));
    private final TestFs fs;

    DirectIoTest() throws IOException {
        mem.segment().fill(STALE);
        fs = new TestFs(dev, BS, cache);
    }

    @AfterEach
    void tearDown() {
        cache.close();
        mem.close();
    }

    /** Size update at completion, UNWRITTEN conversion through the test fs's own completion path. */
    private IomapDioOps dioOps() {
        return new IomapDioOps() {
            @Override
            public void endIo(IomapInode inode, long posBytes, long sizeBytes, Throwable error, int flags) {
                if (error != null) {
                    return;
                }
                TestInode ti = (TestInode) inode;
                if ((flags & DIO_UNWRITTEN) != 0) {
                    for (long l = posBytes / BS; l * BS < posBytes + sizeBytes; l++) {
                        long p = ti.pblkOf(l);
                        if (p >= 0) {
                            fs.ioendCompleted(ti, new Ioend(l * BS, BS, p * BS, IomapType.UNWRITTEN, 0), null);
                        }
                    }
                }
                if (posBytes + sizeBytes > inode.sizeBytes()) {
                    inode.setSizeBytes(posBytes + sizeBytes);
                }
            }
        };
    }

    private static ByteBuffer aligned(int bytes) {
        int rounded = Math.max(4096, (bytes + 4095) / 4096 * 4096);
        return ByteBuffer.allocateDirect(rounded + 4096).alignedSlice(4096).limit(bytes).slice();
    }

    private static ByteBuffer filled(int bytes, long seed) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        ByteBuffer buf = aligned(bytes);
        buf.put(b).flip();
        return buf;
    }

    private static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        d.rewind();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    private long dioWrite(TestInode f, long pos, ByteBuffer src) throws IOException {
        return DirectIo.write(f, pos, src, fs, dioOps(), 0);
    }

    private byte[] dioRead(TestInode f, long pos, int len) throws IOException {
        ByteBuffer dst = aligned(len);
        long n = DirectIo.read(f, pos, dst, fs, dioOps(), 0);
        dst.flip();
        byte[] out = new byte[(int) n];
        dst.get(out);
        return out;
    }

    @Test
    void misaligned_positionLengthOrBuffer_isEinval() {
        TestInode f = fs.create(TestFs.Mode.NEW);
        assertThatThrownBy(() -> dioWrite(f, 100, aligned(512))).isInstanceOf(FsException.class)
                .extracting(e -> ((FsException) e).errno()).isEqualTo(Errno.EINVAL);
        assertThatThrownBy(() -> dioWrite(f, 0, aligned(100))).extracting(e -> ((FsException) e).errno())
                .isEqualTo(Errno.EINVAL);
        ByteBuffer odd = ByteBuffer.allocateDirect(8192).alignedSlice(4096).position(8).slice().limit(512);
        assertThatThrownBy(() -> dioWrite(f, 0, odd)).extracting(e -> ((FsException) e).errno())
                .isEqualTo(Errno.EINVAL);
    }

    @Test
    void readsClipAtEof_andReturnZeroPastIt_holesReadAsZero() throws IOException {
        TestInode f = fs.create(TestFs.Mode.NEW);
        ByteBuffer data = filled(BS, 1);
        dioWrite(f, 3 * BS, data);
        assertThat(f.sizeBytes()).isEqualTo(4 * BS);
        byte[] all = dioRead(f, 0, 8 * BS);
        assertThat(all).hasSize(4 * BS);
        assertThat(Arrays.copyOfRange(all, 0, 3 * BS)).containsOnly(0);
        assertThat(Arrays.copyOfRange(all, 3 * BS, 4 * BS)).isEqualTo(bytes(data));
        assertThat(dioRead(f, 4 * BS, BS)).isEmpty();
        assertThat(dioRead(f, 100 * BS, BS)).isEmpty();
    }

    @Test
    void subBlockWriteIntoNewBlock_zeroesHeadAndTail_neverExposesStaleData() throws IOException {
        TestInode f = fs.create(TestFs.Mode.NEW);
        ByteBuffer data = filled(512, 2);
        dioWrite(f, 1024, data);
        assertThat(f.sizeBytes()).isEqualTo(1536);
        // Read the whole block through the buffered path after the size is grown: nothing stale anywhere.
        f.setSizeBytes(BS);
        ByteBuffer back = ByteBuffer.allocate(BS);
        fs.read(f, 0, back);
        byte[] b = back.array();
        assertThat(Arrays.copyOfRange(b, 0, 1024)).containsOnly(0);
        assertThat(Arrays.copyOfRange(b, 1024, 1536)).isEqualTo(bytes(data));
        assertThat(Arrays.copyOfRange(b, 1536, BS)).containsOnly(0);
    }

    @Test
    void coherence_dirtyCacheIsFlushedBeforeRead_andCacheInvalidatedAfterWrite() throws IOException {
        TestInode f = fs.create(TestFs.Mode.NEW);
        byte[] buffered = new byte[2 * BS];
        new Random(3).nextBytes(buffered);
        fs.write(f, 0, ByteBuffer.wrap(buffered));
        assertThat(dioRead(f, 0, 2 * BS)).as("direct read sees dirty cached data").isEqualTo(buffered);
        // Cache the file, then overwrite directly: a buffered read must see the new bytes, not the cached ones.
        fs.read(f, 0, ByteBuffer.allocate(2 * BS));
        ByteBuffer direct = filled(BS, 4);
        dioWrite(f, BS, direct);
        ByteBuffer back = ByteBuffer.allocate(2 * BS);
        fs.read(f, 0, back);
        assertThat(Arrays.copyOfRange(back.array(), BS, 2 * BS)).isEqualTo(bytes(direct));
        assertThat(Arrays.copyOfRange(back.array(), 0, BS)).isEqualTo(Arrays.copyOf(buffered, BS));
    }

    @Test
    void unwritten_readsZero_andIsConvertedByEndIo() throws IOException {
        TestInode f = fs.create(TestFs.Mode.UNWRITTEN);
        ByteBuffer data = filled(2 * BS, 5);
        dioWrite(f, 0, data);
        cache.dropCleanCaches();
        assertThat(dioRead(f, 0, 2 * BS)).isEqualTo(bytes(data));
        ByteBuffer back = ByteBuffer.allocate(2 * BS);
        fs.read(f, 0, back);
        assertThat(back.array()).isEqualTo(bytes(data));
    }

    @Test
    void nowaitWithDirtyCache_andOverwriteOnlyIntoHole_areEagain() throws IOException {
        TestInode f = fs.create(TestFs.Mode.NEW);
        fs.write(f, 0, ByteBuffer.wrap(new byte[BS]));
        assertThatThrownBy(() -> DirectIo.write(f, 0, aligned(BS), fs, dioOps(), DirectIo.NOWAIT))
                .extracting(e -> ((FsException) e).errno()).isEqualTo(Errno.EAGAIN);
        assertThatThrownBy(() -> DirectIo.write(f, 8 * BS, aligned(BS), fs, dioOps(), DirectIo.OVERWRITE_ONLY))
                .extracting(e -> ((FsException) e).errno()).isEqualTo(Errno.EAGAIN);
    }

    @Test
    void deviceWriteError_reachesTheCaller_withTheAddress() throws IOException {
        TestInode f = fs.create(TestFs.Mode.NEW);
        dioWrite(f, 0, filled(BS, 6));
        long addr = f.pblkOf(0) * BS;
        dev.failRange(FaultInjectingBlockDevice.Op.WRITE, addr, BS, true);
        assertThatThrownBy(() -> dioWrite(f, 0, filled(BS, 7))).isInstanceOf(FsException.class)
                .hasMessageContaining(Long.toString(addr));
        dev.clearFaults();
    }

    @Test
    void dsync_flushesTheDevice() throws IOException {
        TestInode f = fs.create(TestFs.Mode.NEW);
        long before = dev.stats().flushes();
        DirectIo.write(f, 0, filled(BS, 8), fs, dioOps(), DirectIo.DSYNC);
        assertThat(dev.stats().flushes()).isGreaterThan(before);
    }

    /**
     * fstests generic/240: two sub-block direct writes into the same newly allocated block at once. Without
     * serialisation one write's head/tail zeroing wipes the other's data.
     */
    @Test
    void concurrentUnalignedWritesIntoOneNewBlock_bothSurvive() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int iter = 0; iter < 300; iter++) {
                TestInode f = fs.create(TestFs.Mode.NEW);
                ByteBuffer a = filled(512, iter * 2L);
                ByteBuffer b = filled(512, iter * 2L + 1);
                CountDownLatch go = new CountDownLatch(1);
                Future<Long> fa = pool.submit(() -> {
                    go.await();
                    return dioWrite(f, 0, a.duplicate());
                });
                Future<Long> fb = pool.submit(() -> {
                    go.await();
                    return dioWrite(f, 2048, b.duplicate());
                });
                go.countDown();
                fa.get();
                fb.get();
                f.setSizeBytes(BS);
                byte[] blk = dioRead(f, 0, BS);
                assertThat(Arrays.copyOfRange(blk, 0, 512)).as("iteration " + iter).isEqualTo(bytes(a));
                assertThat(Arrays.copyOfRange(blk, 2048, 2560)).as("iteration " + iter).isEqualTo(bytes(b));
                assertThat(Arrays.copyOfRange(blk, 512, 2048)).as("iteration " + iter).containsOnly(0);
                assertThat(Arrays.copyOfRange(blk, 2560, BS)).as("iteration " + iter).containsOnly(0);
                fs.evict(f);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Stale data exposure: direct and buffered writers into a sparse file while direct and buffered readers
     * check that bytes never written read as zero (never 0xAA from the device).
     */
    @Test
    void mixedDirectAndBufferedIo_neverExposesStaleBytes() throws Exception {
        long seed = new Random().nextLong();
        Random rnd = new Random(seed);
        TestInode f = fs.create(TestFs.Mode.NEW);
        long fileBytes = 64L * BS;
        f.setSizeBytes(fileBytes);
        byte fill = 0x11;
        int staleSeen = 0;
        for (int i = 0; i < 10_000; i++) {
            long blk = rnd.nextInt(64);
            int op = rnd.nextInt(4);
            if (op == 0) {
                ByteBuffer w = aligned(BS);
                for (int k = 0; k < BS; k++) {
                    w.put(k, fill);
                }
                dioWrite(f, blk * BS, w);
            } else if (op == 1) {
                byte[] w = new byte[1 + rnd.nextInt(BS)];
                Arrays.fill(w, fill);
                fs.write(f, blk * BS + rnd.nextInt(BS - w.length + 1), ByteBuffer.wrap(w));
            } else {
                byte[] got = op == 2 ? dioRead(f, blk * BS, BS) : readBuffered(f, blk * BS, BS);
                for (byte x : got) {
                    if (x != 0 && x != fill) {
                        staleSeen++;
                    }
                }
            }
        }
        assertThat(staleSeen).as("stale bytes seen, seed " + seed).isZero();
    }

    private byte[] readBuffered(TestInode f, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        int n = fs.read(f, pos, b);
        return Arrays.copyOf(b.array(), n);
    }
}
