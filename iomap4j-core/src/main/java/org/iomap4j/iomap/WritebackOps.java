package org.iomap4j.iomap;

import java.io.IOException;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.Writepages;

/**
 * A filesystem's part in writeback (the kernel's {@code iomap_writeback_ops}).
 *
 * <p>Writeback holds only folio locks (no filesystem lock), so a mapping returned by {@link #mapBlocks} may be
 * reused for later dirty blocks only while {@link #mappingValid} holds for it: that is the generic answer to
 * "validate cached mappings in writeback" (a racing truncate that frees and reallocates blocks bumps the cookie,
 * and writeback maps again instead of writing into freed blocks).
 *
 * <p>It is also the mapping's writepages hook (the kernel's {@code ->writepages} of an iomap filesystem, which
 * calls {@code iomap_writepages} with its ops): pass it to
 * {@link org.iomap4j.pagecache.PageCache#createMapping}, and the page cache's writeback (fsync, throttling,
 * background writeback, invalidation) runs {@link Writeback#writepages} with these ops.
 */
public interface WritebackOps extends Writepages {

    /**
     * The writepages hook: one iomap writeback pass with these ops over {@code [startBytes, endBytes)} of
     * {@code mapping}, whose host must be an {@link IomapInode}. A filesystem may override it to order its own
     * metadata around the data writeback, calling {@link Writeback#writepages} for the data.
     *
     * @throws IllegalStateException if the mapping's host is not an {@link IomapInode}
     */
    @Override
    default void writepages(AddressSpace mapping, long startBytes, long endBytes) throws IOException {
        Writeback.writepages(mapping, this, startBytes, endBytes);
    }

    /**
     * Maps dirty file bytes at {@code posBytes} for writeback: MAPPED (or UNWRITTEN, to be converted at
     * completion). A DELALLOC range must be allocated here, from the space its blocks' reservations kept free
     * (do not check the reservations again: the core gives each block's reservation back through
     * {@link org.iomap4j.pagecache.MappingHost#releaseDelalloc} right after this call, or after it failed). HOLE means the block was freed behind the cache's
     * back (punch/truncate raced): the core skips it. INLINE is an error (EIO).
     *
     * @param posBytes    first dirty byte
     * @param lengthBytes length of the dirty run starting there (a hint: the mapping may be shorter or longer)
     * @param inode the file
     * @return the mapping covering {@code posBytes}
     * @throws IOException ENOSPC must not happen here (space was reserved at write); EIO for a device error
     */
    Iomap mapBlocks(IomapInode inode, long posBytes, long lengthBytes) throws IOException;

    /**
     * True if {@code iomap}, returned earlier by {@link #mapBlocks}, still describes the file.
     *
     * @param inode the file
     * @param iomap the mapping to check
     * @return false if the file's block map changed since (the core maps again)
     */
    default boolean mappingValid(IomapInode inode, Iomap iomap) {
        return true;
    }

    /**
     * Called when the device write of {@code ioend} finished, with its error or null: converts UNWRITTEN,
     * updates the on-disk size, etc. Default: nothing.
     *
     * @param inode the file
     * @param ioend the completed write range
     * @param error the write error, or null on success
     * @throws IOException if the completion work fails; recorded as a writeback error
     */
    default void ioendCompleted(IomapInode inode, Ioend ioend, Throwable error) throws IOException {
    }
}
