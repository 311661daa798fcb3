package org.iomap4j.buf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.DeviceIOException;

/**
 * A cache of device blocks for filesystem metadata, separate from any file's page cache (the seeds' challenge 4:
 * iomap has no metadata I/O). Blocks are addressed by physical block number in units of
 * {@link #blockSizeBytes()}; buffers belong to no inode.
 *
 * <ul>
 *   <li>{@link #read} returns an uptodate, referenced buffer (one device read on a miss).</li>
 *   <li>{@link #getZeroed} returns a buffer for a newly allocated block without reading it.</li>
 *   <li>{@link #syncDirty} writes every dirty buffer in address order, merging runs of consecutive blocks into
 *       one device request; {@link #flush} adds the device's durability barrier.</li>
 *   <li>Memory: at most {@code budgetBytes} of blocks; above it clean, unreferenced buffers are evicted least
 *       recently used first. Dirty or referenced buffers are never evicted (the cache may then exceed its
 *       budget until a sync).</li>
 *   <li>{@link WriteOrderHook}: called before any dirty buffer is written.</li>
 *   <li>Journaling ({@link BufferJournal#attach}): then {@link Buffer#markDirty()} puts the buffer into the
 *       calling thread's {@link JournalHandle}'s transaction instead of the dirty list; such buffers are pinned
 *       and reach their place only through the journal's checkpoint, after their transaction's commit block is
 *       durable.</li>
 * </ul>
 * Thread-safe. Lock order: buffer content lock → the journal's locks ({@link BufferJournal}) → the cache monitor,
 * which is innermost (held only for map and state updates, never across
 * device I/O, except while a miss is read, which holds the buffer's content lock and not the monitor).
 */
public final class BufferCache implements AutoCloseable {
    /** Called with the dirty blocks about to be written, in address order. */
    @FunctionalInterface
    public interface WriteOrderHook {
        /**
         * Called before the device write of {@code pblks}; the writes wait for it.
         *
         * @param pblks the dirty block numbers about to be written, ascending
         * @throws IOException to fail the write (the blocks stay dirty)
         */
        void beforeWrite(long[] pblks) throws IOException;
    }

    private final BlockDevice device;
    private final int blockSizeBytes;
    private final long budgetBytes;
    private final Map<Long, Buffer> buffers = new HashMap<>();
    private final TreeMap<Long, Buffer> dirty = new TreeMap<>();
    private long clock;
    private volatile WriteOrderHook writeOrderHook;
    private volatile BufferJournal journal;
    private boolean closed;

    /**
     * A cache over {@code device} with no journal (metadata is written in place by {@link #syncDirty}).
     *
     * @param device         the device cached; not closed by {@link #close()}
     * @param blockSizeBytes metadata block size, a multiple of the device's logical block size
     * @param budgetBytes    soft memory limit for cached blocks
     */
    public BufferCache(BlockDevice device, int blockSizeBytes, long budgetBytes) {
        if (blockSizeBytes <= 0 || blockSizeBytes % device.logicalBlockSize() != 0) {
            throw new IllegalArgumentException("block size " + blockSizeBytes + " not a multiple of device block "
                    + device.logicalBlockSize());
        }
        this.device = device;
        this.blockSizeBytes = blockSizeBytes;
        this.budgetBytes = Math.max(budgetBytes, 16L * blockSizeBytes);
    }

    /** {@return the device this cache reads and writes} */
    public BlockDevice device() {
        return device;
    }

    /** {@return the cache block size in bytes} */
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    /**
     * Number of blocks on the device, in this cache's block size.
     *
     * @return {@code device().sizeBytes() / blockSizeBytes()}
     */
    public long deviceBlocks() {
        return device.sizeBytes() / blockSizeBytes;
    }

    private void checkBlock(long pblk) throws IOException {
        if (pblk < 0 || pblk >= deviceBlocks()) {
            throw new DeviceIOException(pblk * blockSizeBytes,
                    "metadata block " + pblk + " is outside the device (" + deviceBlocks() + " blocks)");
        }
    }

