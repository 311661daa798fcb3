package org.iomap4j.fs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.PageCache;

/**
 * The generic inode cache (the kernel's fs/inode.c: iget, iput/evict, the LRU of unused inodes), over a
 * filesystem's inode type {@code I}. The filesystem supplies {@link SuperOperations} (read, write, evict, free an
 * inode); the dirty-inode set and the write-back of pending evictions are {@link InodeWriteback}'s.
 *
 * <p>An in-memory inode leaves the cache (and its page cache with it) when it is linked, has no lookup reference,
 * no open handle, no operation using it ({@link Pins}), and is clean: not dirty, no dirty folio, no recorded
 * writeback error.
 * <ul>
 *   <li>{@link #forget}/{@link #release} that drop the last reference or handle evict at once if clean; a dirty
 *       inode is remembered as pending and evicted once clean: by {@link InodeWriteback#writeDirtyInodes} right
 *       after its inode was written, by {@link InodeWriteback#evictCleanPending} after a sync, and by
 *       {@link InodeWriteback#writebackPendingEvictions} when more than {@link #pendingEvictionLimit()} wait (in
 *       the caller, throttling it, or on the flusher thread: forget never does I/O, FUSE's FORGET has no reply).</li>
 *   <li>An inode an operation reached by number without any reference goes to a small LRU of unused inodes
 *       ({@link #unusedInodeLimit()}) so that repeated by-number use does not reload it; the LRU's oldest are
 *       evicted (or, if dirty, made pending) beyond the limit.</li>
 *   <li>Teardown (removing the page cache, which waits for a writeback still in flight on its folios) runs
 *       outside the cache's lock while a tombstone makes an {@link #iget} of the same number wait, so a reload
 *       never reads the device before the old copy's last writeback reached it.</li>
 * </ul>
 *
 * <p>Lock order: the cache's lock ({@code lock}, a monitor) is a leaf: nothing is acquired while it is held
 * (eviction only reads atomics there: a mapping's dirty byte count, the dirty set). {@link SuperOperations} are
 * called without it. Page-cache teardown runs after it is released.
 *
 * @param <I> the filesystem's in-memory inode type
 */
public final class InodeCache<I extends Inode> {
    /** Guards every map here and each inode's reference state. A leaf lock. */
    final Object lock = new Object();
    private final Map<Long, I> icache = new HashMap<>();
    /** Unused inodes reached without a reference, least recently used first. */
    private final LinkedHashMap<Long, I> unusedLru = new LinkedHashMap<>();
    /** Unused, dropped inodes waiting to become clean before eviction, oldest first. */
    final LinkedHashMap<Long, I> evictPending = new LinkedHashMap<>();
    /** Tombstones: inodes taken out of the cache whose page cache is still being torn down. */
    private final Map<Long, I> evicting = new HashMap<>();
    /**
     * Eviction counters by inode number modulo their length: iget reads the inode from disk outside the lock and
     * inserts it only if no eviction of that number happened meanwhile (else the copy it read may predate the
     * evicted object's last write).
     */
    private final int[] evictStamps = new int[1024];
    private volatile int unusedInodeLimit = 1024;
    private volatile int pendingEvictionLimit = 4096;

    private final SuperOperations<I> ops;
    private final PageCache pageCache;
    private final InodeWriteback<I> writeback;
    private final boolean readOnly;

    /**
     * An inode cache reading inodes through {@code ops}.
     *
     * @param readOnly no inode is ever written: pending evictions are not written back
     * @param flusherName name of the pending-eviction flusher thread
     * @param ops the filesystem's inode operations
     * @param pageCache the page cache the inodes' mappings live in
     */
    public InodeCache(SuperOperations<I> ops, PageCache pageCache, boolean readOnly, String flusherName) {
        this.ops = ops;
        this.pageCache = pageCache;
        this.readOnly = readOnly;
        this.writeback = new InodeWriteback<>(this, ops, flusherName);
    }

    /**
     * The dirty-inode set and pending-eviction writeback of this cache.
     *
     * @return the inode writeback
     */
    public InodeWriteback<I> writeback() {
        return writeback;
    }

    boolean readOnly() {
        return readOnly;
    }

