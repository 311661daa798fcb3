package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.ext.disk.GroupDescriptor;
import org.iomap4j.vfs.Caller;

/**
 * Block allocation (fs/ext2/balloc.c) over the block groups' block bitmaps, read and written through the metadata
 * buffer cache: goal-based (at or after the goal in its group, then the following groups), so that a file's next
 * block lands right after its previous one, and the root reserve ({@code s_r_blocks_count}) refused to
 * unprivileged callers as ext2_has_free_blocks does.
 *
 * <p>Delayed allocation (ext4's s_dirtyclusters_counter, fs/ext4/balloc.c ext4_claim_free_clusters): dirty
 * page-cache blocks of a DELALLOC mapping hold reservations ({@link #reserveDelalloc}, counted by the page cache,
 * given back by {@link #releaseDelalloc}); while any are held every other allocation leaves those blocks, and on
 * extent filesystems ext4's metadata reserve ({@code metaReserveBlocks}: 2% of the blocks, at most 4096,
 * s_resv_clusters), free.
 * Writeback of delalloc blocks ({@link #DELALLOC_WRITEBACK} bound) allocates from exactly that space, so it never
 * fails with ENOSPC for data whose write succeeded.
 *
 * <p>Lock: every allocation, free and reservation holds the {@link ExtGroups} monitor (a leaf with respect to
 * folio locks: reservations are taken with a folio locked); bitmap buffer locks nest inside it.
 */
final class ExtBalloc {
    private final ExtGroups groups;
    private final GroupDescriptor[] gds;
    private final ExtGeometry geo;
    private final long reservedBlocks;
    private final int resuid;
    private final int resgid;
    /** Per-inode preallocation windows (in memory only); guarded by the {@link ExtGroups} monitor. */
    private final ExtPrealloc prealloc = new ExtPrealloc();
    /** Blocks reserved by dirty delalloc page-cache blocks; guarded by the {@link ExtGroups} monitor. */
    private long delallocReserved;
    private final long metaReserveBlocks;

    /**
     * Journaled mounts: blocks freed in a transaction not yet committed are skipped ({@link PendingFrees}), and
     * every free is reported to it. Null without a journal.
     */
    volatile ExtJournaling journal;

    /** Bound to true while writeback allocates delalloc blocks: they may use the reserved space. */
    static final ScopedValue<Boolean> DELALLOC_WRITEBACK = ScopedValue.newInstance();

    /**
     * @param reservedBlocks s_r_blocks_count: blocks only a privileged caller may take ({@link #mayUseReserved})
     * @param resuid         s_def_resuid: a user who may use them besides root
     * @param resgid         s_def_resgid: a group (other than 0) whose members may use them
     */
    ExtBalloc(ExtGroups groups, long reservedBlocks, int resuid, int resgid) {
        this(groups, reservedBlocks, resuid, resgid, 0);
    }

    /**
     * @param metaReserveBlocks blocks kept for metadata that delalloc writeback allocates (0 without extents)
     */
    ExtBalloc(ExtGroups groups, long reservedBlocks, int resuid, int resgid, long metaReserveBlocks) {
        this.metaReserveBlocks = Math.max(0, metaReserveBlocks);
        this.groups = groups;
        this.gds = groups.gds;
        this.geo = groups.geo;
        this.reservedBlocks = Math.max(0, reservedBlocks);
        this.resuid = resuid;
        this.resgid = resgid;
    }

    /**
     * Allocates up to {@code maxCount} physically contiguous free blocks, the first at or after {@code goal}
     * when possible.
     *
     * @return {start, count} with count &ge; 1
     * @throws FsException ENOSPC when no block is free
     */
    long[] allocBlocks(long goal, long maxCount) throws IOException {
        synchronized (groups) {
            return allocBlocksLocked(goal, maxCount);
        }
    }

