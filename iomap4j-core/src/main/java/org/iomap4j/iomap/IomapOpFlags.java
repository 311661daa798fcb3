package org.iomap4j.iomap;

/**
 * What the caller of {@link IomapOps#iomapBegin} is doing (include/linux/iomap.h, IOMAP_WRITE..IOMAP_DAX).
 * A plain read passes 0.
 */
public final class IomapOpFlags {
    private IomapOpFlags() {}

    /** Writing: the filesystem must return storage it may write (allocate holes, or DELALLOC/UNWRITTEN). */
    public static final int WRITE = 1;
    /** Zeroing a range. */
    public static final int ZERO = 1 << 1;
    /** Reporting only (fiemap, seek): never allocate. */
    public static final int REPORT = 1 << 2;
    /** Page fault on a mapped file. */
    public static final int FAULT = 1 << 3;
    /** Direct I/O. */
    public static final int DIRECT = 1 << 4;
    /** Do not block: trylocks only, one mapping, else {@link org.iomap4j.Errno#EAGAIN}. */
    public static final int NOWAIT = 1 << 5;
    /** Only pure overwrites of allocated blocks are allowed; anything else fails with EAGAIN. */
    public static final int OVERWRITE_ONLY = 1 << 6;
    /** Unsharing (copy-on-write of shared blocks without changing data). */
    public static final int UNSHARE = 1 << 7;
    /** DAX access. */
    public static final int DAX = 1 << 8;

    /**
     * {@return true if {@code flag} is set in {@code opFlags}}
     *
     * @param opFlags operation flags
     * @param flag an IomapOpFlags bit
     */
    public static boolean has(int opFlags, int flag) {
        return (opFlags & flag) != 0;
    }
}
