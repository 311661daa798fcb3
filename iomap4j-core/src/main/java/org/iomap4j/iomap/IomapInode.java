package org.iomap4j.iomap;

import org.iomap4j.pagecache.AddressSpace;

/**
 * The core's view of a file: what iomap4j needs from a filesystem's in-memory inode (the kernel's
 * {@code struct inode} fields iomap touches). Implemented by each filesystem's inode class.
 *
 * <p>Thread-safety: {@link #sizeBytes()} may be read without locks (volatile or equivalent);
 * {@link #setSizeBytes(long)} is called by the core's buffered write with the folio lock held, and by the
 * filesystem under its own inode lock.
 */
public interface IomapInode {

    /** The inode number, for messages and keys. */
    long ino();

    /** The file size in bytes (i_size). */
    long sizeBytes();

    /**
     * Sets i_size after an extending write. The filesystem records the new size for its on-disk inode and marks
     * the inode dirty; it must not call back into the page cache.
     */
    void setSizeBytes(long newSizeBytes);

    /** The filesystem block size in bytes: a power of two, 512..65536. */
    int blockSizeBytes();

    /** This inode's page cache. */
    AddressSpace mapping();
}
