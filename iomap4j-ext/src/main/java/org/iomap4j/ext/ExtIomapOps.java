package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapFlags;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOpFlags;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.WritebackOps;

/**
 * ext2's iomap operations: the block map ({@link BlockMap}) answered as iomaps for reads, buffered writes,
 * zeroing, reporting and writeback.
 *
 * <ul>
 *   <li>A mapped answer is a whole physically contiguous run, MAPPED|MERGED, never crossing the end of the
 *       pointer block that holds it; BOUNDARY when the next block's pointer is in another pointer block (the
 *       buffer-head world's BH_Boundary: reads submit before that metadata read, writeback does not merge
 *       across it).</li>
 *   <li>A hole is one HOLE of the whole hole (up to the next mapped block, the end of its pointer block or the
 *       whole subtree of a missing indirect block).</li>
 *   <li>WRITE (without ZERO) allocates data and missing indirect blocks together, zeroes new indirect blocks and
 *       answers MAPPED|NEW; ENOSPC and EFBIG are thrown here, i.e. at write() time.</li>
 *   <li>DIRECT|WRITE entirely below EOF never allocates: a hole there is {@code ENOTBLK} (the caller falls back to
 *       buffered I/O, as the kernel's ext2 does); beyond EOF it allocates (NEW) and direct I/O zeroes the
 *       sub-block head and tail.</li>
 *   <li>The validity cookie is the inode's block-map sequence counter, bumped by every allocation and free.</li>
 *   <li>{@link #iomapEnd} of a buffered WRITE that used less than the NEW run it was given zeroes the run's
 *       blocks that nothing was written to: they were a hole a moment ago and still hold whatever the device
 *       had (another file's old data), and blocks inside i_size stay allocated (the kernel's
 *       {@code block_write_begin} zeroes such new buffers; blocks past EOF are freed afterwards by the write's
 *       {@code trimBeyondEof}, as {@code ext2_write_failed}).</li>
 * </ul>
 * The inode's block-map lock is taken inside each call only (never held from begin to end).
 */
final class ExtIomapOps implements IomapOps, WritebackOps {
    private final ExtFileSystem fs;

    ExtIomapOps(ExtFileSystem fs) {
        this.fs = fs;
    }

    @Override
    public Iomap iomapBegin(IomapInode ii, long posBytes, long lengthBytes, int opFlags) throws IOException {
        ExtInode inode = (ExtInode) ii;
        boolean zero = IomapOpFlags.has(opFlags, IomapOpFlags.ZERO);
        boolean alloc = IomapOpFlags.has(opFlags, IomapOpFlags.WRITE) && !zero
                && !IomapOpFlags.has(opFlags, IomapOpFlags.REPORT);
        if (alloc) {
            fs.checkWritable();
            if (posBytes >= fs.maxFileSizeBytes(inode)) {
                throw new FsException(Errno.EFBIG, "inode " + inode.ino + ": write at " + posBytes
                        + " beyond the maximum file size " + fs.maxFileSizeBytes(inode));
            }
        }
        if (ExtInline.isInline(inode) && inode.isRegular()) {
            if (!IomapOpFlags.has(opFlags, IomapOpFlags.WRITE) || IomapOpFlags.has(opFlags, IomapOpFlags.REPORT)) {
                Iomap m = fs.inline.iomap(inode, posBytes, lengthBytes);
                if (m != null) {
                    return m;
                } // converted meanwhile: map its blocks
            } else {
                fs.inline.convert(inode); // ext4_convert_inline_data on the first write (or zeroing)
            }
        }
        if (!inode.hasBlockMap()) {
            throw new FsException(Errno.EINVAL, "inode " + inode.ino + " has no block map (mode 0"
                    + Integer.toOctalString(inode.mode()) + ")");
        }
        boolean dax = IomapOpFlags.has(opFlags, IomapOpFlags.DAX);
        boolean report = IomapOpFlags.has(opFlags, IomapOpFlags.REPORT);
        if (usesDelalloc(inode) && !dax && !IomapOpFlags.has(opFlags, IomapOpFlags.DIRECT)
                && (alloc || report)) {
            return mapDelalloc(inode, posBytes, lengthBytes, alloc);
        }
        if (alloc && inode.blockMapping instanceof ExtentTree && inode.isRegular()) {
            // Extent files write into unwritten extents, converted at I/O completion (ioendCompleted, the direct
            // I/O's endIo): a crash before the data is on disk leaves zeroes, never stale blocks. DAX has no
            // completion: its unwritten blocks are zeroed and converted here (EXT4_GET_BLOCKS_CREATE_ZERO).
            return dax ? mapDaxWrite(inode, posBytes, lengthBytes) : map(inode, posBytes, lengthBytes, true, true);
        }
        if (alloc && IomapOpFlags.has(opFlags, IomapOpFlags.DIRECT) && !dax
                && posBytes + lengthBytes <= inode.sizeBytes()) {
            // ext2 has no unwritten extents: a direct write that stays inside i_size may only overwrite; filling
            // a hole there must go through the page cache (fs/ext2/inode.c ext2_iomap_begin; the caller falls
            // back to buffered I/O on ENOTBLK), else a crash between allocation and the data write, or a racing
            // reader, would see stale blocks.
            Iomap m = map(inode, posBytes, lengthBytes, false);
            if (m.type() == org.iomap4j.iomap.IomapType.HOLE) {
                throw new FsException(Errno.ENOTBLK, "inode " + inode.ino + ": direct write into the hole at "
                        + posBytes + " below EOF " + inode.sizeBytes() + ": fall back to buffered I/O");
            }
            return m;
        }
        return map(inode, posBytes, lengthBytes, alloc);
    }

