package org.iomap4j.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.iomap.Dax;
import org.iomap4j.iomap.DirectIo;
import org.iomap4j.iomap.DirectReadahead;
import org.iomap4j.iomap.IomapDioOps;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.iomap.Writeback;

/**
 * The generic file helpers a filesystem's file operations are built from (the kernel's mm/filemap.c
 * generic_file_read_iter / generic_file_write_iter / generic_file_direct_write, mm/truncate.c truncate_setsize
 * and truncate_pagecache_range, file_write_and_wait_range): read/write dispatch among buffered, direct and DAX
 * I/O, O_DIRECT with an aligned bounce buffer and the ENOTBLK fallback to buffered I/O, truncate and hole-punch
 * sequencing (page cache first, then {@link BlockTruncateOps} frees blocks), and the data half of fsync.
 *
 * <p>One instance per mounted filesystem. Units are bytes unless a name says blocks ({@code lblk}).
 *
 * <p>The inode type only needs to be an {@link IomapInode}: a filesystem built on {@link InodeCache} passes its
 * {@link Inode} subclass; a test filesystem without the cache passes its own inode class.
 *
 * <p>Lock order (see docs/architecture.md): the caller holds the inode's i_rwsem ({@link Inode#rwsem}; shared
 * for reads, exclusive for writes, truncate, punch) → the mapping's invalidate lock (taken here for truncate and
 * {@link #trimBeyondEof}; held by the caller for {@link #punchHole} and {@link #growSize}) → folio locks (core) →
 * the filesystem's block-map lock (inside {@link IomapOps} and {@link BlockTruncateOps} only).
 *
 * @param <I> the filesystem's in-memory inode type
 */
public final class GenericFile<I extends IomapInode> {
    /** How a file's data moves: through the page cache, O_DIRECT to the device, or DAX on a mapped device. */
    public enum IoMode {
        /** Through the page cache (fs/iomap/buffered-io.c). */
        BUFFERED,
        /** O_DIRECT: between the caller's buffer and the device (fs/iomap/direct-io.c). */
        DIRECT,
        /** Loads and stores on a mapped device (fs/dax.c). */
        DAX
    }

    private final IomapOps ops;
    private final IomapDioOps dioOps;
    private final boolean dax;
    private final BlockTruncateOps<I> blockOps;

    /**
     * The generic file operations of a filesystem, over its mapping operations.
     *
     * @param dax regular-file data goes through {@link Dax} (truncatePage and zeroing on the mapping, not the
     *            cache)
     * @param ops the filesystem's iomap operations
     * @param dioOps the filesystem's direct I/O hooks
     * @param blockOps the filesystem's block truncate and punch
     */
    public GenericFile(IomapOps ops, IomapDioOps dioOps, boolean dax, BlockTruncateOps<I> blockOps) {
        this.ops = ops;
        this.dioOps = dioOps;
        this.dax = dax;
        this.blockOps = blockOps;
    }

    // ---------------------------------------------------------------- read / write

    /**
     * generic_file_read_iter: reads at {@code posBytes} into {@code dst} (caller holds the rwsem shared).
     *
     * @return bytes read, 0 at EOF
     * @throws FsException EINVAL for an unaligned O_DIRECT request; I/O errors from the device
     * @param inode the file
     * @param posBytes file byte offset of the first byte read
     * @param dst buffer filled from its position
     * @param mode how the data moves
     */
    public int read(I inode, long posBytes, ByteBuffer dst, IoMode mode) throws IOException {
        return switch (mode) {
            case DAX -> Dax.read(inode, posBytes, dst, ops);
            case DIRECT -> directRead(inode, posBytes, dst);
            case BUFFERED -> BufferedIo.read(inode, posBytes, dst, ops);
        };
    }