    /**
     * Allocates data blocks of a regular file for logical blocks {@code [lblk, lblk + want)} (a prefix of them) with
     * per-inode preallocation (see {@link ExtPrealloc}): from the inode's window when {@code lblk} lies in it;
     * else the request is normalized ({@link ExtPrealloc#normalizedEndLblk}), a run of up to that size is taken at
     * or after {@code goal}, and its blocks beyond the request become the inode's new window (free on disk).
     *
     * @param ino            the file's inode number (the window's owner)
     * @param fileSizeBlocks the file's size in blocks (i_size rounded up), for the normalization
     * @return {start, count} with 1 &le; count &le; want
     * @throws FsException ENOSPC when no block is free (windows are discarded before that is decided)
     */
    long[] allocDataBlocks(long ino, long lblk, long goal, long want, long fileSizeBlocks) throws IOException {
        synchronized (groups) {
            long[] t = prealloc.take(ino, lblk, want);
            if (t != null) {
                t[1] = Math.min(t[1], usableLocked(t[1]));
                markUsedLocked(t[0], t[1]);
                return t;
            }
            prealloc.discard(ino);
            long end = ExtPrealloc.normalizedEndLblk(lblk, want, fileSizeBlocks, geo.blockBits());
            long norm = Math.max(want, Math.min(end - lblk, Math.min(geo.blocksPerGroup(), MAX_WINDOW_BLOCKS)));
            // A run of at least half the normalized size (mballoc accepts a good-enough extent near the goal rather than
            // skipping to a group with a whole one): a sequential file then continues right after a sparse_super
            // backup instead of leaving the rest of that group behind, and its extents stay physically adjacent.
            long[] r = allocBlocksLocked(goal, norm, Math.max(1, norm / 2));
            long use = Math.min(want, r[1]);
            if (r[1] > use) {
                freeBlocksLocked(r[0] + use, r[1] - use, false); // the window stays free on disk, in memory only
                prealloc.add(ino, lblk + use, r[0] + use, r[1] - use);
            }
            return new long[] {r[0], use};
        }
    }

    /** Largest window (blocks): one extent's worth, as an initialized extent holds at most 32768 blocks. */
    static final long MAX_WINDOW_BLOCKS = 32768;

    /** Drops the preallocation window of inode {@code ino} (close, truncate, eviction; ext4_discard_preallocations). */
    void discardPrealloc(long ino) {
        synchronized (groups) {
            prealloc.discard(ino);
        }
    }

    /** Blocks held by preallocation windows now (free on disk; tests, statistics). */
    long preallocBlocks() {
        synchronized (groups) {
            return prealloc.windowBlocks();
        }
    }

    /** Marks a taken window run used: its blocks must be free in the bitmap (they were kept from everyone else). */
    private void markUsedLocked(long start, long n) throws IOException {
        int g = groups.groupOfBlock(start);
        GroupDescriptor gd = gds[g];
        long bit0 = start - groups.groupStart(g);
        if (bit0 + n > groups.groupBlocks(g)) {
            throw new IllegalStateException("window run [" + start + ", +" + n + ") crosses group " + g);
        }
        checkNotMetadata(g, start, n);
        try (Buffer bm = groups.blockBitmap(g)) {
            bm.lock();
            try {
                byte[] b = bm.array();
                for (long k = 0; k < n; k++) {
                    if (ExtGroups.test(b, bit0 + k)) {
                        throw new CorruptFilesystemException("preallocated block " + (start + k)
                                + " is already in use (bitmap block " + gd.blockBitmap() + ")");
                    }
                }
                for (long k = 0; k < n; k++) {
                    ExtGroups.set(b, bit0 + k);
                }
                bm.markDirty();
                groups.blockBitmapChanged(g, bm);
                gd.setFreeBlocksCount((int) (gd.freeBlocksCount() - n));
                groups.freeBlocks -= n;
            } finally {
                bm.unlock();
            }
        }
    }

