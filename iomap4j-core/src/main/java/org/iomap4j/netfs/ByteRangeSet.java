package org.iomap4j.netfs;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A set of object bytes kept as sorted, disjoint, non-adjacent {@link ByteRange}s (the dirty extents of a file).
 * Not thread-safe: its owner guards it.
 */
public final class ByteRangeSet {
    /** start -> exclusive end. */
    private final TreeMap<Long, Long> ranges = new TreeMap<>();

    /** An empty set. */
    public ByteRangeSet() {
    }

    /**
     * A set holding {@code initial}.
     *
     * @param initial ranges to add (any order, may overlap)
     */
    public ByteRangeSet(List<ByteRange> initial) {
        for (ByteRange r : initial) {
            add(r.startBytes(), r.endBytes());
        }
    }

    /**
     * Adds {@code [startBytes, endBytes)}, merging with overlapping or adjacent ranges.
     *
     * @param startBytes first byte
     * @param endBytes exclusive end
     */
    public void add(long startBytes, long endBytes) {
        if (endBytes <= startBytes) {
            return;
        }
        long s = startBytes;
        long e = endBytes;
        Map.Entry<Long, Long> before = ranges.floorEntry(s);
        if (before != null && before.getValue() >= s) {
            s = before.getKey();
            e = Math.max(e, before.getValue());
        }
        Map.Entry<Long, Long> next = ranges.ceilingEntry(s);
        while (next != null && next.getKey() <= e) {
            e = Math.max(e, next.getValue());
            ranges.remove(next.getKey());
            next = ranges.ceilingEntry(s);
        }
        ranges.put(s, e);
    }

    /**
     * Removes every byte at or past {@code endBytes}.
     *
     * @param endBytes the new exclusive bound
     */
    public void clipTo(long endBytes) {
        Map.Entry<Long, Long> before = ranges.lowerEntry(endBytes);
        ranges.tailMap(endBytes, true).clear();
        if (before != null && before.getValue() > endBytes) {
            ranges.put(before.getKey(), endBytes);
        }
    }

    /** Removes every range. */
    public void clear() {
        ranges.clear();
    }

    /** {@return true if the set holds no byte} */
    public boolean isEmpty() {
        return ranges.isEmpty();
    }

    /**
     * True if some byte of {@code [startBytes, endBytes)} is in the set.
     *
     * @param startBytes first byte
     * @param endBytes exclusive end
     * @return true if they intersect
     */
    public boolean intersects(long startBytes, long endBytes) {
        Map.Entry<Long, Long> before = ranges.lowerEntry(endBytes);
        return before != null && before.getValue() > startBytes;
    }

    /**
     * The ranges, in order.
     *
     * @return sorted, disjoint, non-adjacent ranges
     */
    public List<ByteRange> toList() {
        List<ByteRange> out = new ArrayList<>(ranges.size());
        for (Map.Entry<Long, Long> e : ranges.entrySet()) {
            out.add(new ByteRange(e.getKey(), e.getValue()));
        }
        return out;
    }

    /**
     * The parts of {@code [startBytes, endBytes)} in the set, in order.
     *
     * @param startBytes first byte
     * @param endBytes exclusive end
     * @return the intersections, sorted
     */
    public List<ByteRange> within(long startBytes, long endBytes) {
        List<ByteRange> out = new ArrayList<>();
        Long from = ranges.floorKey(startBytes);
        for (Map.Entry<Long, Long> e : ranges.tailMap(from == null ? startBytes : from, true).entrySet()) {
            if (e.getKey() >= endBytes) {
                break;
            }
            long s = Math.max(e.getKey(), startBytes);
            long t = Math.min(e.getValue(), endBytes);
            if (s < t) {
                out.add(new ByteRange(s, t));
            }
        }
        return out;
    }

    /**
     * Total bytes in the set.
     *
     * @return the byte count
     */
    public long totalBytes() {
        long n = 0;
        for (Map.Entry<Long, Long> e : ranges.entrySet()) {
            n += e.getValue() - e.getKey();
        }
        return n;
    }

    @Override
    public String toString() {
        return ranges.toString();
    }
}
