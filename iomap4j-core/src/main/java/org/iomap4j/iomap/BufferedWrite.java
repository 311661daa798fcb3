package org.iomap4j.iomap;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.Folio;

/**
 * Buffered write and zeroing through the page cache (fs/iomap/buffered-io.c {@code iomap_write_iter},
 * {@code iomap_zero_iter}): per mapping, per chunk of at most one max-size folio, get and lock the folio,
 * revalidate the mapping, bring only the partial edge blocks uptodate, copy (or zero), dirty the blocks, and
 * extend i_size under the folio lock. Blocks dirtied inside a DELALLOC mapping are reserved first
 * ({@link org.iomap4j.pagecache.MappingHost#reserveDelalloc}, once per block: the folio remembers), so ENOSPC
 * comes from the write.
 *
 * <p>Why revalidate after the folio lock: no filesystem lock is held between iomapBegin and the folio lock, so
 * writeback may have converted an UNWRITTEN extent (or truncate freed and reallocated blocks) meanwhile. Using
 * the stale mapping would zero edge blocks that now hold data (a real XFS corruption). A stale mapping is marked
 * {@link IomapFlags#STALE} and the iterator maps the same position again.
 */
final class BufferedWrite {
    private BufferedWrite() {}

    static int write(IomapInode inode, long posBytes, ByteBuffer src, IomapOps ops) throws IOException {
        int len = src.remaining();
        if (len == 0) {
            return 0;
        }
        if (posBytes < 0) {
            throw new FsException(Errno.EINVAL, "inode " + inode.ino() + ": negative write position " + posBytes);
        }
        if (posBytes + len < 0) {
            throw new FsException(Errno.EFBIG, "inode " + inode.ino() + ": write past the largest file offset");
        }
        int srcStart = src.position();
        IomapIter it = new IomapIter(inode, posBytes, len, IomapOpFlags.WRITE, ops);
        try {
            while (it.next()) {
                iter(it, src, srcStart, posBytes);
            }
        } catch (IOException | RuntimeException e) {
            it.abort(e);
            long done = it.processedBytes();
            if (done > 0) {
                src.position(srcStart + (int) done);
                return (int) done;
            }
            // Nothing written: drop what this write cached beyond EOF (iomap_write_failed).
            dropBeyondEof(inode, posBytes, posBytes + len);
            throw e;
        }
        src.position(srcStart + len);
        return len;
    }

    static void zeroRange(IomapInode inode, long posBytes, long lengthBytes, IomapOps ops) throws IOException {
        if (lengthBytes <= 0) {
            return;
        }
        if (posBytes < 0 || posBytes + lengthBytes < 0) {
            throw new FsException(Errno.EINVAL, "inode " + inode.ino() + ": bad zero range " + posBytes + "+"
                    + lengthBytes);
        }
        AddressSpace mapping = inode.mapping();
        IomapIter.run(inode, posBytes, lengthBytes, IomapOpFlags.ZERO, ops, it -> {
            Iomap rm = it.readMap();
            if (rm.type() == IomapType.HOLE || rm.type() == IomapType.UNWRITTEN) {
                long s = it.pos();
                long e = s + it.length();
                if (mapping.hasDirty(s, e)) {
                    // Dirty cache over a hole/unwritten extent holds data the disk lacks: write it back (which
                    // allocates or converts), then map again and zero through the cache (known bug 5).
                    Writeback.writeAndWait(mapping, s, e);
                    it.markStale();
                    return;
                }
                // hasDirty waited for folios under writeback: their ioend may have converted (or, for delalloc,
                // allocated) these blocks while it waited, so the HOLE/UNWRITTEN answer may be stale and the disk
                // now holds the data. Skip only a mapping still valid now that no folio of the range is dirty or
                // under writeback (no filesystem lock is held since iomapBegin; the cookie tells).
                if (!it.ops().iomapValid(inode, it.iomap())) {
                    it.markStale();
                    return;
                }
                it.advance(it.length()); // reads as zeroes already
                return;
            }
            iter(it, null, 0, posBytes);
        });
    }

