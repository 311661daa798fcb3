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
import org.iomap4j.pagecache.Folio;

/**
 * Buffered read with readahead (fs/iomap/buffered-io.c {@code iomap_read_folio}/{@code iomap_readahead} plus
 * mm/filemap.c {@code filemap_read}): copies uptodate blocks out of the cache and fills the rest.
 *
 * <p>A fill locks the folios of its range in ascending order (creating missing ones, as large as the range
 * allows), reads the file size, and iterates mappings over the blocks that are not uptodate: HOLE, UNWRITTEN,
 * DELALLOC, MAPPED+NEW and post-EOF blocks are zeroed with no device I/O, INLINE blocks are copied from the
 * mapping, and MAPPED blocks join a pending read request that grows while the next block is physically
 * contiguous, across folio and mapping boundaries. A BOUNDARY mapping submits the pending request before the
 * next mapping is asked for (BH_Boundary early submission: the filesystem's next lookup needs a metadata read).
 * Blocks whose request failed stay not uptodate and the error reaches the caller.
 */
final class BufferedRead {
    private BufferedRead() {}

    private static final System.Logger LOG = System.getLogger(BufferedRead.class.getName());

    /** Upper bound of one fill in bytes (also bounded by a quarter of the budget). */
    static final int MAX_FILL_BYTES = 4 << 20;

    static int read(IomapInode inode, long posBytes, ByteBuffer dst, IomapOps ops) throws IOException {
        if (posBytes < 0) {
            throw new FsException(Errno.EINVAL, "inode " + inode.ino() + ": negative read position " + posBytes);
        }
        long size = inode.sizeBytes();
        if (posBytes >= size || !dst.hasRemaining()) {
            return 0;
        }
        AddressSpace mapping = inode.mapping();
        long end = posBytes + Math.min(size - posBytes, dst.remaining());
        long raEnd = mapping.readaheadEnd(posBytes, end - posBytes);
        long fillCap = Math.max(mapping.maxFolioBytes(),
                Math.min(MAX_FILL_BYTES, mapping.pageCache().config().budgetBytes() / 4));
        int startPosition = dst.position();
        long cur = posBytes;
        try {
            while (cur < end) {
                long copied = copyCached(mapping, cur, end, dst);
                if (copied > 0) {
                    cur += copied;
                    continue;
                }
                long bs = inode.blockSizeBytes();
                long fillEnd = Math.min(Math.max(end, raEnd), cur + fillCap);
                fillEnd = Math.min(fillEnd, BufferedIo.alignUp(inode.sizeBytes(), bs));
                if (fillEnd <= cur) {
                    break; // truncated meanwhile: nothing more to read
                }
                cur += fill(inode, mapping, ops, cur, fillEnd, Math.min(end, fillEnd), dst);
            }
        } catch (IOException e) {
            if (dst.position() > startPosition) {
                return dst.position() - startPosition; // short read; the error returns on the next read
            }
            throw e;
        }
        startAsyncReadahead(inode, mapping, ops, Math.max(end, raEnd));
        return dst.position() - startPosition;
    }