    /**
     * generic_file_write_iter without the filesystem's timestamps: writes {@code src} at {@code posBytes}
     * (caller holds the rwsem exclusively), clipped to {@code maxSizeBytes} (generic_write_check_limits). After a
     * failed or short write, blocks allocated beyond EOF are freed again ({@link #trimBeyondEof}, the kernel's
     * ext2_write_failed).
     *
     * @return bytes written; {@code src}'s position advances by it
     * @throws FsException EFBIG at or beyond {@code maxSizeBytes}; ENOSPC, EIO from the filesystem or device
     * @param inode the file
     * @param posBytes file byte offset of the first byte written
     * @param src the bytes, from its position to its limit
     * @param mode how the data moves
     * @param maxSizeBytes the filesystem's largest file size in bytes (EFBIG beyond)
     */
    public int write(I inode, long posBytes, ByteBuffer src, IoMode mode, long maxSizeBytes) throws IOException {
        if (posBytes >= maxSizeBytes) {
            throw new FsException(Errno.EFBIG, "write at " + posBytes + " beyond the maximum file size "
                    + maxSizeBytes);
        }
        ByteBuffer part = src;
        if (src.remaining() > maxSizeBytes - posBytes) {
            part = src.slice(src.position(), (int) (maxSizeBytes - posBytes));
        }
        int wanted = part.remaining();
        int n;
        try {
            n = switch (mode) {
                case DAX -> Dax.write(inode, posBytes, part, ops);
                case DIRECT -> directWrite(inode, posBytes, part);
                case BUFFERED -> BufferedIo.write(inode, posBytes, part, ops);
            };
        } catch (IOException | RuntimeException e) {
            try {
                trimBeyondEof(inode);
            } catch (IOException | RuntimeException e2) {
                e.addSuppressed(e2);
            }
            throw e;
        }
        if (part != src) {
            src.position(src.position() + n);
        }
        if (n < wanted) {
            trimBeyondEof(inode);
        }
        return n;
    }

    /**
     * Whether {@code buf} can take a direct transfer as it is: a direct buffer whose address meets the device's
     * memory alignment (none for a buffered image, so FUSE payloads at header offsets need no bounce).
     */
    private boolean dioAligned(I inode, ByteBuffer buf) {
        int memAlign = dioOps.dioMemoryAlignmentBytes(inode);
        return buf.isDirect() && (memAlign <= 1 || MemorySegment.ofBuffer(buf).address() % memAlign == 0);
    }

    private static ByteBuffer alignedBounce(int bytes, int align) {
        int rounded = (bytes + align - 1) & -align;
        return ByteBuffer.allocateDirect(rounded + align).alignedSlice(align).limit(bytes);
    }

    /**
     * O_DIRECT read (caller holds the rwsem shared): position and length must be multiples of the device's
     * logical block size, else EINVAL as on Linux; an unaligned caller buffer (FUSE payloads) is bounced through an
     * aligned one. At or past EOF it returns 0 before the alignment check (a caller that keeps reading after a
     * short read clipped at an unaligned EOF gets 0, not EINVAL).
     *
     * @param inode the file
     * @param posBytes file byte offset (aligned)
     * @param dst buffer filled from its position (length and address aligned)
     * @return bytes read, 0 at EOF
     * @throws IOException EINVAL for misalignment, EIO for a device error
     */
    public int directRead(I inode, long posBytes, ByteBuffer dst) throws IOException {
        if (posBytes >= inode.sizeBytes()) {
            return 0;
        }
        int align = dioOps.dioAlignmentBytes(inode);
        if (dioAligned(inode, dst)) {
            return (int) DirectIo.read(inode, posBytes, dst, ops, dioOps, 0);
        }
        if (posBytes % align != 0 || dst.remaining() % align != 0) {
            throw new FsException(Errno.EINVAL, "inode " + inode.ino() + ": O_DIRECT read at " + posBytes + " of "
                    + dst.remaining() + " bytes is not aligned to " + align + " bytes");
        }
        ByteBuffer bounce = alignedBounce(dst.remaining(), align);
        int n = (int) DirectIo.read(inode, posBytes, bounce, ops, dioOps, 0);
        dst.put(bounce.flip());
        return n;
    }

