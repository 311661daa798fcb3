package org.iomap4j.fs;

import java.io.IOException;
import java.util.Arrays;

/**
 * The inodes one operation obtained ({@link InodeCache#iget}, {@link InodeCache#insertNew}), pinned until
 * {@link #close()}: the answer to "an operation loads an inode by number, the inode is evicted, the operation
 * writes into the stale object". Eviction needs no pins, and pins are taken and checked under the cache's lock
 * together with the lookup, so an object an operation holds is never evicted under it, and an operation that
 * comes after an eviction finds no object and reads the inode afresh.
 *
 * <p>One {@code Pins} per operation, opened with try-with-resources around the whole operation and passed to the
 * filesystem's internal methods. {@link #close()} runs after the operation released its namespace lock: it puts
 * unused inodes on their way (LRU, eviction, pending writeback) and frees an unlinked inode whose last user it
 * was ({@link SuperOperations#freeInode}, which takes the namespace lock). Not thread-safe: one operation, one
 * thread.
 */
public final class Pins implements AutoCloseable {
    private final InodeCache<?> cache;
    Inode[] held = new Inode[4];
    int count;
    /** close() kicks the flusher if too many evictions are pending (not for the flusher's own pins). */
    boolean kickWhenOver = true;

    Pins(InodeCache<?> cache) {
        this.cache = cache;
    }

    /** Pins {@code i} for this operation; the cache's lock held. */
    <I extends Inode> I add(I i) {
        cache.pinLocked(i);
        if (count == held.length) {
            held = Arrays.copyOf(held, count * 2);
        }
        held[count++] = i;
        return i;
    }

    /**
     * Drops every pin. Unused linked inodes go to the LRU or are evicted (clean) or made pending (dirty); an
     * unlinked one whose last user this was is freed.
     *
     * @throws IOException from freeing an unlinked inode (the first; others suppressed)
     */
    @Override
    public void close() throws IOException {
        if (count == 0) {
            return;
        }
        cache.unpin(this);
    }
}