    /**
     * Unshare (iomap_file_unshare): for every SHARED mapping whose srcmap holds data, bring each block of the range
     * into the cache from the srcmap (read, never zeroed: the data must survive) and dirty it, so that writeback
     * writes it to the filesystem's new, unshared blocks. Holes, UNWRITTEN sources and unshared mappings are
     * skipped; the range is clamped to i_size. Blocks already uptodate in the cache keep their (possibly newer)
     * contents.
     */
    static void unshare(IomapInode inode, long posBytes, long lengthBytes, IomapOps ops) throws IOException {
        if (posBytes < 0 || lengthBytes < 0 || posBytes + lengthBytes < 0) {
            throw new FsException(Errno.EINVAL, "inode " + inode.ino() + ": bad unshare range " + posBytes + "+"
                    + lengthBytes);
        }
        long end = Math.min(posBytes + lengthBytes, inode.sizeBytes());
        if (end <= posBytes) {
            return;
        }
        IomapIter.run(inode, posBytes, end - posBytes, IomapOpFlags.WRITE | IomapOpFlags.UNSHARE, ops, it -> {
            Iomap map = it.iomap();
            Iomap src = map.srcmap();
            if (!map.hasFlag(IomapFlags.SHARED) || src == null || src.type() == IomapType.HOLE
                    || src.type() == IomapType.UNWRITTEN) {
                it.advance(it.length());
                return;
            }
            chunks(it, (f, cur, n) -> {
                int first = f.blockOf(cur);
                int last = f.blockOf(cur + n - 1);
                for (int b = first; b <= last; b++) {
                    if (!f.blockUptodate(b)) {
                        fillBlock(inode, f, b, src);
                    }
                }
                f.setDirty(first, last + 1);
            });
        });
    }

    /** Truncate-page: zero from the new EOF to the end of its block. */
    static void truncatePage(IomapInode inode, long posBytes, IomapOps ops) throws IOException {
        long bs = inode.blockSizeBytes();
        long off = posBytes & (bs - 1);
        if (off == 0) {
            return;
        }
        zeroRange(inode, posBytes, bs - off, ops);
    }

    /**
     * The per-mapping body: writes {@code it.length()} bytes chunk by chunk. {@code src == null} zeroes instead
     * (and never extends i_size).
     */
    private static void iter(IomapIter it, ByteBuffer src, int srcStart, long opStartBytes) throws IOException {
        IomapInode inode = it.inode();
        Iomap map = it.iomap();
        Iomap rm = it.readMap();
        switch (map.type()) {
            case HOLE -> throw new FsException(Errno.EIO, "inode " + inode.ino() + ": iomapBegin returned "
                    + map + " for a " + (src == null ? "zeroing" : "write") + " (filesystem bug)");
            case INLINE -> throw new FsException(Errno.EOPNOTSUPP, "inode " + inode.ino()
                    + ": buffered writes into INLINE mappings are not supported; unpack the inline data in "
                    + "iomapBegin (return a block with the INLINE mapping as srcmap)");
            default -> {
            }
        }
        boolean delalloc = map.type() == IomapType.DELALLOC;
        chunks(it, (f, cur, n) -> {
            int firstBlk = f.blockOf(cur);
            int endBlk = f.blockOf(cur + n - 1) + 1;
            if (delalloc) {
                // Reserve before touching the folio: ENOSPC belongs to write(), never to writeback.
                int unreserved = f.countUnreserved(firstBlk, endBlk);
                if (unreserved > 0) {
                    inode.mapping().host().reserveDelalloc(unreserved);
                }
            }
            prepareEdges(inode, f, cur, cur + n, rm);
            int off = (int) (cur - f.posBytes());
            if (src != null) {
                f.copyIn(off, src, srcStart + (int) (cur - opStartBytes), n);
            } else {
                f.zero(off, off + n);
            }
            if (delalloc) {
                f.setDirtyReserved(firstBlk, endBlk);
            } else {
                f.setDirty(firstBlk, endBlk);
            }
            if (src != null && cur + n > inode.sizeBytes()) {
                inode.setSizeBytes(cur + n);
                map.setCoreFlag(IomapFlags.SIZE_CHANGED);
            }
        });
    }

    /** What one chunk of a buffered write-side operation does to its folio (locked, mapping revalidated). */
    @FunctionalInterface
    private interface ChunkBody {
        void apply(Folio f, long curBytes, int lengthBytes) throws IOException;
    }

    /**
     * The per-chunk loop shared by write, zero and unshare: chunks of at most one max-size folio; for each, throttle
     * dirtying, take the invalidate lock shared and the folio lock, revalidate the mapping (stale: mark it and
     * return, so the iterator maps the same position again), run {@code body}, advance.
     */
    private static void chunks(IomapIter it, ChunkBody body) throws IOException {
        IomapInode inode = it.inode();
        AddressSpace mapping = inode.mapping();
        Iomap map = it.iomap();
        int maxFolio = mapping.maxFolioBytes();
        while (it.length() > 0) {
            long cur = it.pos();
            mapping.pageCache().balanceDirty(mapping);
            long chunk = Math.min(it.length(), maxFolio - (cur & (maxFolio - 1)));
            long n;
            mapping.invalidateLock().readLock().lock();
            try {
                Folio f = mapping.grabLocked(cur, chunk);
                try {
                    if (!it.ops().iomapValid(inode, map)) {
                        it.markStale();
                        return;
                    }
                    n = Math.min(chunk, f.endBytes() - cur);
                    body.apply(f, cur, (int) n);
                } finally {
                    f.unlock();
                }
            } finally {
                mapping.invalidateLock().readLock().unlock();
            }
            it.advance(n);
        }
    }

