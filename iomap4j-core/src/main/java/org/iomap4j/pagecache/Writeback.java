package org.iomap4j.pagecache;

import java.io.IOException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.iomap.IomapInode;

/**
 * Writeback of dirty blocks (fs/iomap/buffered-io.c writepages). SKELETON: API fixed, implementation in progress.
 */
public final class Writeback {
    private Writeback() {}

    /**
     * Writes back every dirty block in {@code [startBytes, endBytes)} and waits for the device writes. Errors are
     * recorded on the mapping's {@link ErrSeq} and the first one of this pass is thrown after all folios were
     * tried.
     */
    public static void writeAndWait(AddressSpace mapping, long startBytes, long endBytes) throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * fsync of a data range: {@link #writeAndWait}, then {@code device.flush()}, then reports through
     * {@code cursor} any writeback error this handle has not seen yet (once).
     */
    public static void fsync(IomapInode inode, long startBytes, long endBytes, ErrSeq.Cursor cursor,
            BlockDevice device) throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }
}