    /**
     * Most unused unreferenced inodes kept in the LRU (default 1024).
     *
     * @return the limit
     */
    public int unusedInodeLimit() {
        return unusedInodeLimit;
    }

    /**
     * Sets {@link #unusedInodeLimit()}; takes effect as inodes next become unused (a negative value means 0).
     *
     * @param n the new limit
     */
    public void setUnusedInodeLimit(int n) {
        unusedInodeLimit = n;
    }

    /**
     * Above this many pending evictions, modifying operations write them back (default 4096).
     *
     * @return the limit
     */
    public int pendingEvictionLimit() {
        return pendingEvictionLimit;
    }

    /**
     * Sets {@link #pendingEvictionLimit()}; checked at the next trigger (a negative value means 0).
     *
     * @param n the new limit
     */
    public void setPendingEvictionLimit(int n) {
        pendingEvictionLimit = n;
    }

    /**
     * A new per-operation pin scope; close it when the operation ends (try-with-resources).
     *
     * @return the pin scope
     */
    public Pins pins() {
        return new Pins(this);
    }

    /**
     * The in-memory inode {@code ino}, read through {@link SuperOperations#readInode} on first use, pinned for
     * {@code pins}'s operation: it cannot be evicted until that operation ends. The caller checks the number's
     * range first.
     *
     * @throws FsException EINTR if interrupted while an older copy is being evicted
     * @throws IOException from {@link SuperOperations#readInode}
     * @param pins the operation's pin scope
     * @param ino the inode number
     * @return the inode, pinned
     */
    public I iget(Pins pins, long ino) throws IOException {
        while (true) {
            int stamp;
            synchronized (lock) {
                awaitNotEvicting(ino);
                I cached = icache.get(ino);
                if (cached != null) {
                    return pins.add(cached);
                }
                stamp = evictStamps[stampSlot(ino)];
            }
            I inode = ops.readInode(ino);
            synchronized (lock) {
                I raced = icache.get(ino);
                if (raced != null) {
                    return pins.add(raced);
                }
                if (evictStamps[stampSlot(ino)] == stamp) {
                    icache.put(ino, inode);
                    return pins.add(inode);
                }
                // An inode with a number in this slot was evicted while we read: ours may be older than what
                // that object wrote to the inode table. Read again.
            }
        }
    }

    /**
     * Caches a newly allocated inode (new_inode + insert_inode_hash) pinned for {@code pins}'s operation.
     *
     * @param pins the operation's pin scope
     * @param inode the new inode
     * @return the cached inode, pinned
     */
    public I insertNew(Pins pins, I inode) {
        synchronized (lock) {
            icache.put(inode.ino(), inode);
            return pins.add(inode);
        }
    }

    /**
     * The cached inode {@code ino} or null, without pinning (for forget and tests).
     *
     * @param ino the inode number
     * @return the inode, or null
     */
    public I peek(long ino) {
        synchronized (lock) {
            return icache.get(ino);
        }
    }

    /**
     * A snapshot of every cached inode (unmount).
     *
     * @return the cached inodes
     */
    public List<I> snapshot() {
        synchronized (lock) {
            return new ArrayList<>(icache.values());
        }
    }

    /**
     * Inodes cached now.
     *
     * @return the inode count
     */
    public int size() {
        synchronized (lock) {
            return icache.size();
        }
    }

    /**
     * Unused dirty inodes waiting to become clean for eviction.
     *
     * @return the pending eviction count
     */
    public int pendingEvictionCount() {
        synchronized (lock) {
            return evictPending.size();
        }
    }

    private int stampSlot(long ino) {
        return (int) (ino % evictStamps.length);
    }

    /** Waits (lock held) until no copy of {@code ino} is being torn down. */
    private void awaitNotEvicting(long ino) throws FsException {
        while (evicting.containsKey(ino)) {
            try {
                lock.wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FsException(Errno.EINTR, "interrupted waiting for the eviction of inode " + ino);
            }
        }
    }

    // ---------------------------------------------------------------- references

    /**
     * A lookup reference (FUSE's nlookup): the inode stays cached until {@link #forget} drops it.
     *
     * @param i the inode looked up
     */
    public void ref(I i) {
        synchronized (lock) {
            i.lookupRefs++;
            i.dropped = false;
        }
    }

