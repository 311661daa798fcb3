package org.iomap4j.fs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.iomap.Writeback;

/**
 * Inode writeback (the kernel's fs/fs-writeback.c, the inode part): the set of dirty inodes
 * ({@link #markInodeDirty}, mark_inode_dirty), writing them into their metadata buffers through
 * {@link SuperOperations#writeInode} ({@link #writeDirtyInodes}, write_inode), and the write-back that lets
 * unused dirty inodes leave the {@link InodeCache}: a bounded batch run by modifying operations (throttling, like
 * balance_dirty_pages) or by one flusher thread for forget, which must not do I/O itself.
 *
 * <p>Lock order: {@code pendingWriteLock} is taken with no other lock held; inside it: the cache's lock (pins),
 * folio locks (data writeback), then whatever {@link SuperOperations#writeInode} takes (inode and buffer locks).
 *
 * @param <I> the filesystem's inode class
 */
public final class InodeWriteback<I extends Inode> {
    private static final System.Logger LOG = System.getLogger(InodeWriteback.class.getName());

    private final InodeCache<I> cache;
    private final SuperOperations<I> ops;
    private final Set<I> dirty = ConcurrentHashMap.newKeySet();
    /**
     * One thread at a time runs a {@link #writebackPendingEvictions} batch; a modifying operation that finds too
     * many pending waits for the running batch.
     */
    private final ReentrantLock pendingWriteLock = new ReentrantLock();
    /** Pending inodes the running batch took out of the pending set (pinned while written); under cache.lock. */
    private int pendingInBatch;
    /**
     * Runs {@link #writebackPendingEvictions} for forget: a FUSE mount gets no SYNCFS from the kernel, so without
     * it the dirty inodes the kernel forgets would wait for the next modifying operation or the unmount. One
     * daemon thread, started on first use.
     */
    private final ExecutorService flusher;
    /** A flusher task is queued and has not started yet. */
    private final AtomicBoolean flushQueued = new AtomicBoolean();
    private volatile boolean closed;

