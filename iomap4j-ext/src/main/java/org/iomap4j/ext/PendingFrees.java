package org.iomap4j.ext;

import java.util.Map;
import java.util.TreeMap;

/**
 * Blocks freed in a transaction that is not durable yet (the kernel's ext4_mb_free_metadata / "freed data" list
 * of fs/ext4/mballoc.c): the bitmap shows them free in that transaction, but the allocator must not hand them out
 * until its commit block is on disk, else a crash would leave the committed tree pointing at a block whose
 * contents a new owner already overwrote in place (an extent or directory block turned into another file's data).
 *
 * <p>Ranges of physical blocks {@code [start, end)} keyed by start, each with the transaction id that freed it;
 * {@link #release} drops every range freed in a transaction that is now committed. Thread-safe (its own monitor, a
 * leaf: called with the {@link ExtGroups} monitor held).
 */
final class PendingFrees {
    private record Range(long endPblk, long tid) {
    }

    private final TreeMap<Long, Range> ranges = new TreeMap<>();
    /** Blocks in {@link #ranges} (a range replaced at the same start is counted once). */
    private long blocks;

    /**
     * Blocks {@code [startPblk, startPblk + count)} were freed in transaction {@code tid}.
     *
     * @param startPblk first block freed
     * @param count number of blocks
     * @param tid the running transaction the free is in
     */
    synchronized void add(long startPblk, long count, long tid) {
        if (count <= 0) {
            return;
        }
        Range old = ranges.put(startPblk, new Range(startPblk + count, Math.max(tid, tidAt(startPblk))));
        blocks += count - (old == null ? 0 : old.endPblk - startPblk);
    }

    private long tidAt(long startPblk) {
        Range r = ranges.get(startPblk);
        return r == null ? Long.MIN_VALUE : r.tid;
    }

    /**
     * If {@code pblk} is pending, the first block after its pending run; else -1.
     *
     * @param pblk a physical block
     * @return the end (exclusive) of the pending range holding {@code pblk}, or -1 if it may be allocated
     */
    synchronized long pendingEnd(long pblk) {
        long end = -1;
        // Ranges may overlap (a block freed, reallocated after the commit and freed again is added anew).
        for (Map.Entry<Long, Range> e : ranges.headMap(pblk, true).descendingMap().entrySet()) {
            if (e.getValue().endPblk > pblk) {
                end = Math.max(end, e.getValue().endPblk);
            }
            if (e.getKey() < pblk - MAX_SCAN_BACK) {
                break;
            }
        }
        return end;
    }

    /** Ranges longer than this are split on insert so that {@link #pendingEnd} looks back a bounded distance. */
    static final long MAX_SCAN_BACK = 1L << 16;

    /**
     * True if {@code pblk} may not be allocated yet.
     *
     * @param pblk a physical block
     * @return true if it was freed in a transaction not yet committed
     */
    boolean isPending(long pblk) {
        return pendingEnd(pblk) >= 0;
    }

    /**
     * Transaction {@code committedTid} (and every earlier one) is durable: their frees may be reused.
     *
     * @param committedTid the newest committed transaction id
     */
    synchronized void release(long committedTid) {
        var it = ranges.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, Range> e = it.next();
            if (e.getValue().tid <= committedTid) {
                blocks -= e.getValue().endPblk - e.getKey();
                it.remove();
            }
        }
    }

    /** {@return blocks pending now: free in the bitmaps and counts, but not to be allocated before a commit} */
    synchronized long pendingBlocks() {
        return blocks;
    }

    /**
     * Adds with long ranges cut into pieces of at most {@link #MAX_SCAN_BACK} blocks.
     *
     * @param startPblk first block freed
     * @param count number of blocks
     * @param tid the transaction the free is in
     */
    void addSplit(long startPblk, long count, long tid) {
        for (long off = 0; off < count; off += MAX_SCAN_BACK) {
            add(startPblk + off, Math.min(MAX_SCAN_BACK, count - off), tid);
        }
    }
}
