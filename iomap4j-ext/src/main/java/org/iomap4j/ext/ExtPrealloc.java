package org.iomap4j.ext;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Per-inode preallocation windows of the multi-block allocator (the inode preallocations of fs/ext4/mballoc.c,
 * {@code ext4_prealloc_space} with {@code MB_INODE_PA}): when a regular file's data allocation misses its window,
 * the request is <em>normalized</em> ({@link #normalizedEndLblk}, ext4_mb_normalize_request) to a larger range,
 * the blocks beyond the request are kept as the inode's window, and the file's next allocations at the following
 * logical blocks are served from it. Two files written in turn thereby each stay in few long extents instead of
 * interleaving block runs.
 *
 * <p>Unlike the kernel, whose preallocated blocks are set in the on-disk bitmap until discarded, a window lives
 * only in memory: its blocks stay free on disk and are skipped by every other allocation ({@link #reservedEnd},
 * {@link #nextStartAfter}). A crash, an abandoned mount or an unmount therefore never leaves a preallocated block
 * marked in a bitmap (e2fsck -fn stays clean), and nothing needs writing back when a window is discarded. Windows
 * are discarded at the last writable close without pending delalloc blocks, at truncate, at eviction and freeing
 * of the inode, when a request falls outside the window, and all of them when an allocation finds no other free
 * block (ext4_mb_discard_preallocations on ENOSPC).
 *
 * <p>Units: logical blocks ({@code lblk}) and physical blocks ({@code pblk}) of the filesystem block size.
 * Not thread-safe by itself: every method is called with the {@link ExtGroups} monitor held (by {@link ExtBalloc}).
 */
final class ExtPrealloc {
    /** One window: logical blocks [lblk, lblk + len) of inode {@code ino} map to physical [pblk, pblk + len). */
    static final class Window {
        final long ino;
        long lblk;
        long pblk;
        long len;

        Window(long ino, long lblk, long pblk, long len) {
            this.ino = ino;
            this.lblk = lblk;
            this.pblk = pblk;
            this.len = len;
        }

        @Override
        public String toString() {
            return "window{ino " + ino + ", lblk " + lblk + ", pblk " + pblk + ", len " + len + "}";
        }
    }

    private final Map<Long, Window> byInode = new HashMap<>();
    private final TreeMap<Long, Window> byPblk = new TreeMap<>();
    private long windowBlocks;

    /** The window of {@code ino}, or null. */
    Window of(long ino) {
        return byInode.get(ino);
    }

    /** Registers a new window for {@code ino} (its previous one must have been discarded). */
    void add(long ino, long lblk, long pblk, long len) {
        if (len <= 0) {
            return;
        }
        Window w = new Window(ino, lblk, pblk, len);
        Window old = byInode.put(ino, w);
        if (old != null) {
            throw new IllegalStateException("inode " + ino + " already has " + old);
        }
        byPblk.put(pblk, w);
        windowBlocks += len;
    }

    /**
     * Takes up to {@code want} blocks for logical block {@code lblk} from the inode's window, dropping the window's
     * blocks before {@code lblk} (they will not be asked for in order any more).
     *
     * @return {pblk, count}, or null if {@code lblk} is outside the window (the window is then left alone)
     */
    long[] take(long ino, long lblk, long want) {
        Window w = byInode.get(ino);
        if (w == null || lblk < w.lblk || lblk >= w.lblk + w.len) {
            return null;
        }
        byPblk.remove(w.pblk);
        long skip = lblk - w.lblk;
        long n = Math.min(want, w.len - skip);
        long pblk = w.pblk + skip;
        windowBlocks -= skip + n;
        w.lblk = lblk + n;
        w.pblk = pblk + n;
        w.len -= skip + n;
        if (w.len == 0) {
            byInode.remove(ino);
        } else {
            byPblk.put(w.pblk, w);
        }
        return new long[] {pblk, n};
    }

    /** {@return the blocks it held} Drops the window of {@code ino}; its blocks become free for anyone. */
    long discard(long ino) {
        Window w = byInode.remove(ino);
        if (w == null) {
            return 0;
        }
        byPblk.remove(w.pblk);
        windowBlocks -= w.len;
        return w.len;
    }

    /** {@return the blocks they held} Drops every window. */
    long discardAll() {
        long n = windowBlocks;
        byInode.clear();
        byPblk.clear();
        windowBlocks = 0;
        return n;
    }

    /** If {@code pblk} lies in a window: the block after that window; else -1. */
    long reservedEnd(long pblk) {
        var e = byPblk.floorEntry(pblk);
        if (e == null) {
            return -1;
        }
        Window w = e.getValue();
        return pblk < w.pblk + w.len ? w.pblk + w.len : -1;
    }

    /** If {@code pblk} lies in a window: the block before that window; else -1 (for downward searches). */
    long reservedStartMinusOne(long pblk) {
        var e = byPblk.floorEntry(pblk);
        if (e == null) {
            return -1;
        }
        Window w = e.getValue();
        return pblk < w.pblk + w.len ? w.pblk - 1 : -1;
    }

    /** The first block of the first window starting after {@code pblk}, or Long.MAX_VALUE. */
    long nextStartAfter(long pblk) {
        Long k = byPblk.higherKey(pblk);
        return k == null ? Long.MAX_VALUE : k;
    }

    /** Blocks held by all windows (free on disk, kept from other allocations). */
    long windowBlocks() {
        return windowBlocks;
    }

    /** Number of windows. */
    int windows() {
        return byInode.size();
    }

    /**
     * The logical end (exclusive) of the normalized request for a regular file (ext4_mb_normalize_request): the
     * file's size in bytes, counted as at least the request's end, rounds up to 16 KiB, 32 KiB, ... 1 MiB (range
     * from logical 0); up to 4 MiB to the 2 MiB-aligned chunk holding {@code lblk}, up to 8 MiB to the 4 MiB chunk;
     * a request of at most 8 MiB otherwise to its 8 MiB chunk; a larger request is not normalized.
     *
     * @param lblk           first logical block asked for
     * @param want           blocks asked for
     * @param fileSizeBlocks the file's size in blocks (i_size rounded up)
     * @param blockBits      log2 of the block size
     * @return the exclusive logical end of the normalized range (at least {@code lblk + want})
     */
    static long normalizedEndLblk(long lblk, long want, long fileSizeBlocks, int blockBits) {
        long end = lblk + want;
        long sizeBytes = Math.max(end, fileSizeBlocks) << blockBits;
        long startOff;
        long size;
        if (sizeBytes <= 1L << 20) {
            size = Math.max(16L << 10, Long.highestOneBit(sizeBytes - 1) << 1);
            startOff = 0;
        } else if (sizeBytes <= 4L << 20) {
            size = 2L << 20;
            startOff = ((lblk << blockBits) >>> 21) << 21;
        } else if (sizeBytes <= 8L << 20) {
            size = 4L << 20;
            startOff = ((lblk << blockBits) >>> 22) << 22;
        } else if ((want << blockBits) <= 8L << 20) {
            size = 8L << 20;
            startOff = ((lblk << blockBits) >>> 23) << 23;
        } else {
            return end;
        }
        long nEnd = (startOff + size) >>> blockBits;
        return Math.max(end, nEnd);
    }
}
