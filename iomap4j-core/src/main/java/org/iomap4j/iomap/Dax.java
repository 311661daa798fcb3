package org.iomap4j.iomap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.MappedBlockDevice;

/**
 * DAX (direct access, fs/dax.c): file data read and written by copying straight between the caller's buffer and
 * a byte-addressable device ({@link MappedBlockDevice}) at the iomap's address, with no page cache.
 *
 * <p>Rules: reads clip to EOF and zero-fill HOLE, UNWRITTEN and NEW ranges; writes need MAPPED or UNWRITTEN storage
 * (HOLE and DELALLOC are a filesystem bug, EIO) and zero every part of a NEW or UNWRITTEN mapping they do not
 * cover (sub-block head and tail, blocks allocated beyond the write) before copying; zeroRange zeroes a whole NEW
 * mapping (for filesystems that allocate on ZERO), so that a newly allocated block never shows stale bytes; a write past EOF sets i_size after the
 * copy of each mapping. There is no revalidation (no cache that could go stale). {@link #fsync} forces the mapped
 * device ranges of the file.
 *
 * <p>Locking: the filesystem holds its inode lock around these calls (shared for read, exclusive for write, zero
 * and truncate), as for buffered I/O; every mapping is passed {@link IomapOpFlags#DAX}.
 */
public final class Dax {
    private Dax() {}

    /**
     * Reads up to {@code dst.remaining()} bytes at {@code posBytes}, clipped at EOF.
     *
     * @return bytes read (0 at or past EOF); dst's position advances by as much
     * @throws FsException EIO for a mapping not on a {@link MappedBlockDevice} or a DELALLOC mapping
     * @param inode the file
     * @param posBytes file byte offset of the first byte read
     * @param dst buffer filled from its position
     * @param ops the filesystem's mapping operations
     */
    public static int read(IomapInode inode, long posBytes, ByteBuffer dst, IomapOps ops) throws IOException {
        if (posBytes < 0) {
            throw new FsException(Errno.EINVAL, "negative position " + posBytes);
        }
        long size = inode.sizeBytes();
        if (posBytes >= size || !dst.hasRemaining()) {
            return 0;
        }
        int len = (int) Math.min(dst.remaining(), size - posBytes);
        MemorySegment out = MemorySegment.ofBuffer(dst);
        long done = IomapIter.run(inode, posBytes, len, IomapOpFlags.DAX, ops, it -> {
            Iomap m = it.readMap();
            long n = it.length();
            long off = it.pos() - posBytes;
            switch (m.type()) {
                case HOLE, UNWRITTEN -> out.asSlice(off, n).fill((byte) 0);
                case MAPPED -> {
                    if (m.hasFlag(IomapFlags.NEW)) {
                        out.asSlice(off, n).fill((byte) 0);
                    } else {
                        MemorySegment.copy(segment(m, it.pos(), n), m.addrOf(it.pos()), out, off, n);
                    }
                }
                case INLINE -> MemorySegment.copy(MemorySegment.ofArray(m.inlineData()),
                        it.pos() - m.offsetBytes(), out, off, n);
                case DELALLOC -> throw new FsException(Errno.EIO, "inode " + inode.ino()
                        + ": DAX read met DELALLOC at " + it.pos() + " (filesystem bug)");
            }
            it.advance(n);
        });
        dst.position(dst.position() + (int) done);
        return (int) done;
    }

    /**
     * Writes {@code src.remaining()} bytes at {@code posBytes}, extending i_size when it ends past EOF.
     *
     * @return bytes written: all, or fewer when the filesystem stopped part-way (ENOSPC after progress)
     * @throws IOException when nothing could be written (ENOSPC, EFBIG, EIO)
     * @param inode the file
     * @param posBytes file byte offset of the first byte written
     * @param src the bytes, from its position to its limit
     * @param ops the filesystem's mapping operations
     */
    public static int write(IomapInode inode, long posBytes, ByteBuffer src, IomapOps ops) throws IOException {
        if (posBytes < 0) {
            throw new FsException(Errno.EINVAL, "negative position " + posBytes);
        }
        if (!src.hasRemaining()) {
            return 0;
        }
        MemorySegment in = MemorySegment.ofBuffer(src);
        int bs = inode.blockSizeBytes();
        IomapIter it = new IomapIter(inode, posBytes, src.remaining(), IomapOpFlags.WRITE | IomapOpFlags.DAX, ops);
        IOException stop = null;
        try {
            while (it.next()) {
                Iomap m = it.iomap();
                long pos = it.pos();
                long n = it.length();
                if (m.type() != IomapType.MAPPED && m.type() != IomapType.UNWRITTEN) {
                    throw new FsException(Errno.EIO, "inode " + inode.ino() + ": DAX write got a " + m.type()
                            + " mapping at " + pos + " (filesystem bug)");
                }
                MemorySegment dev = segment(m, pos, n);
                long end = pos + n;
                if (m.hasFlag(IomapFlags.NEW) || m.type() == IomapType.UNWRITTEN) {
                    // Zero all of the new (or unwritten) mapping that this write does not fill before the data
                    // makes it visible: the sub-block head and tail, and any blocks the filesystem allocated
                    // beyond the write.
                    if (m.offsetBytes() < pos) {
                        dev.asSlice(m.addrOf(m.offsetBytes()), pos - m.offsetBytes()).fill((byte) 0);
                    }
                    if (m.endBytes() > end) {
                        dev.asSlice(m.addrOf(end), m.endBytes() - end).fill((byte) 0);
                    }
                } else if (end > inode.sizeBytes() && end % bs != 0) {
                    // Bytes past the new EOF in its block read as zero, as after a buffered write-back.
                    long tailEnd = Math.min(m.endBytes(), Math.ceilDiv(end, bs) * bs);
                    dev.asSlice(m.addrOf(end), tailEnd - end).fill((byte) 0);
                }
                MemorySegment.copy(in, pos - posBytes, dev, m.addrOf(pos), n);
                if (end > inode.sizeBytes()) {
                    inode.setSizeBytes(end);
                }
                it.advance(n);
            }
        } catch (IOException e) {
            it.abort(e);
            stop = e;
        } catch (RuntimeException | Error e) {
            it.abort(e);
            throw e;
        }
        long done = it.processedBytes();
        if (stop != null && done == 0) {
            throw stop;
        }
        src.position(src.position() + (int) done);
        return (int) done;
    }

