package org.iomap4j.iomap;

import java.io.IOException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.pagecache.AddressSpace;

/**
 * SEEK_DATA and SEEK_HOLE over the iterator (fs/iomap/seek.c), with Linux's rules: an offset at or past EOF (or
 * negative) is ENXIO; there is always an implicit hole at EOF; HOLE mappings are holes; MAPPED, DELALLOC and
 * INLINE are data; inside an UNWRITTEN extent the page cache decides: blocks that are uptodate or dirty in the
 * cache are data (they were written but not yet converted), the rest is hole.
 *
 * <p>No filesystem lock is held between iomapBegin and the page-cache look-up, so writeback may convert an
 * UNWRITTEN extent and reclaim drop its now clean folios in between: the UNWRITTEN answer is checked with
 * {@link IomapOps#iomapValid} after the look-up and asked again when stale (else converted data would be reported
 * as a hole).
 */
public final class Seek {
    private Seek() {}

    /**
     * lseek(fd, offsetBytes, SEEK_HOLE): the first hole at or after {@code offsetBytes}, which is EOF when the
     * rest of the file is data.
     *
     * @throws FsException ENXIO when {@code offsetBytes} is negative or at/past EOF
     * @param inode the file
     * @param offsetBytes file byte offset to start at
     * @param ops the filesystem's mapping operations
     * @return the file byte offset of the hole
     */
    public static long seekHole(IomapInode inode, long offsetBytes, IomapOps ops) throws IOException {
        long size = inode.sizeBytes();
        if (offsetBytes < 0 || offsetBytes >= size) {
            throw new FsException(Errno.ENXIO, "inode " + inode.ino() + ": SEEK_HOLE from " + offsetBytes
                    + " outside [0, " + size + ")");
        }
        long[] found = {-1};
        IomapIter it = new IomapIter(inode, offsetBytes, size - offsetBytes, IomapOpFlags.REPORT, ops);
        try {
            while (it.next()) {
                long n = it.length();
                switch (it.iomap().type()) {
                    case HOLE -> found[0] = it.pos();
                    case UNWRITTEN -> {
                        long p = cacheHole(inode.mapping(), it.pos(), it.pos() + n);
                        if (!ops.iomapValid(inode, it.iomap())) {
                            it.markStale(); // converted meanwhile: its folios may be gone, ask again
                            continue;
                        }
                        if (p >= 0) {
                            found[0] = p;
                        }
                    }
                    default -> { }
                }
                if (found[0] >= 0) {
                    // Stop: advancing nothing (and not stale) ends the iteration.
                    continue;
                }
                it.advance(n);
            }
        } catch (IOException | RuntimeException e) {
            it.abort(e);
            throw e;
        }
        it.close();
        return found[0] >= 0 ? found[0] : size;
    }

    /**
     * lseek(fd, offsetBytes, SEEK_DATA): the first data byte at or after {@code offsetBytes}.
     *
     * @throws FsException ENXIO when {@code offsetBytes} is negative or at/past EOF, or no data follows it
     * @param inode the file
     * @param offsetBytes file byte offset to start at
     * @param ops the filesystem's mapping operations
     * @return the file byte offset of the data
     */
    public static long seekData(IomapInode inode, long offsetBytes, IomapOps ops) throws IOException {
        long size = inode.sizeBytes();
        if (offsetBytes < 0 || offsetBytes >= size) {
            throw new FsException(Errno.ENXIO, "inode " + inode.ino() + ": SEEK_DATA from " + offsetBytes
                    + " outside [0, " + size + ")");
        }
        long[] found = {-1};
        IomapIter it = new IomapIter(inode, offsetBytes, size - offsetBytes, IomapOpFlags.REPORT, ops);
        try {
            while (it.next()) {
                long n = it.length();
                switch (it.iomap().type()) {
                    case HOLE -> { }
                    case UNWRITTEN -> {
                        long p = cacheData(inode.mapping(), it.pos(), it.pos() + n);
                        if (!ops.iomapValid(inode, it.iomap())) {
                            it.markStale(); // converted meanwhile: its folios may be gone, ask again
                            continue;
                        }
                        if (p >= 0) {
                            found[0] = p;
                        }
                    }
                    default -> found[0] = it.pos();
                }
                if (found[0] >= 0) {
                    continue;
                }
                it.advance(n);
            }
        } catch (IOException | RuntimeException e) {
            it.abort(e);
            throw e;
        }
        it.close();
        if (found[0] < 0) {
            throw new FsException(Errno.ENXIO, "inode " + inode.ino() + ": no data at or after " + offsetBytes);
        }
        return found[0];
    }

    private static long cacheHole(AddressSpace mapping, long startBytes, long endBytes) {
        return mapping == null ? startBytes : mapping.nextUncached(startBytes, endBytes);
    }

    private static long cacheData(AddressSpace mapping, long startBytes, long endBytes) {
        return mapping == null ? -1 : mapping.nextCachedData(startBytes, endBytes);
    }
}
