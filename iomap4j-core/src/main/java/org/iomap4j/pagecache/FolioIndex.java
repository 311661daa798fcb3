package org.iomap4j.pagecache;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The folio index of one {@link AddressSpace} (the kernel's xarray in {@code struct address_space}): file offset
 * &rarr; the folio covering it, in two levels. A chunk holds one slot per 4 KiB page of a 2 MiB-aligned range of
 * the file; every slot a folio covers points to it (a large folio fills several slots, like the xarray's
 * multi-index entries). Chunks are found by hash for lookups and kept in file order for range walks.
 *
 * <p>Why not one sorted map of folios: a {@code ConcurrentSkipListMap} over 100,000+ folios costs a pointer
 * chase of ~17 cache misses per lookup, insert and removal, several microseconds of every cold 4 KiB read.
 * Here a lookup is a hash probe and an array read.
 *
 * <p>Folios are naturally aligned powers of two of at most {@link #CHUNK_BYTES}, so none crosses a chunk.
 * Lookups and walks are lock-free and weakly consistent (a folio inserted or removed meanwhile may or may not be
 * seen); {@link #insert} and {@link #remove} must be serialised by the caller (the mapping's tree lock).
 */
final class FolioIndex {
    /** Bytes of file covered by one chunk: the largest folio. */
    static final int CHUNK_BYTES = PageCacheConfig.MAX_FOLIO_BYTES;
    private static final int CHUNK_SHIFT = Integer.numberOfTrailingZeros(CHUNK_BYTES);
    private static final int PAGE_SHIFT = Integer.numberOfTrailingZeros(PageCacheConfig.MIN_FOLIO_BYTES);
    private static final int SLOTS = CHUNK_BYTES >>> PAGE_SHIFT;

    private static final class Chunk {
        final long index;
        final AtomicReferenceArray<Folio> slots = new AtomicReferenceArray<>(SLOTS);
        /** Folios in this chunk (changed under the caller's lock). */
        int folios;

        Chunk(long index) {
            this.index = index;
        }
    }

    private final ConcurrentHashMap<Long, Chunk> byIndex = new ConcurrentHashMap<>();
    private final ConcurrentSkipListMap<Long, Chunk> ordered = new ConcurrentSkipListMap<>();
    /** Folios indexed (changed under the caller's lock). */
    private volatile int size;

    /** The folio covering {@code posBytes} (&ge; 0), or null. */
    Folio get(long posBytes) {
        Chunk c = byIndex.get(posBytes >>> CHUNK_SHIFT);
        if (c == null) {
            return null;
        }
        return c.slots.get((int) ((posBytes >>> PAGE_SHIFT) & (SLOTS - 1)));
    }

    /** True when no folio overlaps {@code [startBytes, startBytes + sizeBytes)} (an aligned folio-sized slot). */
    boolean isFree(long startBytes, int sizeBytes) {
        Chunk c = byIndex.get(startBytes >>> CHUNK_SHIFT);
        if (c == null) {
            return true;
        }
        int from = (int) ((startBytes >>> PAGE_SHIFT) & (SLOTS - 1));
        int to = from + Math.max(1, sizeBytes >>> PAGE_SHIFT);
        for (int i = from; i < to; i++) {
            if (c.slots.get(i) != null) {
                return false;
            }
        }
        return true;
    }

    /** Indexes {@code f}; its slots must be free. Caller serialises mutations. */
    void insert(Folio f) {
        long ci = f.posBytes >>> CHUNK_SHIFT;
        Chunk c = byIndex.get(ci);
        if (c == null) {
            c = new Chunk(ci);
            ordered.put(ci, c);
            byIndex.put(ci, c);
        }
        int from = (int) ((f.posBytes >>> PAGE_SHIFT) & (SLOTS - 1));
        int to = from + Math.max(1, f.sizeBytes >>> PAGE_SHIFT);
        for (int i = from; i < to; i++) {
            c.slots.set(i, f);
        }
        c.folios++;
        size++;
    }

    /** Removes {@code f} if it is indexed; returns whether it was. Caller serialises mutations. */
    boolean remove(Folio f) {
        long ci = f.posBytes >>> CHUNK_SHIFT;
        Chunk c = byIndex.get(ci);
        int from = (int) ((f.posBytes >>> PAGE_SHIFT) & (SLOTS - 1));
        if (c == null || c.slots.get(from) != f) {
            return false;
        }
        int to = from + Math.max(1, f.sizeBytes >>> PAGE_SHIFT);
        for (int i = from; i < to; i++) {
            c.slots.set(i, null);
        }
        size--;
        if (--c.folios == 0) {
            byIndex.remove(ci, c);
            ordered.remove(ci, c);
        }
        return true;
    }

    /** Number of folios indexed. */
    int size() {
        return size;
    }

    /** The folios overlapping {@code [startBytes, endBytes)} in file order, each once (weakly consistent). */
    Iterable<Folio> range(long startBytes, long endBytes) {
        return () -> new RangeIterator(startBytes, endBytes);
    }

    /** Every folio in file order. */
    Iterable<Folio> all() {
        return range(0, Long.MAX_VALUE);
    }

    private final class RangeIterator implements Iterator<Folio> {
        private final long endBytes;
        private final Iterator<Chunk> chunks;
        private Chunk chunk;
        private int slot;
        private Folio next;
        private Folio last;

        RangeIterator(long startBytes, long endBytes) {
            this.endBytes = endBytes;
            long firstChunk = Math.max(0, startBytes) >>> CHUNK_SHIFT;
            this.chunks = endBytes <= startBytes ? java.util.Collections.emptyIterator()
                    : ordered.tailMap(firstChunk, true).values().iterator();
            if (chunks.hasNext()) {
                chunk = chunks.next();
                slot = chunk.index == firstChunk ? (int) ((Math.max(0, startBytes) >>> PAGE_SHIFT) & (SLOTS - 1)) : 0;
            }
            advance();
        }

        private void advance() {
            next = null;
            while (chunk != null) {
                if ((chunk.index << CHUNK_SHIFT) >= endBytes) {
                    chunk = null;
                    return;
                }
                while (slot < SLOTS) {
                    Folio f = chunk.slots.get(slot);
                    if (f == null || f == last) {
                        slot++;
                        continue;
                    }
                    if (f.posBytes >= endBytes) {
                        chunk = null;
                        return;
                    }
                    // Continue after this folio (its slots all point to it).
                    long endSlot = ((f.endBytes() - 1) >>> PAGE_SHIFT) - (chunk.index << (CHUNK_SHIFT - PAGE_SHIFT)) + 1;
                    slot = (int) Math.min(SLOTS, Math.max(slot + 1, endSlot));
                    next = f;
                    last = f;
                    return;
                }
                chunk = chunks.hasNext() ? chunks.next() : null;
                slot = 0;
            }
        }

        @Override
        public boolean hasNext() {
            return next != null;
        }

        @Override
        public Folio next() {
            if (next == null) {
                throw new NoSuchElementException();
            }
            Folio f = next;
            advance();
            return f;
        }
    }

    @Override
    public String toString() {
        return "FolioIndex[" + size + " folios in " + byIndex.size() + " chunks]";
    }

    /** For tests: chunk count. */
    int chunkCount() {
        return byIndex.size();
    }
}
