package org.iomap4j.pagecache;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The page cache of one inode (the kernel's {@code struct address_space}): folios indexed by file offset, the
 * invalidate lock, the writeback error sequence and the readahead state.
 *
 * <p>Folios are naturally aligned powers of two between {@link #minFolioBytes()} (4 KiB, or the block size if
 * larger) and {@link #maxFolioBytes()}; they never overlap. A new folio takes the largest aligned size that
 * the operation's length allows and that is free in the index (like the kernel's {@code fgf_set_order}).
 *
 * <p>Lock order (outermost first): the filesystem's inode lock (i_rwsem) &rarr; {@link #invalidateLock()}
 * &rarr; folio locks, several only in ascending file order &rarr; the filesystem's block-map lock (inside
 * iomapBegin/mapBlocks only) &rarr; {@code treeLock} (index updates) &rarr; the cache's reclaim lock. Writeback
 * takes folio locks only; reclaim only ever try-locks folios.
 */
public final class AddressSpace {
    private final ReentrantReadWriteLock invalidateLock = new ReentrantReadWriteLock();
    private final ErrSeq errors = new ErrSeq();
    private final PageCache cache;
    private final MappingHost host;
    private final Writepages writepages;
    private final int blkBits;
    private final int minFolioBytes;
    private final int maxFolioBytes;
    /** Folios by file offset. Reads are lock-free; inserts and removals hold {@link #treeLock}. */
    private final FolioIndex folios = new FolioIndex();
    private final Object treeLock = new Object();
    private final AtomicLong cachedBytes = new AtomicLong();
    private final AtomicLong dirtyBytes = new AtomicLong();
    /** System.nanoTime() when this mapping last went from clean to dirty (for background writeback). */
    private volatile long dirtiedSinceNanos;
    // Readahead state, guarded by raLock.
    private final Object raLock = new Object();
    private long raNextPosBytes = 0;
    private long raWindowBytes = 0;
    /** End of the range already handed to asynchronous readahead (0: none). */
    private long asyncRaEndBytes = 0;
    /** Set once the inode's cache is torn down: queued asynchronous readahead must not repopulate it. */
    private volatile boolean detached;

    /** First readahead window of a sequential stream. */
    static final int RA_INITIAL_BYTES = 128 << 10;
    /** Largest readahead window. */
    static final int RA_MAX_BYTES = 2 << 20;

    AddressSpace(PageCache cache, MappingHost host, Writepages writepages) {
        this.cache = cache;
        this.host = host;
        this.writepages = writepages;
        int bs = host.blockSizeBytes();
        if (Integer.bitCount(bs) != 1 || bs < 512 || bs > 65536) {
            throw new IllegalArgumentException("inode " + host.ino() + ": block size " + bs
                    + " is not a power of two in [512, 65536]");
        }
        this.blkBits = Integer.numberOfTrailingZeros(bs);
        this.minFolioBytes = Math.max(PageCacheConfig.MIN_FOLIO_BYTES, bs);
        this.maxFolioBytes = Math.max(cache.config().maxFolioBytes(), minFolioBytes);
    }

    /**
     * The inode this cache belongs to ({@code mapping->host}).
     *
     * @return the owning inode
     */
    public MappingHost host() {
        return host;
    }

    /**
     * Writes back every dirty block in {@code [startBytes, endBytes)} and waits (mm's
     * {@code filemap_write_and_wait_range}) through the filesystem's {@link Writepages} hook. Errors are recorded
     * on {@link #errors()}; the first one of this pass is thrown after every folio was tried. The caller holds no
     * folio lock of this mapping.
     *
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     * @throws IOException the first writeback error of the range
     */
    public void writeAndWait(long startBytes, long endBytes) throws IOException {
        if (endBytes > startBytes) {
            writepages.writepages(this, startBytes, endBytes);
        }
    }