    /**
     * An open handle: the inode stays cached until {@link #release}.
     *
     * @param i the inode opened
     */
    public void open(I i) {
        synchronized (lock) {
            i.openCount++;
            i.dropped = false;
        }
    }

    /**
     * Drops {@code count} lookup references of {@code ino} (iput for FORGET). The last one of an unlinked inode
     * without handles frees it ({@link SuperOperations#freeInode}); the last one of a linked inode without handles
     * evicts it if clean, else makes it pending. Does no I/O for a linked inode.
     *
     * <p>Whether to free is decided by {@link Inode#isUnlinked()}, set by the unlinking operation while it has the
     * inode pinned: if this reads it false, that operation has not unpinned yet and its {@link Pins#close()} sees
     * the references dropped here (both under the lock) and frees the inode.
     *
     * @param ino the inode number
     * @param count references dropped
     * @throws IOException what {@link SuperOperations#freeInode} throws
     */
    public void forget(long ino, long count) throws IOException {
        I i;
        boolean last;
        synchronized (lock) {
            i = icache.get(ino);
            if (i == null) {
                return;
            }
            long before = i.lookupRefs;
            i.lookupRefs = Math.max(0, i.lookupRefs - count);
            last = before > 0 && i.lookupRefs == 0 && i.openCount == 0;
        }
        if (!readOnly && i.isUnlinked()) {
            ops.freeInode(i);
        }
        if (last) {
            releaseUnused(i, true);
        }
    }

    /**
     * Drops an open handle of {@code i} (iput for RELEASE); as {@link #forget}.
     *
     * @param i the inode
     * @throws IOException what {@link SuperOperations#freeInode} throws
     */
    public void release(I i) throws IOException {
        boolean last;
        synchronized (lock) {
            if (i.openCount > 0) {
                i.openCount--;
            }
            last = i.openCount == 0 && i.lookupRefs == 0;
        }
        if (!readOnly && i.isUnlinked()) {
            ops.freeInode(i);
        }
        if (last) {
            releaseUnused(i, true);
        }
    }

    // ---------------------------------------------------------------- freeing (unlinked inodes)

    /**
     * Claims an unlinked inode for freeing if nobody uses it any more (no reference, handle or pin) and nobody
     * claimed it before. The caller (holding its namespace lock) then frees it on disk and calls
     * {@link #removeFreed}.
     *
     * @param i the unlinked inode
     * @return true if the caller now owns freeing it
     */
    public boolean startFreeing(I i) {
        synchronized (lock) {
            if (i.freed || i.lookupRefs > 0 || i.openCount > 0 || i.pins > 0) {
                return false;
            }
            i.freed = true;
            return true;
        }
    }

    /**
     * Claims {@code i} for freeing regardless of users (unmount's orphans, undoing a half-created inode); false if
     * it was claimed before.
     *
     * @param i the inode
     * @return true if the caller now owns freeing it
     */
    public boolean claimFreeing(I i) {
        synchronized (lock) {
            if (i.freed) {
                return false;
            }
            i.freed = true;
            return true;
        }
    }

    /**
     * True once {@code i} was claimed for freeing.
     *
     * @param i the inode
     * @return true if claimed for freeing
     */
    public boolean isFreeing(I i) {
        synchronized (lock) {
            return i.freed;
        }
    }

    /**
     * Takes a freed inode out of the cache (its page cache was already removed by the caller) and clears its
     * dirty mark; an {@link #iget} that read the number before must not cache what it read.
     *
     * @param i the freed inode
     */
    public void removeFreed(I i) {
        writeback.clearDirty(i);
        synchronized (lock) {
            icache.remove(i.ino(), i);
            unusedLru.remove(i.ino(), i);
            evictPending.remove(i.ino(), i);
            evictStamps[stampSlot(i.ino())]++;
        }
    }

    // ---------------------------------------------------------------- eviction

    void pinLocked(Inode i) {
        i.pins++;
        unusedLru.remove(i.ino());
        evictPending.remove(i.ino());
    }

