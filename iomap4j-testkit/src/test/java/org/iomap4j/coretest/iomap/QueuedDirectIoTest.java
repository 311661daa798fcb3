package org.iomap4j.coretest.iomap;

import org.iomap4j.iomap.DirectIo;
import org.iomap4j.iomap.IomapDioOps;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.iomap4j.block.Bio;
import org.iomap4j.block.DeviceIOException;
import org.iomap4j.block.ForwardingBlockDevice;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.block.QueuedBlockDevice;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.Test;

/**
 * Many direct-I/O requests in flight from one thread: through a {@link QueuedBlockDevice}, {@code readAsync}
 * returns after submitting, so eight calls from one thread put eight requests on the device at once. The device
 * below holds every read until eight have arrived (a bounded wait: it fails the request instead of hanging), so
 * the test can only pass if the requests really are in flight together.
 */
class QueuedDirectIoTest {
    private static final int BS = 4096;
    private static final int DEPTH = 8;

    /** Passes requests to a memory device; READs wait at a gate until {@code DEPTH} of them have arrived. */
    private static final class GateDevice extends ForwardingBlockDevice {
        final CountDownLatch gate = new CountDownLatch(DEPTH);
        final AtomicInteger waiting = new AtomicInteger();
        final AtomicInteger maxWaiting = new AtomicInteger();
        volatile boolean gated;

        GateDevice() {
            super(new MemoryBlockDevice(16L << 20, 512));
        }

        @Override
        public CompletableFuture<Void> submit(Bio bio) {
            if (gated && bio.op() == Bio.Op.READ) {
                maxWaiting.accumulateAndGet(waiting.incrementAndGet(), Math::max);
                gate.countDown();
                try {
                    if (!gate.await(60, TimeUnit.SECONDS)) {
                        return CompletableFuture.failedFuture(new DeviceIOException(bio.devAddrBytes(),
                                "only " + (DEPTH - gate.getCount()) + " requests were ever in flight together"));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return CompletableFuture.failedFuture(e);
                } finally {
                    waiting.decrementAndGet();
                }
            }
            return inner.submit(bio);
        }
    }

    @Test
    void oneThread_keepsEightDirectReadsInFlight_andEachGetsItsBytes() throws Exception {
        GateDevice gateDev = new GateDevice();
        try (QueuedBlockDevice dev = new QueuedBlockDevice(gateDev, DEPTH);
                PageCache cache = new PageCache(new PageCacheConfig(16L << 20, 64 << 10, 8L << 20, 0))) {
            TestFs fs = new TestFs(dev, BS, cache);
            TestInode f = fs.create(TestFs.Mode.NEW);
            byte[] data = new byte[DEPTH * 2 * BS];
            new Random(8).nextBytes(data);
            fs.write(f, 0, ByteBuffer.wrap(data));
            fs.fsync(f, null);
            cache.dropCleanCaches();
            gateDev.gated = true;

            List<ByteBuffer> dsts = new ArrayList<>();
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (int i = 0; i < DEPTH; i++) {
                // Every other block: no two requests merge into one.
                ByteBuffer dst = ByteBuffer.allocateDirect(2 * BS).alignedSlice(BS).limit(BS).slice();
                dsts.add(dst);
                futures.add(DirectIo.readAsync(f, (long) i * 2 * BS, dst, fs, IomapDioOps.NONE, 0));
            }
            for (int i = 0; i < DEPTH; i++) {
                assertThat(futures.get(i).get(120, TimeUnit.SECONDS)).isEqualTo(BS);
                ByteBuffer d = dsts.get(i).flip();
                byte[] got = new byte[BS];
                d.get(got);
                assertThat(got).as("request " + i).isEqualTo(java.util.Arrays.copyOfRange(data, i * 2 * BS, i * 2 * BS + BS));
            }
            assertThat(gateDev.maxWaiting.get()).as("requests in flight at once").isEqualTo(DEPTH);
        }
    }
}
