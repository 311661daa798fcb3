package org.iomap4j.iomap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.DeviceIOException;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.Folio;

/**
 * Writeback of dirty blocks (fs/iomap/buffered-io.c {@code iomap_writepages}): walks dirty blocks in file
 * order, maps them through the filesystem's {@link WritebackOps}, and writes each run that is contiguous in the
 * file and on the device (same device, type and SHARED-ness, no BOUNDARY in between, at most
 * {@link #MAX_IOEND_BYTES}) as one device request, across folio boundaries.
 *
 * <p>Per folio, under its lock: the post-EOF tail is zeroed (on every pass: an mmap-less cache can still have
 * stale bytes there after a truncate up and down), blocks wholly past EOF are cleaned without I/O, the writeback
 * flag is set, and dirty bits are cleared <em>before</em> the write is submitted so that a write racing in
 * re-dirties the block for the next pass. Folios stay locked until the request carrying their blocks completed
 * (stable data, and truncate waits); only folio locks are held, never a filesystem lock, so a mapping cached
 * from {@link WritebackOps#mapBlocks} is reused for later blocks only while {@link WritebackOps#mappingValid}
 * holds (a racing truncate that freed and reallocated the blocks bumps the cookie: known bug 2).
 *
 * <p>Errors: a failed request or mapping marks its folios with the error flag, is recorded on the mapping's
 * {@link ErrSeq} (fsync reports it once per handle), and writeback goes on with the other folios; the first
 * error is thrown at the end. Concurrent writeback of the same mapping is safe (folio locks, ascending order).
 */
public final class Writeback {
    private Writeback() {}

    /** Largest single writeback request. */
    public static final int MAX_IOEND_BYTES = 4 << 20;

    /**
     * Writes back every dirty block in {@code [startBytes, endBytes)} and waits for the device writes
     * (mm's {@code filemap_write_and_wait_range}): the same as {@link AddressSpace#writeAndWait}, which goes
     * through the mapping's writepages hook (for an iomap filesystem, {@link WritebackOps#writepages} and so
     * {@link #writepages}). Errors are recorded on the mapping's {@link ErrSeq} and the first one of this pass is
     * thrown after all folios were tried.
     *
     * @param mapping the page cache to write back
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end, a file byte offset
     * @throws IOException the first writeback error of this pass
     */
    public static void writeAndWait(AddressSpace mapping, long startBytes, long endBytes) throws IOException {
        mapping.writeAndWait(startBytes, endBytes);
    }

    /**
     * One writeback pass of {@code mapping} over {@code [startBytes, endBytes)} with the filesystem's {@code ops}
     * (fs/iomap/buffered-io.c {@code iomap_writepages}); waits for the device writes. Called through the
     * mapping's writepages hook; a filesystem that overrides {@link WritebackOps#writepages} (to add its own
     * ordering) calls this for the data. Works on the mapping it is given and never asks the inode for its
     * mapping (which an evicted inode refuses, while its cache may still be written back).
     *
     * @throws IllegalStateException if the mapping's host is not an {@link IomapInode}
     * @throws IOException the first error of this pass (all errors are recorded on the mapping's {@link ErrSeq})
     * @param mapping the page cache to write back
     * @param ops the filesystem's writeback operations
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end, a file byte offset
     */
    public static void writepages(AddressSpace mapping, WritebackOps ops, long startBytes, long endBytes)
            throws IOException {
        if (!(mapping.host() instanceof IomapInode inode)) {
            throw new IllegalStateException("inode " + mapping.host().ino() + ": host of " + mapping
                    + " is not an IomapInode; iomap writeback needs one");
        }
        if (endBytes <= startBytes) {
            return;
        }
        new Context(mapping, inode, ops).run(startBytes, endBytes);
    }

    /**
     * fsync of a data range: {@link #writeAndWait}, then {@code device.flush()}, then reports through
     * {@code cursor} any writeback error this handle has not seen yet (once). With a null cursor the error of
     * this pass is thrown directly.
     *
     * @param inode the file
     * @param startBytes file byte offset of the range
     * @param endBytes exclusive end, a file byte offset
     * @param cursor the handle's error cursor, or null
     * @param device the device to flush
     * @throws IOException a writeback error not yet seen through {@code cursor}, or the flush error
     */
    public static void fsync(IomapInode inode, long startBytes, long endBytes, ErrSeq.Cursor cursor,
            BlockDevice device) throws IOException {
        IOException wbError = null;
        try {
            writeAndWait(inode.mapping(), startBytes, endBytes);
        } catch (IOException e) {
            wbError = e; // recorded on the ErrSeq: reported below through the cursor, once per handle
        }
        device.flush();
        if (cursor != null) {
            cursor.check();
        } else if (wbError != null) {
            throw wbError;
        }
    }