    private Iomap map(ExtInode inode, long posBytes, long lengthBytes, boolean alloc) throws IOException {
        return map(inode, posBytes, lengthBytes, alloc, false);
    }

    /**
     * Maps for a write: a hole is allocated as an unwritten extent when {@code unwritten} (extent files), else as
     * initialized NEW blocks.
     */
    private Iomap map(ExtInode inode, long posBytes, long lengthBytes, boolean alloc, boolean unwritten)
            throws IOException {
        int bits = fs.geo.blockBits();
        long bs = fs.geo.blockSizeBytes();
        long lblk = posBytes >>> bits;
        long endBytes = posBytes + Math.max(1, lengthBytes);
        if (endBytes < 0) {
            endBytes = Long.MAX_VALUE;
        }
        long endLblk = (endBytes - 1 >>> bits) + 1;
        if (alloc) {
            endLblk = Math.min(endLblk, (fs.maxFileSizeBytes(inode) + bs - 1) >>> bits);
        }
        if (lblk >= inode.blockMapping.addressableBlocks()) {
            // Beyond what the block tree can address: a hole to the end of the request.
            return Iomap.hole(posBytes, Math.max(1, Math.min(lengthBytes, Long.MAX_VALUE - posBytes)), inode.mapSeq());
        }
        ExtBlockMapping.Run run;
        long cookie;
        // Journal: an allocation runs in the caller's handle, extended by its estimate (a write's, fallocate's,
        // or a directory's); new initialized blocks are data=ordered (written before the commit block).
        try (var jh = alloc ? fs.journal.begin(fs.journal.allocCredits(endLblk - lblk)) : null) {
            inode.lock.lock();
            try {
                run = inode.blockMapping instanceof ExtentTree t
                        ? t.map(inode, lblk, Math.max(1, endLblk - lblk), alloc, unwritten)
                        : inode.blockMapping.map(inode, lblk, Math.max(1, endLblk - lblk), alloc);
                cookie = inode.mapSeq();
            } finally {
                inode.lock.unlock();
            }
            if (alloc && run.fresh() && !run.unwritten() && !run.isHole()) {
                fs.journal.orderData(inode);
            }
        }
        long offBytes = run.lblk() << bits;
        long lenBytes = run.nrBlocks() << bits;
        if (run.isHole()) {
            return Iomap.hole(offBytes, lenBytes, cookie);
        }
        int flags = IomapFlags.MERGED | (run.boundary() ? IomapFlags.BOUNDARY : 0)
                | (run.fresh() ? IomapFlags.NEW : 0);
        if (run.unwritten()) {
            return Iomap.builder(org.iomap4j.iomap.IomapType.UNWRITTEN, offBytes, lenBytes).device(fs.device)
                    .addrBytes(run.pblk() << bits).flags(flags & ~IomapFlags.NEW).validityCookie(cookie).build();
        }
        return Iomap.mapped(offBytes, lenBytes, fs.device, run.pblk() << bits, flags, cookie);
    }