    /**
     * How many of {@code maxCount} blocks the caller may take now: limited by the delalloc reservations and the
     * root reserve. Groups monitor held.
     *
     * @throws FsException ENOSPC if none
     */
    private long usableLocked(long maxCount) throws FsException {
        long pending = pendingFreeBlocks();
        long freeBlocks = groups.freeBlocks - pending;
        if (freeBlocks <= 0) {
            throw new FsException(Errno.ENOSPC, "no free blocks" + (pending > 0 ? " (" + pending
                    + " freed blocks wait for the journal commit)" : ""));
        }
        long held = heldForDelalloc();
        if (held > 0) {
            long usable = freeBlocks - held;
            if (usable <= 0) {
                throw new FsException(Errno.ENOSPC, "no free blocks: the " + freeBlocks + " left are reserved ("
                        + delallocReserved + " for delayed allocation, " + metaReserveBlocks + " for metadata)");
            }
            maxCount = Math.min(maxCount, usable);
        }
        if (!mayUseReserved(Caller.current())) {
            long usable = freeBlocks - reservedBlocks - held;
            if (usable <= 0) {
                throw new FsException(Errno.ENOSPC, "no free blocks for uid " + Caller.current().uid() + ": the "
                        + freeBlocks + " left are within the " + reservedBlocks + " reserved for root");
            }
            maxCount = Math.min(maxCount, usable);
        }
        return maxCount;
    }

    /** Groups searched for a whole normalized run before the first free run is taken (mballoc's cr0/cr1 scan). */
    static final int LONG_RUN_SEARCH_GROUPS = 16;

    private long[] allocBlocksLocked(long goal, long maxCount) throws IOException {
        return allocBlocksLocked(goal, maxCount, 1);
    }

    /**
     * A run at or after {@code goal}: with {@code minLen > 1} first the first run of the whole (usable) size in
     * the next {@link #LONG_RUN_SEARCH_GROUPS} groups, else the first free run anywhere.
     */
    private long[] allocBlocksLocked(long goal, long maxCount, long minLen) throws IOException {
        maxCount = usableLocked(maxCount);
        if (goal < geo.firstDataBlock() || goal >= geo.blocksCount()) {
            goal = geo.firstDataBlock();
        }
        long[] r = minLen > 1 ? scanForward(goal, maxCount, minLen, LONG_RUN_SEARCH_GROUPS) : null;
        if (r == null) {
            r = scanForward(goal, maxCount, 1, gds.length + 1);
        }
        if (r == null && prealloc.windowBlocks() > 0) {
            prealloc.discardAll(); // ext4_mb_discard_preallocations: the windows' blocks are the last free ones
            r = scanForward(goal, maxCount, 1, gds.length + 1);
        }
        if (r == null) {
            throw new FsException(Errno.ENOSPC, "no free blocks (bitmaps full although counts say "
                    + groups.freeBlocks + " free)");
        }
        return r;
    }

    private long[] scanForward(long goal, long maxCount, long minLen, int maxGroups) throws IOException {
        int g0 = groups.groupOfBlock(goal);
        int nGroups = gds.length;
        for (int i = 0; i <= nGroups && i < maxGroups; i++) {
            int g = (g0 + i) % nGroups;
            if (gds[g].freeBlocksCount() == 0) {
                continue;
            }
            long from = i == 0 ? goal - groups.groupStart(g) : 0;
            long[] r = allocInGroup(g, from, maxCount, minLen);
            if (r != null) {
                return r;
            }
        }
        return null;
    }