    InodeWriteback(InodeCache<I> cache, SuperOperations<I> ops, String flusherName) {
        this.cache = cache;
        this.ops = ops;
        this.flusher = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name(flusherName, 0).factory());
    }

    /**
     * mark_inode_dirty: the in-memory inode differs from its metadata buffer; it is not evicted until written.
     *
     * @param inode the dirtied inode
     */
    public void markInodeDirty(I inode) {
        dirty.add(inode);
    }

    /**
     * True if {@code inode} is in the dirty set.
     *
     * @param inode the inode
     * @return true if it waits to be written
     */
    public boolean isDirty(I inode) {
        return dirty.contains(inode);
    }

    /**
     * Number of dirty inodes now (a journal's commit decides whether in-memory metadata waits).
     *
     * @return the size of the dirty set
     */
    public int dirtyCount() {
        return dirty.size();
    }

    /**
     * Drops the dirty mark (the inode was freed, or the caller writes it itself).
     *
     * @param inode the inode
     */
    public void clearDirty(I inode) {
        dirty.remove(inode);
    }

    /**
     * write_inode of one inode if it is dirty: clears the mark, then {@link SuperOperations#writeInode}; the mark
     * is set again if that fails.
     *
     * @param inode the inode
     * @throws IOException from {@link SuperOperations#writeInode} (EIO, EUCLEAN)
     */
    public void writeInodeIfDirty(I inode) throws IOException {
        if (!dirty.contains(inode)) {
            return;
        }
        try (SuperOperations.InodeWriteScope scope = ops.beginInodeWrite()) { // e.g. a journal handle, before the mark
            if (dirty.remove(inode)) {
                try {
                    ops.writeInode(inode);
                } catch (IOException | RuntimeException e) {
                    dirty.add(inode);
                    throw e;
                }
            }
        }
    }

    /**
     * Writes every dirty inode (sync). Each is pinned meanwhile: between leaving the dirty set and reaching the
     * buffer it is neither dirty nor written, and must not be evicted then. Unpinning evicts an unused dropped
     * inode that is clean now, right after its inode was written. A failed write leaves the inode dirty.
     *
     * @throws IOException the first error from {@link SuperOperations#writeInode}; the failed inodes stay dirty
     */
    public void writeDirtyInodes() throws IOException {
        writeDirtyInodes(null);
    }

    /**
     * As {@link #writeDirtyInodes()}, but with {@code keepPins} non-null the pins are not released here: each
     * written inode's {@link Pins} is added to {@code keepPins} for the caller to close later. For a caller that
     * must not wait for page-cache writeback or start filesystem operations now (a journal's commit hook, which
     * runs while handles are blocked): releasing a pin may evict an inode (waiting for writeback in flight on its
     * folios) or free an unlinked one.
     *
     * @param keepPins where to leave the pins, or null to release each after its inode is written
     * @throws IOException the first error from {@link SuperOperations#writeInode}; the failed inodes stay dirty
     */
    public void writeDirtyInodes(List<Pins> keepPins) throws IOException {
        for (I inode : dirty) {
            Pins pins = cache.pins();
            synchronized (cache.lock) {
                pins.add(inode);
            }
            IOException failure = null;
            try {
                if (!inode.freed) {
                    writeInodeIfDirty(inode);
                } else {
                    dirty.remove(inode);
                }
            } catch (IOException e) {
                failure = e;
            } finally {
                try {
                    if (keepPins != null) {
                        keepPins.add(pins);
                    } else {
                        pins.close();
                    }
                } catch (IOException e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        }
    }

    /** Evicts every pending inode that is clean now (after a sync wrote everything). */
    public void evictCleanPending() {
        List<I> teardown = new ArrayList<>();
        synchronized (cache.lock) {
            for (I i : new ArrayList<>(cache.evictPending.values())) {
                if (cache.unusedLocked(i)) {
                    cache.evictOrPendLocked(i, teardown);
                } else {
                    cache.evictPending.remove(i.ino());
                }
            }
        }
        cache.teardown(teardown);
    }

    /**
     * Bounds the pending evictions without sync: when more than {@link InodeCache#pendingEvictionLimit()} wait,
     * writes the oldest back (data, then the inode into its buffer, as fsync does for one file) until half the
     * limit is left, and evicts them. Failures are handled like the page cache's background writeback: logged, a
     * data error recorded on the file's ErrSeq (the inode then stays cached with it), a failed inode write left
     * dirty (the next sync writes it again and reports the error). No-op on a read-only cache or after
     * {@link #shutdown}.
     */
    public void writebackPendingEvictions() {
        int limit = Math.max(0, cache.pendingEvictionLimit());
        if (cache.readOnly() || closed) {
            return;
        }
        synchronized (cache.lock) {
            if (cache.evictPending.size() + pendingInBatch <= limit) {
                return;
            }
        }
        pendingWriteLock.lock();
        try {
            Pins pins = cache.pins();
            pins.kickWhenOver = false; // what this batch leaves pending waits for the next trigger, no busy loop
            synchronized (cache.lock) {
                int n = cache.evictPending.size() - limit / 2; // <= 0 if a batch we waited for did the work
                for (I i : new ArrayList<>(cache.evictPending.values())) {
                    if (n-- <= 0) {
                        break;
                    }
                    pins.add(i);
                }
                pendingInBatch = pins.count;
            }
            for (int k = 0; k < pins.count; k++) {
                @SuppressWarnings("unchecked")
                I i = (I) pins.held[k];
                try {
                    AddressSpace m = i.mappingIfCreated();
                    if (m != null && m.dirtyBytes() > 0) {
                        Writeback.writeAndWait(m, 0, Long.MAX_VALUE);
                    }
                    writeInodeIfDirty(i);
                } catch (IOException | RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "writeback of unused inode " + i.ino()
                            + " before eviction failed (the inode stays cached): " + e.getMessage());
                }
            }
            try {
                pins.close(); // evicts the ones now clean, puts the others back into the pending set
            } catch (IOException e) {
                // Only unlinked inodes are freed by close(), and pending inodes are linked.
                LOG.log(System.Logger.Level.WARNING, "freeing after pending writeback failed: " + e.getMessage());
            }
        } finally {
            synchronized (cache.lock) {
                pendingInBatch = 0;
            }
            pendingWriteLock.unlock();
        }
    }

    /** Hands {@link #writebackPendingEvictions} to the flusher thread (no I/O in the caller). */
    void kickPendingWriteback() {
        if (cache.readOnly() || closed || !flushQueued.compareAndSet(false, true)) {
            return;
        }
        try {
            flusher.execute(() -> {
                flushQueued.set(false);
                writebackPendingEvictions();
            });
        } catch (RejectedExecutionException e) {
            flushQueued.set(false);
            LOG.log(System.Logger.Level.DEBUG, "pending inode writeback not queued: unmounting");
        }
    }

    /**
     * Tests: waits until the flusher thread has run everything queued so far.
     *
     * @throws InterruptedException if the wait is interrupted
     * @throws ExecutionException if a queued flush failed
     */
    public void awaitFlusher() throws InterruptedException, ExecutionException {
        flusher.submit(() -> { }).get();
    }

    /**
     * Unmount, first step: lets a queued or running flusher task finish (each is one bounded batch) and stops the
     * thread; later pending evictions are left to the caller's sync.
     */
    public void stopFlusher() {
        stopAndWait(flusher, 5, "pending inode writeback");
    }

    /** Unmount, last step: no more pending writeback; the flusher is stopped if it still runs. */
    public void shutdown() {
        closed = true;
        flusher.shutdownNow();
    }

    /**
     * shutdown() (no interrupt), then waits up to {@code minutes}; a task still running is logged, not killed.
     *
     * @param executor the executor to stop
     * @param minutes how long to wait, in minutes
     * @param what the executor's name, for the log message
     */
    public static void stopAndWait(ExecutorService executor, int minutes, String what) {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(minutes, TimeUnit.MINUTES)) {
                LOG.log(System.Logger.Level.WARNING, what + " still running after " + minutes + " min at unmount");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.log(System.Logger.Level.WARNING, "interrupted waiting for " + what + " at unmount");
        }
    }
}
