package org.iomap4j.iomap;

import java.io.IOException;

/**
 * What a filesystem writes to use iomap4j: the block mapping of its on-disk format (the kernel's
 * {@code struct iomap_ops}).
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #iomapBegin} returns one mapping that covers {@code posBytes} (offset &le; pos &lt; end); it may be
 *       shorter or longer than {@code lengthBytes}, and should be as long as the on-disk layout allows (a whole
 *       contiguous run, a whole hole). With {@link IomapOpFlags#WRITE} it must return storage that can be
 *       written (allocating, with {@link IomapFlags#NEW}) or throw ({@code ENOSPC}, {@code EFBIG},
 *       {@code EAGAIN} under NOWAIT).</li>
 *   <li>No filesystem lock may be held from {@code iomapBegin} to {@code iomapEnd}: the core takes folio locks in
 *       between. Instead the mapping carries a validity cookie, and {@link #iomapValid} says whether it still
 *       describes the file (the core checks it after locking a folio, and remaps when it is stale).</li>
 *   <li>{@link #iomapEnd} is called exactly once per successful {@code iomapBegin}, with the bytes actually
 *       processed ({@code writtenBytes}), also when the operation failed part-way; it commits or releases
 *       what begin reserved.</li>
 * </ul>
 * Implementations are thread-safe: many operations on different (or the same) inodes run concurrently.
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
     */
    default void iomapEnd(IomapInode inode, long posBytes, long lengthBytes, long writtenBytes, int opFlags,
            Iomap iomap) throws IOException {
    }

    /**
     * True if {@code iomap} (from an earlier {@code iomapBegin}) still describes the file, typically by comparing
     * its {@link Iomap#validityCookie()} with the inode's block-map sequence counter. Default: always valid (a
     * filesystem whose mappings never change once returned).
     */
    default boolean iomapValid(IomapInode inode, Iomap iomap) {
        return true;
    }
}