    /**
     * Asynchronous readahead (the kernel's async readahead at the PG_readahead marker): while the reader consumes
     * what is cached, the next window is filled on a readahead thread, so that device reads and copies to the
     * reader overlap. The filler takes the same locks as a synchronous fill (invalidate lock shared, folio locks
     * in ascending order); a reader reaching those folios waits on their locks. Errors leave the blocks not
     * uptodate; the reader's own read then meets the error and reports it.
     */
    private static void startAsyncReadahead(IomapInode inode, AddressSpace mapping, IomapOps ops, long fromBytes) {
        long limit = BufferedIo.alignUp(inode.sizeBytes(), inode.blockSizeBytes());
        long[] range = mapping.claimAsyncReadahead(fromBytes, limit);
        if (range == null) {
            return;
        }
        mapping.pageCache().readahead(() -> {
            if (mapping.isDetached()) {
                return;
            }
            try {
                fill(inode, mapping, ops, range[0], range[1], range[0], null);
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "inode " + inode.ino() + ": async readahead of [" + range[0]
                        + ", " + range[1] + ") failed; a later read reports it: " + e);
            }
        });
    }

    /** Copies uptodate cached bytes from {@code posBytes} on; returns how many (0 if that block is not cached). */
    private static long copyCached(AddressSpace mapping, long posBytes, long endBytes, ByteBuffer dst) {
        Folio f = mapping.lookup(posBytes);
        if (f == null) {
            return 0;
        }
        f.lock();
        try {
            if (f.isRemoved()) {
                return 0;
            }
            long e = Math.min(endBytes, f.endBytes());
            int from = f.blockOf(posBytes);
            int to = f.blockOf(e - 1) + 1;
            int notUptodate = f.nextNotUptodate(from, to);
            long okEnd = Math.min(e, f.posBytes() + ((long) notUptodate << f.blkBits()));
            if (okEnd <= posBytes) {
                return 0;
            }
            int n = (int) (okEnd - posBytes);
            f.copyOut((int) (posBytes - f.posBytes()), dst, n);
            return n;
        } finally {
            f.unlock();
        }
    }

    /**
     * Makes every block of the folios covering {@code [startBytes, fillEndBytes)} uptodate where possible, then
     * copies {@code [startBytes, copyEndBytes)} into {@code dst} while the folios are still locked.
     *
     * @return bytes copied
     * @throws IOException a device or filesystem error that left a block of the copy range not uptodate
     */
    private static long fill(IomapInode inode, AddressSpace mapping, IomapOps ops, long startBytes,
            long fillEndBytes, long copyEndBytes, ByteBuffer dst) throws IOException {
        List<Folio> locked = new ArrayList<>();
        mapping.invalidateLock().readLock().lock();
        try {
            long p = startBytes;
            while (p < fillEndBytes) {
                Folio f = mapping.grabLocked(p, fillEndBytes - p);
                locked.add(f);
                p = f.endBytes();
            }
            ReadContext rc = new ReadContext(inode, locked);
            IOException error = rc.fillLocked(ops);
            // Copy out while locked: a folio cannot be reclaimed between its fill and the copy.
            long copied = 0;
            long cur = startBytes;
            for (Folio f : locked) {
                if (cur >= copyEndBytes) {
                    break;
                }
                long e = Math.min(copyEndBytes, f.endBytes());
                int from = f.blockOf(cur);
                int to = f.blockOf(e - 1) + 1;
                int notUptodate = f.nextNotUptodate(from, to);
                long okEnd = Math.min(e, f.posBytes() + ((long) notUptodate << f.blkBits()));
                if (okEnd > cur) {
                    f.copyOut((int) (cur - f.posBytes()), dst, (int) (okEnd - cur));
                    copied += okEnd - cur;
                    cur = okEnd;
                }
                if (okEnd < e) {
                    break;
                }
            }
            if (cur < copyEndBytes) {
                if (copied > 0) {
                    return copied;
                }
                throw error != null ? error : new FsException(Errno.EIO, "inode " + inode.ino()
                        + ": block at " + cur + " not uptodate after read");
            }
            return copied;
        } finally {
            for (Folio f : locked) {
                f.unlock();
            }
            mapping.invalidateLock().readLock().unlock();
        }
    }

    /**
     * Pastes file bytes that a read returned beyond what was asked (a compressed extent, a server's larger
     * granule) into the page cache, as btrfs' {@code add_ra_bio_pages} does for compressed reads: each part of
     * {@code [posBytes, posBytes + data.remaining())} not cached yet gets new uptodate folios, as large as
     * alignment and the range allow. Only whole folios are pasted, below i_size; the folio holding i_size is pasted
     * when the data reaches i_size, zeroed past it. Whatever is cached (also a folio a reader has locked) is left
     * alone. Never waits: the invalidate lock is only try-locked (a truncate or invalidation in progress: nothing
     * is pasted), folios are only created, never locked while present. The caller vouches that the bytes are the
     * file's current contents (no newer dirty data exists for them anywhere).
     *
     * @return bytes pasted (folio bytes made uptodate, zero tail included)
     */
    static long pasteExtra(IomapInode inode, long posBytes, ByteBuffer data) {
        AddressSpace mapping = inode.mapping();
        long dataEnd = posBytes + data.remaining();
        long size = inode.sizeBytes();
        int min = mapping.minFolioBytes();
        long start = (posBytes + min - 1) & -(long) min;
        long end = dataEnd >= size ? ((size + min - 1) & -(long) min) : (dataEnd & -(long) min);
        if (start >= end || !mapping.invalidateLock().readLock().tryLock()) {
            return 0;
        }
        long pasted = 0;
        try {
            long p = start;
            while (p < end) {
                int sz = Math.min(mapping.maxFolioBytes(), Integer.highestOneBit((int) Math.min(end - p, 1 << 30)));
                while (sz > min && (p & (sz - 1)) != 0) {
                    sz >>>= 1;
                }
                Folio f = null;
                while (f == null && sz >= min) {
                    f = mapping.tryAddLocked(p, sz);
                    if (f == null) {
                        sz >>>= 1;
                    }
                }
                if (f == null) {
                    p += min; // cached already (or being filled by a reader)
                    continue;
                }
                try {
                    int n = (int) Math.min(sz, Math.min(dataEnd, size) - p);
                    f.copyIn(0, data, data.position() + (int) (p - posBytes), n);
                    if (n < sz) {
                        f.zero(n, sz);
                    }
                    f.setUptodate(0, f.nrBlocks());
                    pasted += sz;
                } finally {
                    f.unlock();
                }
                p += sz;
            }
        } finally {
            mapping.invalidateLock().readLock().unlock();
        }
        return pasted;
    }

    /** One fill over a set of locked folios: the pending read request and the requests in flight. */
    private static final class ReadContext {
        private final IomapInode inode;
        private final List<Folio> folios;
        private final int blkBits;
        private final long bs;
        private long sizeBytes;
        // The pending request.
        private BlockDevice pendingDev;
        private long pendingAddr;
        private long pendingLen;
        private final List<ByteBuffer> pendingBufs = new ArrayList<>();
        private final List<Seg> pendingSegs = new ArrayList<>();
        private final List<Inflight> inflight = new ArrayList<>();
        private int folioCursor;

        private record Seg(Folio folio, int fromBlk, int toBlk) {}

        private record Inflight(CompletableFuture<Void> future, List<Seg> segs, long devAddrBytes) {}

        ReadContext(IomapInode inode, List<Folio> folios) {
            this.inode = inode;
            this.folios = folios;
            this.blkBits = folios.getFirst().blkBits();
            this.bs = 1L << blkBits;
        }

        /** Fills the locked folios; returns the first error (blocks it concerns stay not uptodate) or null. */
        IOException fillLocked(IomapOps ops) {
            sizeBytes = inode.sizeBytes(); // read under the folio locks: extending writers hold them
            long eofBlockEnd = BufferedIo.alignUp(sizeBytes, bs);
            IOException error = null;
            // Post-EOF blocks: zero, uptodate, no mapping needed.
            for (Folio f : folios) {
                if (f.endBytes() > eofBlockEnd) {
                    int from = f.posBytes() >= eofBlockEnd ? 0 : f.blockOf(eofBlockEnd);
                    zeroBlocksNotUptodate(f, from, f.nrBlocks());
                }
            }
            long first = firstNotUptodate(Math.min(eofBlockEnd, folios.getLast().endBytes()));
            long last = Math.min(sizeBytes, folios.getLast().endBytes());
            if (first >= 0 && first < last) {
                IomapIter it = new IomapIter(inode, first, last - first, 0, ops);
                try {
                    while (it.next()) {
                        body(it);
                    }
                } catch (IOException | RuntimeException e) {
                    it.abort(e);
                    error = e instanceof IOException io ? io
                            : new FsException(Errno.EIO, "inode " + inode.ino() + ": read failed: " + e, e);
                }
            }
            submitPending();
            IOException ioErr = completeAll();
            return error != null ? error : ioErr;
        }

        private long firstNotUptodate(long limitBytes) {
            for (Folio f : folios) {
                if (f.posBytes() >= limitBytes) {
                    break;
                }
                int to = f.endBytes() <= limitBytes ? f.nrBlocks() : f.blockOf(limitBytes - 1) + 1;
                int blk = f.nextNotUptodate(0, to);
                if (blk < to) {
                    return f.posBytes() + ((long) blk << blkBits);
                }
            }
            return -1;
        }

        private void zeroBlocksNotUptodate(Folio f, int fromBlk, int toBlk) {
            int b = fromBlk;
            while (b < toBlk) {
                b = f.nextNotUptodate(b, toBlk);
                if (b >= toBlk) {
                    break;
                }
                int e = f.nextUptodate(b, toBlk);
                f.zero(b << blkBits, e << blkBits);
                f.setUptodate(b, e);
                b = e;
            }
        }

        /** Handles the blocks of the current mapping, then advances over it. */
        private void body(IomapIter it) throws IOException {
            Iomap map = it.iomap();
            Iomap rm = it.readMap();
            long pos = it.pos();
            long stop = pos + it.length();
            // Blocks partly outside the mapping would be handled by two mappings: only EOF may cut a block.
            if ((pos & (bs - 1)) != 0 && !blockUptodateAt(pos)) {
                throw new FsException(Errno.EIO, "inode " + inode.ino() + ": mapping " + rm
                        + " starts inside a block at " + pos + " (filesystem bug)");
            }
            if ((stop & (bs - 1)) != 0 && stop < sizeBytes) {
                throw new FsException(Errno.EIO, "inode " + inode.ino() + ": mapping " + rm
                        + " ends inside a block at " + stop + " (filesystem bug)");
            }
            long blockPos = pos & -bs;
            while (blockPos < stop) {
                Folio f = folioAt(blockPos);
                long fe = Math.min(BufferedIo.alignUp(stop, bs), f.endBytes());
                int from = f.blockOf(blockPos);
                int to = f.blockOf(fe - 1) + 1;
                int b = f.nextNotUptodate(from, to);
                while (b < to) {
                    int e = f.nextUptodate(b, to);
                    readBlocks(f, b, e, rm);
                    b = e < to ? f.nextNotUptodate(e, to) : to;
                }
                blockPos = fe;
            }
            if (map.hasFlag(IomapFlags.BOUNDARY) || rm.hasFlag(IomapFlags.BOUNDARY)) {
                // The next mapping needs a metadata read: let this data read start first.
                submitPending();
            }
            it.advance(it.length());
        }

        private boolean blockUptodateAt(long posBytes) {
            Folio f = folioAt(posBytes);
            return f.blockUptodate(f.blockOf(posBytes));
        }

        private Folio folioAt(long posBytes) {
            while (folioCursor > 0 && folios.get(folioCursor).posBytes() > posBytes) {
                folioCursor--;
            }
            while (folios.get(folioCursor).endBytes() <= posBytes) {
                folioCursor++;
            }
            return folios.get(folioCursor);
        }

        /** Fills blocks {@code [fromBlk, toBlk)} of {@code f}, all not uptodate, from mapping {@code rm}. */
        private void readBlocks(Folio f, int fromBlk, int toBlk, Iomap rm) throws IOException {
            long startPos = f.posBytes() + ((long) fromBlk << blkBits);
            long endPos = f.posBytes() + ((long) toBlk << blkBits);
            switch (rm.type()) {
                case HOLE, UNWRITTEN, DELALLOC -> {
                    f.zero(fromBlk << blkBits, toBlk << blkBits);
                    f.setUptodate(fromBlk, toBlk);
                }
                case INLINE -> {
                    byte[] inline = rm.inlineData();
                    long avail = Math.min(rm.endBytes(), endPos);
                    int n = (int) Math.max(0, avail - startPos);
                    f.copyIn(fromBlk << blkBits, inline, (int) (startPos - rm.offsetBytes()), n);
                    f.zero((fromBlk << blkBits) + n, toBlk << blkBits);
                    if (startPos + n < endPos && endPos <= sizeBytes) {
                        throw new FsException(Errno.EIO, "inode " + inode.ino() + ": inline mapping " + rm
                                + " ends before EOF");
                    }
                    f.setUptodate(fromBlk, toBlk);
                }
                case MAPPED -> {
                    if (rm.hasFlag(IomapFlags.NEW)) {
                        f.zero(fromBlk << blkBits, toBlk << blkBits);
                        f.setUptodate(fromBlk, toBlk);
                    } else {
                        addToRead(f, fromBlk, toBlk, rm.device(), rm.addrOf(startPos));
                    }
                }
            }
        }

        private void addToRead(Folio f, int fromBlk, int toBlk, BlockDevice dev, long addr) {
            long len = (long) (toBlk - fromBlk) << blkBits;
            if (pendingLen > 0 && (dev != pendingDev || addr != pendingAddr + pendingLen
                    || pendingLen + len > MAX_FILL_BYTES)) {
                submitPending();
            }
            if (pendingLen == 0) {
                pendingDev = dev;
                pendingAddr = addr;
            }
            Seg last = pendingSegs.isEmpty() ? null : pendingSegs.getLast();
            if (last != null && last.folio == f && last.toBlk == fromBlk) {
                pendingSegs.set(pendingSegs.size() - 1, new Seg(f, last.fromBlk, toBlk));
                pendingBufs.set(pendingBufs.size() - 1, f.view(last.fromBlk << blkBits,
                        (toBlk - last.fromBlk) << blkBits));
            } else {
                pendingSegs.add(new Seg(f, fromBlk, toBlk));
                pendingBufs.add(f.view(fromBlk << blkBits, (toBlk - fromBlk) << blkBits));
            }
            pendingLen += len;
        }

        private void submitPending() {
            if (pendingLen == 0) {
                return;
            }
            Bio bio = new Bio(Bio.Op.READ, pendingAddr, pendingBufs);
            CompletableFuture<Void> fut;
            try {
                fut = pendingDev.submit(bio);
            } catch (RuntimeException e) {
                fut = CompletableFuture.failedFuture(e);
            }
            inflight.add(new Inflight(fut, List.copyOf(pendingSegs), pendingAddr));
            pendingBufs.clear();
            pendingSegs.clear();
            pendingLen = 0;
            pendingDev = null;
        }

        /** Waits for every request; marks the blocks of successful ones uptodate. Returns the first error. */
        private IOException completeAll() {
            IOException first = null;
            for (Inflight r : inflight) {
                try {
                    r.future.join();
                } catch (CompletionException | java.util.concurrent.CancellationException e) {
                    Throwable c = e.getCause() != null ? e.getCause() : e;
                    IOException io = c instanceof IOException ie ? ie
                            : new DeviceIOException(Errno.EIO, r.devAddrBytes, "inode " + inode.ino()
                                    + ": read failed: " + c, c);
                    if (first == null) {
                        first = io;
                    } else if (first != io) {
                        first.addSuppressed(io);
                    }
                    continue; // these blocks stay not uptodate
                }
                for (Seg s : r.segs) {
                    s.folio.setUptodate(s.fromBlk, s.toBlk);
                    zeroPostEof(s.folio, s.fromBlk, s.toBlk);
                }
            }
            inflight.clear();
            return first;
        }

        /** Zeroes the bytes past EOF in a block just read that straddles EOF (they must read as zero). */
        private void zeroPostEof(Folio f, int fromBlk, int toBlk) {
            long s = f.posBytes() + ((long) fromBlk << blkBits);
            long e = f.posBytes() + ((long) toBlk << blkBits);
            if (sizeBytes > s && sizeBytes < e) {
                f.zero((int) (sizeBytes - f.posBytes()), (int) (e - f.posBytes()));
            }
        }
    }
}
