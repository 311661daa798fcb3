package org.iomap4j.buf;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * Journaling of a {@link BufferCache}'s metadata buffers (the kernel's jbd2 transaction machinery, fs/jbd2/
 * transaction.c, commit.c, checkpoint.c, without its on-disk format, which a {@link Log} supplies): the seeds'
 * "metadata buffers tracked for journaling them before doing I/O". Generic: any filesystem on iomap4j can use it;
 * ext3/ext4 plug in the jbd2 log (org.iomap4j.jbd2).
 *
 * <h2>Transaction lifecycle</h2>
 * <ol>
 *   <li><b>running</b>: {@link #start}(credits) returns a {@link JournalHandle} on the running transaction; while
 *       it is open, {@link Buffer#markDirty()} by that thread puts the buffer into the transaction (one credit per
 *       distinct buffer; exceeding the credits is an {@link IllegalStateException} naming the numbers; dirtying a
 *       buffer with no handle open is one too). Such buffers are pinned and never written in place by the
 *       cache.</li>
 *   <li><b>locked/committing</b> ({@link #commitAndWait}, the commit timer, a full transaction): new handles wait;
 *       once the last handle stops, every buffer's bytes are copied (the frozen images), a new running transaction
 *       opens, the data of the inodes registered with {@link JournalHandle#orderData} is written back
 *       ({@link OrderedData}, data=ordered), then the log writes the images and revoke records and makes the
 *       commit block durable ({@link Log#commit}).</li>
 *   <li><b>committed</b>: the images wait for the checkpoint: when the log runs short of space (or at
 *       {@link #checkpoint()}, {@link #close()}) the newest committed image of every block is written in place,
 *       the device flushed, and the log told ({@link Log#checkpointed}), which frees its space.</li>
 * </ol>
 * A freed block ({@link BufferCache#forget}) leaves its transaction and the pending checkpoint writes, and gets a
 * revoke record in the running transaction if a copy of it is still in the log.
 *
 * <h2>Lock order</h2>
 * Handles are started before a filesystem's inode/allocator locks and after its namespace and file rwsem
 * (the kernel's order: i_rwsem, then jbd2_journal_start, then i_data_sem...): a thread holding a handle may wait
 * for a filesystem lock, so no thread may start a handle (and wait for a commit) while holding one of those.
 * Inside: {@code commitLock} (one committer/checkpointer) → {@code checkpointIo} → {@code state} → the cache
 * monitor. Buffer content locks are taken before {@code state} ({@link Buffer#markDirty()} under the buffer lock);
 * {@code state} never waits for a buffer lock: images are copied when no handle is open, so no one may be
 * modifying a journaled buffer then.
 *
 * <p>Errors: a log write failure aborts the journal (as jbd2_journal_abort): nothing more is committed or
 * checkpointed, {@link #start} fails with EIO, and the device holds only complete transactions.
 */
public final class BufferJournal implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(BufferJournal.class.getName());

    /** The on-disk log a journal writes to (jbd2's, for ext3/ext4). Called by one committer at a time. */
    public interface Log {
        /**
         * The id the first transaction gets.
         *
         * @return the first transaction id
         */
        long firstTid();

        /**
         * The largest number of buffers one transaction may hold (jbd2: a quarter of the log).
         *
         * @return the most buffers per transaction (&ge; 1)
         */
        int maxTransactionBuffers();

        /**
         * Log blocks free now.
         *
         * @return free log blocks
         */
        long freeBlocks();

        /**
         * Log blocks a transaction of {@code buffers} images and {@code revokes} revoke records takes.
         *
         * @param buffers block images in the transaction
         * @param revokes revoke records in the transaction
         * @return the log blocks needed, descriptors and commit block included
         */
        long blocksNeeded(int buffers, int revokes);

        /**
         * Writes transaction {@code tid} (its ids are consecutive) and makes it durable: when this returns, replay
         * after a crash restores every image. Called only when {@link #freeBlocks()} covers it.
         *
         * @param tid the transaction id
         * @param images the block images by block number (pblk), ascending
         * @param revokes block numbers revoked by this transaction
         * @throws IOException if the log write or flush fails; the journal aborts
         */
        void commit(long tid, SortedMap<Long, byte[]> images, Set<Long> revokes) throws IOException;

        /**
         * Every transaction through {@code tid} is written in place and flushed: free their log space.
         *
         * @param throughTid the newest checkpointed transaction id
         * @throws IOException if the log superblock write fails
         */
        void checkpointed(long throughTid) throws IOException;

        /**
         * Everything is checkpointed: mark the log empty (unmount).
         *
         * @throws IOException if the log superblock write fails
         */
        void markClean() throws IOException;
    }

    /** data=ordered: writes back (and waits for) the data of the inodes a committing transaction names. */
    @FunctionalInterface
    public interface OrderedData {
        /**
         * Writes back the data of {@code inodes} and waits for it, before the commit block is written.
         *
         * @param inodes the filesystem's keys passed to {@link JournalHandle#orderData}
         * @throws IOException if a data write fails; the commit fails with it
         */
        void writeAndWait(Set<Object> inodes) throws IOException;
    }

    static final class Transaction {
        final long tid;
        int handles;
        long reserved;
        boolean locked;
        /** The committer runs {@link JournalCommitHooks#beforeFreeze}: even reserved handles wait. */
        boolean freezing;
        final Map<Long, Buffer> buffers = new LinkedHashMap<>();
        final Set<Long> revokes = new LinkedHashSet<>();
        final Set<Object> ordered = Collections.newSetFromMap(new IdentityHashMap<>());
        /** Frozen images (from the commit on). */
        SortedMap<Long, byte[]> images;
        /** Blocks freed while this transaction was being written. */
        final Set<Long> forgotten = new HashSet<>();

        Transaction(long tid) {
            this.tid = tid;
        }

        boolean isEmpty() {
            return buffers.isEmpty() && revokes.isEmpty();
        }
    }

    final BufferCache cache;
    private final Log log;
    private final OrderedData orderedData;
    private volatile JournalCommitHooks hooks;
    private final int maxTxBuffers;
    private final long commitIntervalNanos;
    private final ReentrantLock commitLock = new ReentrantLock();
    private final ReentrantLock checkpointIo = new ReentrantLock();
    private final ReentrantLock state = new ReentrantLock();
    private final Condition changed = state.newCondition();
    private final ThreadLocal<JournalHandle> current = new ThreadLocal<>();
    // Guarded by state.
    private Transaction running;
    private Transaction committing;
    private long committedTid;
    private final ArrayDeque<Transaction> checkpointList = new ArrayDeque<>();
    private final Map<Long, Long> inLog = new HashMap<>();
    private boolean commitRequested;
    private IOException failure;
    private boolean closed;
    private long commits;
    private long checkpoints;
    private final Thread commitThread;

    private BufferJournal(BufferCache cache, Log log, OrderedData orderedData, Duration commitInterval) {
        this.cache = cache;
        this.log = log;
        this.orderedData = orderedData;
        this.maxTxBuffers = log.maxTransactionBuffers();
        if (maxTxBuffers < 1) {
            throw new IllegalArgumentException("log allows " + maxTxBuffers + " buffers per transaction");
        }
        this.commitIntervalNanos = commitInterval.toNanos();
        this.running = new Transaction(log.firstTid());
        this.committedTid = running.tid - 1;
        this.commitThread = Thread.ofPlatform().daemon().name("iomap4j-journal-commit").unstarted(this::commitLoop);
    }

    /**
     * Attaches a journal to {@code cache}: from now on every {@link Buffer#markDirty()} must happen inside a handle.
     * The cache must have no dirty buffers (flush them first). Starts the commit thread (a commit every
     * {@code commitInterval}, the {@code commit=} mount option; jbd2's kjournald2).
     *
     * @param orderedData writes back data for data=ordered, or null (data=writeback)
     * @throws IllegalStateException dirty buffers, or a journal already attached
     * @param cache the buffer cache to journal; it must have no dirty buffers
     * @param log the on-disk log (for ext4, the jbd2 journal)
     * @param commitInterval time between periodic commits
     * @return the attached journal, commit thread started
     */
    public static BufferJournal attach(BufferCache cache, Log log, OrderedData orderedData, Duration commitInterval) {
        return attach(cache, log, orderedData, commitInterval, null);
    }

    /**
     * As {@link #attach(BufferCache, Log, OrderedData, Duration)}, with the filesystem's {@link JournalCommitHooks}.
     *
     * @param cache the buffer cache to journal; it must have no dirty buffers
     * @param log the on-disk log
     * @param orderedData writes back data for data=ordered, or null
     * @param commitInterval time between periodic commits
     * @param hooks the filesystem's commit hooks, or null
     * @return the attached journal, commit thread started
     */
    public static BufferJournal attach(BufferCache cache, Log log, OrderedData orderedData, Duration commitInterval,
            JournalCommitHooks hooks) {
        if (commitInterval.isNegative() || commitInterval.isZero()) {
            throw new IllegalArgumentException("commit interval must be positive: " + commitInterval);
        }
        BufferJournal j = new BufferJournal(cache, log, orderedData, commitInterval);
        j.hooks = hooks;
        cache.attachJournal(j);
        j.commitThread.start();
        return j;
    }

    /**
     * Starts a handle reserving {@code credits} buffers in the running transaction (jbd2_journal_start), waiting
     * while the transaction is being committed or has no room. Nested in an open handle of this thread: returns
     * that handle (one more reference).
     *
     * @throws IllegalArgumentException credits not in {@code [1, maxTransactionBuffers]}
     * @throws FsException EIO if the journal aborted after a log write error, or is closed
     * @param credits the most distinct buffers this handle may dirty
     * @return the handle; close it to end the operation
     */
    public JournalHandle start(int credits) throws FsException {
        return start(credits, false);
    }

    /**
     * The largest credits one handle may be started with (the largest transaction).
     *
     * @return the most credits of one {@link #start}
     */
    public int maxHandleCredits() {
        return maxTxBuffers;
    }

    /**
     * Starts a handle as {@link #start(int)}; a <b>reserved</b> start (jbd2's reserved handles, which ext4 uses for
     * the unwritten-extent conversion at I/O completion) never waits for room nor for a commit that is still
     * waiting for the open handles to stop: it joins the locked transaction, since the handle holders may be
     * waiting for it (a writer waiting for its writeback). It waits only while the committer copies the
     * filesystem's in-memory metadata ({@link JournalCommitHooks#beforeFreeze}), which waits for no handle holder.
     * Nested in an open handle of this thread, both return that handle with {@code credits} more
     * (jbd2_journal_extend), never waiting.
     *
     * @param credits the most distinct buffers this handle (or this nested part) may dirty
     * @param reserved true for a start that must not wait for a commit
     * @return the handle; close it to end the operation
     * @throws FsException EIO if the journal aborted or is closed
     */
    public JournalHandle start(int credits, boolean reserved) throws FsException {
        if (credits < 1 || credits > maxTxBuffers) {
            throw new IllegalArgumentException("handle of " + credits + " credits: must be 1.." + maxTxBuffers
                    + " (the largest transaction)");
        }
        JournalHandle h = current.get();
        if (h != null) {
            h.refs++;
            if (h.credits < Integer.MAX_VALUE) {
                state.lock();
                try {
                    int add = (int) Math.min(credits, (long) Integer.MAX_VALUE - h.credits);
                    h.credits += add;
                    h.transaction.reserved += add;
                } finally {
                    state.unlock();
                }
            }
            return h;
        }
        state.lock();
        try {
            while (true) {
                checkUsable();
                Transaction t = running;
                if (t.freezing || (t.locked && !reserved)) {
                    changed.awaitUninterruptibly();
                } else if (reserved) {
                    t.handles++;
                    t.reserved += credits;
                    if (t.reserved > maxTxBuffers) {
                        commitRequested = true;
                        changed.signalAll();
                    }
                    h = new JournalHandle(this, t, credits);
                    current.set(h);
                    return h;
                } else if (t.reserved + credits > maxTxBuffers) {
                    commitRequested = true;
                    changed.signalAll();
                    changed.awaitUninterruptibly();
                } else {
                    t.handles++;
                    t.reserved += credits;
                    h = new JournalHandle(this, t, credits);
                    current.set(h);
                    return h;
                }
            }
        } finally {
            state.unlock();
        }
    }

    /**
     * The calling thread's open handle on this journal, or null.
     *
     * @return the open handle, or null
     */
    public JournalHandle currentHandle() {
        return current.get();
    }

    private void checkUsable() throws FsException {
        if (failure != null) {
            throw new FsException(Errno.EIO, "journal aborted after a log write error: " + failure.getMessage());
        }
        if (closed) {
            throw new FsException(Errno.EIO, "journal is closed");
        }
    }

    void stop(JournalHandle h) {
        if (h.owner != Thread.currentThread()) {
            throw new IllegalStateException(h + " stopped by another thread");
        }
        if (--h.refs > 0) {
            return;
        }
        current.remove();
        state.lock();
        try {
            Transaction t = h.transaction;
            t.handles--;
            t.reserved -= h.credits - h.usedCredits;
            changed.signalAll();
        } finally {
            state.unlock();
        }
    }

    /** From {@link BufferCache#markDirty}: the buffer joins the calling thread's handle's transaction. */
    void dirtyMetadata(Buffer b) {
        JournalHandle h = current.get();
        if (h == null) {
            throw new IllegalStateException("metadata block " + b.pblk() + " dirtied outside a journal handle");
        }
        state.lock();
        try {
            Transaction t = h.transaction;
            Buffer had = t.buffers.get(b.pblk());
            if (had == b) {
                return;
            }
            if (had == null) {
                if (h.usedCredits >= h.credits) {
                    throw new IllegalStateException("journal handle of " + h.credits + " credits (tid " + t.tid
                            + ") dirtied buffer " + (h.usedCredits + 1) + " (block " + b.pblk()
                            + "): the operation's credit estimate is too low");
                }
                h.usedCredits++;
            } else {
                cache.unpin(had); // the block was forgotten and re-read: the new buffer replaces the old
            }
            cache.pin(b);
            t.buffers.put(b.pblk(), b);
            t.revokes.remove(b.pblk());
        } finally {
            state.unlock();
        }
    }

    void orderData(JournalHandle h, Object inode) {
        state.lock();
        try {
            h.transaction.ordered.add(inode);
        } finally {
            state.unlock();
        }
    }

    /**
     * From {@link BufferCache#forget}: block {@code pblk} was freed. Drops it from the running transaction and
     * from pending checkpoint writes; revokes it in the running transaction if a copy is in the log. Waits for a
     * checkpoint writing in place to finish (so that it never writes over the block's next owner).
     */
    void forget(long pblk) {
        forgetRange(pblk, 1);
    }

    /** {@link #forget} of {@code [startPblk, startPblk + count)} under one lock. */
    void forgetRange(long startPblk, long count) {
        checkpointIo.lock();
        state.lock();
        try {
            for (long pblk = startPblk; pblk < startPblk + count; pblk++) {
                forgetLocked(pblk);
            }
        } finally {
            state.unlock();
            checkpointIo.unlock();
        }
    }

    private void forgetLocked(long pblk) {
        {
            Transaction t = running;
            Buffer b = t.buffers.remove(pblk);
            if (b != null) {
                cache.unpin(b);
            }
            boolean logged = inLog.containsKey(pblk);
            if (committing != null && committing.images != null && committing.images.containsKey(pblk)) {
                committing.forgotten.add(pblk);
                logged = true;
            }
            for (Transaction c : checkpointList) {
                c.images.remove(pblk);
            }
            if (logged) {
                t.revokes.add(pblk);
            }
        }
    }

    /**
     * The running transaction's id (what an operation that just ran must have committed for fsync).
     *
     * @return the running transaction id
     */
    public long runningTid() {
        state.lock();
        try {
            return running.tid;
        } finally {
            state.unlock();
        }
    }

    /** Tests: the journal's state lock. */
    ReentrantLock stateForTests() {
        return state;
    }

    /** Tests (state lock held): the running transaction is locked by a committer. */
    boolean runningLockedForTests() {
        return running.locked;
    }

    /**
     * The newest durable transaction id.
     *
     * @return the newest committed transaction id
     */
    public long committedTid() {
        state.lock();
        try {
            return committedTid;
        } finally {
            state.unlock();
        }
    }

    /**
     * Makes transaction {@code tid} durable (fsync: only the transaction the file's last change is in): commits
     * it if it is still running; returns at once if it is already committed.
     *
     * @throws IllegalStateException called with an open handle on {@code tid} (it could never commit)
     * @throws IOException the log write failed (the journal is aborted)
     * @param tid the transaction id to make durable
     * @return true if this call wrote a commit (false: nothing to commit, or already committed)
     */
    public boolean commitAndWait(long tid) throws IOException {
        JournalHandle h = current.get();
        if (h != null && h.transaction.tid <= tid) {
            throw new IllegalStateException("commit of transaction " + tid + " waited for by a thread holding " + h);
        }
        commitLock.lock();
        try {
            boolean run;
            state.lock();
            try {
                if (failure != null) {
                    throw new FsException(Errno.EIO, "journal aborted: " + failure.getMessage());
                }
                run = tid > committedTid && running.tid == tid;
            } finally {
                state.unlock();
            }
            return run && doCommit();
        } finally {
            commitLock.unlock();
        }
    }

    /**
     * Commits the running transaction (sync).
     *
     * @return true if a commit was written
     * @throws IOException if the log write fails (the journal aborts)
     */
    public boolean commitAll() throws IOException {
        return commitAndWait(runningTid());
    }

    /**
     * Writes every committed transaction in place, flushes, and frees the log.
     *
     * @throws IOException if an in-place write, the device flush or the log update fails
     */
    public void checkpoint() throws IOException {
        commitLock.lock();
        try {
            doCheckpoint();
        } finally {
            commitLock.unlock();
        }
    }

    /**
     * Commits since attach, checkpoints since attach.
     *
     * @return a two-element array: {commits, checkpoints}
     */
    public long[] stats() {
        state.lock();
        try {
            return new long[] {commits, checkpoints};
        } finally {
            state.unlock();
        }
    }

    private void commitLoop() {
        long last = System.nanoTime();
        while (true) {
            boolean go;
            state.lock();
            try {
                long wait = commitIntervalNanos - (System.nanoTime() - last);
                while (!closed && !commitRequested && wait > 0) {
                    wait = changed.awaitNanos(wait);
                }
                if (closed) {
                    return;
                }
                commitRequested = false;
                go = failure == null;
            } catch (InterruptedException e) {
                return;
            } finally {
                state.unlock();
            }
            last = System.nanoTime();
            if (go) {
                commitLock.lock();
                try {
                    doCommit();
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.ERROR, "journal commit failed: {0}", e.toString());
                } finally {
                    commitLock.unlock();
                }
            }
        }
    }

    /** Commits the running transaction; commitLock held. */
    private boolean doCommit() throws IOException {
        Transaction t;
        JournalCommitHooks fsHooks = hooks;
        boolean pending = fsHooks != null && fsHooks.hasPendingMetadata();
        state.lock();
        try {
            t = running;
            if ((t.isEmpty() && !pending) || failure != null) {
                return false;
            }
            t.locked = true;
            while (t.handles > 0) {
                changed.awaitUninterruptibly();
            }
            t.freezing = true;
        } finally {
            state.unlock();
        }
        if (fsHooks != null) {
            // The filesystem is between operations: its in-memory metadata joins t through an unlimited handle.
            JournalHandle ch = new JournalHandle(this, t, Integer.MAX_VALUE);
            current.set(ch);
            boolean empty;
            state.lock();
            try {
                empty = t.isEmpty();
            } finally {
                state.unlock();
            }
            try {
                fsHooks.beforeFreeze(t.tid, empty);
            } catch (IOException | RuntimeException e) {
                state.lock();
                try {
                    t.locked = false;
                    t.freezing = false;
                    changed.signalAll();
                } finally {
                    state.unlock();
                }
                throw e;
            } finally {
                current.remove();
            }
        }
        state.lock();
        try {
            if (t.isEmpty()) {
                t.locked = false;
                t.freezing = false;
                changed.signalAll();
                return false;
            }
            SortedMap<Long, byte[]> images = new TreeMap<>();
            for (Map.Entry<Long, Buffer> e : t.buffers.entrySet()) {
                images.put(e.getKey(), e.getValue().array().clone());
            }
            t.images = images;
            committing = t;
            running = new Transaction(t.tid + 1);
            changed.signalAll();
        } finally {
            state.unlock();
        }
        if (fsHooks != null) {
            fsHooks.afterFreeze(t.tid); // handles may start again: what beforeFreeze put off (no journal lock held)
        }
        try {
            if (orderedData != null && !t.ordered.isEmpty()) {
                orderedData.writeAndWait(t.ordered);
            }
            long need = log.blocksNeeded(t.images.size(), t.revokes.size());
            if (need > log.freeBlocks()) {
                doCheckpoint();
            }
            log.commit(t.tid, t.images, t.revokes);
        } catch (IOException | RuntimeException e) {
            state.lock();
            try {
                failure = e instanceof IOException io ? io : new IOException(e);
                committing = null;
                changed.signalAll();
            } finally {
                state.unlock();
            }
            LOG.log(Level.ERROR, "journal aborted: commit of transaction {0} failed: {1}", t.tid, e.toString());
            throw e;
        }
        state.lock();
        try {
            t.images.keySet().removeAll(t.forgotten);
            for (Long pblk : t.images.keySet()) {
                inLog.put(pblk, t.tid);
            }
            for (Long pblk : t.forgotten) {
                inLog.put(pblk, t.tid); // still in the log; its revoke is in a later transaction
            }
            committing = null;
            committedTid = t.tid;
            checkpointList.addLast(t);
            commits++;
            changed.signalAll();
        } finally {
            state.unlock();
        }
        if (fsHooks != null) {
            fsHooks.committed(t.tid);
        }
        if (log.freeBlocks() < 2 * log.blocksNeeded(maxTxBuffers, 0)) {
            doCheckpoint();
        }
        return true;
    }

    /** Checkpoints every committed transaction; commitLock held. */
    private void doCheckpoint() throws IOException {
        checkpointIo.lock();
        try {
            List<Transaction> list;
            SortedMap<Long, byte[]> latest = new TreeMap<>();
            state.lock();
            try {
                if (checkpointList.isEmpty() || failure != null) {
                    return;
                }
                list = new ArrayList<>(checkpointList);
                for (Transaction t : list) {
                    latest.putAll(t.images);
                }
            } finally {
                state.unlock();
            }
            int bs = cache.blockSizeBytes();
            for (Map.Entry<Long, byte[]> e : latest.entrySet()) {
                cache.device().write(e.getKey() * bs, ByteBuffer.wrap(e.getValue()));
            }
            cache.device().flush();
            long through = list.getLast().tid;
            log.checkpointed(through);
            state.lock();
            try {
                for (Transaction t : list) {
                    checkpointList.remove(t);
                    for (Buffer b : t.buffers.values()) {
                        cache.unpin(b);
                    }
                }
                inLog.values().removeIf(tid -> tid <= through);
                checkpoints++;
            } finally {
                state.unlock();
            }
        } finally {
            checkpointIo.unlock();
        }
    }

    /**
     * Unmount: commits the running transaction, checkpoints everything, marks the log empty, stops the commit
     * thread and detaches from the cache (also when it fails). Handles must all be stopped.
     *
     * @throws IllegalStateException a handle is still open
     * @throws FsException EIO if the journal was aborted (the log is left for recovery)
     */
    @Override
    public void close() throws IOException {
        state.lock();
        try {
            if (closed) {
                return;
            }
            if (running.handles > 0) {
                throw new IllegalStateException(running.handles + " journal handles still open at close");
            }
        } finally {
            state.unlock();
        }
        try {
            commitAll();
            checkpoint();
            boolean clean;
            state.lock();
            try {
                clean = failure == null && checkpointList.isEmpty();
            } finally {
                state.unlock();
            }
            if (clean) {
                log.markClean();
            }
        } finally {
            state.lock();
            try {
                closed = true;
                changed.signalAll();
            } finally {
                state.unlock();
            }
            try {
                commitThread.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            cache.detachJournal(this);
        }
    }
}
