package org.iomap4j.pagecache;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Folio memory: page-aligned native buffers of power-of-two sizes (4 KiB .. 2 MiB and beyond for large block
 * sizes), carved from slabs and recycled through one free list per size (a buddy-style split without merging,
 * like the kernel's page allocator as far as a page cache in a JVM needs one).
 *
 * <p>Why it exists: a fresh {@code Arena.ofAuto().allocate} per folio cost 6&ndash;24 &micro;s on the test VM
 * (malloc, zeroing, a Cleaner, first-touch page faults, later GC work), more than the device read of a 4 KiB
 * block. Here a miss allocates a whole slab ({@link #SLAB_BYTES}) and pools the rest, and a prefill thread keeps
 * a few MiB of faulted-in slabs ready while the cache grows, so cold reads do not pay for memory. Slabs are
 * mmap'd ({@link SlabMemory}): zeroed once by the kernel, one transparent huge page each where THP allows.
 *
 * <p>Buffers handed out are not zeroed (see {@link PageCache#folioMemory}). A slice keeps its slab alive, so
 * slab memory returns to the system only when the GC finds every piece unreachable. At most {@code limitBytes}
 * are kept pooled; {@link #close()} empties the pool. Thread-safe and lock-free except for the prefill hand-off.
 */
final class FolioPool implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(FolioPool.class.getName());

    /** Size of the slabs new folio memory is carved from (one allocation serves 512 4 KiB folios). */
    static final int SLAB_BYTES = 2 << 20;

    @SuppressWarnings("unchecked")
    private final ConcurrentLinkedDeque<ByteBuffer>[] free = new ConcurrentLinkedDeque[32];
    private final AtomicLong pooledBytes = new AtomicLong();
    private final long limitBytes;
    /** Prefill keeps at least this many bytes pooled while the cache is below its budget; 0: no prefill. */
    private final long prefillBytes;
    private final Object prefillMonitor = new Object();
    private Thread prefiller;
    private boolean prefillWanted;
    /** A prefill pass is running (guarded by prefillMonitor). */
    private boolean prefillRunning;
    private volatile boolean closed;

    /**
     * @param limitBytes   most bytes kept in the free lists
     * @param prefillBytes bytes the prefill thread keeps ready (0 disables it); at most {@code limitBytes}
     */
    FolioPool(long limitBytes, long prefillBytes) {
        this.limitBytes = limitBytes;
        this.prefillBytes = Math.min(prefillBytes, limitBytes);
        for (int i = 0; i < free.length; i++) {
            free[i] = new ConcurrentLinkedDeque<>();
        }
    }

    /** Bytes pooled now. */
    long pooledBytes() {
        return pooledBytes.get();
    }

    /**
     * Memory for a folio of {@code sizeBytes} (a power of two, at least 4 KiB): a pooled buffer of that size,
     * else a larger pooled one split in halves (the unused halves stay pooled; a buffer of size S is S-aligned
     * relative to its page-aligned slab), else a new slab carved the same way.
     *
     * @param growing true while the cache is below its budget (more folios will follow: prefill)
     */
    ByteBuffer take(int sizeBytes, boolean growing) {
        int cls = Integer.numberOfTrailingZeros(sizeBytes);
        ByteBuffer b = free[cls].pollFirst();
        if (b != null) {
            pooledBytes.addAndGet(-sizeBytes);
        } else {
            for (int bigger = cls + 1; b == null && bigger < free.length; bigger++) {
                ByteBuffer big = free[bigger].pollFirst();
                if (big != null) {
                    b = split(big, bigger, cls);
                    pooledBytes.addAndGet(-sizeBytes);
                }
            }
        }
        if (b == null) {
            dropSmallerThan(cls, sizeBytes);
            b = carveNewSlab(sizeBytes);
        }
        if (growing && prefillBytes > 0 && pooledBytes.get() < prefillBytes / 2) {
            kickPrefill();
        }
        return b;
    }

    /** Returns a removed folio's memory; false if the pool is full or closed (the GC frees it then). */
    boolean give(ByteBuffer memory) {
        int size = memory.capacity();
        if (closed || pooledBytes.get() + size > limitBytes) {
            return false;
        }
        pooledBytes.addAndGet(size);
        free[Integer.numberOfTrailingZeros(size)].addFirst(memory);
        return true;
    }

    /** Keeps the first {@code 1 << cls} bytes of {@code big} (of size {@code 1 << bigCls}) and pools the rest. */
    private ByteBuffer split(ByteBuffer big, int bigCls, int cls) {
        for (int half = bigCls - 1; half >= cls; half--) {
            free[half].addFirst(big.slice(1 << half, 1 << half));
        }
        return big.slice(0, 1 << cls);
    }

    /** On a miss, lets go of up to {@code bytes} of smaller buffers so that the pool follows the sizes in use. */
    private void dropSmallerThan(int cls, long bytes) {
        long dropped = 0;
        for (int c = 0; c < cls && dropped < bytes; c++) {
            ByteBuffer x;
            while (dropped < bytes && (x = free[c].pollLast()) != null) {
                dropped += x.capacity();
            }
        }
        pooledBytes.addAndGet(-dropped);
    }

    /** A new slab with its first {@code sizeBytes} handed out and the rest pooled (if the limit allows). */
    private ByteBuffer carveNewSlab(int sizeBytes) {
        int slab = sizeBytes;
        while (slab < SLAB_BYTES && pooledBytes.get() + 2L * slab - sizeBytes <= limitBytes) {
            slab *= 2;
        }
        ByteBuffer mem = allocate(slab);
        if (slab == sizeBytes) {
            return mem;
        }
        pooledBytes.addAndGet(slab - sizeBytes);
        return split(mem, Integer.numberOfTrailingZeros(slab), Integer.numberOfTrailingZeros(sizeBytes));
    }

    /** New zero-filled memory of {@code sizeBytes}, aligned to its size (up to 2 MiB), freed when unreachable. */
    static ByteBuffer allocate(int sizeBytes) {
        return SlabMemory.allocate(sizeBytes);
    }

    private void kickPrefill() {
        synchronized (prefillMonitor) {
            if (closed) {
                return;
            }
            prefillWanted = true;
            if (prefiller == null) {
                prefiller = Thread.ofPlatform().daemon().name("iomap4j-folio-prefill").start(this::prefillLoop);
            } else {
                prefillMonitor.notifyAll();
            }
        }
    }

    /** Allocates (and so faults in) slabs until {@link #prefillBytes} are pooled; sleeps until kicked again. */
    private void prefillLoop() {
        int slabCls = Integer.numberOfTrailingZeros(SLAB_BYTES);
        while (true) {
            synchronized (prefillMonitor) {
                while (!prefillWanted && !closed) {
                    try {
                        prefillMonitor.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                prefillWanted = false;
                prefillRunning = true;
            }
            try {
                while (!closed && pooledBytes.get() + SLAB_BYTES <= prefillBytes) {
                    ByteBuffer slab = allocate(SLAB_BYTES);
                    pooledBytes.addAndGet(SLAB_BYTES);
                    free[slabCls].addLast(slab);
                }
            } catch (OutOfMemoryError e) {
                // Native memory is short: folios are then allocated on demand (and may fail there, visibly).
                LOG.log(System.Logger.Level.WARNING, "folio prefill stopped: " + e.getMessage());
                return;
            } finally {
                synchronized (prefillMonitor) {
                    prefillRunning = false;
                    prefillMonitor.notifyAll();
                }
            }
        }
    }

    /** Tests: waits until no prefill is requested or running. */
    void awaitPrefill() throws InterruptedException {
        synchronized (prefillMonitor) {
            while ((prefillWanted || prefillRunning) && !closed) {
                prefillMonitor.wait();
            }
        }
    }

    /** Empties the pool and stops the prefill thread. */
    @Override
    public void close() {
        Thread t;
        synchronized (prefillMonitor) {
            closed = true;
            prefillMonitor.notifyAll();
            t = prefiller;
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (ConcurrentLinkedDeque<ByteBuffer> q : free) {
            q.clear();
        }
        pooledBytes.set(0);
    }
}
