package org.iomap4j.iomap;

/** What backs a mapped file range (include/linux/iomap.h, IOMAP_HOLE..IOMAP_INLINE). */
public enum IomapType {
    /** No storage: reads return zeroes. Never valid for a write (the filesystem must allocate or fail). */
    HOLE,
    /** Space reserved but not yet allocated: reads zero; writeback must have the filesystem allocate. */
    DELALLOC,
    /** Allocated and written: reads come from the device at the mapping's address (unless {@code NEW}). */
    MAPPED,
    /** Allocated but never written: reads zero; writeback and direct-write completion must convert it. */
    UNWRITTEN,
    /** Data lives in the mapping's inline buffer (a file tail stored in metadata); never in writeback. */
    INLINE
}
