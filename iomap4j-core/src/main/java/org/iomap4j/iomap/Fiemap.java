package org.iomap4j.iomap;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * FIEMAP and bmap over the iterator (fs/iomap/fiemap.c): a report of where a file's bytes live.
 *
 * <p>Holes are skipped. Every other mapping becomes one extent with flags from its type (DELALLOC -> DELALLOC and
 * UNKNOWN, UNWRITTEN -> UNWRITTEN, INLINE -> DATA_INLINE and NOT_ALIGNED) and fs flags (MERGED, SHARED). The
 * extent before the next one is held back so that the final extent gets LAST, as the kernel does. Adjacent
 * mappings are not merged here: each iomapBegin result is one extent (a filesystem that returns whole runs, as
 * ext2 does, gives one extent per run).
 */
public final class Fiemap {
    private Fiemap() {}

    /** FIEMAP_FLAG_SYNC: write dirty data back before mapping. */
    public static final int FLAG_SYNC = 0x1;

    /**
     * Reports extents overlapping {@code [startBytes, startBytes + lengthBytes)}, at most {@code maxExtents}
     * (0 = count only; the result then carries at most one extent per mapping but callers should use the size).
     * With {@link #FLAG_SYNC} the range's dirty data is written back first (so DELALLOC has been allocated).
     *
     * @throws FsException EINVAL for a negative range; errors from the filesystem's iomapBegin
     * @param inode the file
     * @param startBytes file byte offset of the range
     * @param lengthBytes range length in bytes
     * @param fiemapFlags {@link #FLAG_SYNC} or 0
     * @param maxExtents most extents returned; 0 to count only
     * @param ops the filesystem's mapping operations
     * @return the extents, ascending by logical offset; the last one found carries FIEMAP_EXTENT_LAST
     */
    public static List<FiemapExtent> fiemap(IomapInode inode, long startBytes, long lengthBytes, int fiemapFlags,
            int maxExtents, IomapOps ops) throws IOException {
        if (startBytes < 0 || lengthBytes < 0) {
            throw new FsException(Errno.EINVAL, "fiemap range " + startBytes + "+" + lengthBytes);
        }
        long len = Math.min(lengthBytes, Long.MAX_VALUE - startBytes);
        if ((fiemapFlags & FLAG_SYNC) != 0) {
            Writeback.writeAndWait(inode.mapping(), startBytes, startBytes + len);
        }
        List<FiemapExtent> out = new ArrayList<>();
        FiemapExtent[] prev = {null};
        IomapIter it = new IomapIter(inode, startBytes, len, IomapOpFlags.REPORT, ops);
        try {
            while (it.next()) {
                Iomap m = it.iomap();
                if (m.type() != IomapType.HOLE) {
                    if (prev[0] != null) {
                        out.add(prev[0]);
                        if (maxExtents > 0 && out.size() >= maxExtents) {
                            prev[0] = null;
                            it.advance(it.length());
                            break;
                        }
                    }
                    prev[0] = toExtent(m);
                }
                it.advance(it.length());
            }
        } catch (IOException | RuntimeException e) {
            it.abort(e);
            throw e;
        }
        it.close();
        if (prev[0] != null) {
            out.add(prev[0].withFlag(FiemapExtent.LAST));
        }
        return out;
    }

    private static FiemapExtent toExtent(Iomap m) {
        int flags = 0;
        long phys = m.addrBytes() == Iomap.NULL_ADDR ? 0 : m.addrBytes();
        switch (m.type()) {
            case DELALLOC -> flags |= FiemapExtent.DELALLOC | FiemapExtent.UNKNOWN;
            case UNWRITTEN -> flags |= FiemapExtent.UNWRITTEN;
            case INLINE -> flags |= FiemapExtent.DATA_INLINE | FiemapExtent.NOT_ALIGNED;
            default -> { }
        }
        if (m.hasFlag(IomapFlags.MERGED)) {
            flags |= FiemapExtent.MERGED;
        }
        if (m.hasFlag(IomapFlags.SHARED)) {
            flags |= FiemapExtent.SHARED;
        }
        return new FiemapExtent(m.offsetBytes(), phys, m.lengthBytes(), flags);
    }

    /**
     * bmap: the device block (in units of the filesystem block size) holding file block {@code lblk}, or 0 when
     * it is not MAPPED (hole, unwritten, delalloc, inline), after writing dirty data back (iomap_bmap).
     *
     * @param inode the file
     * @param lblk file block number, in filesystem blocks
     * @param ops the filesystem's mapping operations
     * @return the physical block number (pblk, in filesystem blocks), or 0
     * @throws IOException from the filesystem's iomapBegin
     */
    public static long bmap(IomapInode inode, long lblk, IomapOps ops) throws IOException {
        int bs = inode.blockSizeBytes();
        long pos = lblk * bs;
        if (lblk < 0 || pos / bs != lblk) {
            throw new FsException(Errno.EINVAL, "bmap block " + lblk + " out of range");
        }
        Writeback.writeAndWait(inode.mapping(), 0, Long.MAX_VALUE);
        long[] pblk = {0};
        IomapIter.run(inode, pos, bs, IomapOpFlags.REPORT, ops, it -> {
            Iomap m = it.iomap();
            if (m.type() == IomapType.MAPPED && !m.hasFlag(IomapFlags.NEW)) {
                pblk[0] = m.addrOf(it.pos()) / bs;
            }
            it.advance(it.length());
        });
        return pblk[0];
    }
}