    /**
     * Brings the partial first and last blocks of {@code [startBytes, endBytes)} uptodate if they are not: read
     * from {@code rm} when it is MAPPED without NEW and the block starts below EOF, copied from INLINE, zeroed
     * otherwise. Whole blocks are left alone (they are about to be overwritten). Folio locked.
     *
     * <p>A NEW edge block is zeroed even when it is uptodate, unless it is dirty. The filesystem allocated it in
     * iomapBegin, before this folio was locked, so readahead (which holds no rwsem) may have filled the folio in
     * between from the new block's device address, i.e. another file's old bytes; before the allocation it was a
     * hole, so any clean cached copy can only be zeroes or those stale bytes, and zeroes are right either way.
     * (The kernel's filesystems avoid this by allocating under the folio lock, or unwritten/delalloc; the core
     * does not rely on it.)
     */
    private static void prepareEdges(IomapInode inode, Folio f, long startBytes, long endBytes, Iomap rm)
            throws IOException {
        int bs = f.blockSizeBytes();
        int first = f.blockOf(startBytes);
        int last = f.blockOf(endBytes - 1);
        if ((startBytes & (bs - 1)) != 0 && needsFill(f, first, rm)) {
            fillBlock(inode, f, first, rm);
        }
        if ((endBytes & (bs - 1)) != 0 && needsFill(f, last, rm) && (last != first
                || (startBytes & (bs - 1)) == 0)) {
            fillBlock(inode, f, last, rm);
        }
    }

    /** Not uptodate, or uptodate but clean in a NEW mapping (possibly read from the fresh block: see above). */
    private static boolean needsFill(Folio f, int blk, Iomap rm) {
        return !f.blockUptodate(blk) || (rm.hasFlag(IomapFlags.NEW) && rm.type() == IomapType.MAPPED
                && f.nextDirty(blk, blk + 1) != blk);
    }

    private static void fillBlock(IomapInode inode, Folio f, int blk, Iomap rm) throws IOException {
        int bs = f.blockSizeBytes();
        int off = blk * bs;
        long blockPos = f.posBytes() + off;
        long size = inode.sizeBytes();
        boolean zero = blockPos >= size || rm.hasFlag(IomapFlags.NEW)
                || (rm.type() != IomapType.MAPPED && rm.type() != IomapType.INLINE);
        if (!zero && (!rm.covers(blockPos) || (rm.type() == IomapType.MAPPED && !rm.covers(blockPos + bs - 1)))) {
            throw new FsException(Errno.EIO, "inode " + inode.ino() + ": mapping " + rm
                    + " does not cover the whole block at " + blockPos + " (filesystem bug)");
        }
        if (zero) {
            f.zero(off, off + bs);
        } else if (rm.type() == IomapType.INLINE) {
            int n = (int) Math.max(0, Math.min(rm.endBytes(), blockPos + bs) - blockPos);
            f.copyIn(off, rm.inlineData(), (int) (blockPos - rm.offsetBytes()), n);
            f.zero(off + n, off + bs);
        } else {
            rm.device().read(rm.addrOf(blockPos), f.view(off, bs));
            if (size < blockPos + bs) {
                f.zero((int) (size - f.posBytes()), off + bs);
            }
        }
        f.setUptodate(blk, blk + 1);
    }

    /** Forgets clean cached blocks of {@code [startBytes, endBytes)} that lie wholly beyond EOF. */
    private static void dropBeyondEof(IomapInode inode, long startBytes, long endBytes) {
        AddressSpace mapping = inode.mapping();
        long bs = inode.blockSizeBytes();
        long from = Math.max(BufferedIo.alignUp(inode.sizeBytes(), bs), startBytes & -bs);
        if (from >= endBytes) {
            return;
        }
        for (Folio f : mapping.folioRange(from, endBytes)) {
            f.lock();
            try {
                if (f.isRemoved()) {
                    continue;
                }
                long s = Math.max(from, f.posBytes());
                long e = Math.min(BufferedIo.alignUp(endBytes, bs), f.endBytes());
                if (s < e) {
                    int a = f.blockOf(s);
                    int b = f.blockOf(e - 1) + 1;
                    if (f.nextDirty(a, b) == b) {
                        f.clearUptodate(a, b);
                    }
                }
                if (f.nrDirty() == 0 && f.nextUptodate(0, f.nrBlocks()) == f.nrBlocks()) {
                    mapping.removeLocked(f);
                }
            } finally {
                f.unlock();
            }
        }
    }
}
