package org.iomap4j.iomap;

import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.MappingHost;

/**
 * The core's view of a file: what iomap4j needs from a filesystem's in-memory inode (the kernel's
 * {@code struct inode} fields iomap touches): the page cache's {@link MappingHost} (ino, i_size, block size)
 * plus what iomap adds. Implemented by each filesystem's inode class.
 *
 * <p>Thread-safety: {@link #sizeBytes()} may be read without locks (volatile or equivalent);
 * {@link #setSizeBytes(long)} is called by the core's buffered write with the folio lock held, and by the
 * filesystem under its own inode lock.
 */
public interface IomapInode extends MappingHost {

    /**
     * Sets i_size after an extending write. The filesystem records the new size for its on-disk inode and marks
     * the inode dirty; it must not call back into the page cache.
     *
     * @param newSizeBytes the new i_size in bytes
     */
    void setSizeBytes(long newSizeBytes);

    /**
     * This inode's page cache.
     *
     * @return the address space caching this inode's data
     */
    AddressSpace mapping();
}
