package org.iomap4j.buf;

import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One cached device block of metadata (a superblock, bitmap, inode-table or indirect block): the buffer-head
 * replacement of the seeds' challenge 4. Obtained from {@link BufferCache#read} or {@link BufferCache#getZeroed}
 * with a reference that {@link #close()} releases; a referenced buffer is never evicted.
 *
 * <p>Modify only with {@link #lock()} held, then {@link #markDirty()}. Reading without the lock sees a
 * consistent block only if the caller's own locks exclude writers. Lock order: a filesystem's inode/allocator
 * locks before buffer locks; at most one buffer lock at a time unless taken in ascending pblk order.
 */
public final class Buffer implements AutoCloseable {
    private final BufferCache cache;
    private final long pblk;
    private final byte[] data;
    private final ReentrantLock lock = new ReentrantLock();
    // Guarded by the cache's monitor.
    int refs;
    boolean dirty;
    boolean uptodate;
    /** Created by getZeroed and not written yet: nothing durable can point to it. */
    boolean fresh;
    long lastUse;

    Buffer(BufferCache cache, long pblk, int blockSizeBytes) {
        this.cache = cache;
        this.pblk = pblk;
        this.data = new byte[blockSizeBytes];
    }

    /**
     * The physical block number (in units of the cache's block size).
     *
     * @return the block number, in cache blocks from device byte 0
     */
    public long pblk() {
        return pblk;
    }

    /**
     * A little-endian view of the whole block, position 0, limit = block size; writes go to the cache.
     *
     * @return a fresh little-endian view; read or write it only under {@link #lock()}
     */
    public ByteBuffer data() {
        return ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The backing array (block-size bytes). Same locking rules as {@link #data()}.
     *
     * @return the block's bytes, shared with the cache (not a copy)
     */
    public byte[] array() {
        return data;
    }

    /** Takes the content lock (exclusive; reentrant). */
    public void lock() {
        lock.lock();
    }

    /**
     * Releases the content lock taken by {@link #lock()}.
     *
     * @throws IllegalMonitorStateException if the calling thread does not hold it
     */
    public void unlock() {
        lock.unlock();
    }

    /** Marks the block as needing a write; call after modifying it under {@link #lock()}. */
    public void markDirty() {
        cache.markDirty(this);
    }

    /** {@return true if the block was modified and not yet written (or, with a journal, not yet checkpointed)} */
    public boolean isDirty() {
        synchronized (cache) {
            return dirty;
        }
    }

    /** Releases this reference. */
    @Override
    public void close() {
        cache.release(this);
    }

    @Override
    public String toString() {
        return "Buffer[pblk=" + pblk + "]";
    }
}