    /**
     * True once the inode's cache was torn down ({@link PageCache#removeMapping}): queued asynchronous readahead
     * must not repopulate it.
     *
     * @return true if the mapping was removed from its page cache
     */
    public boolean isDetached() {
        return detached;
    }

    /** Marks the cache torn down (see {@link #isDetached()}). */
    void detach() {
        detached = true;
    }

    /**
     * The cache this mapping belongs to.
     *
     * @return the page cache
     */
    public PageCache pageCache() {
        return cache;
    }

    /**
     * Held shared while inserting folios, exclusive while removing them (truncate, punch, invalidate).
     *
     * @return the invalidate lock (the kernel's {@code mapping->invalidate_lock})
     */
    public ReentrantReadWriteLock invalidateLock() {
        return invalidateLock;
    }

    /**
     * Writeback errors of this file (reported by fsync once per open handle).
     *
     * @return the error sequence of this file
     */
    public ErrSeq errors() {
        return errors;
    }

    /**
     * Bytes of folio memory this mapping holds.
     *
     * @return folio memory in bytes
     */
    public long cachedBytes() {
        return cachedBytes.get();
    }

    /**
     * Bytes in dirty blocks of this mapping.
     *
     * @return dirty bytes, counted in whole blocks
     */
    public long dirtyBytes() {
        return dirtyBytes.get();
    }

    /**
     * Smallest folio of this mapping in bytes: max(4 KiB, block size).
     *
     * @return the smallest folio size in bytes
     */
    public int minFolioBytes() {
        return minFolioBytes;
    }

    /**
     * Largest folio of this mapping in bytes: max(configured maximum, block size).
     *
     * @return the largest folio size in bytes
     */
    public int maxFolioBytes() {
        return maxFolioBytes;
    }

    long dirtiedSinceNanos() {
        return dirtiedSinceNanos;
    }

    /**
     * Number of folios cached (tests, statistics).
     *
     * @return the number of folios in the index
     */
    public int folioCount() {
        return folios.size();
    }

    /**
     * Sizes in bytes of the cached folios in file order (tests: proves large folios are used).
     *
     * @return the folio sizes in bytes, ascending by file offset
     */
    public List<Integer> folioSizes() {
        List<Integer> sizes = new ArrayList<>();
        for (Folio f : folios.all()) {
            sizes.add(f.sizeBytes);
        }
        return sizes;
    }

