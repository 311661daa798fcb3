package org.iomap4j.pagecache;

/**
 * What the page cache knows of the inode that owns an {@link AddressSpace} (the kernel's
 * {@code mapping->host}): its number and geometry, nothing of its filesystem. An iomap filesystem's inode
 * ({@code org.iomap4j.iomap.IomapInode}) extends it.
 *
 * <p>Thread-safety: every method may be called without locks; {@link #sizeBytes()} must be a volatile (or
 * equivalent) read.
 */
public interface MappingHost {

    /** The inode number, for messages and keys. */
    long ino();

    /** The file size in bytes (i_size). */
    long sizeBytes();

    /**
     * The filesystem block size in bytes: a power of two, 512..65536 (the unit of per-block uptodate and dirty
     * state; checked by {@link PageCache#createMapping}). Must not change while the mapping exists.
     */
    int blockSizeBytes();
}
