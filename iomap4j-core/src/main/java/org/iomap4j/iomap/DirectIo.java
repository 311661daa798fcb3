package org.iomap4j.iomap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.pagecache.AddressSpace;

/**
 * Direct I/O: transfers between the caller's buffer and the device at the mapping's address, bypassing the page
 * cache (fs/iomap/direct-io.c).
 *
 * <p>Rules (each guards a known bug; see docs/architecture.md):
 * <ul>
 *   <li>Position and length must be multiples of {@link IomapDioOps#dioAlignmentBytes} and a direct buffer's
 *       address of {@link IomapDioOps#dioMemoryAlignmentBytes}, else EINVAL (a heap buffer is accepted unless
 *       the device {@linkplain BlockDevice#requiresAlignment() requires aligned memory}).</li>
 *   <li>Coherency: a read first writes back dirty cached data over its range; a write writes back and
 *       invalidates the range before, and invalidates it again <em>after</em> {@link IomapDioOps#endIo} (else a
 *       racing buffered read could cache the zeroes of a not-yet-converted UNWRITTEN extent).</li>
 *   <li>Reads zero-fill HOLE, UNWRITTEN and NEW ranges, copy INLINE data, are clipped to EOF (whole blocks are
 *       transferred; the count returned stops at i_size), and return 0 at or past EOF.</li>
 *   <li>Writes into NEW or UNWRITTEN blocks, or past EOF, zero the sub-block head and tail the write does not
 *       cover; such writes (and extending writes) wait for completion before returning. Writes whose ends are
 *       not block-aligned are serialised per block (XFS's "serialise unaligned direct IOs" bug, fstests
 *       generic/240): two sub-block writes into one new block must not zero each other's data.</li>
 *   <li>A HOLE or DELALLOC mapping for a write is a filesystem bug (EIO). A filesystem that cannot write a range
 *       directly throws {@link Errno#ENOTBLK} from iomapBegin: with nothing done it propagates so that the caller
 *       falls back to buffered I/O; after partial progress the short count is returned.</li>
 *   <li>{@link #NOWAIT} makes dirty cached data in the range an EAGAIN instead of a flush, and passes NOWAIT to
 *       the filesystem; {@link #OVERWRITE_ONLY} accepts only MAPPED, not NEW, not SHARED blocks, else EAGAIN.</li>
 *   <li>{@link #DSYNC}: after completion the filesystem commits metadata when blocks were allocated, converted
 *       or the size changed ({@link IomapDioOps#DIO_NEED_SYNC_METADATA}), then the device is flushed. (Without
 *       FUA in the block layer a pure overwrite still needs that flush.)</li>
 * </ul>
 * Locking: the filesystem holds its inode lock (shared for reads and non-extending writes, exclusive for
 * extending ones) around these calls; the unaligned-write stripe semaphores are taken after it and before any folio
 * or filesystem lock.
 */
public final class DirectIo {
    private DirectIo() {}

    /** O_DSYNC semantics. */
    public static final int DSYNC = 1;
    /** Do not block: EAGAIN instead of flushing the cache or allocating. */
    public static final int NOWAIT = 1 << 1;
    /** Only pure overwrites of allocated, written blocks. */
    public static final int OVERWRITE_ONLY = 1 << 2;

    private static final int STRIPES = 256;
    private static final Semaphore[] UNALIGNED_LOCKS = new Semaphore[STRIPES];