    @SuppressWarnings("unchecked")
    void unpin(Pins p) throws IOException {
        List<I> teardown = new ArrayList<>();
        List<I> toFree = new ArrayList<>();
        boolean over;
        synchronized (lock) {
            for (int k = 0; k < p.count; k++) {
                I i = (I) p.held[k];
                p.held[k] = null;
                if (--i.pins > 0 || i.freed || i.evicted) {
                    continue;
                }
                if (i.isUnlinked()) {
                    if (i.lookupRefs == 0 && i.openCount == 0) {
                        toFree.add(i);
                    }
                } else {
                    releaseUnusedLocked(i, teardown);
                }
            }
            p.count = 0;
            over = evictPending.size() > pendingEvictionLimit;
        }
        teardown(teardown);
        if (over && p.kickWhenOver) {
            writeback.kickPendingWriteback();
        }
        IOException first = null;
        for (I i : toFree) {
            try {
                ops.freeInode(i);
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

    /** True if {@code i} may leave the cache once clean; lock held. */
    boolean unusedLocked(I i) {
        return !i.freed && !i.evicted && !i.isUnlinked() && i.lookupRefs == 0 && i.openCount == 0 && i.pins == 0;
    }

    /**
     * {@code i} became unused. {@code dropped}: by forget/release dropping the last reference or handle (evict
     * now if clean, else pending); else after an operation that reached it without a reference (LRU, unless it
     * was dropped before). Never does I/O.
     */
    private void releaseUnused(I i, boolean dropped) {
        List<I> teardown = new ArrayList<>(1);
        boolean over;
        synchronized (lock) {
            if (dropped && i.lookupRefs == 0 && i.openCount == 0) {
                i.dropped = true;
            }
            releaseUnusedLocked(i, teardown);
            over = evictPending.size() > pendingEvictionLimit;
        }
        teardown(teardown);
        if (over) {
            writeback.kickPendingWriteback();
        }
    }

    /** Puts an unused inode on its way; lock held. Objects to tear down are added to {@code teardown}. */
    private void releaseUnusedLocked(I i, List<I> teardown) {
        if (!unusedLocked(i)) {
            return;
        }
        if (!i.dropped) {
            unusedLru.remove(i.ino());
            unusedLru.put(i.ino(), i);
            int limit = Math.max(0, unusedInodeLimit);
            while (unusedLru.size() > limit) {
                var eldest = unusedLru.entrySet().iterator().next();
                unusedLru.remove(eldest.getKey());
                eldest.getValue().dropped = true;
                evictOrPendLocked(eldest.getValue(), teardown);
            }
            return;
        }
        unusedLru.remove(i.ino());
        evictOrPendLocked(i, teardown);
    }

    /**
     * Evicts an unused inode if nothing of it lives only in memory (not dirty, no dirty block in its page cache),
     * else makes it pending. A folio may still be under writeback (its dirty bits are cleared before the write):
     * {@link #teardown} waits for it before a reload of the number can read the device. An inode whose page cache
     * recorded a writeback error stays cached, neither pending nor evicted, so that the error is not lost with
     * it. Lock held; reads only atomics, never blocks.
     */
    void evictOrPendLocked(I i, List<I> teardown) {
        evictPending.remove(i.ino());
        AddressSpace m = i.mappingIfCreated();
        if (writeback.isDirty(i) || (m != null && m.dirtyBytes() > 0)) {
            evictPending.put(i.ino(), i);
            return;
        }
        if (m != null && m.errors().hasError()) {
            return;
        }
        icache.remove(i.ino(), i);
        i.evicted = true;
        evicting.put(i.ino(), i);
        evictStamps[stampSlot(i.ino())]++;
        teardown.add(i);
    }

    /** Removes evicted objects' page caches (and the filesystem's extras), then lifts their tombstones. */
    void teardown(List<I> victims) {
        for (I v : victims) {
            try {
                AddressSpace m = v.detachMapping();
                if (m != null) {
                    pageCache.removeMapping(m); // waits for a writeback still in flight on its folios
                }
                ops.evictInode(v);
            } finally {
                synchronized (lock) {
                    evicting.remove(v.ino(), v);
                    lock.notifyAll();
                }
            }
        }
    }
}