    /**
     * O_DIRECT write (caller holds the rwsem exclusively), aligned as {@link #directRead}. A direct write the
     * filesystem refuses with ENOTBLK (ext2: filling a hole below EOF) continues through the page cache, and that
     * part is written back and dropped from it before returning (generic_file_direct_write's fallback), so the
     * O_DIRECT caller still finds its data on the device. An error in the fallback after direct progress ends the
     * write short.
     *
     * @param inode the file
     * @param posBytes file byte offset (aligned)
     * @param src the bytes, from its position to its limit (length and address aligned)
     * @return bytes written
     * @throws IOException EINVAL for misalignment, ENOSPC, EFBIG, EIO
     */
    public int directWrite(I inode, long posBytes, ByteBuffer src) throws IOException {
        int align = dioOps.dioAlignmentBytes(inode);
        ByteBuffer buf = src;
        if (!dioAligned(inode, src)) {
            if (posBytes % align != 0 || src.remaining() % align != 0) {
                throw new FsException(Errno.EINVAL, "inode " + inode.ino() + ": O_DIRECT write at " + posBytes
                        + " of " + src.remaining() + " bytes is not aligned to " + align + " bytes");
            }
            buf = alignedBounce(src.remaining(), align);
            buf.put(src.duplicate()).flip();
        }
        int wanted = buf.remaining();
        long done;
        try {
            done = DirectIo.write(inode, posBytes, buf, ops, dioOps, 0);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOTBLK) {
                throw e;
            }
            done = 0;
        }
        if (done < wanted) {
            long fallbackPos = posBytes + done;
            int m;
            try {
                m = BufferedIo.write(inode, fallbackPos, buf, ops);
            } catch (IOException | RuntimeException e) {
                if (done == 0) {
                    throw e;
                }
                m = 0; // short write: the caller sees the direct part; the error repeats on the next write
            }
            inode.mapping().invalidateRange(fallbackPos, fallbackPos + m);
            done += m;
        }
        if (buf != src) {
            src.position(src.position() + (int) done);
        }
        return (int) done;
    }

    /**
     * The reads of an O_DIRECT handle's read-ahead, run on read-ahead threads: {@code rwsem} shared, taken only if
     * free at once (waiting could deadlock: a reader holding it may be waiting for this read-ahead while a writer
     * queues), and only while no writer has run since the read-ahead was planned ({@code dataSeq}, bumped by every
     * exclusive holder: {@link Inode#dataSeq()}).
     *
     * @param closed true once the filesystem is unmounting (no more read-ahead)
     * @param inode the file
     * @param rwsem the inode's I/O lock
     * @param dataSeq the inode's data sequence ({@link org.iomap4j.fs.Inode#dataSeq()})
     * @return the read-ahead source for {@link DirectReadahead}
     */
    public DirectReadahead.Source readaheadSource(I inode, ReentrantReadWriteLock rwsem, LongSupplier dataSeq,
            BooleanSupplier closed) {
        return new DirectReadahead.Source() {
            @Override
            public long dataSeq() {
                return dataSeq.getAsLong();
            }

            @Override
            public long tryReadShared(long posBytes, ByteBuffer dst, long expectedSeq) throws IOException {
                if (closed.getAsBoolean() || !rwsem.readLock().tryLock()) {
                    return -1;
                }
                try {
                    return dataSeq.getAsLong() == expectedSeq ? directRead(inode, posBytes, dst) : -1;
                } finally {
                    rwsem.readLock().unlock();
                }
            }
        };
    }

    // ---------------------------------------------------------------- truncate, zero, punch

    /**
     * Zeroes from a new EOF to the end of its block: in the cache, or on the mapping under DAX.
     *
     * @param inode the file
     * @param posBytes the new EOF, a file byte offset
     * @throws IOException EIO reading the block, or an iomapBegin error
     */
    public void truncatePage(I inode, long posBytes) throws IOException {
        if (dax) {
            Dax.truncatePage(inode, posBytes, ops);
        } else {
            BufferedIo.truncatePage(inode, posBytes, ops);
        }
    }

    /**
     * Makes a byte range read as zeroes without allocating: in the cache, or on the mapping under DAX.
     *
     * @param inode the file
     * @param posBytes file byte offset of the range
     * @param lengthBytes range length in bytes
     * @throws IOException EIO reading a partial block, or an iomapBegin error
     */
    public void zeroData(I inode, long posBytes, long lengthBytes) throws IOException {
        if (lengthBytes <= 0) {
            return;
        }
        if (dax) {
            Dax.zeroRange(inode, posBytes, lengthBytes, ops);
        } else {
            BufferedIo.zeroRange(inode, posBytes, lengthBytes, ops);
        }
    }

    /**
     * truncate_setsize + the filesystem's block truncate (caller holds the rwsem exclusively; the invalidate lock
     * is taken here). Shrinking: the tail of the new EOF block is zeroed, i_size set, the cache beyond dropped,
     * then {@link BlockTruncateOps#truncateBlocks} frees the blocks from the first one wholly beyond. Growing:
     * i_size set, the old EOF block's tail zeroed; the new range is a hole.
     *
     * @param inode the file
     * @param newSizeBytes the new i_size in bytes
     * @throws IOException a writeback error, or what {@link BlockTruncateOps#truncateBlocks} throws
     */
    public void truncateSetsize(I inode, long newSizeBytes) throws IOException {
        int bs = inode.blockSizeBytes();
        long oldSize = inode.sizeBytes();
        AddressSpace m = inode.mapping();
        m.invalidateLock().writeLock().lock();
        try {
            if (newSizeBytes < oldSize) {
                if ((newSizeBytes & (bs - 1)) != 0) {
                    truncatePage(inode, newSizeBytes);
                }
                inode.setSizeBytes(newSizeBytes);
                m.truncateFrom(newSizeBytes);
                blockOps.truncateBlocks(inode, blocksCovering(newSizeBytes, bs));
            } else if (newSizeBytes > oldSize) {
                growSize(inode, newSizeBytes);
            }
        } finally {
            m.invalidateLock().writeLock().unlock();
        }
    }

    /**
     * Raises i_size to {@code newSizeBytes}, zeroing the old EOF block's tail (as truncate does when growing).
     * Caller holds the rwsem and the invalidate lock exclusively.
     *
     * @param inode the file
     * @param newSizeBytes the new i_size in bytes, at least the current one
     * @throws IOException EIO reading the old EOF block
     */
    public void growSize(I inode, long newSizeBytes) throws IOException {
        long oldSize = inode.sizeBytes();
        inode.setSizeBytes(newSizeBytes);
        if ((oldSize & (inode.blockSizeBytes() - 1)) != 0) {
            truncatePage(inode, oldSize);
        }
    }

    /**
     * Frees blocks a failed or short write (or fallocate) left beyond EOF: drops the cache beyond i_size and calls
     * {@link BlockTruncateOps#truncateBlocks} (the kernel's ext2_write_failed). Caller holds the rwsem
     * exclusively; takes the invalidate lock.
     *
     * @param inode the file
     * @throws IOException what {@link BlockTruncateOps#truncateBlocks} throws
     */
    public void trimBeyondEof(I inode) throws IOException {
        long size = inode.sizeBytes();
        AddressSpace m = inode.mapping();
        m.invalidateLock().writeLock().lock();
        try {
            m.truncateFrom(size);
            blockOps.truncateBlocks(inode, blocksCovering(size, inode.blockSizeBytes()));
        } finally {
            m.invalidateLock().writeLock().unlock();
        }
    }

    /**
     * Hole punch over {@code [startBytes, endBytes)} keeping the size (caller holds the rwsem and the invalidate
     * lock exclusively). The range is clipped to the end of the EOF block (a range past EOF frees the block
     * straddling EOF too); partial edge blocks are zeroed ({@link #zeroData}); whole blocks are written back and
     * dropped from the cache (so neither a later read nor writeback touches them), then
     * {@link BlockTruncateOps#punchBlocks} frees them.
     *
     * @param inode the file
     * @param startBytes file byte offset of the hole
     * @param endBytes exclusive end, a file byte offset
     * @throws IOException a writeback error, or what {@link BlockTruncateOps#punchBlocks} throws
     */
    public void punchHole(I inode, long startBytes, long endBytes) throws IOException {
        long size = inode.sizeBytes();
        long bs = inode.blockSizeBytes();
        int bits = Long.numberOfTrailingZeros(bs);
        long end = Math.min(endBytes, (size + bs - 1) & -bs);
        if (startBytes >= end) {
            return;
        }
        long firstFull = (startBytes + bs - 1) & -bs;
        long lastFull = end & -bs;
        if (firstFull >= lastFull) {
            zeroData(inode, startBytes, Math.min(end, size) - startBytes);
            return;
        }
        zeroData(inode, startBytes, firstFull - startBytes);
        zeroData(inode, lastFull, Math.min(end, size) - lastFull);
        inode.mapping().invalidateRange(firstFull, lastFull);
        blockOps.punchBlocks(inode, firstFull >>> bits, lastFull >>> bits);
    }

    private static long blocksCovering(long sizeBytes, int blockSizeBytes) {
        return (sizeBytes + blockSizeBytes - 1) >>> Integer.numberOfTrailingZeros(blockSizeBytes);
    }

    // ---------------------------------------------------------------- fsync

    /**
     * The data half of fsync (file_write_and_wait_range): writes the file's dirty data back and waits. A writeback
     * error is reported through {@code cursor} (which advances, so each handle sees it once) and thrown.
     *
     * @param inode the file
     * @param cursor the handle's error cursor, or null to throw this pass's error directly
     * @throws IOException a writeback error not yet reported through {@code cursor} (EIO)
     */
    public static void writeAndWait(IomapInode inode, ErrSeq.Cursor cursor) throws IOException {
        try {
            Writeback.writeAndWait(inode.mapping(), 0, Long.MAX_VALUE);
        } catch (IOException e) {
            if (cursor != null) {
                cursor.check();
            }
            throw e;
        }
    }
}
