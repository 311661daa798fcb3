package org.iomap4j.iomap;

/**
 * Flag bits of an {@link Iomap}, in two ranges that never overlap (iomap once shipped a collision between an
 * fs-reported and an iomap-set bit; {@link Iomap} rejects core bits from a filesystem).
 *
 * <p>Filesystem-reported bits (set by {@code iomapBegin}) are {@link #FS_MASK}; bits the core sets on a mapping
 * while iterating are {@link #CORE_MASK}.
 */
public final class IomapFlags {
    private IomapFlags() {}

    /** Blocks were just allocated: bytes the operation does not write must be zeroed (never read from disk). */
    public static final int NEW = 1;
    /** The inode has uncommitted metadata for this range: fdatasync must write metadata too. */
    public static final int DIRTY = 1 << 1;
    /** Blocks are shared (reflink): writes must copy on write; fiemap reports SHARED. */
    public static final int SHARED = 1 << 2;
    /** The mapping merges several on-disk extents (fiemap reporting). */
    public static final int MERGED = 1 << 3;
    /**
     * The next mapping needs a metadata read (ext2: the next block's pointer is in another indirect block, the
     * buffer-head world's BH_Boundary). Reads submit their pending device request before asking for the next
     * mapping; writeback never merges an ioend across it.
     */
    public static final int BOUNDARY = 1 << 4;

    /** All filesystem-reported bits. */
    public static final int FS_MASK = (1 << 14) - 1;

    /** Core-set: the operation changed the file size (buffered write past EOF). */
    public static final int SIZE_CHANGED = 1 << 14;
    /** Core-set: the mapping's validity cookie no longer holds; the iterator remaps at the same position. */
    public static final int STALE = 1 << 15;

    /** All core-set bits. */
    public static final int CORE_MASK = SIZE_CHANGED | STALE;

    /**
     * Human-readable list of set flags, e.g. {@code "NEW|MERGED"}.
     *
     * @param flags iomap flag bits
     * @return the names of the set flags joined by {@code |}
     */
    public static String toString(int flags) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"NEW", "DIRTY", "SHARED", "MERGED", "BOUNDARY"};
        for (int i = 0; i < names.length; i++) {
            if ((flags & (1 << i)) != 0) {
                sb.append(sb.isEmpty() ? "" : "|").append(names[i]);
            }
        }
        if ((flags & SIZE_CHANGED) != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append("SIZE_CHANGED");
        }
        if ((flags & STALE) != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append("STALE");
        }
        return sb.toString();
    }
}