    /**
     * Makes {@code [posBytes, posBytes + lengthBytes)} read as zeroes by storing zeroes into MAPPED blocks; HOLE
     * and UNWRITTEN ranges already read as zero and are skipped (iterates with {@link IomapOpFlags#ZERO}, which
     * never allocates). Does not change i_size.
     *
     * @param inode the file
     * @param posBytes file byte offset of the range
     * @param lengthBytes range length in bytes
     * @param ops the filesystem's mapping operations
     * @throws IOException from the filesystem's iomapBegin/iomapEnd
     */
    public static void zeroRange(IomapInode inode, long posBytes, long lengthBytes, IomapOps ops)
            throws IOException {
        if (posBytes < 0 || lengthBytes < 0) {
            throw new FsException(Errno.EINVAL, "zero range " + posBytes + "+" + lengthBytes);
        }
        IomapIter.run(inode, posBytes, lengthBytes, IomapOpFlags.WRITE | IomapOpFlags.ZERO | IomapOpFlags.DAX, ops,
                it -> {
                    Iomap m = it.iomap();
                    if (m.type() == IomapType.MAPPED && m.hasFlag(IomapFlags.NEW)) {
                        // A filesystem that allocates for ZERO: the whole new mapping must read as zero.
                        segment(m, m.offsetBytes(), m.lengthBytes())
                                .asSlice(m.addrOf(m.offsetBytes()), m.lengthBytes()).fill((byte) 0);
                    } else if (m.type() == IomapType.MAPPED) {
                        segment(m, it.pos(), it.length()).asSlice(m.addrOf(it.pos()), it.length()).fill((byte) 0);
                    }
                    it.advance(it.length());
                });
    }

    /**
     * Zeroes from {@code posBytes} (a new EOF) to the end of its filesystem block (dax_truncate_page).
     *
     * @param inode the file
     * @param posBytes the new EOF, a file byte offset
     * @param ops the filesystem's mapping operations
     * @throws IOException from the filesystem's iomapBegin/iomapEnd
     */
    public static void truncatePage(IomapInode inode, long posBytes, IomapOps ops) throws IOException {
        int bs = inode.blockSizeBytes();
        long blockEnd = Math.floorDiv(posBytes, bs) * bs + bs;
        if (posBytes % bs != 0) {
            zeroRange(inode, posBytes, blockEnd - posBytes, ops);
        }
    }

    /**
     * Forces the device ranges under the file's {@code [startBytes, endBytes)} to stable storage (what fsync of a
     * DAX file does: the data is already on the device, only CPU-cache/mapping write-back remains).
     *
     * @param inode the file
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end of the range, a file byte offset
     * @param ops the filesystem's mapping operations
     * @throws IOException from iomapBegin, or EIO when the device cannot force the range
     */
    public static void fsync(IomapInode inode, long startBytes, long endBytes, IomapOps ops) throws IOException {
        long end = Math.min(endBytes, inode.sizeBytes());
        if (end <= startBytes) {
            return;
        }
        IomapIter.run(inode, startBytes, end - startBytes, IomapOpFlags.REPORT | IomapOpFlags.DAX, ops, it -> {
            Iomap m = it.iomap();
            if (m.type() == IomapType.MAPPED && m.device() instanceof MappedBlockDevice d) {
                d.force(m.addrOf(it.pos()), it.length());
            }
            it.advance(it.length());
        });
    }

    private static MemorySegment segment(Iomap m, long pos, long n) throws FsException {
        if (!(m.device() instanceof MappedBlockDevice d)) {
            throw new FsException(Errno.EIO, "DAX mapping " + m + " is not on a byte-addressable device");
        }
        long addr = m.addrOf(pos);
        if (addr < 0 || addr > d.sizeBytes() - n) {
            throw new FsException(Errno.EIO, "DAX mapping " + m + " points outside the device at " + addr);
        }
        return d.segment();
    }
}