    /**
     * A DAX write to an extent file: holes are allocated initialized (NEW, which the DAX write zeroes around the
     * data), and an unwritten extent is zeroed on the device and converted before it is returned MAPPED, since a
     * DAX write has no completion to convert at.
     */
    private Iomap mapDaxWrite(ExtInode inode, long posBytes, long lengthBytes) throws IOException {
        Iomap m = map(inode, posBytes, lengthBytes, true, false);
        if (m.type() != org.iomap4j.iomap.IomapType.UNWRITTEN) {
            return m;
        }
        writeZeroes(m.addrBytes(), m.lengthBytes());
        int bits = fs.geo.blockBits();
        convert(inode, m.offsetBytes() >>> bits, m.lengthBytes() >>> bits);
        return map(inode, m.offsetBytes(), m.lengthBytes(), false, false);
    }

    /** Marks {@code [lblk, lblk + nrBlocks)} of an extent file initialized (unwritten extents in it converted). */
    void convert(ExtInode inode, long lblk, long nrBlocks) throws IOException {
        if (nrBlocks <= 0 || !(inode.blockMapping instanceof ExtentTree t)) {
            return;
        }
        // Journal: a reserved handle (I/O completion must not wait for a commit that waits for the writer).
        try (var jh = fs.journal.beginReserved(24 + fs.journal.allocCredits(nrBlocks))) {
            inode.lock.lock();
            try {
                t.convertUnwritten(inode, lblk, nrBlocks);
            } finally {
                inode.lock.unlock();
            }
        }
    }