    /** One writeback pass: the open ioend and the folios it keeps locked. */
    private static final class Context {
        private final AddressSpace mapping;
        private final IomapInode inode;
        private final WritebackOps ops;
        private final int blkBits;
        private final long bs;
        private Iomap cached;
        private IOException first;
        /** Folios locked by this pass whose blocks are in the open ioend, ascending. */
        private final List<Folio> held = new ArrayList<>();
        private Folio current;
        // The open ioend.
        private BlockDevice ioDev;
        private IomapType ioType;
        private int ioFlags;
        private long ioFileStart;
        private long ioDevStart;
        private long ioLen;
        private Iomap ioLastMap;
        private final List<ByteBuffer> ioBufs = new ArrayList<>();
        private final List<Folio> ioFolios = new ArrayList<>();

        Context(AddressSpace mapping, IomapInode inode, WritebackOps ops) {
            this.mapping = mapping;
            this.inode = inode;
            this.ops = ops;
            this.blkBits = Integer.numberOfTrailingZeros(inode.blockSizeBytes());
            this.bs = 1L << blkBits;
        }

        void run(long startBytes, long endBytes) throws IOException {
            try {
                for (Folio f : mapping.folioRange(startBytes, endBytes)) {
                    // Read nrDirty before writeback: see Folio's class comment.
                    if (f.nrDirty() == 0 && !f.isWriteback()) {
                        continue;
                    }
                    f.lock();
                    current = f;
                    try {
                        if (!f.isRemoved() && f.nrDirty() != 0) {
                            writeFolio(f, startBytes, endBytes);
                        }
                    } finally {
                        current = null;
                        if (!ioFolios.isEmpty() && ioFolios.getLast() == f) {
                            held.add(f); // released when the ioend completes
                        } else {
                            release(f);
                        }
                    }
                }
            } finally {
                submitIoend();
                // Anything still held (after an unexpected exception) is released here.
                for (Folio f : held) {
                    release(f);
                }
                held.clear();
            }
            if (first != null) {
                throw first;
            }
        }

        private void release(Folio f) {
            f.setWriteback(false);
            f.unlock();
        }

        private void writeFolio(Folio f, long startBytes, long endBytes) {
            long size = inode.sizeBytes();
            long eofBlockEnd = BufferedIo.alignUp(size, bs);
            f.setWriteback(true); // before any dirty bit is cleared
            if (f.endBytes() > size) {
                long zeroFrom = Math.max(size, f.posBytes());
                f.zero((int) (zeroFrom - f.posBytes()), f.sizeBytes());
                if (f.endBytes() > eofBlockEnd) {
                    // Blocks wholly past EOF hold nothing to write (a racing truncate will drop them).
                    int past = f.posBytes() >= eofBlockEnd ? 0 : f.blockOf(eofBlockEnd);
                    f.releaseReserved(past, f.nrBlocks());
                    f.clearDirty(past, f.nrBlocks());
                }
            }
            long s = Math.max(startBytes, f.posBytes());
            long e = Math.min(Math.min(endBytes, f.endBytes()), eofBlockEnd);
            if (s >= e) {
                return;
            }
            int b = f.blockOf(s);
            int bEnd = f.blockOf(e - 1) + 1;
            while (b < bEnd) {
                b = f.nextDirty(b, bEnd);
                if (b >= bEnd) {
                    break;
                }
                int runEnd = f.nextClean(b, bEnd);
                f.clearDirty(b, runEnd);
                long p = f.posBytes() + ((long) b << blkBits);
                long pe = f.posBytes() + ((long) runEnd << blkBits);
                try {
                    while (p < pe) {
                        Iomap m = mapFor(p, pe - p);
                        long me = Math.min(pe, m.endBytes());
                        if ((me & (bs - 1)) != 0) {
                            throw new FsException(Errno.EIO, "inode " + inode.ino() + ": writeback mapping " + m
                                    + " ends inside a block (filesystem bug)");
                        }
                        switch (m.type()) {
                            case HOLE -> {
                                // The blocks were freed behind the cache (punch/truncate raced): nothing to write.
                            }
                            case MAPPED, UNWRITTEN -> addToIoend(f, p, me, m);
                            case INLINE, DELALLOC -> throw new FsException(Errno.EIO, "inode " + inode.ino()
                                    + ": writeback got " + m + " at " + p + " (must be MAPPED or UNWRITTEN)");
                        }
                        p = me;
                    }
                } catch (IOException | RuntimeException ex) {
                    IOException io = ex instanceof IOException ie ? ie
                            : new FsException(Errno.EIO, "inode " + inode.ino() + ": writeback mapping failed: "
                                    + ex, ex);
                    fail(List.of(f), io);
                    cached = null;
                } finally {
                    // Mapped (the filesystem allocated the DELALLOC blocks from the space their reservations kept
                    // free) or failed (the data is dropped): either way the reservations are given back now.
                    f.releaseReserved(b, runEnd);
                }
                b = runEnd;
            }
        }

