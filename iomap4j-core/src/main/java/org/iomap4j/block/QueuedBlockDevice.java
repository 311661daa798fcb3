package org.iomap4j.block;

import java.io.IOException;
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
public final class QueuedBlockDevice extends ForwardingBlockDevice {
    private final ExecutorService queue;

    /**
     * Wraps {@code inner} with a queue of {@code queueDepth} worker threads.
     *
     * @param inner      the device requests run on
     * @param queueDepth most requests executing at once (&ge; 1)
     */
    public QueuedBlockDevice(BlockDevice inner, int queueDepth) {
        super(inner);
        if (queueDepth < 1) {
            throw new IllegalArgumentException("queue depth must be >= 1: " + queueDepth);
        }
        this.queue = Executors.newFixedThreadPool(queueDepth,
                Thread.ofPlatform().daemon().name("iomap4j-queue-", 0).factory());
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
    public void close() throws IOException {
        queue.shutdownNow();
        inner.close();
    }
}