    /**
     * Allocates one free block at or <em>before</em> {@code goal}, searching downwards through its group and then
     * the preceding groups (wrapping to the filesystem's end): for extent tree blocks, which then stay out of the
     * way of a file's data stream growing upwards from {@code goal} (so a sequential file is not cut by its own
     * tree block). Root reserve as {@link #allocBlocks}.
     *
     * @return the block allocated
     * @throws FsException ENOSPC when no block is free
     */
    long allocBlockBackward(long goal) throws IOException {
        synchronized (groups) {
            long free = groups.freeBlocks - pendingFreeBlocks();
            if (free <= 0 || (!mayUseReserved(Caller.current()) && free - reservedBlocks <= 0)
                    || free - heldForDelalloc() <= 0) {
                throw new FsException(Errno.ENOSPC, "no free blocks for a tree block");
            }
            if (goal < geo.firstDataBlock() || goal >= geo.blocksCount()) {
                goal = geo.blocksCount() - 1;
            }
            long pblk = scanBackward(goal);
            if (pblk < 0 && prealloc.windowBlocks() > 0) {
                prealloc.discardAll();
                pblk = scanBackward(goal);
            }
            if (pblk < 0) {
                throw new FsException(Errno.ENOSPC, "no free blocks (bitmaps full although counts say "
                        + groups.freeBlocks + " free)");
            }
            return pblk;
        }
    }

    /** One free block at or before {@code goal} outside every window, marked used; -1 if none. Monitor held. */
    private long scanBackward(long goal) throws IOException {
        {
            int g0 = groups.groupOfBlock(goal);
            int nGroups = gds.length;
            for (int i = 0; i <= nGroups; i++) {
                int g = Math.floorMod(g0 - i, nGroups);
                GroupDescriptor gd = gds[g];
                if (gd.freeBlocksCount() == 0) {
                    continue;
                }
                long from = i == 0 ? goal - groups.groupStart(g) : groups.groupBlocks(g) - 1;
                // Through ExtGroups.blockBitmap (a BLOCK_UNINIT group's bitmap computed, its checksum verified on
                // first read) and blockBitmapChanged below (flag cleared, checksum recomputed), as allocInGroup.
                try (Buffer bm = groups.blockBitmap(g)) {
                    bm.lock();
                    try {
                        byte[] b = bm.array();
                        for (long bit = from; bit >= 0; bit--) {
                            if (!ExtGroups.test(b, bit) && !pendingFree(groups.groupStart(g) + bit)) {
                                long pblk = groups.groupStart(g) + bit;
                                if (unavailableEnd(pblk) >= 0) {
                                    // the loop's bit-- lands on the block before the unavailable range
                                    bit = prealloc.reservedStartMinusOne(pblk) - groups.groupStart(g) + 1;
                                    continue;
                                }
                                checkNotMetadata(g, pblk, 1);
                                ExtGroups.set(b, bit);
                                bm.markDirty();
                                groups.blockBitmapChanged(g, bm);
                                gd.setFreeBlocksCount(gd.freeBlocksCount() - 1);
                                groups.freeBlocks--;
                                return pblk;
                            }
                        }
                    } finally {
                        bm.unlock();
                    }
                }
            }
            return -1;
        }
    }

    /**
     * Reserves {@code nrBlocks} for dirty delalloc blocks (MappingHost.reserveDelalloc; called with a folio
     * locked): ENOSPC unless that many blocks are free beyond the reservations already held, the metadata reserve
     * and, for an unprivileged caller, the root reserve (ext4_claim_free_clusters).
     *
     * @throws FsException ENOSPC, naming what is free and what is reserved
     */
    void reserveDelalloc(long nrBlocks) throws FsException {
        Caller caller = Caller.current();
        synchronized (groups) {
            long pending = pendingFreeBlocks();
            long avail = groups.freeBlocks - pending - delallocReserved - metaReserveBlocks
                    - (mayUseReserved(caller) ? 0 : reservedBlocks);
            if (avail < nrBlocks) {
                throw new FsException(Errno.ENOSPC, "no space for " + nrBlocks + " more delayed-allocation blocks: "
                        + groups.freeBlocks + " free (" + pending + " of them freed in a transaction not yet "
                        + "committed), " + delallocReserved + " reserved for dirty data, "
                        + metaReserveBlocks + " for metadata" + (mayUseReserved(caller) ? ""
                                : ", " + reservedBlocks + " for root"));
            }
            delallocReserved += nrBlocks;
        }
    }

