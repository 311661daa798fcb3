package org.iomap4j.testkit.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.DeviceIOException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link BlockDevice} promises (its class contract): sizes and alignment, exact round trips through
 * {@code ByteBuffer}s and {@code MemorySegment}s at byte and block granularity, vectored {@link Bio}s that complete
 * their futures (exceptionally with a {@link DeviceIOException} on error, one request in the stats however many
 * buffers), flush, discard leaving everything outside its range alone (and zeroes inside when the implementation says so), concurrent
 * requests from many threads, ranges off the device refused with an
 * {@link IOException} naming the address and transferring nothing, read-only devices refusing writes with EROFS,
 * and no I/O after close.
 *
 * <p>An implementation extends this class and supplies {@link #newDevice}; {@link #reopenReadOnly} when it can be
 * opened read-only. Requests are aligned to the logical block size and memory is direct and 4 KiB aligned whenever
 * the device {@link BlockDevice#requiresAlignment() requires alignment}; byte-granular cases then skip.
 * Random contents are seeded; the seed is printed.
 */
public abstract class BlockDeviceContract {
    /** Size asked of {@link #newDevice} in bytes. */
    protected static final long DEVICE_BYTES = 1L << 20;

    /** A scratch directory for file-backed devices. */
    @TempDir
    protected Path tempDir;

    /**
     * A new writable device of at least {@code sizeBytes} bytes (the same if the implementation can), zero-filled
     * or not (the contract writes before it reads).
     *
     * @param sizeBytes the smallest device size wanted, in bytes
     * @return the device; the suite closes it
     * @throws IOException if it cannot be created
     */
    protected abstract BlockDevice newDevice(long sizeBytes) throws IOException;

    /**
     * Closes {@code device} and opens what it stored read-only, or returns null when this implementation has no
     * read-only mode (the read-only case then skips). Default: null.
     *
     * @param device the device to close
     * @return the same storage read-only, or null if the implementation cannot reopen (those cases are skipped)
     * @throws IOException if closing or reopening fails
     */
    protected BlockDevice reopenReadOnly(BlockDevice device) throws IOException {
        return null;
    }

    /**
     * True if this implementation documents that a discarded range reads back as zeroes (the interface leaves it
     * unspecified); the discard case then checks it. Default: false.
     *
     * @return true if discarded ranges read back as zeroes
     */
    protected boolean discardReadsZeroes() {
        return false;
    }

    private final long seed = System.nanoTime();
    private final Random rnd = new Random(seed);

    {
        System.out.println(getClass().getSimpleName() + " seed " + seed);
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** A buffer holding {@code data}, suitable for {@code dev}: direct and aligned when it requires alignment. */
    private static ByteBuffer buffer(BlockDevice dev, byte[] data) {
        ByteBuffer b = dev.requiresAlignment() ? ByteBuffer.allocateDirect(data.length + 8192).alignedSlice(4096)
                .limit(data.length) : ByteBuffer.allocate(data.length);
        b.put(data).flip();
        return b;
    }

    private static ByteBuffer empty(BlockDevice dev, int n) {
        return dev.requiresAlignment() ? ByteBuffer.allocateDirect(n + 8192).alignedSlice(4096).limit(n)
                : ByteBuffer.allocate(n);
    }

    private static byte[] read(BlockDevice dev, long addr, int n) throws IOException {
        ByteBuffer b = empty(dev, n);
        dev.read(addr, b);
        assertThat(b.hasRemaining()).as("read of %d bytes at %d transfers them all", n, addr).isFalse();
        byte[] out = new byte[n];
        b.flip().get(out);
        return out;
    }

    private static void write(BlockDevice dev, long addr, byte[] data) throws IOException {
        ByteBuffer b = buffer(dev, data);
        dev.write(addr, b);
        assertThat(b.hasRemaining()).as("write of %d bytes at %d consumes the buffer", data.length, addr).isFalse();
    }

    @Test
    void sizesAndAlignment() throws IOException {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            int lbs = dev.logicalBlockSize();
            assertThat(Integer.bitCount(lbs)).as("logical block size %d is a power of two", lbs).isEqualTo(1);
            assertThat(lbs).isBetween(512, 65536);
            assertThat(dev.sizeBytes()).isPositive();
            assertThat(dev.sizeBytes() % lbs).as("size is whole logical blocks").isZero();
            assertThat(dev.isReadOnly()).isFalse();
            assertThat(dev.stats()).isNotNull();
        }
    }

    @Test
    void blockRoundTripsThroughByteBuffersKeepNeighbours() throws IOException {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            int lbs = dev.logicalBlockSize();
            long blocks = dev.sizeBytes() / lbs;
            byte[] all = randomBytes((int) Math.min(dev.sizeBytes(), 256 * 1024));
            write(dev, 0, all);
            assertThat(read(dev, 0, all.length)).isEqualTo(all);
            // Overwrite one block in the middle and the last block of the device; the neighbours keep their bytes.
            long mid = (all.length / lbs) / 2;
            byte[] one = randomBytes(lbs);
            write(dev, mid * lbs, one);
            byte[] expect = all.clone();
            System.arraycopy(one, 0, expect, (int) (mid * lbs), lbs);
            assertThat(read(dev, 0, all.length)).isEqualTo(expect);
            byte[] last = randomBytes(lbs);
            write(dev, (blocks - 1) * lbs, last);
            assertThat(read(dev, (blocks - 1) * lbs, lbs)).isEqualTo(last);
        }
    }

    @Test
    void byteGranularRoundTripsAtUnalignedAddresses() throws IOException {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            Assumptions.assumeFalse(dev.requiresAlignment(), "device requires aligned requests");
            byte[] model = randomBytes(64 * 1024);
            write(dev, 0, model);
            for (int k = 0; k < 200; k++) {
                int len = 1 + rnd.nextInt(3000);
                int addr = rnd.nextInt(model.length - len);
                byte[] data = randomBytes(len);
                if (rnd.nextBoolean()) {
                    ByteBuffer direct = ByteBuffer.allocateDirect(len + 3).position(3);
                    direct.put(data).position(3);
                    dev.write(addr, direct);
                    assertThat(direct.hasRemaining()).isFalse();
                } else {
                    write(dev, addr, data);
                }
                System.arraycopy(data, 0, model, addr, len);
                int raddr = rnd.nextInt(model.length - 1);
                int rlen = 1 + rnd.nextInt(Math.min(5000, model.length - raddr));
                byte[] expect = java.util.Arrays.copyOfRange(model, raddr, raddr + rlen);
                assertThat(read(dev, raddr, rlen)).as("read %d+%d (seed %d)", raddr, rlen, seed).isEqualTo(expect);
            }
            assertThat(read(dev, 0, model.length)).isEqualTo(model);
        }
    }

    @Test
    void memorySegmentRoundTrips() throws IOException {
        try (BlockDevice dev = newDevice(DEVICE_BYTES); Arena arena = Arena.ofConfined()) {
            int lbs = dev.logicalBlockSize();
            byte[] data = randomBytes(4 * lbs);
            MemorySegment src = arena.allocate(data.length, 4096);
            MemorySegment.copy(data, 0, src, ValueLayout.JAVA_BYTE, 0, data.length);
            dev.write(2L * lbs, src);
            MemorySegment dst = arena.allocate(data.length, 4096);
            dev.read(2L * lbs, dst);
            assertThat(dst.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);
            assertThat(read(dev, 2L * lbs, data.length)).as("segment writes seen by buffer reads").isEqualTo(data);
            if (!dev.requiresAlignment()) {
                MemorySegment small = arena.allocate(7);
                dev.read(2L * lbs + 5, small);
                assertThat(small.toArray(ValueLayout.JAVA_BYTE))
                        .isEqualTo(java.util.Arrays.copyOfRange(data, 5, 12));
            }
        }
    }

    @Test
    void vectoredBiosCompleteInOrderOfTheirBuffersAndCountAsOneRequest() throws Exception {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            int lbs = dev.logicalBlockSize();
            byte[] a = randomBytes(lbs);
            byte[] b = randomBytes(2 * lbs);
            byte[] c = randomBytes(lbs);
            long writesBefore = dev.stats().writeRequests();
            ByteBuffer ba = buffer(dev, a);
            ByteBuffer bb = buffer(dev, b);
            ByteBuffer bc = buffer(dev, c);
            CompletableFuture<Void> w = dev.submit(Bio.write(8L * lbs, ba, bb, bc));
            w.get(60, TimeUnit.SECONDS);
            assertThat(w).isCompleted();
            assertThat(ba.hasRemaining() || bb.hasRemaining() || bc.hasRemaining()).as("buffers consumed").isFalse();
            assertThat(dev.stats().writeRequests() - writesBefore).as("one Bio is one request").isEqualTo(1);
            byte[] expect = new byte[4 * lbs];
            System.arraycopy(a, 0, expect, 0, lbs);
            System.arraycopy(b, 0, expect, lbs, 2 * lbs);
            System.arraycopy(c, 0, expect, 3 * lbs, lbs);
            assertThat(read(dev, 8L * lbs, 4 * lbs)).isEqualTo(expect);
            // A vectored read splits the range over its buffers in order.
            ByteBuffer r1 = empty(dev, 3 * lbs);
            ByteBuffer r2 = empty(dev, lbs);
            long readsBefore = dev.stats().readRequests();
            dev.submit(Bio.read(8L * lbs, r1, r2)).get(60, TimeUnit.SECONDS);
            assertThat(dev.stats().readRequests() - readsBefore).isEqualTo(1);
            byte[] got = new byte[4 * lbs];
            r1.flip().get(got, 0, 3 * lbs);
            r2.flip().get(got, 3 * lbs, lbs);
            assertThat(got).isEqualTo(expect);
        }
    }

    @Test
    void manyBiosInFlightAllCompleteAndAWaitedWriteIsSeenByLaterRequests() throws Exception {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            int lbs = dev.logicalBlockSize();
            int n = (int) Math.min(64, dev.sizeBytes() / lbs);
            List<byte[]> data = new ArrayList<>();
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                data.add(randomBytes(lbs));
                writes.add(dev.submit(Bio.write((long) i * lbs, buffer(dev, data.get(i)))));
            }
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            // Ordered by the caller: the second write is submitted after the first completed, so it wins.
            byte[] later = randomBytes(lbs);
            dev.submit(Bio.write(0, buffer(dev, later))).get(60, TimeUnit.SECONDS);
            data.set(0, later);
            List<ByteBuffer> dsts = new ArrayList<>();
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ByteBuffer d = empty(dev, lbs);
                dsts.add(d);
                reads.add(dev.submit(Bio.read((long) i * lbs, d)));
            }
            CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            for (int i = 0; i < n; i++) {
                byte[] got = new byte[lbs];
                dsts.get(i).flip().get(got);
                assertThat(got).as("block %d", i).isEqualTo(data.get(i));
            }
        }
    }

    @Test
    void concurrentSynchronousRequestsOnDisjointBlocksKeepEveryBlocksBytes() throws Exception {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            int lbs = dev.logicalBlockSize();
            int threads = 4;
            int blocksPerThread = (int) Math.min(32, dev.sizeBytes() / lbs / threads);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
            try {
                List<java.util.concurrent.Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int first = t * blocksPerThread;
                    long threadSeed = seed + t;
                    done.add(pool.submit(() -> {
                        Random r = new Random(threadSeed);
                        byte[][] model = new byte[blocksPerThread][];
                        for (int round = 0; round < 200; round++) {
                            int b = r.nextInt(blocksPerThread);
                            if (model[b] == null || r.nextBoolean()) {
                                model[b] = new byte[lbs];
                                r.nextBytes(model[b]);
                                write(dev, (long) (first + b) * lbs, model[b]);
                            } else {
                                assertThat(read(dev, (long) (first + b) * lbs, lbs)).as("block %d", first + b)
                                        .isEqualTo(model[b]);
                            }
                        }
                        return null;
                    }));
                }
                for (java.util.concurrent.Future<?> f : done) {
                    f.get(5, TimeUnit.MINUTES);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void flushIsABarrierThatKeepsData() throws IOException {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            int lbs = dev.logicalBlockSize();
            byte[] d = randomBytes(2 * lbs);
            write(dev, lbs, d);
            long flushes = dev.stats().flushes();
            dev.flush();
            dev.flush();
            assertThat(dev.stats().flushes() - flushes).as("flushes counted").isEqualTo(2);
            assertThat(read(dev, lbs, d.length)).isEqualTo(d);
        }
    }

    @Test
    void discardLeavesEverythingOutsideItsRangeAndTheRangeStaysWritable() throws IOException {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            int lbs = dev.logicalBlockSize();
            byte[] d = randomBytes(8 * lbs);
            write(dev, 0, d);
            dev.discard(2L * lbs, 3L * lbs);
            byte[] after = read(dev, 0, d.length);
            assertThat(java.util.Arrays.copyOfRange(after, 0, 2 * lbs))
                    .isEqualTo(java.util.Arrays.copyOfRange(d, 0, 2 * lbs));
            assertThat(java.util.Arrays.copyOfRange(after, 5 * lbs, 8 * lbs))
                    .isEqualTo(java.util.Arrays.copyOfRange(d, 5 * lbs, 8 * lbs));
            if (discardReadsZeroes()) {
                assertThat(java.util.Arrays.copyOfRange(after, 2 * lbs, 5 * lbs)).as("discarded range")
                        .containsOnly(0);
            }
            byte[] again = randomBytes(3 * lbs);
            write(dev, 2L * lbs, again);
            assertThat(read(dev, 2L * lbs, again.length)).isEqualTo(again);
            assertThatThrownBy(() -> dev.discard(dev.sizeBytes() - lbs, 2L * lbs)).isInstanceOf(IOException.class);
        }
    }

    /** Expects {@code op} to fail with an IOException whose message names {@code addr}. */
    private static void refused(long addr, ThrowingRunnable op) {
        try {
            op.run();
            fail("request at " + addr + " off the device succeeded");
        } catch (IOException e) {
            assertThat(e.getMessage()).as("the error names the address").contains(Long.toString(addr));
            if (e instanceof DeviceIOException de) {
                assertThat(de.devAddrBytes()).isEqualTo(addr);
            }
        }
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws IOException;
    }

    @Test
    void rangesOffTheDeviceAreRefusedNamingTheAddressAndTransferNothing() throws IOException {
        try (BlockDevice dev = newDevice(DEVICE_BYTES)) {
            int lbs = dev.logicalBlockSize();
            long size = dev.sizeBytes();
            byte[] tail = randomBytes(lbs);
            write(dev, size - lbs, tail);
            ByteBuffer dst = empty(dev, 2 * lbs);
            refused(size - lbs, () -> dev.read(size - lbs, dst));
            assertThat(dst.position()).as("no short read").isZero();
            refused(size, () -> dev.read(size, empty(dev, lbs)));
            refused(-lbs, () -> dev.read(-lbs, empty(dev, lbs)));
            ByteBuffer src = buffer(dev, randomBytes(2 * lbs));
            refused(size - lbs, () -> dev.write(size - lbs, src));
            assertThat(src.position()).as("no short write").isZero();
            refused(-lbs, () -> dev.write(-lbs, buffer(dev, randomBytes(lbs))));
            assertThat(read(dev, size - lbs, lbs)).as("last block untouched by the refused write").isEqualTo(tail);
            CompletableFuture<Void> f = dev.submit(Bio.read(size - lbs, empty(dev, lbs), empty(dev, lbs)));
            assertThatThrownBy(() -> f.get(60, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(DeviceIOException.class);
            assertThatThrownBy(() -> Bio.read(-1, empty(dev, lbs))).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void readOnlyDeviceRefusesWritesWithErofs() throws Exception {
        BlockDevice rw = newDevice(DEVICE_BYTES);
        int lbs = rw.logicalBlockSize();
        byte[] d = randomBytes(2 * lbs);
        write(rw, 0, d);
        rw.flush();
        BlockDevice ro = reopenReadOnly(rw);
        if (ro == null) {
            rw.close();
            Assumptions.abort("no read-only mode");
        }
        try (BlockDevice dev = ro) {
            assertThat(dev.isReadOnly()).isTrue();
            assertThat(read(dev, 0, d.length)).isEqualTo(d);
            assertThat(errnoOf(() -> dev.write(0, buffer(dev, randomBytes(lbs))))).isEqualTo(Errno.EROFS);
            assertThat(errnoOf(() -> dev.discard(0, lbs))).isEqualTo(Errno.EROFS);
            CompletableFuture<Void> f = dev.submit(Bio.write(0, buffer(dev, randomBytes(lbs))));
            Throwable t = f.handle((v, e) -> e).get(60, TimeUnit.SECONDS);
            assertThat(t).as("a write Bio on a read-only device fails").isNotNull();
            assertThat(FsException.errnoOf(t instanceof CompletionException ? t.getCause() : t)).isEqualTo(Errno.EROFS);
            assertThat(read(dev, 0, d.length)).as("nothing written").isEqualTo(d);
        }
    }

    private static Errno errnoOf(ThrowingRunnable op) {
        try {
            op.run();
        } catch (IOException e) {
            return FsException.errnoOf(e);
        }
        throw new AssertionError("expected an error");
    }

    @Test
    void noIoAfterClose() throws Exception {
        BlockDevice dev = newDevice(DEVICE_BYTES);
        int lbs = dev.logicalBlockSize();
        write(dev, 0, randomBytes(lbs));
        dev.close();
        assertThatThrownBy(() -> dev.read(0, empty(dev, lbs))).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> dev.write(0, buffer(dev, new byte[lbs]))).isInstanceOf(IOException.class);
        CompletableFuture<Void> f = dev.submit(Bio.read(0, empty(dev, lbs)));
        assertThat(f.handle((v, e) -> e).get(60, TimeUnit.SECONDS)).as("a Bio after close fails").isNotNull();
    }
}