    /**
     * Writeback completion (iomap_finish_ioend → the filesystem's end_io): an UNWRITTEN ioend that reached the
     * device is converted (whole blocks, ext4_convert_unwritten_io_end_vec); after an error it stays unwritten
     * and reads as zeroes.
     */
    @Override
    public void ioendCompleted(IomapInode ii, org.iomap4j.iomap.Ioend ioend, Throwable error) throws IOException {
        if (error != null || ioend.type() != org.iomap4j.iomap.IomapType.UNWRITTEN || ioend.lengthBytes() <= 0) {
            return;
        }
        int bits = fs.geo.blockBits();
        long first = ioend.fileOffsetBytes() >>> bits;
        long end = (ioend.fileOffsetBytes() + ioend.lengthBytes() + fs.geo.blockSizeBytes() - 1) >>> bits;
        // The conversion completes writeback and may split an extent (a tree block): like writeback's own mapping it
        // may use the metadata reserve (the kernel converts with EXT4_GET_BLOCKS_METADATA_NOFAIL), else on a nearly
        // full filesystem whose free blocks are all promised to dirty delalloc data it fails with ENOSPC in
        // writeback (found by ExtJournalEnospcTest, 1 KiB blocks).
        try {
            ScopedValue.where(ExtBalloc.DELALLOC_WRITEBACK, Boolean.TRUE).call(() -> {
                convert((ExtInode) ii, first, end - first);
                return null;
            });
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    private void writeZeroes(long devAddr, long lengthBytes) throws IOException {
        java.nio.ByteBuffer zeroes = java.nio.ByteBuffer.allocate((int) Math.min(lengthBytes, ZERO_CHUNK_BYTES));
        while (lengthBytes > 0) {
            int n = (int) Math.min(lengthBytes, zeroes.capacity());
            fs.device.write(devAddr, zeroes.clear().limit(n));
            devAddr += n;
            lengthBytes -= n;
        }
    }

    /** Zeroes written to the unused NEW blocks of a short buffered write; a multiple of every block size. */
    private static final int ZERO_CHUNK_BYTES = 64 * 1024;

    @Override
    public void iomapEnd(IomapInode ii, long posBytes, long lengthBytes, long writtenBytes, int opFlags,
            Iomap iomap) throws IOException {
        if (!IomapOpFlags.has(opFlags, IomapOpFlags.WRITE) || IomapOpFlags.has(opFlags, IomapOpFlags.ZERO)
                || IomapOpFlags.has(opFlags, IomapOpFlags.DIRECT) || IomapOpFlags.has(opFlags, IomapOpFlags.DAX)
                || IomapOpFlags.has(opFlags, IomapOpFlags.REPORT)
                || iomap.type() != org.iomap4j.iomap.IomapType.MAPPED || (iomap.flags() & IomapFlags.NEW) == 0) {
            return;
        }
        long bs = fs.geo.blockSizeBytes();
        long runEnd = iomap.offsetBytes() + iomap.lengthBytes();
        // Blocks partly covered by the written bytes are in the page cache, dirty and edge-filled; writeback may
        // already be writing them, so only whole blocks past the last written byte are zeroed here. Nothing else
        // writes to them: the writer holds i_rwsem exclusively and they were a hole before this iomapBegin.
        long zeroFrom = writtenBytes > 0 ? Math.ceilDiv(posBytes + writtenBytes, bs) * bs : iomap.offsetBytes();
        if (zeroFrom >= runEnd) {
            return;
        }
        long devAddr = iomap.addrBytes() + (zeroFrom - iomap.offsetBytes());
        long remaining = runEnd - zeroFrom;
        java.nio.ByteBuffer zeroes = java.nio.ByteBuffer.allocate((int) Math.min(remaining, ZERO_CHUNK_BYTES));
        while (remaining > 0) {
            int n = (int) Math.min(remaining, zeroes.capacity());
            fs.device.write(devAddr, zeroes.clear().limit(n));
            devAddr += n;
            remaining -= n;
        }
    }

    @Override
    public boolean iomapValid(IomapInode inode, Iomap iomap) {
        return ((ExtInode) inode).mapSeq() == iomap.validityCookie();
    }

    @Override
    public Iomap mapBlocks(IomapInode ii, long posBytes, long lengthBytes) throws IOException {
        ExtInode inode = (ExtInode) ii;
        if (!usesDelalloc(inode)) {
            return map(inode, posBytes, lengthBytes, false);
        }
        // Dirty data over a hole is delayed allocation (punch and truncate drop the cache before freeing): allocate
        // the whole dirty run now, as unwritten extents converted at I/O completion (ext4's delalloc with
        // dioread_nolock), from the space its reservations kept free. The page cache gives the reservations back
        // after this returns.
        // Journal: writeback allocates in a reserved handle (a writer holding its handle may wait for this).
        try (var jh = fs.journal.beginReserved(fs.journal.allocCredits(
                Math.min(lengthBytes, 1L << 40) >>> fs.geo.blockBits()))) {
            return ScopedValue.where(ExtBalloc.DELALLOC_WRITEBACK, Boolean.TRUE)
                    .call(() -> map(inode, posBytes, lengthBytes, true, true));
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /** Delayed allocation applies to extent-mapped regular files on a read-write mount with {@code delalloc}. */
    private boolean usesDelalloc(ExtInode inode) {
        return fs.delalloc && inode.isRegular() && inode.blockMapping instanceof ExtentTree;
    }

    /**
     * A buffered write or a report on a delalloc file: mapped and unwritten extents as they are; a hole is DELALLOC
     * for a write (the core reserves each block it dirties) and, for a report (SEEK_DATA/HOLE, FIEMAP), DELALLOC
     * where the page cache holds dirty blocks not yet allocated (what ext4's extent status tree records as
     * delayed) and HOLE elsewhere.
     */
    private Iomap mapDelalloc(ExtInode inode, long posBytes, long lengthBytes, boolean write) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Iomap m = map(inode, posBytes, lengthBytes, false);
            if (m.type() != org.iomap4j.iomap.IomapType.HOLE) {
                return m;
            }
            if (write) {
                return Iomap.builder(org.iomap4j.iomap.IomapType.DELALLOC, m.offsetBytes(), m.lengthBytes())
                        .validityCookie(m.validityCookie()).build();
            }
            long start = Math.max(posBytes, m.offsetBytes());
            long end = m.offsetBytes() + m.lengthBytes();
            if (end < 0) {
                end = Long.MAX_VALUE;
            }
            org.iomap4j.pagecache.AddressSpace mapping = inode.mapping();
            long dirty = mapping.nextDirtyBytes(start, end);
            long clean = dirty > start ? dirty : mapping.nextCleanBytes(start, end);
            // nextDirtyBytes waits for folios under writeback, whose ioend may have allocated part of this hole
            // meanwhile (no filesystem lock is held here): a report from a hole that is no longer one would call
            // written data a hole. Map again then (the block map only changes a bounded number of times while
            // the caller holds the rwsem; the cap is a safety net, not a retry policy).
            if (inode.mapSeq() != m.validityCookie() && attempt < MAX_REPORT_REMAPS) {
                continue;
            }
            if (dirty > start) {
                return Iomap.hole(start, dirty - start, m.validityCookie());
            }
            return Iomap.builder(org.iomap4j.iomap.IomapType.DELALLOC, start, clean - start)
                    .validityCookie(m.validityCookie()).build();
        }
    }

    /** Remaps of a delalloc report whose hole changed under it before the (cookie-checked) answer is given. */
    private static final int MAX_REPORT_REMAPS = 100;

    @Override
    public boolean mappingValid(IomapInode inode, Iomap iomap) {
        return iomapValid(inode, iomap);
    }
}
