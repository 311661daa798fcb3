package org.iomap4j.pagecache;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The cache-wide part of the page cache: one memory budget shared by every {@link AddressSpace}, CLOCK reclaim
 * of clean folios, dirty throttling and background writeback (the kernel's vmscan + page-writeback in one
 * small class).
 *
 * <ul>
 *   <li>Budget: when a new folio takes the cache above {@link PageCacheConfig#budgetBytes()}, clean, unlocked
 *       folios not under writeback are reclaimed in CLOCK order (a folio used since the hand last passed gets a
 *       second chance). Dirty, locked and in-flight folios are never reclaimed, so the cache can exceed its
 *       budget by what is dirty or locked until writers are throttled.</li>
 *   <li>Throttling: a writer that finds more than {@link PageCacheConfig#dirtyThresholdBytes()} dirty writes
 *       back synchronously (its own file first) before dirtying more ({@code balance_dirty_pages}).</li>
 *   <li>Background writeback: a daemon thread writes back every mapping that has been dirty for longer than
 *       {@link PageCacheConfig#writebackIntervalMillis()}, and is woken early by writers when dirty bytes pass
 *       half the dirty threshold (the kernel's dirty_background_ratio), so that copying and device writes
 *       overlap; its errors go to the mapping's {@link ErrSeq}.</li>
 * </ul>
 * Thread-safe. Reclaim holds {@code reclaimLock} and only try-locks folios, so it can run on any thread, also
 * one that holds folio locks.
 */
public final class PageCache implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PageCache.class.getName());

    private final PageCacheConfig config;
    private final Set<AddressSpace> mappings = ConcurrentHashMap.newKeySet();
    private final AtomicLong cachedBytes = new AtomicLong();
    private final AtomicLong dirtyBytes = new AtomicLong();
    /** The CLOCK: every live folio appears once; removed folios are purged lazily. */
    private final ConcurrentLinkedQueue<Folio> clock = new ConcurrentLinkedQueue<>();
    private final AtomicInteger clockEntries = new AtomicInteger();
    private final AtomicInteger liveFolios = new AtomicInteger();
    private final ReentrantLock reclaimLock = new ReentrantLock();
    /** Folio memory: slabs, free lists of removed folios' memory, prefill (native memory is slow to get). */
    private final FolioPool folioPool;
    private final Object bgMonitor = new Object();
    /** Asynchronous readahead fills queued or running; its monitor is signalled when it drops to zero. */
    private final AtomicInteger readaheadPending = new AtomicInteger();
    private final java.util.concurrent.ExecutorService readaheadPool = java.util.concurrent.Executors.newFixedThreadPool(2,
            Thread.ofPlatform().daemon().name("iomap4j-readahead-", 0).factory());
    private final Thread bgThread;
    private volatile boolean closed;
    /** Set by a writer that found the cache above the background threshold; cleared by the writeback thread. */
    private volatile boolean bgKicked;
    private volatile IOException lastBackgroundError;

    /**
     * A cache with {@code config}'s budget; starts the background writeback thread unless its interval is 0.
     *
     * @param config budget, folio size, dirty threshold and writeback interval
     */
    public PageCache(PageCacheConfig config) {
        this.config = config;
        // Pool up to half the budget; prefill 1/16 of it (32 MiB for the default 512 MiB) when that is at least
        // four slabs, i.e. not for the small caches of tests and tools.
        long prefill = config.budgetBytes() / 16;
        this.folioPool = new FolioPool(config.budgetBytes() / 2, prefill >= 4L * FolioPool.SLAB_BYTES ? prefill : 0);
        if (config.writebackIntervalMillis() > 0) {
            bgThread = Thread.ofPlatform().daemon().name("iomap4j-writeback").unstarted(this::backgroundLoop);
            bgThread.start();
        } else {
            bgThread = null;
        }
    }

    /** {@return the configuration this cache was made with} */
    public PageCacheConfig config() {
        return config;
    }

    /**
     * Creates the page cache of one inode, written back through {@code writepages} (for an iomap filesystem its
     * {@code WritebackOps}).
     *
     * @throws IllegalArgumentException if the host's block size is not a power of two in [512, 65536]
     * @param host the inode the cache belongs to
     * @param writepages how the inode's dirty data is written back
     * @return the new mapping
     */
    public AddressSpace createMapping(MappingHost host, Writepages writepages) {
        AddressSpace m = new AddressSpace(this, host, writepages);
        mappings.add(m);
        return m;
    }

    /**
     * Forgets an inode's cache (inode eviction): its folios are dropped, dirty ones included.
     *
     * @param mapping the mapping to drop
     */
    public void removeMapping(AddressSpace mapping) {
        mapping.detach();
        mappings.remove(mapping);
        mapping.removeAll();
    }

    /**
     * Runs an asynchronous readahead fill on the cache's readahead threads (two daemon platform threads: file I/O
     * would pin a virtual thread's carrier). Dropped once the cache is closed. {@code fill} must take only the
     * locks a synchronous read fill takes (invalidate lock shared, folio locks ascending) and must not throw for
     * an I/O error (the blocks stay not uptodate; the reader meets the error).
     *
     * @param fill the fill to run (reads the range into the mapping)
     */
    public void readahead(Runnable fill) {
        if (closed) {
            return;
        }
        readaheadPending.incrementAndGet();
        try {
            readaheadPool.execute(() -> {
                try {
                    fill.run();
                } finally {
                    readaheadDone();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            readaheadDone();
            // Closing concurrently: readahead is only a hint, the reader reads synchronously instead.
            LOG.log(System.Logger.Level.DEBUG, "readahead not queued: cache closing");
        }
    }

    private void readaheadDone() {
        if (readaheadPending.decrementAndGet() == 0) {
            synchronized (readaheadPending) {
                readaheadPending.notifyAll();
            }
        }
    }

    /**
     * Waits until no asynchronous readahead is queued or running, so that a cache drop is not undone by a fill
     * queued before it (each fill is bounded: at most a few MiB of reads). The caller must hold no folio lock.
     */
    void quiesceReadahead() {
        synchronized (readaheadPending) {
            while (readaheadPending.get() > 0 && !closed) {
                try {
                    readaheadPending.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Bytes of folio memory held now.
     *
     * @return folio memory in bytes
     */
    public long cachedBytes() {
        return cachedBytes.get();
    }

    /**
     * Bytes in dirty blocks now.
     *
     * @return dirty bytes, counted in whole blocks
     */
    public long dirtyBytes() {
        return dirtyBytes.get();
    }

    /** Dirty bytes above which writers wake background writeback: half the dirty threshold. */
    long backgroundThresholdBytes() {
        return config.dirtyThresholdBytes() / 2;
    }

    /**
     * The last error background writeback met (also recorded on the file's {@link ErrSeq}), or null.
     *
     * @return the error, or null
     */
    public IOException lastBackgroundError() {
        return lastBackgroundError;
    }

    /**
     * Writes back every dirty folio of every mapping and waits; throws the first error.
     *
     * @throws IOException the first writeback error
     */
    public void syncAll() throws IOException {
        IOException first = null;
        for (AddressSpace m : mappings) {
            try {
                m.writeAndWait(0, Long.MAX_VALUE);
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Drops every clean, unlocked folio (like {@code echo 1 > /proc/sys/vm/drop_caches}). */
    public void dropCleanCaches() {
        quiesceReadahead();
        for (AddressSpace m : mappings) {
            m.dropClean();
        }
    }

    void accountDirty(long deltaBytes) {
        dirtyBytes.addAndGet(deltaBytes);
    }

    void folioAdded(Folio f) {
        cachedBytes.addAndGet(f.sizeBytes);
        liveFolios.incrementAndGet();
        clock.add(f);
        clockEntries.incrementAndGet();
        long over = cachedBytes.get() - config.budgetBytes();
        if (over > 0) {
            reclaim(over);
        }
    }

    /** Page-aligned memory for a new folio of {@code sizeBytes}, from {@link FolioPool}; contents undefined. */
    ByteBuffer folioMemory(int sizeBytes) {
        // Not zeroed: a block's bytes are only ever exposed once it is uptodate, and every path that makes a
        // block uptodate writes all of it (read fill, zero fill of holes/post-EOF, edge fill, full overwrite).
        // Zeroing here cost a second pass over every reused folio on the write path (bench/core.sh).
        return folioPool.take(sizeBytes, cachedBytes.get() + sizeBytes < config.budgetBytes());
    }

    /**
     * Bytes of folio memory kept for reuse now (statistics, tests).
     *
     * @return pooled folio memory in bytes
     */
    public long pooledBytes() {
        return folioPool.pooledBytes();
    }

    /**
     * Called with the folio locked right after it left its mapping ({@link Folio#removed} set): its memory goes
     * to the pool. Safe because {@link Folio#data} is only touched under the lock by whoever found it not removed.
     */
    void folioRemoved(Folio f) {
        if (!closed && f.lock.getHoldCount() == 1) {
            folioPool.give(f.data);
        }
        cachedBytes.addAndGet(-f.sizeBytes);
        int live = liveFolios.decrementAndGet();
        // Removed folios stay in the CLOCK until the hand passes; purge when they dominate so that memory of
        // truncated files is not kept alive by the queue.
        if (clockEntries.get() > 2 * live + 64 && reclaimLock.tryLock()) {
            try {
                clock.removeIf(x -> {
                    if (x.removed) {
                        clockEntries.decrementAndGet();
                        return true;
                    }
                    return false;
                });
            } finally {
                reclaimLock.unlock();
            }
        }
    }

    /**
     * Frees at least {@code targetBytes} of clean folios if it can, in CLOCK order; gives up after two sweeps of
     * the hand. Never blocks on a folio lock.
     *
     * @return bytes freed
     */
    long reclaim(long targetBytes) {
        long freed = 0;
        reclaimLock.lock();
        try {
            int budgetSteps = 2 * clockEntries.get() + 2;
            while (freed < targetBytes && budgetSteps-- > 0) {
                Folio f = clock.poll();
                if (f == null) {
                    break;
                }
                if (f.removed) {
                    clockEntries.decrementAndGet();
                    continue;
                }
                if (f.referenced) {
                    f.referenced = false;
                    clock.add(f);
                    continue;
                }
                if (f.nrDirty != 0 || f.writeback || !f.lock.tryLock()) {
                    clock.add(f);
                    continue;
                }
                try {
                    if (f.removed) {
                        clockEntries.decrementAndGet();
                    } else if (f.nrDirty != 0 || f.writeback || f.lock.getHoldCount() > 1) {
                        // Hold count > 1: this thread already holds the folio (a fill or write that created
                        // another folio and triggered reclaim); it is in use, not idle.
                        clock.add(f);
                    } else {
                        clockEntries.decrementAndGet();
                        f.mapping.removeLocked(f);
                        freed += f.sizeBytes;
                    }
                } finally {
                    f.lock.unlock();
                }
            }
        } finally {
            reclaimLock.unlock();
        }
        return freed;
    }

    /**
     * Called by a writer of {@code mapping} before it dirties more, holding no folio lock: writes back while the
     * cache holds more dirty bytes than the threshold, then reclaims down to the budget.
     *
     * Writeback errors are recorded on each file's {@link ErrSeq} (and reported by its next fsync), not thrown
     * at the writer: like {@code balance_dirty_pages}, throttling never fails a write.
     *
     * @param mapping the mapping about to be dirtied
     */
    public void balanceDirty(AddressSpace mapping) {
        long dirty = dirtyBytes.get();
        if (bgThread != null && dirty > backgroundThresholdBytes() && !bgKicked) {
            // Above the background threshold (half the dirty threshold, as the kernel's dirty_background_ratio):
            // wake the writeback thread without waiting for it, so that copying into the cache and writing to the
            // device overlap instead of alternating.
            bgKicked = true;
            synchronized (bgMonitor) {
                bgMonitor.notifyAll();
            }
        }
        if (dirty > config.dirtyThresholdBytes()) {
            if (mapping.dirtyBytes() > 0) {
                writeBackRecorded(mapping);
            }
            if (dirtyBytes.get() > config.dirtyThresholdBytes()) {
                for (AddressSpace m : mappings) {
                    if (m != mapping && m.dirtyBytes() > 0) {
                        writeBackRecorded(m);
                    }
                }
            }
        }
        long over = cachedBytes.get() - config.budgetBytes();
        if (over > 0) {
            reclaim(over);
        }
    }

    /** Writes back a mapping for the cache's own reasons; a failure is on the mapping's ErrSeq and logged. */
    private void writeBackRecorded(AddressSpace m) {
        try {
            m.writeAndWait(0, Long.MAX_VALUE);
        } catch (IOException e) {
            // Recorded on m.errors() by writeback: the next fsync of every handle reports it.
            lastBackgroundError = e;
            LOG.log(System.Logger.Level.WARNING, "writeback of inode " + m.host().ino() + " failed: " + e.getMessage());
        }
    }

    private void backgroundLoop() {
        long intervalNanos = TimeUnit.MILLISECONDS.toNanos(config.writebackIntervalMillis());
        while (!closed) {
            synchronized (bgMonitor) {
                if (closed) {
                    return;
                }
                try {
                    if (!bgKicked) { // a kick that came while we were writing back must not wait a whole interval
                        bgMonitor.wait(Math.max(1, config.writebackIntervalMillis() / 2));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            long now = System.nanoTime();
            boolean kicked = bgKicked;
            bgKicked = false;
            for (AddressSpace m : mappings) {
                if (closed) {
                    return;
                }
                boolean old = now - m.dirtiedSinceNanos() >= intervalNanos;
                boolean over = kicked && dirtyBytes.get() > backgroundThresholdBytes() / 2;
                if (m.dirtyBytes() > 0 && (old || over)) {
                    writeBackRecorded(m);
                }
            }
        }
    }

    /** Stops background writeback. Does not write back (call {@link #syncAll()} first). */
    @Override
    public void close() {
        closed = true;
        readaheadPool.shutdownNow();
        folioPool.close();
        synchronized (bgMonitor) {
            bgMonitor.notifyAll();
        }
        if (bgThread != null && bgThread != Thread.currentThread()) {
            try {
                bgThread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