    static {
        for (int i = 0; i < STRIPES; i++) {
            UNALIGNED_LOCKS[i] = new Semaphore(1);
        }
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code posBytes} directly from the device.
     *
     * @return bytes read (0 at/after EOF); dst's position advances by as much
     * @throws FsException EINVAL for misalignment, EAGAIN under NOWAIT, EIO (with the device address) on errors
     * @param inode the file
     * @param posBytes file byte offset of the first byte read (aligned to {@link IomapDioOps#dioAlignmentBytes})
     * @param dst buffer filled from its position (length and address aligned)
     * @param ops the filesystem's mapping operations
     * @param dioOps the filesystem's direct I/O hooks
     * @param dioFlags {@link #DSYNC}, {@link #NOWAIT}, {@link #OVERWRITE_ONLY} bits, or 0
     */
    public static long read(IomapInode inode, long posBytes, ByteBuffer dst, IomapOps ops, IomapDioOps dioOps,
            int dioFlags) throws IOException {
        return join(readAsync(inode, posBytes, dst, ops, dioOps, dioFlags));
    }

    /**
     * Like {@link #read} but returns once every device request is submitted; the future completes with the byte
     * count (dst's position is advanced at completion). Mapping errors are thrown directly.
     *
     * @param inode the file
     * @param posBytes file byte offset of the first byte read (aligned)
     * @param dst buffer filled from its position (length and address aligned)
     * @param ops the filesystem's mapping operations
     * @param dioOps the filesystem's direct I/O hooks
     * @param dioFlags {@link #DSYNC}, {@link #NOWAIT}, {@link #OVERWRITE_ONLY} bits, or 0
     * @return a future completing with bytes read (0 at/after EOF), or exceptionally with the I/O error
     * @throws IOException EINVAL for misalignment, EAGAIN under NOWAIT, or an error from iomapBegin before submission
     */
    public static CompletableFuture<Long> readAsync(IomapInode inode, long posBytes, ByteBuffer dst, IomapOps ops,
            IomapDioOps dioOps, int dioFlags) throws IOException {
        int align = dioOps.dioAlignmentBytes(inode);
        checkAlignment(inode, posBytes, dst, align, dioOps.dioMemoryAlignmentBytes(inode));
        long size = inode.sizeBytes();
        if (posBytes >= size || !dst.hasRemaining()) {
            return CompletableFuture.completedFuture(0L);
        }
        long lengthBytes = dst.remaining();
        AddressSpace mapping = inode.mapping();
        if (mapping != null) {
            if ((dioFlags & NOWAIT) != 0 && mapping.hasDirty(posBytes, posBytes + lengthBytes)) {
                throw new FsException(Errno.EAGAIN, "inode " + inode.ino() + ": dirty page cache under NOWAIT read");
            }
            Writeback.writeAndWait(mapping, posBytes, posBytes + lengthBytes);
        }
        int opFlags = IomapOpFlags.DIRECT | ((dioFlags & NOWAIT) != 0 ? IomapOpFlags.NOWAIT : 0);
        ByteBuffer base = dst.slice();
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        long done = IomapIter.run(inode, posBytes, lengthBytes, opFlags, ops, it -> {
            Iomap m = it.readMap();
            long n = it.length();
            int off = (int) (it.pos() - posBytes);
            ByteBuffer part = base.slice(off, (int) n);
            switch (m.type()) {
                case HOLE, UNWRITTEN -> zero(part);
                case MAPPED -> {
                    if (m.hasFlag(IomapFlags.NEW)) {
                        zero(part);
                    } else {
                        checkAddressable(m, it.pos(), n, align);
                        pending.add(dioOps.submitIo(inode, m, Bio.read(m.addrOf(it.pos()), part), it.pos()));
                    }
                }
                case INLINE -> part.put(0, m.inlineData(), (int) (it.pos() - m.offsetBytes()), (int) n);
                case DELALLOC -> throw new FsException(Errno.EIO, "inode " + inode.ino()
                        + ": direct read met DELALLOC at " + it.pos() + " after writeback (filesystem bug)");
            }
            it.advance(n);
        });
        long clipped = Math.min(done, size - posBytes);
        return CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).thenApply(v -> {
            dst.position(dst.position() + (int) clipped);
            return clipped;
        });
    }

    /**
     * Writes {@code src.remaining()} bytes at {@code posBytes} directly to the device and waits.
     *
     * @return bytes written: all, or fewer when the filesystem stopped part-way (ENOSPC, ENOTBLK after progress)
     * @throws FsException EINVAL for misalignment; ENOTBLK (fall back to buffered) or another errno when nothing
     *                     was written; EIO from the device
     * @param inode the file
     * @param posBytes file byte offset of the first byte written (aligned)
     * @param src the bytes, from its position to its limit (length and address aligned)
     * @param ops the filesystem's mapping operations
     * @param dioOps the filesystem's direct I/O hooks
     * @param dioFlags {@link #DSYNC}, {@link #NOWAIT}, {@link #OVERWRITE_ONLY} bits, or 0
     */
    public static long write(IomapInode inode, long posBytes, ByteBuffer src, IomapOps ops, IomapDioOps dioOps,
            int dioFlags) throws IOException {
        return join(writeAsync(inode, posBytes, src, ops, dioOps, dioFlags));
    }

    /**
     * Like {@link #write}; returns after submission unless the write extends the file or zeroes sub-blocks
     * (those complete before returning, as the kernel's FORCE_WAIT).
     *
     * @param inode the file
     * @param posBytes file byte offset of the first byte written (aligned)
     * @param src the bytes, from its position to its limit (length and address aligned)
     * @param ops the filesystem's mapping operations
     * @param dioOps the filesystem's direct I/O hooks
     * @param dioFlags {@link #DSYNC}, {@link #NOWAIT}, {@link #OVERWRITE_ONLY} bits, or 0
     * @return a future completing with bytes written, or exceptionally with the I/O error
     * @throws IOException EINVAL for misalignment, EAGAIN under NOWAIT, or an error from iomapBegin before submission
     */
    public static CompletableFuture<Long> writeAsync(IomapInode inode, long posBytes, ByteBuffer src, IomapOps ops,
            IomapDioOps dioOps, int dioFlags) throws IOException {
        int align = dioOps.dioAlignmentBytes(inode);
        checkAlignment(inode, posBytes, src, align, dioOps.dioMemoryAlignmentBytes(inode));
        long lengthBytes = src.remaining();
        if (lengthBytes == 0) {
            return CompletableFuture.completedFuture(0L);
        }
        long endBytes = posBytes + lengthBytes;
        AddressSpace mapping = inode.mapping();
        if (mapping != null) {
            if ((dioFlags & NOWAIT) != 0 && mapping.hasDirty(posBytes, posBytes + lengthBytes)) {
                throw new FsException(Errno.EAGAIN, "inode " + inode.ino() + ": dirty page cache under NOWAIT write");
            }
            mapping.invalidateRange(posBytes, endBytes);
        }
        int bs = inode.blockSizeBytes();
        boolean unaligned = posBytes % bs != 0 || endBytes % bs != 0;
        Semaphore[] locks = unaligned ? stripeLocks(inode, posBytes / bs, (endBytes - 1) / bs) : new Semaphore[0];
        for (Semaphore l : locks) {
            l.acquireUninterruptibly();
        }
        boolean locksHandedOff = false;
        try {
            WriteState st = new WriteState();
            st.extending = endBytes > inode.sizeBytes();
            int opFlags = IomapOpFlags.WRITE | IomapOpFlags.DIRECT
                    | ((dioFlags & NOWAIT) != 0 ? IomapOpFlags.NOWAIT : 0)
                    | ((dioFlags & OVERWRITE_ONLY) != 0 ? IomapOpFlags.OVERWRITE_ONLY : 0);
            ByteBuffer base = src.slice();
            IomapIter it = new IomapIter(inode, posBytes, lengthBytes, opFlags, ops);
            IOException stop = null;
            try {
                while (it.next()) {
                    writeBody(it, posBytes, base, dioOps, dioFlags, st, align);
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
                // Nothing submitted (every body submits only after its checks): report the cause itself.
                awaitQuietly(st.pending);
                throw stop;
            }
            CompletableFuture<Long> result = finish(inode, posBytes, done, src, dioOps, dioFlags, st, locks);
            locksHandedOff = true;
            if (st.extending || st.zeroed || stop != null) {
                join(result);
            }
            return result;
        } finally {
            if (!locksHandedOff) {
                unlockAll(locks);
            }
        }
    }

    /** Per-write state spanning mappings. */
    private static final class WriteState {
        final List<CompletableFuture<Void>> pending = new ArrayList<>();
        boolean extending;
        boolean zeroed;
        int endFlags = IomapDioOps.DIO_WRITE;
        final List<BlockDevice> devices = new ArrayList<>();
        /** NEW/UNWRITTEN ranges written: zeroed again if their write fails (no stale data left behind). */
        final List<NewRange> newRanges = new ArrayList<>();
    }

    /** A device range of a NEW or UNWRITTEN mapping that this write fills. */
    private record NewRange(BlockDevice device, long devAddrBytes, int lengthBytes) {
    }

    private static void writeBody(IomapIter it, long posBytes, ByteBuffer base, IomapDioOps dioOps, int dioFlags,
            WriteState st, int align) throws IOException {
        IomapInode inode = it.inode();
        Iomap m = it.iomap();
        long n = it.length();
        long pos = it.pos();
        int off = (int) (pos - posBytes);
        ByteBuffer part = base.slice(off, (int) n);
        switch (m.type()) {
            case HOLE, DELALLOC -> throw new FsException(Errno.EIO, "inode " + inode.ino() + ": direct write got a "
                    + m.type() + " mapping at " + pos + " (filesystem bug)");
            case INLINE -> {
                byte[] inline = m.inlineData();
                part.get(0, inline, (int) (pos - m.offsetBytes()), (int) n);
                st.endFlags |= IomapDioOps.DIO_NEED_SYNC_METADATA;
                it.advance(n);
                return;
            }
            default -> { }
        }
        boolean isNew = m.hasFlag(IomapFlags.NEW);
        boolean unwritten = m.type() == IomapType.UNWRITTEN;
        if ((dioFlags & OVERWRITE_ONLY) != 0 && (isNew || unwritten || m.hasFlag(IomapFlags.SHARED))) {
            throw new FsException(Errno.EAGAIN, "inode " + inode.ino() + ": not a pure overwrite at " + pos);
        }
        checkAddressable(m, pos, n, align);
        if (unwritten) {
            st.endFlags |= IomapDioOps.DIO_UNWRITTEN | IomapDioOps.DIO_NEED_SYNC_METADATA;
        }
        if (isNew || m.hasFlag(IomapFlags.DIRTY) || st.extending) {
            st.endFlags |= IomapDioOps.DIO_NEED_SYNC_METADATA;
        }
        if (!st.devices.contains(m.device())) {
            st.devices.add(m.device());
        }
        int bs = inode.blockSizeBytes();
        boolean needZeroout = isNew || unwritten;
        // Head: [block start, pos) of a block the write begins inside.
        long headStart = Math.floorDiv(pos, bs) * bs;
        if (needZeroout && headStart < pos) {
            if (!m.covers(headStart)) {
                throw new FsException(Errno.EIO, "inode " + inode.ino() + ": NEW mapping " + m
                        + " does not cover the head of block at " + headStart);
            }
            st.pending.add(dioOps.submitIo(inode, m,
                    Bio.write(m.addrOf(headStart), ByteBuffer.allocate((int) (pos - headStart))), headStart));
            st.zeroed = true;
        }
        st.pending.add(dioOps.submitIo(inode, m, Bio.write(m.addrOf(pos), part), pos));
        if (needZeroout) {
            st.newRanges.add(new NewRange(m.device(), m.addrOf(pos), (int) n));
        }
        // Tail: [end, block end) of the block the write ends inside, for new blocks and writes past EOF.
        long end = pos + n;
        long tailEnd = Math.ceilDiv(end, bs) * bs;
        if (tailEnd > end && (needZeroout || end >= inode.sizeBytes())) {
            if (!m.covers(tailEnd - 1)) {
                throw new FsException(Errno.EIO, "inode " + inode.ino() + ": mapping " + m
                        + " does not cover the tail of block ending at " + tailEnd);
            }
            st.pending.add(dioOps.submitIo(inode, m,
                    Bio.write(m.addrOf(end), ByteBuffer.allocate((int) (tailEnd - end))), end));
            st.zeroed = true;
        }
        it.advance(n);
    }

    private static CompletableFuture<Long> finish(IomapInode inode, long posBytes, long done, ByteBuffer src,
            IomapDioOps dioOps, int dioFlags, WriteState st, Semaphore[] locks) {
        CompletableFuture<Long> result = new CompletableFuture<>();
        CompletableFuture.allOf(st.pending.toArray(CompletableFuture[]::new)).whenComplete((v, ioError) -> {
            Throwable err = ioError instanceof CompletionException ce && ce.getCause() != null ? ce.getCause() : ioError;
            try {
                if (err != null) {
                    // Blocks allocated for this write must not expose stale data: zero them again (best effort).
                    for (NewRange r : st.newRanges) {
                        try {
                            r.device().write(r.devAddrBytes(), ByteBuffer.allocate(r.lengthBytes()));
                        } catch (IOException | RuntimeException z) {
                            err.addSuppressed(z);
                        }
                    }
                }
                dioOps.endIo(inode, posBytes, err == null ? done : 0, err, st.endFlags);
                AddressSpace mapping = inode.mapping();
                if (mapping != null) {
                    // After endIo: a buffered read racing with the write must not cache pre-conversion zeroes.
                    mapping.invalidateRange(posBytes, posBytes + done);
                }
                if (err == null && (dioFlags & DSYNC) != 0) {
                    for (BlockDevice d : st.devices) {
                        d.flush();
                    }
                }
                if (err != null) {
                    result.completeExceptionally(err);
                } else {
                    src.position(src.position() + (int) done);
                    result.complete(done);
                }
            } catch (IOException | RuntimeException e) {
                if (err != null) {
                    e.addSuppressed(err);
                }
                result.completeExceptionally(e);
            } finally {
                unlockAll(locks);
            }
        });
        return result;
    }

    private static void checkAlignment(IomapInode inode, long posBytes, ByteBuffer buf, int align, int memAlign)
            throws FsException {
        if (posBytes < 0 || posBytes % align != 0 || buf.remaining() % align != 0) {
            throw new FsException(Errno.EINVAL, "inode " + inode.ino() + ": direct I/O at " + posBytes + " of "
                    + buf.remaining() + " bytes is not aligned to " + align + " bytes");
        }
        if (buf.isDirect() && memAlign > 1 && MemorySegment.ofBuffer(buf).address() % memAlign != 0) {
            throw new FsException(Errno.EINVAL, "inode " + inode.ino() + ": direct I/O buffer address not aligned to "
                    + memAlign + " bytes");
        }
    }

    private static void checkAddressable(Iomap m, long pos, long n, int align) throws FsException {
        if (m.device() == null || m.addrOf(pos) % align != 0) {
            throw new FsException(Errno.EIO, "mapping " + m + " gives no aligned device address for " + pos);
        }
        if (m.device().requiresAlignment() && n % m.device().logicalBlockSize() != 0) {
            throw new FsException(Errno.EINVAL, "direct I/O of " + n + " bytes on a device needing "
                    + m.device().logicalBlockSize() + "-byte units");
        }
    }

    private static final byte[] ZEROES = new byte[64 << 10];

    private static void zero(ByteBuffer part) {
        for (int i = 0; i < part.limit(); i += ZEROES.length) {
            part.put(i, ZEROES, 0, Math.min(ZEROES.length, part.limit() - i));
        }
    }

    private static Semaphore[] stripeLocks(IomapInode inode, long firstLblk, long lastLblk) {
        int a = stripe(inode, firstLblk);
        int b = stripe(inode, lastLblk);
        if (a == b) {
            return new Semaphore[] {UNALIGNED_LOCKS[a]};
        }
        // Ascending stripe order: two writers needing the same pair never deadlock.
        return new Semaphore[] {UNALIGNED_LOCKS[Math.min(a, b)], UNALIGNED_LOCKS[Math.max(a, b)]};
    }

    private static int stripe(IomapInode inode, long lblk) {
        long h = inode.ino() * 0x9E3779B97F4A7C15L + lblk;
        return (int) ((h ^ (h >>> 29)) & (STRIPES - 1));
    }

    private static void unlockAll(Semaphore[] locks) {
        for (int i = locks.length - 1; i >= 0; i--) {
            locks[i].release();
        }
    }

    private static void awaitQuietly(List<CompletableFuture<Void>> pending) {
        for (CompletableFuture<Void> f : pending) {
            f.exceptionally(t -> null).join();
        }
    }

    private static long join(CompletableFuture<Long> f) throws IOException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new FsException(Errno.EIO, "direct I/O failed: " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FsException(Errno.EINTR, "interrupted waiting for direct I/O", e);
        }
    }
}
