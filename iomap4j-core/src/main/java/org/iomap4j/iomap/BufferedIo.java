package org.iomap4j.iomap;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Buffered read, buffered write, zero-range and truncate-page through the page cache (fs/iomap/buffered-io.c):
 * the public entry points; the work is in {@link BufferedRead} and {@link BufferedWrite}.
 *
 * <p>Locking: the filesystem holds its inode lock (i_rwsem: shared for read, exclusive for write, zero and
 * truncate) around these calls but no lock of its block mapping; the core takes the invalidate lock shared and
 * folio locks.
 */
public final class BufferedIo {
    private BufferedIo() {}

    /**
     * Reads up to {@code dst.remaining()} bytes at {@code posBytes}, clipped at EOF.
     *
     * @return bytes read (0 at or past EOF); dst's position advances by as much
     * @throws IOException an I/O error from the device (the blocks stay not uptodate) or the filesystem
     * @param inode the file
     * @param posBytes file byte offset of the first byte read
     * @param dst buffer filled from its position
     * @param ops the filesystem's mapping operations
     */
    public static int read(IomapInode inode, long posBytes, ByteBuffer dst, IomapOps ops) throws IOException {
        return BufferedRead.read(inode, posBytes, dst, ops);
    }

    /**
     * Hook for reads that return more than asked (netfs: a server granule, a compressed extent): pastes the extra
     * file bytes {@code [posBytes, posBytes + data.remaining())} into the page cache where nothing is cached yet
     * (whole folios below i_size; the EOF folio zero-filled). Never waits for a lock; data's position is unchanged.
     * The caller guarantees the bytes are current (no newer dirty data for them). See {@code BufferedRead}.
     *
     * @return bytes pasted
     * @param inode the file
     * @param posBytes file byte offset of {@code data}'s first byte
     * @param data the extra file bytes, from its position to its limit
     */
    public static long pasteExtra(IomapInode inode, long posBytes, ByteBuffer data) {
        return BufferedRead.pasteExtra(inode, posBytes, data);
    }

    /**
     * Writes {@code src.remaining()} bytes at {@code posBytes}, extending the file size if it ends past EOF.
     *
     * @return bytes written: all of them, or fewer if an error came after some progress
     * @throws IOException if nothing could be written (ENOSPC, EFBIG, EIO, ...)
     * @param inode the file
     * @param posBytes file byte offset of the first byte written
     * @param src the bytes, from its position to its limit
     * @param ops the filesystem's mapping operations
     */
    public static int write(IomapInode inode, long posBytes, ByteBuffer src, IomapOps ops) throws IOException {
        return BufferedWrite.write(inode, posBytes, src, ops);
    }

    /**
     * Makes {@code [posBytes, posBytes + lengthBytes)} read as zeroes: HOLE and UNWRITTEN ranges with a clean
     * cache are skipped; dirty cache over them is written back and the range mapped again; everything else is
     * zeroed in the cache and dirtied. Iterates with {@link org.iomap4j.iomap.IomapOpFlags#ZERO}. Does not change
     * i_size.
     *
     * @param inode the file
     * @param posBytes file byte offset of the range
     * @param lengthBytes range length in bytes
     * @param ops the filesystem's mapping operations
     * @throws IOException from the filesystem's iomapBegin/iomapEnd, or EIO reading a partial block
     */
    public static void zeroRange(IomapInode inode, long posBytes, long lengthBytes, IomapOps ops) throws IOException {
        BufferedWrite.zeroRange(inode, posBytes, lengthBytes, ops);
    }

    /**
     * Unshares {@code [posBytes, posBytes + lengthBytes)} (clamped to i_size): every block of a SHARED mapping is
     * read from its srcmap into the cache (cached blocks keep their contents) and dirtied, so writeback moves it
     * to unshared storage; holes and unshared ranges are left alone. Iterates with
     * {@link org.iomap4j.iomap.IomapOpFlags#WRITE} | {@link org.iomap4j.iomap.IomapOpFlags#UNSHARE}: the
     * filesystem must return SHARED + srcmap for shared blocks and must not allocate holes.
     *
     * @throws org.iomap4j.FsException EINVAL for a negative range; device errors reading the srcmap
     * @param inode the file
     * @param posBytes file byte offset of the range
     * @param lengthBytes range length in bytes
     * @param ops the filesystem's mapping operations
     */
    public static void fileUnshare(IomapInode inode, long posBytes, long lengthBytes, IomapOps ops)
            throws IOException {
        BufferedWrite.unshare(inode, posBytes, lengthBytes, ops);
    }

    /**
     * Zeroes from {@code posBytes} (a new EOF) to the end of its filesystem block.
     *
     * @param inode the file
     * @param posBytes the new EOF, a file byte offset
     * @param ops the filesystem's mapping operations
     * @throws IOException from the filesystem's iomapBegin/iomapEnd, or EIO reading the block
     */
    public static void truncatePage(IomapInode inode, long posBytes, IomapOps ops) throws IOException {
        BufferedWrite.truncatePage(inode, posBytes, ops);
    }

    /** {@code v} rounded up to a multiple of {@code pow2} (a power of two). */
    static long alignUp(long v, long pow2) {
        return (v + pow2 - 1) & -pow2;
    }
}