    /** Gives back reservations taken by {@link #reserveDelalloc} (writeback mapped the blocks, or they were dropped). */
    void releaseDelalloc(long nrBlocks) {
        synchronized (groups) {
            if (nrBlocks > delallocReserved) {
                throw new IllegalStateException("releasing " + nrBlocks + " delayed-allocation blocks but only "
                        + delallocReserved + " are reserved");
            }
            delallocReserved -= nrBlocks;
        }
    }

    /**
     * Blocks an allocation outside delalloc writeback must leave free: the reservations, plus the metadata reserve
     * while any are held (their writeback may need extent tree blocks). Groups monitor held.
     */
    private long heldForDelalloc() {
        if (DELALLOC_WRITEBACK.orElse(false) || delallocReserved == 0) {
            return 0;
        }
        return delallocReserved + metaReserveBlocks;
    }

    /** Blocks held by delalloc reservations now. */
    long delallocReservedBlocks() {
        synchronized (groups) {
            return delallocReserved;
        }
    }

    /**
     * May {@code caller} allocate the root-reserved blocks? Root, the superblock's resuid, and (when it is not 0)
     * the resgid group, as fs/ext2/balloc.c ext2_has_free_blocks decides (the kernel also checks supplementary
     * groups and CAP_SYS_RESOURCE, which a FUSE request does not carry).
     */
    boolean mayUseReserved(Caller caller) {
        return caller.uid() == 0 || caller.uid() == resuid || (resgid != 0 && caller.gid() == resgid);
    }

    /**
     * The first free run at or after {@code fromBit} outside every window, of up to {@code maxCount} blocks and at
     * least {@code min(minLen, maxCount)} (shorter runs are passed over), marked used; null if the group has none.
     */
    private long[] allocInGroup(int g, long fromBit, long maxCount, long minLen) throws IOException {
        GroupDescriptor gd = gds[g];
        long nbits = groups.groupBlocks(g);
        try (Buffer bm = groups.blockBitmap(g)) {
            bm.lock();
            try {
                byte[] b = bm.array();
                long base = groups.groupStart(g);
                long need = Math.max(1, Math.min(minLen, maxCount));
                long bit = ExtGroups.findZero(b, fromBit, nbits);
                long n = 0;
                while (bit >= 0) {
                    long skipTo = unavailableEnd(base + bit);
                    if (skipTo >= 0) {
                        bit = skipTo - base >= nbits ? -1 : ExtGroups.findZero(b, skipTo - base, nbits);
                        continue;
                    }
                    long limit = Math.min(nbits, nextUnavailableStart(base + bit) - base);
                    n = 1;
                    while (n < maxCount && bit + n < limit && n < gd.freeBlocksCount() && !ExtGroups.test(b, bit + n)
                            && !pendingFree(base + bit + n)) {
                        n++;
                    }
                    if (n >= need) {
                        break;
                    }
                    bit = bit + n >= nbits ? -1 : ExtGroups.findZero(b, bit + n, nbits); // too short: look further
                }
                if (bit < 0) {
                    return null;
                }
                long start = base + bit;
                checkNotMetadata(g, start, n);
                for (long k = 0; k < n; k++) {
                    ExtGroups.set(b, bit + k);
                }
                groups.blockBitmapChanged(g, bm);
                gd.setFreeBlocksCount((int) (gd.freeBlocksCount() - n));
                groups.freeBlocks -= n;
                return new long[] {start, n};
            } finally {
                bm.unlock();
            }
        }
    }

    /**
     * Blocks free in the bitmap that must not be handed out now: another inode's preallocation window, or blocks
     * freed by a journal transaction not yet committed (reusing them before the commit could let a crash leave
     * their old owner pointing at new data). If {@code pblk} is such a block, the first block after its range;
     * else -1. Groups monitor held.
     */
    private long unavailableEnd(long pblk) {
        long end = prealloc.reservedEnd(pblk);
        if (end >= 0) {
            return end;
        }
        ExtJournaling j = journal;
        return j == null ? -1 : j.pendingEnd(pblk);
    }

