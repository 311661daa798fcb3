package org.iomap4j.iomap;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import org.iomap4j.block.Bio;

/**
 * A filesystem's hooks into direct I/O (the kernel's {@code struct iomap_dio_ops}).
 */
public interface IomapDioOps {

    /** {@link #endIo} flag: the request was a write. */
    int DIO_WRITE = 1;
    /** {@link #endIo} flag: some of the written range was UNWRITTEN and must be converted. */
    int DIO_UNWRITTEN = 1 << 1;
    /** {@link #endIo} flag: the write went to newly allocated blocks or past EOF (metadata changed). */
    int DIO_NEED_SYNC_METADATA = 1 << 2;

    /** The no-op hooks: requests go straight to the mapping's device; nothing happens at completion. */
    IomapDioOps NONE = new IomapDioOps() { };

    /**
     * Alignment in bytes that direct I/O positions, lengths and direct-buffer addresses must have: the device's
     * logical block size. Default 512.
     *
     * @param inode the file
     * @return the alignment in bytes, a power of two
     */
    default int dioAlignmentBytes(IomapInode inode) {
        return 512;
    }

    /**
     * Alignment in bytes that a direct buffer's address must have (statx's {@code dio_mem_align}, which Linux keeps
     * apart from {@code dio_offset_align} = {@link #dioAlignmentBytes}): what the device's DMA needs. A device
     * reached through a buffered file needs none (1). Default: {@link #dioAlignmentBytes}.
     *
     * @param inode the file
     * @return the memory alignment in bytes, a power of two
     */
    default int dioMemoryAlignmentBytes(IomapInode inode) {
        return dioAlignmentBytes(inode);
    }

    /**
     * Sends one device request of a direct I/O for file bytes starting at {@code fileOffsetBytes}; the
     * filesystem may route it (another device, accounting). Default: {@code iomap.device().submit(bio)}.
     *
     * @param inode the file
     * @param iomap the mapping the request lies in
     * @param bio the device request
     * @param fileOffsetBytes file byte offset of the request's first byte
     * @return a future completed when the request is done, or exceptionally with its error
     */
    default CompletableFuture<Void> submitIo(IomapInode inode, Iomap iomap, Bio bio, long fileOffsetBytes) {
        return iomap.device().submit(bio);
    }

    /**
     * Called once when every request of a direct I/O finished, before the page cache is invalidated again:
     * update i_size for an extending write, convert UNWRITTEN ranges, remap copy-on-write.
     *
     * @param posBytes  file offset of the I/O
     * @param sizeBytes bytes transferred successfully from {@code posBytes}
     * @param error     the first error, or null
     * @param flags     {@link #DIO_WRITE}, {@link #DIO_UNWRITTEN}, {@link #DIO_NEED_SYNC_METADATA}
     * @param inode the file
     * @throws IOException to fail the direct I/O with this error (e.g. a failed UNWRITTEN conversion)
     */
    default void endIo(IomapInode inode, long posBytes, long sizeBytes, Throwable error, int flags)
            throws IOException {
    }
}
