package org.iomap4j.pagecache;

import java.io.IOException;

/**
 * How the page cache writes a mapping's dirty folios back (the kernel's {@code address_space_operations
 * ->writepages}): the only way the page cache reaches writeback. The filesystem supplies it when it creates the
 * mapping ({@link PageCache#createMapping}); for an iomap filesystem it is its
 * {@code org.iomap4j.iomap.WritebackOps}, which runs iomap's writeback with the filesystem's mapping ops.
 *
 * <p>Called with no folio lock held by the caller; may be called concurrently for the same mapping (writeback
 * serialises on folio locks, ascending). Called from fsync, throttled writers, the background writeback thread
 * and {@link AddressSpace#invalidateRange} (with the invalidate lock held exclusively).
 */
@FunctionalInterface
public interface Writepages {

    /**
     * Writes back every dirty block of {@code mapping} in {@code [startBytes, endBytes)} (file bytes) and waits
     * for the device writes. Errors are recorded on {@link AddressSpace#errors()} and the first one is thrown
     * after every folio of the range was tried.
     *
     * @throws IOException the first writeback error of this pass
     * @param mapping the inode's page cache
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     */
    void writepages(AddressSpace mapping, long startBytes, long endBytes) throws IOException;
}
