package org.iomap4j.iomap;

import java.io.IOException;

/**
 * What a filesystem writes to use iomap4j: the block mapping of its on-disk format (the kernel's
 * {@code struct iomap_ops}, include/linux/iomap.h; Documentation/filesystems/iomap/design.rst). Every data
 * operation of the core (buffered read and write, zeroing, truncate's partial block, unshare, direct I/O, DAX,
 * SEEK_DATA/SEEK_HOLE, FIEMAP, bmap) is a loop of {@link IomapIter}: ask {@link #iomapBegin} for the mapping at the
 * current position, process at most that mapping, call {@link #iomapEnd}, advance. docs/porting-guide.md walks
 * through writing one; the testkit's {@code IomapOpsContract} checks an implementation.
 *
 * <h2>What {@code iomapBegin} may assume</h2>
 * <ul>
 *   <li>{@code posBytes} &ge; 0 and {@code lengthBytes} &gt; 0; the range may extend past EOF (reads are clipped to
 *       i_size by the core, writes extend it).</li>
 *   <li>The caller holds the inode's i_rwsem as the operation needs it (shared for read, seek, fiemap; exclusive
 *       for write, zero, truncate, fallocate), or, in writeback, only folio locks (that path uses
 *       {@link WritebackOps#mapBlocks} instead). The core holds no filesystem lock: begin takes and releases its own.
 *   </li>
 *   <li>{@code opFlags} ({@link IomapOpFlags}) say what the caller does: 0 = read; {@link IomapOpFlags#WRITE};
 *       {@link IomapOpFlags#ZERO} (zeroing: a hole or unwritten range already reads as zeroes, so never allocate
 *       for it); {@link IomapOpFlags#REPORT} (fiemap, seek: never allocate, never change anything);
 *       {@link IomapOpFlags#DIRECT}; {@link IomapOpFlags#NOWAIT} (no blocking: trylocks, one mapping, else
 *       {@link org.iomap4j.Errno#EAGAIN}); {@link IomapOpFlags#OVERWRITE_ONLY}; {@link IomapOpFlags#UNSHARE};
 *       {@link IomapOpFlags#DAX}; {@link IomapOpFlags#FAULT}.</li>
 * </ul>
 *
 * <h2>What it must guarantee</h2>
 * <ul>
 *   <li>The returned {@link Iomap} covers {@code posBytes} (offset &le; pos &lt; offset + length). It may be
 *       shorter or longer than {@code lengthBytes}, and should be as long as the on-disk layout allows (a whole
 *       contiguous run, a whole hole): the core never asks again inside it. A mapping (or srcmap) that does not
 *       cover the position is refused by the iterator: the operation fails with EIO ("filesystem bug"), after
 *       {@code iomapEnd}; one that stays stale after repeated remaps fails the same way.</li>
 *   <li>Its {@link IomapType} tells the truth: {@link IomapType#HOLE} (no storage, reads zero);
 *       {@link IomapType#MAPPED} (storage at {@link Iomap#addrBytes()} on {@link Iomap#device()});
 *       {@link IomapType#UNWRITTEN} (allocated, reads zero until converted at I/O completion);
 *       {@link IomapType#DELALLOC} (reserved, allocated by writeback; never for a direct write);
 *       {@link IomapType#INLINE} (bytes in {@link Iomap#inlineData()}).</li>
 *   <li>With {@link IomapOpFlags#WRITE} it returns storage that can be written: MAPPED (with
 *       {@link IomapFlags#NEW} for blocks allocated now: the core zeroes what the operation does not write in them
 *       and never reads them), UNWRITTEN or DELALLOC; never a HOLE. Space errors are thrown here ({@code ENOSPC},
 *       {@code EFBIG}) so that writeback never fails for space.</li>
 *   <li>Filesystem flags ({@link IomapFlags#FS_MASK}): {@link IomapFlags#NEW}, {@link IomapFlags#DIRTY},
 *       {@link IomapFlags#SHARED} (copy on write: the old blocks go in {@link Iomap#srcmap()}, from which the core
 *       reads the parts of each block the write does not cover), {@link IomapFlags#MERGED},
 *       {@link IomapFlags#BOUNDARY}. Core bits ({@link IomapFlags#CORE_MASK}) are refused.</li>
 *   <li><b>The validity cookie.</b> No filesystem lock may be held from {@code iomapBegin} to {@code iomapEnd}: the
 *       core takes folio locks in between, and writeback takes them in the other order. Instead the mapping carries
 *       {@link Iomap#validityCookie()} (typically a per-inode block-map sequence counter, bumped by every change of
 *       the map: allocation, truncate, punch, conversion), and {@link #iomapValid} compares it with the current
 *       value. The core checks it after locking a folio and, when it is stale, ends the mapping and maps again at the
 *       same position ({@link IomapFlags#STALE}); writeback reuses a cached mapping only while
 *       {@link WritebackOps#mappingValid} holds.</li>
 *   <li>{@link #iomapEnd} is called exactly once per successful {@code iomapBegin}, with the bytes actually
 *       processed ({@code writtenBytes}, also when the operation failed part-way); it commits or releases what begin
 *       reserved: blocks allocated as NEW and not reached must be freed (or zeroed) there, or a later read past a
 *       short write would show another file's old data.</li>
 * </ul>
 *
 * <h2>Errors</h2>
 * Throw {@link org.iomap4j.FsException} with the errno Linux would return: {@code ENOSPC} (no space for the
 * write), {@code EFBIG} (beyond the maximum file size), {@code EAGAIN} (under NOWAIT, or OVERWRITE_ONLY needing an
 * allocation), {@code EIO} (device errors), {@code ENOTBLK} from a direct write the filesystem wants done buffered
 * (the core falls back); {@link org.iomap4j.CorruptFilesystemException} (EUCLEAN) naming the inode and block for an
 * impossible on-disk map. The operation stops at the failing mapping; what was done before it stays done.
 *
 * <p>Implementations are thread-safe: many operations on different (or the same) inodes run concurrently.
 */