    void accountDirty(long deltaBytes) {
        long before = dirtyBytes.getAndAdd(deltaBytes);
        if (before == 0 && deltaBytes > 0) {
            dirtiedSinceNanos = System.nanoTime();
        }
        cache.accountDirty(deltaBytes);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Index

    /**
     * The folio covering {@code posBytes} (file bytes), or null (the kernel's {@code filemap_get_folio} without
     * creation). Lock-free; the folio may be removed concurrently, so a caller locks it and checks
     * {@link Folio#isRemoved()}. Marks it referenced for reclaim.
     *
     * @param posBytes a file byte offset
     * @return the folio, unlocked, or null
     */
    public Folio lookup(long posBytes) {
        Folio f = folios.get(posBytes);
        if (f == null) {
            return null;
        }
        if (!f.referenced) {
            f.referenced = true;
        }
        return f;
    }

    /**
     * Folios overlapping file bytes {@code [startBytes, endBytes)} in file order (a weakly consistent view: a
     * folio may be removed after it was returned; lock it and check {@link Folio#isRemoved()}).
     *
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     * @return the folios, ascending by file offset
     */
    public Iterable<Folio> folioRange(long startBytes, long endBytes) {
        return folios.range(startBytes, endBytes);
    }

    /**
     * Returns the folio covering {@code posBytes}, locked and in the mapping, creating it when absent. A new
     * folio is as large as {@code lengthHintBytes} (rounded down to a power of two, within the folio size limits)
     * and alignment allow without overlapping a cached folio. Caller holds the invalidate lock shared (creating
     * inserts) and no folio lock above {@code posBytes} (ascending order). The kernel's {@code __filemap_get_folio}
     * with {@code FGP_LOCK | FGP_CREAT}.
     *
     * @param posBytes a file byte offset
     * @param lengthHintBytes bytes the caller means to use from {@code posBytes} (sizes a new folio)
     * @return the folio, locked by the calling thread
     */
    public Folio grabLocked(long posBytes, long lengthHintBytes) {
        while (true) {
            Folio f = lookup(posBytes);
            if (f != null) {
                f.lock.lock();
                if (!f.removed) {
                    return f;
                }
                f.lock.unlock();
                continue;
            }
            f = tryCreateLocked(posBytes, lengthHintBytes);
            if (f != null) {
                cache.folioAdded(f);
                return f;
            }
        }
    }

    /**
     * Creates and inserts a locked folio of exactly {@code sizeBytes} at {@code posBytes} if no cached folio
     * overlaps that range, else returns null; never waits for a folio lock. Its blocks are not uptodate: the caller
     * fills them, marks them uptodate and unlocks it. Caller holds the invalidate lock shared. Used to paste bytes
     * a read returned beyond what was asked ({@code BufferedIo.pasteExtra}; the kernel's btrfs
     * {@code add_ra_bio_pages} adds such folios with {@code filemap_add_folio}).
     *
     * @param posBytes  file offset, a multiple of {@code sizeBytes}
     * @param sizeBytes a power of two from {@link #minFolioBytes()} to {@link #maxFolioBytes()}
     * @throws IllegalArgumentException for a size or alignment outside those rules
     * @return the new folio, locked, or null when one overlapping the range is cached
     */
    public Folio tryAddLocked(long posBytes, int sizeBytes) {
        if (Integer.bitCount(sizeBytes) != 1 || sizeBytes < minFolioBytes || sizeBytes > maxFolioBytes
                || (posBytes & (sizeBytes - 1)) != 0 || posBytes < 0) {
            throw new IllegalArgumentException("folio of " + sizeBytes + " bytes at " + posBytes + ": size must be a "
                    + "power of two in [" + minFolioBytes + ", " + maxFolioBytes + "] and the position aligned to it");
        }
        Folio f;
        synchronized (treeLock) {
            if (!rangeFree(posBytes, sizeBytes)) {
                return null;
            }
            f = new Folio(this, posBytes, sizeBytes, blkBits, cache.folioMemory(sizeBytes));
            f.lock.lock();
            folios.insert(f);
            cachedBytes.addAndGet(sizeBytes);
        }
        cache.folioAdded(f);
        return f;
    }

    /** Creates and inserts a locked folio covering {@code posBytes}, or returns null if one appeared meanwhile. */
    private Folio tryCreateLocked(long posBytes, long lengthHintBytes) {
        long hint = Math.max(minFolioBytes, Math.min(maxFolioBytes, lengthHintBytes));
        int size = Integer.highestOneBit((int) hint);
        synchronized (treeLock) {
            if (lookup(posBytes) != null) {
                return null;
            }
            while (size > minFolioBytes && !rangeFree(posBytes & -(long) size, size)) {
                size >>>= 1;
            }
            // A min-size folio is always free here: every folio of this mapping is at least min-size and aligned,
            // so one overlapping the min-size slot would cover posBytes and lookup would have found it.
            Folio f = new Folio(this, posBytes & -(long) size, size, blkBits, cache.folioMemory(size));
            f.lock.lock();
            folios.insert(f);
            cachedBytes.addAndGet(size);
            return f;
        }
    }

    private boolean rangeFree(long startBytes, int size) {
        return folios.isFree(startBytes, size);
    }

    /**
     * Removes a locked folio from the index; its dirty blocks are forgotten and its memory returns to the
     * cache's pool (the kernel's {@code filemap_remove_folio}). Folio lock held; no-op if already removed.
     *
     * @throws IllegalArgumentException if {@code f} belongs to another mapping
     * @param f the folio, locked by the calling thread
     */
    public void removeLocked(Folio f) {
        if (f.mapping != this) {
            throw new IllegalArgumentException(f + " is not a folio of " + this);
        }
        if (f.removed) {
            return;
        }
        f.clearState(0, f.nrBlocks);
        synchronized (treeLock) {
            folios.remove(f);
            f.removed = true;
            cachedBytes.addAndGet(-f.sizeBytes);
        }
        cache.folioRemoved(f);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Readahead

    /**
     * Decides how far past {@code [posBytes, posBytes + lengthBytes)} a read should fill: a read starting where
     * the previous one ended (or at 0) is sequential and doubles the window from 128 KiB up to
     * {@code min(2 MiB, budget/8)}; any other read resets it and reads only what was asked.
     *
     * @return the exclusive end of the range to fill (file bytes)
     * @param posBytes file byte offset of the read
     * @param lengthBytes bytes asked for
     */
    public long readaheadEnd(long posBytes, long lengthBytes) {
        long cap = Math.max(minFolioBytes, Math.min(RA_MAX_BYTES, cache.config().budgetBytes() / 8));
        synchronized (raLock) {
            boolean sequential = posBytes == raNextPosBytes;
            if (sequential) {
                raWindowBytes = raWindowBytes == 0 ? Math.min(RA_INITIAL_BYTES, cap) : Math.min(cap, raWindowBytes * 2);
            } else {
                raWindowBytes = 0;
            }
            raNextPosBytes = posBytes + lengthBytes;
            if (raWindowBytes == 0) {
                asyncRaEndBytes = 0;
                return posBytes + lengthBytes;
            }
            // End the window on a boundary of its own size so that folios of that size fit (page_cache_ra_order).
            long align = Math.min(Long.highestOneBit(raWindowBytes), maxFolioBytes);
            return alignUp(posBytes + Math.max(lengthBytes, raWindowBytes), align);
        }
    }

    /**
     * For a sequential stream whose reader is at {@code readerEndBytes}: claims the part of
     * {@code [readerEndBytes, readerEndBytes + window)} (bounded by {@code limitBytes}) that no asynchronous
     * readahead has covered yet. Returns {@code {from, to}} to fill in the background, or null when the stream is
     * not sequential or the range is claimed already (the kernel's async readahead marker, as a high-water mark).
     * The fill itself is queued with {@link PageCache#readahead}.
     *
     * @param readerEndBytes the file byte offset where the sequential reader has got to
     * @param limitBytes exclusive bound of the claim, a file byte offset (typically EOF)
     * @return {@code {fromBytes, toBytes}}, or null
     */
    public long[] claimAsyncReadahead(long readerEndBytes, long limitBytes) {
        synchronized (raLock) {
            if (raWindowBytes == 0 || detached) {
                return null;
            }
            long from = Math.max(readerEndBytes, asyncRaEndBytes);
            long to = Math.min(limitBytes, readerEndBytes + 2 * raWindowBytes);
            if (to - from < Math.min(raWindowBytes, limitBytes - readerEndBytes) / 2 || to <= from) {
                return null;
            }
            asyncRaEndBytes = to;
            return new long[] {from, to};
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Queries for filesystems (seek over unwritten extents, zero-range decisions)

    /**
     * True if any block overlapping {@code [startBytes, endBytes)} is dirty or under writeback.
     *
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     * @return true if a dirty or writeback block overlaps the range
     */
    public boolean hasDirty(long startBytes, long endBytes) {
        return nextDirtyBytes(startBytes, endBytes) < endBytes;
    }

    /**
     * The start of the first dirty block in {@code [startBytes, endBytes)} (clamped to {@code startBytes}), or
     * {@code endBytes} if none is dirty: where a delalloc filesystem's report of a hole meets data that only the
     * page cache holds. Takes folio locks one at a time.
     *
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     * @return a file byte offset in {@code [startBytes, endBytes]}
     */
    public long nextDirtyBytes(long startBytes, long endBytes) {
        for (Folio f : folioRange(startBytes, endBytes)) {
            if (f.nrDirty == 0 && !f.writeback) {
                continue; // a folio under writeback is waited for: its blocks may be dirtied again meanwhile
            }
            f.lock.lock();
            try {
                if (f.removed) {
                    continue;
                }
                long s = Math.max(startBytes, f.posBytes);
                long e = Math.min(endBytes, f.endBytes());
                if (s < e) {
                    int from = f.blockOf(s);
                    int to = f.blockOf(e - 1) + 1;
                    int b = f.nextDirty(from, to);
                    if (b < to) {
                        return Math.max(startBytes, f.posBytes + ((long) b << f.blkBits));
                    }
                }
            } finally {
                f.lock.unlock();
            }
        }
        return endBytes;
    }

    /**
     * The start of the first block at or after {@code startBytes} (and before {@code endBytes}) that is not dirty
     * in the cache (an uncached block is not dirty), or {@code endBytes}. Takes folio locks one at a time.
     *
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     * @return a file byte offset in {@code [startBytes, endBytes]}
     */
    public long nextCleanBytes(long startBytes, long endBytes) {
        long bs = host.blockSizeBytes();
        long pos = startBytes;
        while (pos < endBytes) {
            Folio f = lookup(pos);
            if (f == null) {
                return pos;
            }
            f.lock.lock();
            try {
                if (f.removed) {
                    return pos;
                }
                long e = Math.min(endBytes, f.endBytes());
                int from = f.blockOf(pos);
                int to = f.blockOf(e - 1) + 1;
                int b = f.nextClean(from, to);
                if (b < to) {
                    return Math.max(pos, f.posBytes + ((long) b << f.blkBits));
                }
                pos = Math.max(pos + 1, (f.posBytes + ((long) to << f.blkBits)) & -bs);
            } finally {
                f.lock.unlock();
            }
        }
        return endBytes;
    }

    /**
     * The first byte in {@code [startBytes, endBytes)} that lies in an uptodate (or dirty) cached block, or -1:
     * what SEEK_DATA reports inside an UNWRITTEN extent (iomap's page-cache seek).
     *
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     * @return a file byte offset, or -1
     */
    public long nextCachedData(long startBytes, long endBytes) {
        for (Folio f : folioRange(startBytes, endBytes)) {
            f.lock.lock();
            try {
                if (f.removed) {
                    continue;
                }
                long s = Math.max(startBytes, f.posBytes);
                long e = Math.min(endBytes, f.endBytes());
                if (s >= e) {
                    continue;
                }
                int from = f.blockOf(s);
                int to = f.blockOf(e - 1) + 1;
                int blk = f.nextUptodate(from, to);
                if (blk < to) {
                    return Math.max(s, f.posBytes + ((long) blk << blkBits));
                }
            } finally {
                f.lock.unlock();
            }
        }
        return -1;
    }

    /**
     * The first byte in {@code [startBytes, endBytes)} not in an uptodate cached block, or -1 if the whole
     * range is cached: what SEEK_HOLE reports inside an UNWRITTEN extent.
     *
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     * @return a file byte offset, or -1
     */
    public long nextUncached(long startBytes, long endBytes) {
        long pos = startBytes;
        while (pos < endBytes) {
            Folio f = lookup(pos);
            if (f == null) {
                return pos;
            }
            f.lock.lock();
            try {
                if (f.removed) {
                    continue;
                }
                long e = Math.min(endBytes, f.endBytes());
                int from = f.blockOf(pos);
                int to = f.blockOf(e - 1) + 1;
                int blk = f.nextNotUptodate(from, to);
                if (blk < to) {
                    return Math.max(pos, f.posBytes + ((long) blk << blkBits));
                }
                pos = e;
            } finally {
                f.lock.unlock();
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Removal

    /**
     * Removes cached data at and beyond {@code newSizeBytes} (truncate_inode_pages): whole folios beyond are
     * dropped, blocks beyond in the straddling folio lose their uptodate/dirty state. Takes the invalidate lock
     * exclusively. Zeroing the partial block at the new EOF is iomap's job ({@code BufferedIo.truncatePage}).
     *
     * @param newSizeBytes the new file size in bytes
     */
    public void truncateFrom(long newSizeBytes) {
        if (newSizeBytes < 0) {
            throw new IllegalArgumentException("negative size " + newSizeBytes);
        }
        long blockEnd = alignUp(newSizeBytes, 1L << blkBits);
        invalidateLock.writeLock().lock();
        try {
            dropRange(blockEnd, Long.MAX_VALUE, true);
        } finally {
            invalidateLock.writeLock().unlock();
        }
    }

    /**
     * Writes back and then drops every folio overlapping {@code [startBytes, endBytes)} (for direct I/O and
     * hole punching): afterwards no block of the range is cached. Takes the invalidate lock exclusively, so no
     * buffered write or read can repopulate the range meanwhile.
     *
     * @throws IOException the writeback error (the range is then left cached and clean)
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     */
    public void invalidateRange(long startBytes, long endBytes) throws IOException {
        if (endBytes <= startBytes) {
            return;
        }
        invalidateLock.writeLock().lock();
        try {
            writeAndWait(startBytes, endBytes);
            long bs = 1L << blkBits;
            dropRange(startBytes & -bs, alignUp(endBytes, bs), false);
        } finally {
            invalidateLock.writeLock().unlock();
        }
    }

    /**
     * Forgets blocks in {@code [startBytes, endBytes)} (block aligned), removing folios that lie wholly inside.
     * With {@code discardDirty} false, dirty blocks (a write that raced in) are kept. Invalidate lock held
     * exclusively.
     */
    private void dropRange(long startBytes, long endBytes, boolean discardDirty) {
        for (Folio f : folioRange(startBytes, endBytes)) {
            f.lock.lock();
            try {
                if (f.removed) {
                    continue;
                }
                long s = Math.max(startBytes, f.posBytes);
                long e = Math.min(endBytes, f.endBytes());
                if (s >= e) {
                    continue;
                }
                int from = f.blockOf(s);
                int to = f.blockOf(e - 1) + 1;
                if (discardDirty) {
                    f.clearState(from, to);
                } else {
                    int blk = from;
                    while (blk < to) {
                        int dirty = f.nextDirty(blk, to);
                        f.clearUptodate(blk, dirty);
                        blk = dirty < to ? f.nextClean(dirty, to) : to;
                    }
                }
                if (f.nrDirty == 0 && f.nextUptodate(0, f.nrBlocks) == f.nrBlocks) {
                    removeLocked(f);
                }
            } finally {
                f.lock.unlock();
            }
        }
    }

    /** Drops every clean unlocked folio of this mapping. */
    public void dropClean() {
        cache.quiesceReadahead();
        for (Folio f : folios.all()) {
            if (f.nrDirty != 0 || f.writeback || !f.lock.tryLock()) {
                continue;
            }
            try {
                // Hold count > 1: the caller itself is using this folio (never drop it under its feet).
                if (f.nrDirty == 0 && !f.writeback && f.lock.getHoldCount() == 1) {
                    removeLocked(f);
                }
            } finally {
                f.lock.unlock();
            }
        }
    }

    /** Drops every folio, dirty ones included (inode eviction). */
    void removeAll() {
        invalidateLock.writeLock().lock();
        try {
            for (Folio f : folios.all()) {
                f.lock.lock();
                try {
                    removeLocked(f);
                } finally {
                    f.lock.unlock();
                }
            }
        } finally {
            invalidateLock.writeLock().unlock();
        }
    }

    static long alignUp(long v, long pow2) {
        return (v + pow2 - 1) & -pow2;
    }

    @Override
    public String toString() {
        return "AddressSpace[ino " + host.ino() + ", " + folios.size() + " folios, " + cachedBytes() + " B cached, "
                + dirtyBytes() + " B dirty]";
    }
}
