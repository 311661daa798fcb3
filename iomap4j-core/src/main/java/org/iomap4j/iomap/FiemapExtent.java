package org.iomap4j.iomap;

/**
 * One extent of a FIEMAP report (include/uapi/linux/fiemap.h {@code struct fiemap_extent}).
 *
 * @param logicalBytes  file byte offset of the extent
 * @param physicalBytes device byte address (0 for DELALLOC and INLINE, whose address is unknown)
 * @param lengthBytes   length in bytes
 * @param flags         FIEMAP_EXTENT_* bits ({@link #LAST}, {@link #UNWRITTEN}, ...)
 */
public record FiemapExtent(long logicalBytes, long physicalBytes, long lengthBytes, int flags) {
    public static final int LAST = 0x1;
    public static final int UNKNOWN = 0x2;
    public static final int DELALLOC = 0x4;
    public static final int NOT_ALIGNED = 0x100;
    public static final int DATA_INLINE = 0x200;
    public static final int UNWRITTEN = 0x800;
    public static final int MERGED = 0x1000;
    public static final int SHARED = 0x2000;

    FiemapExtent withFlag(int flag) {
        return new FiemapExtent(logicalBytes, physicalBytes, lengthBytes, flags | flag);
    }

    /**
     * "LAST|MERGED" style text of the flags, as filefrag -v prints them (lower case there).
     *
     * @param flags FIEMAP_EXTENT_* bits
     * @return the names joined by {@code |}, empty for 0
     */
    public static String flagsToString(int flags) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"last", "unknown_loc", "delalloc", "merged", "unwritten", "shared", "inline", "not_aligned"};
        int[] bits = {LAST, UNKNOWN, DELALLOC, MERGED, UNWRITTEN, SHARED, DATA_INLINE, NOT_ALIGNED};
        for (int i = 0; i < bits.length; i++) {
            if ((flags & bits[i]) != 0) {
                sb.append(sb.isEmpty() ? "" : ",").append(names[i]);
            }
        }
        return sb.toString();
    }
}