    /** The first preallocation-window block after {@code pblk}, or Long.MAX_VALUE (pending frees: see callers). */
    private long nextUnavailableStart(long pblk) {
        return prealloc.nextStartAfter(pblk);
    }

    /** True if {@code pblk} was freed by a journal transaction not yet committed. */
    /**
     * Blocks counted free that no allocation may take before the running transaction commits (freed in it): they
     * are left out of what reservations and allocations may count on, so that delalloc writeback always finds
     * the blocks its reservations promised. Groups monitor held (PendingFrees' monitor is a leaf).
     */
    private long pendingFreeBlocks() {
        ExtJournaling j = journal;
        return j == null ? 0 : j.pendingFreeBlocks();
    }

    private boolean pendingFree(long pblk) {
        ExtJournaling j = journal;
        return j != null && j.pendingEnd(pblk) >= 0;
    }

    /** A bitmap that marks a group's own bitmaps or inode table free is corrupt: never hand those out. */
    private void checkNotMetadata(int g, long start, long n) throws CorruptFilesystemException {
        GroupDescriptor gd = gds[g];
        long end = start + n;
        boolean hit = (gd.blockBitmap() >= start && gd.blockBitmap() < end)
                || (gd.inodeBitmap() >= start && gd.inodeBitmap() < end)
                || (gd.inodeTable() < end && gd.inodeTable() + geo.itableBlocks() > start);
        if (hit) {
            throw new CorruptFilesystemException("block bitmap of group " + g + " (block " + gd.blockBitmap()
                    + ") marks metadata blocks in [" + start + ", " + end + ") free");
        }
    }

    /** Frees blocks {@code [start, start + count)}; each must be allocated (else the bitmap or a map is corrupt). */
    void freeBlocks(long start, long count) throws IOException {
        synchronized (groups) {
            freeBlocksLocked(start, count, true);
        }
    }

    /**
     * @param referenced false for blocks this allocator call itself just took and nothing ever pointed at (a
     *                   preallocation surplus): they are free in every committed state, so a journal need not hold
     *                   them back until a commit ({@link PendingFrees}) nor revoke them
     */
    private void freeBlocksLocked(long start, long count, boolean referenced) throws IOException {
        long pblk = start;
        long end = start + count;
        while (pblk < end) {
            if (pblk < geo.firstDataBlock() || pblk >= geo.blocksCount()) {
                throw new CorruptFilesystemException("freeing block " + pblk + " outside the filesystem");
            }
            int g = groups.groupOfBlock(pblk);
            long groupEnd = groups.groupStart(g) + groups.groupBlocks(g);
            long runEnd = Math.min(end, groupEnd);
            GroupDescriptor gd = gds[g];
            try (Buffer bm = groups.blockBitmap(g)) {
                bm.lock();
                try {
                    byte[] b = bm.array();
                    for (long p = pblk; p < runEnd; p++) {
                        long bit = p - groups.groupStart(g);
                        if (!ExtGroups.test(b, bit)) {
                            groups.blockBitmapChanged(g, bm);
                            throw new CorruptFilesystemException("freeing block " + p
                                    + " which is already free (bitmap block " + gd.blockBitmap() + ")");
                        }
                        ExtGroups.clear(b, bit);
                        gd.setFreeBlocksCount(gd.freeBlocksCount() + 1);
                        groups.freeBlocks++;
                    }
                    groups.blockBitmapChanged(g, bm);
                } finally {
                    bm.unlock();
                }
            }
            ExtJournaling j = journal;
            if (j != null && referenced) {
                j.blocksFreed(pblk, runEnd - pblk);
            }
            pblk = runEnd;
        }
    }
}