        private Iomap mapFor(long posBytes, long lengthBytes) throws IOException {
            Iomap m = cached;
            if (m != null && m.covers(posBytes) && ops.mappingValid(inode, m)) {
                return m;
            }
            m = ops.mapBlocks(inode, posBytes, lengthBytes);
            if (m == null || !m.covers(posBytes)) {
                throw new FsException(Errno.EIO, "inode " + inode.ino() + ": mapBlocks returned " + m
                        + " not covering " + posBytes + " (filesystem bug)");
            }
            cached = m;
            return m;
        }

        private void addToIoend(Folio f, long posBytes, long endBytes, Iomap m) {
            long addr = m.addrOf(posBytes);
            long len = endBytes - posBytes;
            boolean merge = ioLen > 0
                    && ioDev == m.device()
                    && ioType == m.type()
                    && (ioFlags & IomapFlags.SHARED) == (m.flags() & IomapFlags.SHARED)
                    && ioFileStart + ioLen == posBytes
                    && ioDevStart + ioLen == addr
                    && ioLen + len <= MAX_IOEND_BYTES
                    && (ioLastMap == m || !ioLastMap.hasFlag(IomapFlags.BOUNDARY));
            if (!merge) {
                submitIoend();
                ioDev = m.device();
                ioType = m.type();
                ioFlags = m.flags() & IomapFlags.FS_MASK;
                ioFileStart = posBytes;
                ioDevStart = addr;
            }
            int off = (int) (posBytes - f.posBytes());
            if (!ioFolios.isEmpty() && ioFolios.getLast() == f) {
                ByteBuffer lastBuf = ioBufs.getLast();
                if (lastBuf.position() + lastBuf.remaining() == off) {
                    ioBufs.set(ioBufs.size() - 1, f.view(lastBuf.position(),
                            lastBuf.remaining() + (int) len));
                } else {
                    ioBufs.add(f.view(off, (int) len));
                }
            } else {
                ioFolios.add(f);
                ioBufs.add(f.view(off, (int) len));
            }
            ioLen += len;
            ioLastMap = m;
        }

        /** Submits the open ioend, waits, completes it, and releases every held folio but the current one. */
        private void submitIoend() {
            if (ioLen > 0) {
                Throwable error = null;
                try {
                    CompletableFuture<Void> fut = ioDev.submit(new Bio(Bio.Op.WRITE, ioDevStart, ioBufs));
                    fut.join();
                } catch (CompletionException e) {
                    error = e.getCause() != null ? e.getCause() : e;
                } catch (RuntimeException e) {
                    error = e;
                }
                long size = inode.sizeBytes();
                Ioend ioend = new Ioend(ioFileStart, Math.max(0, Math.min(ioLen, size - ioFileStart)), ioDevStart,
                        ioType, ioFlags);
                try {
                    ops.ioendCompleted(inode, ioend, error);
                } catch (IOException | RuntimeException e) {
                    if (error == null) {
                        error = e;
                    } else {
                        error.addSuppressed(e);
                    }
                }
                if (error != null) {
                    IOException io = error instanceof IOException ie ? ie
                            : new DeviceIOException(Errno.EIO, ioDevStart, "inode " + inode.ino()
                                    + ": writeback of " + ioFileStart + "+" + ioLen + " failed: " + error, error);
                    fail(ioFolios, io);
                }
                ioBufs.clear();
                ioFolios.clear();
                ioLen = 0;
                ioLastMap = null;
            }
            for (Folio f : held) {
                if (f != current) {
                    release(f);
                }
            }
            held.removeIf(f -> f != current);
        }

        private void fail(List<Folio> folios, IOException error) {
            for (Folio f : folios) {
                f.setError();
            }
            mapping.errors().record(error);
            if (first == null) {
                first = error;
            } else if (first != error) {
                first.addSuppressed(error);
            }
        }
    }
}