public interface IomapOps {

    /**
     * Maps file bytes starting at {@code posBytes}.
     *
     * @param inode       the file
     * @param posBytes    first byte wanted (&ge; 0)
     * @param lengthBytes bytes wanted (&gt; 0)
     * @param opFlags     {@link IomapOpFlags} bits
     * @return a mapping covering {@code posBytes}, possibly with a srcmap for copy-on-write
     * @throws IOException with an errno ({@code org.iomap4j.FsException}) when the range cannot be mapped
     */
    Iomap iomapBegin(IomapInode inode, long posBytes, long lengthBytes, int opFlags) throws IOException;

    /**
     * Ends the use of {@code iomap}, of which {@code writtenBytes} (&le; {@code lengthBytes}) starting at
     * {@code posBytes} were processed. Default: nothing to do.
     *
     * @param inode the file
     * @param posBytes file byte offset passed to iomapBegin
     * @param lengthBytes length in bytes passed to iomapBegin
     * @param writtenBytes bytes actually processed from {@code posBytes}
     * @param opFlags the {@link IomapOpFlags} of the operation
     * @param iomap the mapping iomapBegin returned
     * @throws IOException to fail the operation (e.g. when releasing unused delalloc reservations fails)
     */
    default void iomapEnd(IomapInode inode, long posBytes, long lengthBytes, long writtenBytes, int opFlags,
            Iomap iomap) throws IOException {
    }

    /**
     * True if {@code iomap} (from an earlier {@code iomapBegin}) still describes the file, typically by comparing
     * its {@link Iomap#validityCookie()} with the inode's block-map sequence counter. Default: always valid (a
     * filesystem whose mappings never change once returned).
     *
     * @param inode the file
     * @param iomap the mapping to check
     * @return false if the filesystem's mapping changed since (the core then maps again)
     */
    default boolean iomapValid(IomapInode inode, Iomap iomap) {
        return true;
    }
}
