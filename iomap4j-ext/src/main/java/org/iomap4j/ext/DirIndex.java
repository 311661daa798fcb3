package org.iomap4j.ext;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.iomap4j.ext.disk.DirEntryCodec;

/**
 * In-memory index of one linear (not htree) directory, so that lookup and insert do not scan every directory block
 * (without it, N creates in one directory cost O(N²) block reads): which logical block holds each live name, and
 * per block the largest rec_len a new entry could take there (an unused entry's whole rec_len, or the slack
 * after a live entry's name — exactly the gaps {@link Directories#add} considers, in its order).
 *
 * <p>It is a cache of what the directory blocks say, never a source of truth: built by {@link Directories} from
 * the blocks on first use, updated by {@link Directories} after every block it writes, checked against the
 * directory's size on every use, and discarded on any error or mismatch (the next use rebuilds it from disk). A
 * directory whose blocks hold the same live name twice (a damaged image) is marked {@link #linearOnly} so that
 * lookups keep the linear scan's first-match answer. Not thread-safe by itself: {@link Directories} guards it.
 */
final class DirIndex {
    /** Directory size in bytes this index describes; any other size means it is stale. */
    long sizeBytes;
    /** Duplicate live names were found: answer lookups by linear scan, like before the index existed. */
    final boolean linearOnly;
    /** Live entry name (ISO-8859-1 of its bytes: one char per byte) → logical block. */
    private final Map<String, Long> lblkByName;
    /** Largest insertable rec_len per logical block; {@code nrBlocks} of them are valid. */
    private int[] maxGapBytes;
    private int nrBlocks;
    /** No block below this one has any insertable gap (a new entry needs at least 12 bytes). */
    private int firstBlockWithRoom;

    private DirIndex(long sizeBytes, boolean linearOnly, Map<String, Long> lblkByName, int[] maxGapBytes,
            int nrBlocks) {
        this.sizeBytes = sizeBytes;
        this.linearOnly = linearOnly;
        this.lblkByName = lblkByName;
        this.maxGapBytes = maxGapBytes;
        this.nrBlocks = nrBlocks;
        recomputeFirstWithRoom(0);
    }

    /** Receives the checked blocks of a directory, in logical order, while an index is built. */
    static final class Builder {
        private final int bs;
        private final int usableBytes;
        private final long sizeBytes;
        private final Map<String, Long> names = new HashMap<>();
        private int[] gaps;
        private int count;
        private boolean duplicates;

        /** {@code usableBytes}: the block less its metadata_csum tail, which is never a gap. */
        Builder(int blockSizeBytes, int usableBytes, long sizeBytes, long nrBlocks) {
            this.bs = blockSizeBytes;
            this.usableBytes = usableBytes;
            this.sizeBytes = sizeBytes;
            // nrBlocks <= 4 GiB / 1 KiB: the directory size limit bounds this allocation.
            this.gaps = new int[(int) Math.min(Math.max(nrBlocks, 1), 1 << 22)];
        }

        void addBlock(long lblk, byte[] block) {
            int off = 0;
            while (off < bs) {
                int recLen = DirEntryCodec.recLen(block, off, bs);
                if (DirEntryCodec.inode(block, off) != 0 && names.putIfAbsent(key(block, off), lblk) != null) {
                    duplicates = true;
                }
                off += recLen;
            }
            if (count == gaps.length) {
                gaps = Arrays.copyOf(gaps, gaps.length * 2);
            }
            gaps[count++] = maxGap(block, usableBytes);
        }

        DirIndex build() {
            return new DirIndex(sizeBytes, duplicates, names, gaps, count);
        }
    }

    /** The logical block holding live entry {@code name}, or -1 if the directory has no such entry. */
    long lblkOf(byte[] name) {
        Long lblk = lblkByName.get(key(name));
        return lblk == null ? -1 : lblk;
    }

    /** The first block whose largest gap fits {@code needBytes}, or -1 (append a block). */
    long firstBlockFitting(int needBytes) {
        for (int b = firstBlockWithRoom; b < nrBlocks; b++) {
            if (maxGapBytes[b] >= needBytes) {
                return b;
            }
        }
        return -1;
    }

    /** Records that {@code name} now lives in {@code lblk}. */
    void putName(byte[] name, long lblk) {
        lblkByName.put(key(name), lblk);
    }

    /** Records that {@code name} is gone. */
    void removeName(byte[] name) {
        lblkByName.remove(key(name));
    }

    /**
     * Records the new contents of block {@code lblk} (appended when it is the next block) and the new size;
     * {@code usableBytes} is the block less its metadata_csum tail.
     */
    void blockWritten(long lblk, byte[] block, int usableBytes, long newSizeBytes) {
        if (lblk == nrBlocks) {
            if (nrBlocks == maxGapBytes.length) {
                maxGapBytes = Arrays.copyOf(maxGapBytes, Math.max(1, maxGapBytes.length * 2));
            }
            nrBlocks++;
        }
        if (lblk < 0 || lblk >= nrBlocks) {
            throw new IllegalStateException("directory index: block " + lblk + " of " + nrBlocks + " written");
        }
        int b = (int) lblk;
        maxGapBytes[b] = maxGap(block, usableBytes);
        sizeBytes = newSizeBytes;
        if (maxGapBytes[b] >= DirEntryCodec.recLenFor(1) && b < firstBlockWithRoom) {
            firstBlockWithRoom = b;
        } else if (b == firstBlockWithRoom) {
            recomputeFirstWithRoom(b);
        }
    }

    private void recomputeFirstWithRoom(int from) {
        int b = from;
        while (b < nrBlocks && maxGapBytes[b] < DirEntryCodec.recLenFor(1)) {
            b++;
        }
        firstBlockWithRoom = b;
    }

    /**
     * Largest rec_len a new entry could take in this (checked) block, as {@link Directories#insertInto} decides:
     * entries from byte 0 up to {@code usableBytes} (the checksum tail after it is never a gap).
     */
    static int maxGap(byte[] block, int usableBytes) {
        int best = 0;
        int off = 0;
        while (off < usableBytes) {
            int recLen = DirEntryCodec.recLen(block, off, block.length);
            int gap = DirEntryCodec.inode(block, off) == 0 ? recLen
                    : recLen - DirEntryCodec.recLenFor(DirEntryCodec.nameLen(block, off));
            best = Math.max(best, gap);
            off += recLen;
        }
        return best;
    }

    private static String key(byte[] block, int off) {
        return new String(block, off + DirEntryCodec.HEADER_BYTES, DirEntryCodec.nameLen(block, off),
                StandardCharsets.ISO_8859_1);
    }

    private static String key(byte[] name) {
        return new String(name, StandardCharsets.ISO_8859_1);
    }
}
