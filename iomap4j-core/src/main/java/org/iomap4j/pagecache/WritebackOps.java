package org.iomap4j.pagecache;

import java.io.IOException;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapInode;

/**
 * A filesystem's part in writeback (the kernel's {@code iomap_writeback_ops}).
 *
 * <p>Writeback holds only folio locks (no filesystem lock), so a mapping returned by {@link #mapBlocks} may be
 * reused for later dirty blocks only while {@link #mappingValid} holds for it: that is the generic answer to
 * "validate cached mappings in writeback" (a racing truncate that frees and reallocates blocks bumps the cookie,
 * and writeback maps again instead of writing into freed blocks).
 */
public interface WritebackOps {

    /**
     * Maps dirty file bytes at {@code posBytes} for writeback: MAPPED (or UNWRITTEN, to be converted at
     * completion). A DELALLOC range must be allocated here. HOLE means the block was freed behind the cache's
     * back (punch/truncate raced): the core skips it. INLINE is an error (EIO).
     *
     * @param posBytes    first dirty byte
     * @param lengthBytes length of the dirty run starting there (a hint: the mapping may be shorter or longer)
     */
    Iomap mapBlocks(IomapInode inode, long posBytes, long lengthBytes) throws IOException;

    /** True if {@code iomap}, returned earlier by {@link #mapBlocks}, still describes the file. */
    default boolean mappingValid(IomapInode inode, Iomap iomap) {
        return true;
    }

    /**
     * Called when the device write of {@code ioend} finished, with its error or null: converts UNWRITTEN,
     * updates the on-disk size, etc. Default: nothing.
     */
    default void ioendCompleted(IomapInode inode, Ioend ioend, Throwable error) throws IOException {
    }
}