    private Buffer lookupOrCreate(long pblk) {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("buffer cache closed");
            }
            Buffer b = buffers.get(pblk);
            if (b == null) {
                b = new Buffer(this, pblk, blockSizeBytes);
                buffers.put(pblk, b);
            }
            b.refs++;
            b.lastUse = ++clock;
            return b;
        }
    }

    /**
     * Returns block {@code pblk}, read from the device if not cached. The caller must {@link Buffer#close()} it.
     *
     * @throws IOException a device error (the buffer is not cached as uptodate), or a block outside the device
     * @param pblk block number in cache blocks
     * @return the buffer, uptodate, holding one reference
     */
    public Buffer read(long pblk) throws IOException {
        checkBlock(pblk);
        Buffer b = lookupOrCreate(pblk);
        boolean ok = false;
        try {
            b.lock();
            try {
                boolean need;
                synchronized (this) {
                    need = !b.uptodate;
                }
                if (need) {
                    ByteBuffer dst = ByteBuffer.wrap(b.array());
                    device.read(pblk * blockSizeBytes, dst);
                    synchronized (this) {
                        b.uptodate = true;
                    }
                }
            } finally {
                b.unlock();
            }
            ok = true;
            return b;
        } finally {
            if (!ok) {
                release(b);
            }
            maybeEvict();
        }
    }

    /**
     * Returns block {@code pblk} zero-filled and uptodate without reading it: for a block just allocated, whose
     * old contents are meaningless. The caller fills it, marks it dirty and closes it.
     *
     * @param pblk block number in cache blocks
     * @return the buffer, zero-filled and uptodate, holding one reference
     * @throws IOException if {@code pblk} lies beyond the device
     */
    public Buffer getZeroed(long pblk) throws IOException {
        checkBlock(pblk);
        Buffer b = lookupOrCreate(pblk);
        b.lock();
        try {
            Arrays.fill(b.array(), (byte) 0);
            synchronized (this) {
                b.uptodate = true;
                b.fresh = true;
            }
        } finally {
            b.unlock();
        }
        maybeEvict();
        return b;
    }

    void markDirty(Buffer b) {
        BufferJournal j = journal;
        if (j != null) {
            j.dirtyMetadata(b); // journaled: pinned in the running transaction, written by commit and checkpoint
            return;
        }
        markDirtyInPlace(b);
    }

    private synchronized void markDirtyInPlace(Buffer b) {
        if (!b.uptodate) {
            throw new IllegalStateException("dirtying a buffer that was never read: " + b);
        }
        if (!b.dirty) {
            b.dirty = true;
            dirty.put(b.pblk(), b);
        }
    }

    void release(Buffer b) {
        synchronized (this) {
            if (b.refs <= 0) {
                throw new IllegalStateException("buffer released more often than taken: " + b);
            }
            b.refs--;
        }
    }

    /**
     * The block was freed: forget its contents and any pending write (the kernel's bforget), so a later
     * reallocation as a data block is not overwritten by stale metadata.
     *
     * @param pblk block number in cache blocks
     */
    public void forget(long pblk) {
        BufferJournal j = journal;
        if (j != null) {
            j.forget(pblk); // out of its transaction and pending checkpoints; revoked if logged
        }
        forgetBuffer(pblk);
    }

    /**
     * {@link #forget} of every block in {@code [startPblk, startPblk + count)} (a freed extent), with one pass
     * over the journal's state.
     *
     * @param startPblk first block freed, in cache blocks
     * @param count number of blocks
     */
    public void forgetRange(long startPblk, long count) {
        if (count <= 0) {
            return;
        }
        BufferJournal j = journal;
        if (j != null) {
            j.forgetRange(startPblk, count);
        }
        synchronized (this) {
            if (count > buffers.size()) {
                for (Long pblk : new ArrayList<>(buffers.keySet())) {
                    if (pblk >= startPblk && pblk - startPblk < count) {
                        forgetBuffer(pblk);
                    }
                }
            } else {
                for (long p = startPblk; p < startPblk + count; p++) {
                    forgetBuffer(p);
                }
            }
        }
    }

    private synchronized void forgetBuffer(long pblk) {
        Buffer b = buffers.get(pblk);
        if (b == null) {
            return;
        }
        dirty.remove(pblk);
        b.dirty = false;
        b.fresh = false;
        if (b.refs == 0) {
            buffers.remove(pblk);
        } else {
            b.uptodate = false;
        }
    }

    /** A journal's reference: the buffer stays cached (and uptodate data in memory) until checkpointed. */
    synchronized void pin(Buffer b) {
        if (!b.uptodate) {
            throw new IllegalStateException("dirtying a buffer that was never read: " + b);
        }
        b.refs++;
    }

    synchronized void unpin(Buffer b) {
        b.refs--;
    }

    synchronized void attachJournal(BufferJournal j) {
        if (journal != null) {
            throw new IllegalStateException("a journal is already attached to this buffer cache");
        }
        if (!dirty.isEmpty()) {
            throw new IllegalStateException(dirty.size() + " dirty buffers: flush before attaching a journal");
        }
        journal = j;
    }

    synchronized void detachJournal(BufferJournal j) {
        if (journal == j) {
            journal = null;
        }
    }

    /**
     * The attached journal, or null (metadata is written in place by {@link #syncDirty}).
     *
     * @return the journal, or null
     */
    public BufferJournal journal() {
        return journal;
    }

    /**
     * Bytes held by cached buffers.
     *
     * @return the sum of the cached buffers' sizes in bytes
     */
    public synchronized long cachedBytes() {
        return (long) buffers.size() * blockSizeBytes;
    }

    /**
     * Number of dirty buffers.
     *
     * @return the number of buffers waiting to be written
     */
    public synchronized int dirtyCount() {
        return dirty.size();
    }

    /**
     * Sets the hook called before each group of dirty blocks is written (tests use it to record or fail write order).
     *
     * @param hook the hook, or null for none
     */
    public void setWriteOrderHook(WriteOrderHook hook) {
        this.writeOrderHook = hook;
    }

    /**
     * Writes one buffer now if it is dirty (no device flush).
     *
     * @param b the buffer; written only if dirty, then clean
     * @throws IOException if the device write fails (the buffer stays dirty)
     */
    public void writeBuffer(Buffer b) throws IOException {
        writeRuns(List.of(List.of(b)));
    }

    /**
     * Writes every dirty buffer, ascending by block, one device request per run of consecutive blocks. A failed
     * run stays dirty and the first error is thrown after every run was tried.
     *
     * @throws IOException the first device write error; failed runs stay dirty
     */
    public void syncDirty() throws IOException {
        syncDirtyMatching(b -> true);
    }

    /**
     * Writes every dirty buffer in three ordered phases with a device flush after each of the first two, so that
     * no block reaches the disk before the blocks it points to (the crash-safety rule of a filesystem without a
     * journal, e.g. ext2's inode pointing at a just-allocated indirect block that still holds an old owner's data):
     * <ol>
     *   <li>blocks that were never on disk ({@link #getZeroed}, e.g. new indirect blocks), which nothing durable
     *       points to yet;</li>
     *   <li>the other dirty blocks except the roots (existing indirect blocks, bitmaps, descriptors);</li>
     *   <li>the roots ({@code isRoot}: for ext2 the inode-table blocks), which point into the rest.</li>
     * </ol>
     * The caller adds the final device flush. Errors: as {@link #syncDirty()}, per phase.
     *
     * @param isRoot true for a block that others point to and that must be written last (a superblock)
     * @throws IOException the first device write or flush error; unwritten blocks stay dirty
     */
    public void syncDirtyOrdered(java.util.function.LongPredicate isRoot) throws IOException {
        if (syncDirtyMatching(b -> b.fresh && !isRoot.test(b.pblk())) > 0) {
            device.flush();
        }
        if (syncDirtyMatching(b -> !isRoot.test(b.pblk())) > 0) {
            device.flush();
        }
        syncDirtyMatching(b -> true);
    }

    /** Writes the dirty buffers {@code which} accepts (ascending, runs merged); returns how many were dirty. */
    private int syncDirtyMatching(java.util.function.Predicate<Buffer> which) throws IOException {
        List<List<Buffer>> runs = new ArrayList<>();
        int count = 0;
        synchronized (this) {
            List<Buffer> run = null;
            long prev = -2;
            for (Buffer b : dirty.values()) {
                if (!which.test(b)) {
                    continue;
                }
                if (run == null || b.pblk() != prev + 1) {
                    run = new ArrayList<>();
                    runs.add(run);
                }
                run.add(b);
                b.refs++; // pin while writing
                prev = b.pblk();
                count++;
            }
        }
        try {
            writeRuns(runs);
        } finally {
            synchronized (this) {
                for (List<Buffer> run : runs) {
                    for (Buffer b : run) {
                        b.refs--;
                    }
                }
            }
            maybeEvict();
        }
        return count;
    }

    private void writeRuns(List<List<Buffer>> runs) throws IOException {
        WriteOrderHook hook = writeOrderHook;
        if (hook != null && !runs.isEmpty()) {
            long[] pblks = runs.stream().flatMap(List::stream).mapToLong(Buffer::pblk).toArray();
            hook.beforeWrite(pblks);
        }
        IOException first = null;
        for (List<Buffer> run : runs) {
            // Snapshot each block under its content lock and clear dirty before the write: a modification
            // racing with the write re-dirties the buffer and is written by the next sync.
            List<ByteBuffer> copies = new ArrayList<>(run.size());
            List<Buffer> taken = new ArrayList<>(run.size());
            for (Buffer b : run) {
                b.lock();
                try {
                    synchronized (this) {
                        if (!b.dirty) {
                            continue;
                        }
                        b.dirty = false;
                        b.fresh = false;
                        dirty.remove(b.pblk());
                    }
                    copies.add(ByteBuffer.wrap(b.array().clone()));
                    taken.add(b);
                } finally {
                    b.unlock();
                }
            }
            // Runs may have gaps now (a buffer cleaned concurrently): split at gaps.
            int i = 0;
            while (i < taken.size()) {
                int j = i + 1;
                while (j < taken.size() && taken.get(j).pblk() == taken.get(j - 1).pblk() + 1) {
                    j++;
                }
                try {
                    device.submit(new Bio(Bio.Op.WRITE, taken.get(i).pblk() * blockSizeBytes, copies.subList(i, j)))
                            .join();
                } catch (java.util.concurrent.CompletionException e) {
                    IOException io = e.getCause() instanceof IOException ie ? ie
                            : new DeviceIOException(taken.get(i).pblk() * blockSizeBytes, "metadata write failed: " + e.getCause());
                    synchronized (this) {
                        for (int k = i; k < j; k++) {
                            Buffer b = taken.get(k);
                            if (!b.dirty && b.uptodate) {
                                b.dirty = true;
                                dirty.put(b.pblk(), b);
                            }
                        }
                    }
                    if (first == null) {
                        first = io;
                    }
                }
                i = j;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * {@link #syncDirty()} and then the device's durability barrier.
     *
     * @throws IOException if a write or the device flush fails
     */
    public void flush() throws IOException {
        syncDirty();
        device.flush();
    }

    /** Drops every clean, unreferenced buffer (after an external change to the device, or to free memory). */
    public synchronized void invalidateClean() {
        buffers.values().removeIf(b -> b.refs == 0 && !b.dirty);
    }

    private void maybeEvict() {
        synchronized (this) {
            long over = (long) buffers.size() * blockSizeBytes - budgetBytes;
            if (over <= 0) {
                return;
            }
            long toDrop = over / blockSizeBytes + Math.max(1, buffers.size() / 8);
            List<Buffer> victims = new ArrayList<>();
            for (Buffer b : buffers.values()) {
                if (b.refs == 0 && !b.dirty) {
                    victims.add(b);
                }
            }
            victims.sort((a, c) -> Long.compare(a.lastUse, c.lastUse));
            for (int k = 0; k < victims.size() && k < toDrop; k++) {
                buffers.remove(victims.get(k).pblk());
            }
        }
    }

    /** Drops everything without writing. Call {@link #flush()} first to keep dirty data. */
    @Override
    public synchronized void close() {
        closed = true;
        buffers.clear();
        dirty.clear();
    }
}
