package org.iomap4j.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.iomap4j.Errno;

/**
 * Gives any {@link BlockDevice} a request queue: {@link #submit(Bio)} returns at once and the request runs on one
 * of the device's own threads, so one caller can keep many requests in flight (direct I/O's
 * {@code readAsync}/{@code writeAsync}, queue depth &gt; 1) although the wrapped device completes requests on the
 * caller's thread. Synchronous calls go straight to the wrapped device.
 *
 * <p>Threads: platform daemon threads, {@code queueDepth} of them (blocking file I/O would pin a virtual
 * thread's carrier). Ordering: none between submitted requests, as on a real disk queue. {@link #close()} stops the
 * threads (requests not yet started fail with EIO) and closes the wrapped device.
 */
public final class QueuedBlockDevice implements BlockDevice {
    private final BlockDevice inner;
    private final ExecutorService queue;

    /**
     * @param inner      the device requests run on
     * @param queueDepth most requests executing at once (&ge; 1)
     */
    public QueuedBlockDevice(BlockDevice inner, int queueDepth) {
        if (queueDepth < 1) {
            throw new IllegalArgumentException("queue depth must be >= 1: " + queueDepth);
        }
        this.inner = inner;
        this.queue = Executors.newFixedThreadPool(queueDepth,
                Thread.ofPlatform().daemon().name("iomap4j-queue-", 0).factory());
    }

    /** The wrapped device. */
    public BlockDevice inner() {
        return inner;
    }

    @Override
    public CompletableFuture<Void> submit(Bio bio) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            queue.execute(() -> inner.submit(bio).whenComplete((v, e) -> {
                if (e != null) {
                    done.completeExceptionally(e);
                } else {
                    done.complete(null);
                }
            }));
        } catch (RejectedExecutionException e) {
            done.completeExceptionally(new DeviceIOException(Errno.EIO, bio.devAddrBytes(), "device queue closed", e));
        }
        return done;
    }

    @Override
    public int logicalBlockSize() {
        return inner.logicalBlockSize();
    }

    @Override
    public long sizeBytes() {
        return inner.sizeBytes();
    }

    @Override
    public boolean isReadOnly() {
        return inner.isReadOnly();
    }

    @Override
    public boolean requiresAlignment() {
        return inner.requiresAlignment();
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        inner.read(devAddrBytes, dst);
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        inner.write(devAddrBytes, src);
    }

    @Override
    public void read(long devAddrBytes, MemorySegment dst) throws IOException {
        inner.read(devAddrBytes, dst);
    }

    @Override
    public void write(long devAddrBytes, MemorySegment src) throws IOException {
        inner.write(devAddrBytes, src);
    }

    @Override
    public void flush() throws IOException {
        inner.flush();
    }

    @Override
    public void discard(long devAddrBytes, long lengthBytes) throws IOException {
        inner.discard(devAddrBytes, lengthBytes);
    }

    @Override
    public DeviceStats stats() {
        return inner.stats();
    }

    @Override
    public void close() throws IOException {
        queue.shutdownNow();
        inner.close();
    }

    @Override
    public String toString() {
        return "QueuedBlockDevice[" + inner + "]";
    }
}
