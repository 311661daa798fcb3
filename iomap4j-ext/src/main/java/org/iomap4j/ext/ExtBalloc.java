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

    private long[] allocBlocksLocked(long goal, long maxCount) throws IOException {
        long freeBlocks = groups.freeBlocks;
        if (freeBlocks == 0) {
            throw new FsException(Errno.ENOSPC, "no free blocks");
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
        if (goal < geo.firstDataBlock() || goal >= geo.blocksCount()) {
            goal = geo.firstDataBlock();
        }
        int g0 = groups.groupOfBlock(goal);
        int nGroups = gds.length;
        for (int i = 0; i <= nGroups; i++) {
            int g = (g0 + i) % nGroups;
            if (gds[g].freeBlocksCount() == 0) {
                continue;
            }
            long from = i == 0 ? goal - groups.groupStart(g) : 0;
            long[] r = allocInGroup(g, from, maxCount);
            if (r != null) {
                return r;
            }
        }
        throw new FsException(Errno.ENOSPC, "no free blocks (bitmaps full although counts say "
                + freeBlocks + " free)");
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
            if (groups.freeBlocks == 0 || (!mayUseReserved(Caller.current())
                    && groups.freeBlocks - reservedBlocks <= 0)
                    || groups.freeBlocks - heldForDelalloc() <= 0) {
                throw new FsException(Errno.ENOSPC, "no free blocks for a tree block");
            }
            if (goal < geo.firstDataBlock() || goal >= geo.blocksCount()) {
                goal = geo.blocksCount() - 1;
            }
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
            throw new FsException(Errno.ENOSPC, "no free blocks (bitmaps full although counts say "
                    + groups.freeBlocks + " free)");
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
            long avail = groups.freeBlocks - delallocReserved - metaReserveBlocks
                    - (mayUseReserved(caller) ? 0 : reservedBlocks);
            if (avail < nrBlocks) {
                throw new FsException(Errno.ENOSPC, "no space for " + nrBlocks + " more delayed-allocation blocks: "
                        + groups.freeBlocks + " free, " + delallocReserved + " reserved for dirty data, "
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

    private long[] allocInGroup(int g, long fromBit, long maxCount) throws IOException {
        GroupDescriptor gd = gds[g];
        long nbits = groups.groupBlocks(g);
        try (Buffer bm = groups.blockBitmap(g)) {
            bm.lock();
            try {
                byte[] b = bm.array();
                long bit = ExtGroups.findZero(b, fromBit, nbits);
                ExtJournaling j = journal;
                while (bit >= 0 && j != null) {
                    long end = j.pendingEnd(groups.groupStart(g) + bit); // freed in an uncommitted transaction
                    if (end < 0) {
                        break;
                    }
                    bit = end - groups.groupStart(g) >= nbits ? -1 : ExtGroups.findZero(b, end - groups.groupStart(g), nbits);
                }
                if (bit < 0) {
                    return null;
                }
                long n = 1;
                while (n < maxCount && bit + n < nbits && n < gd.freeBlocksCount() && !ExtGroups.test(b, bit + n)
                        && !pendingFree(groups.groupStart(g) + bit + n)) {
                    n++;
                }
                long start = groups.groupStart(g) + bit;
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
            freeBlocksLocked(start, count);
        }
    }

    private void freeBlocksLocked(long start, long count) throws IOException {
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
            if (j != null) {
                j.blocksFreed(pblk, runEnd - pblk);
            }
            pblk = runEnd;
        }
    }
}
