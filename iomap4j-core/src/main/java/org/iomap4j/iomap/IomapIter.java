package org.iomap4j.iomap;

import java.io.IOException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * The loop at the centre of every iomap4j operation (fs/iomap/iter.c): it owns getting, ending and advancing
 * mappings so that no operation can forget to end a mapping or loop forever.
 *
 * <pre>{@code
 * IomapIter it = new IomapIter(inode, posBytes, lengthBytes, opFlags, ops);
 * try {
 *     while (it.next()) {
 *         body(it);                  // handles at most it.length() bytes at it.pos(), then it.advance(n)
 *     }
 * } finally {
 *     it.close();                    // ends a mapping left open by an exception
 * }
 * }</pre>
 *
 * <p>Rules: {@link #next()} ends the previous mapping (calling {@link IomapOps#iomapEnd} with the bytes advanced)
 * and begins the next one at {@link #pos()}. Iteration stops when the range is done, or when the body advanced
 * nothing and did not mark the mapping {@link IomapFlags#STALE}. A STALE mapping is ended and begun again at the
 * same position (bounded: a mapping that stays stale {@value #MAX_STALE_RETRIES} times in a row fails with EIO).
 * A mapping that does not cover {@code pos}, is empty, or is advanced past its length fails the operation with
 * an {@link FsException} (EIO) instead of looping. The position is read-only to the body except through
 * {@link #advance(long)}.
 *
 * <p>Not thread-safe: one iterator per operation, used by one thread.
 */
public final class IomapIter implements AutoCloseable {
    /** Consecutive stale remaps tolerated at one position before the operation fails. */
    public static final int MAX_STALE_RETRIES = 1000;

    private final IomapInode inode;
    private final IomapOps ops;
    private final int opFlags;
    private final long startBytes;
    private long posBytes;
    private long remainingBytes;
    private Iomap iomap;
    private long mapStartBytes;
    private long mapRequestedBytes;
    private long advancedInMapBytes;
    private int staleRetries;
    private boolean finished;

    /**
     * An iterator over the mappings of {@code [posBytes, posBytes + lengthBytes)} of {@code inode}.
     *
     * @param posBytes    first byte of the operation (&ge; 0)
     * @param lengthBytes bytes in the operation (&ge; 0; 0 makes {@link #next()} return false at once)
     * @param inode the file
     * @param opFlags the {@link IomapOpFlags} passed to iomapBegin
     * @param ops the filesystem's mapping operations
     */
    public IomapIter(IomapInode inode, long posBytes, long lengthBytes, int opFlags, IomapOps ops) {
        if (posBytes < 0 || lengthBytes < 0 || posBytes + lengthBytes < 0) {
            throw new IllegalArgumentException("bad iomap range " + posBytes + "+" + lengthBytes);
        }
        this.inode = inode;
        this.ops = ops;
        this.opFlags = opFlags;
        this.startBytes = posBytes;
        this.posBytes = posBytes;
        this.remainingBytes = lengthBytes;
    }

    /**
     * Ends the current mapping (if any) and begins the next. Returns false when the operation is over.
     *
     * @throws IOException from the filesystem's iomapBegin/iomapEnd, or EIO for a mapping that breaks the rules
     * @return true if a mapping was begun, false when the operation is over
     */
    public boolean next() throws IOException {
        if (finished) {
            return false;
        }
        if (iomap != null) {
            boolean stale = iomap.hasFlag(IomapFlags.STALE);
            long advanced = advancedInMapBytes;
            endCurrent();
            if (remainingBytes == 0 || (advanced == 0 && !stale)) {
                finished = true;
                return false;
            }
            if (stale && advanced == 0) {
                if (++staleRetries > MAX_STALE_RETRIES) {
                    finished = true;
                    throw new FsException(Errno.EIO, "inode " + inode.ino() + ": mapping at " + posBytes
                            + " stayed stale after " + MAX_STALE_RETRIES + " remaps");
                }
            } else {
                staleRetries = 0;
            }
        }
        if (remainingBytes == 0) {
            finished = true;
            return false;
        }
        Iomap m = ops.iomapBegin(inode, posBytes, remainingBytes, opFlags);
        if (m == null) {
            finished = true;
            throw new FsException(Errno.EIO, "inode " + inode.ino() + ": iomapBegin returned no mapping at " + posBytes);
        }
        // Begin succeeded: from here iomapEnd is owed exactly once.
        iomap = m;
        mapStartBytes = posBytes;
        mapRequestedBytes = remainingBytes;
        advancedInMapBytes = 0;
        checkCovers(m, "iomap");
        if (m.srcmap() != null && m.srcmap().type() != IomapType.HOLE) {
            checkCovers(m.srcmap(), "srcmap");
        }
        return true;
    }

    private void checkCovers(Iomap m, String what) throws IOException {
        if (!m.covers(posBytes) || (m.flags() & IomapFlags.STALE) != 0) {
            IOException e = new FsException(Errno.EIO, "inode " + inode.ino() + ": " + what + " " + m
                    + " does not cover position " + posBytes + " (filesystem bug)");
            abort(e);
            throw e;
        }
    }

    private void endCurrent() throws IOException {
        Iomap m = iomap;
        iomap = null;
        ops.iomapEnd(inode, mapStartBytes, Math.min(mapRequestedBytes, m.endBytes() - mapStartBytes),
                advancedInMapBytes, opFlags, m);
    }

    /**
     * Ends the current mapping after a failure in the body; an error from iomapEnd is added to {@code cause} as
     * suppressed. Afterwards {@link #next()} returns false.
     *
     * @param cause the body's failure
     */
    public void abort(Throwable cause) {
        finished = true;
        if (iomap != null) {
            try {
                endCurrent();
            } catch (IOException | RuntimeException e) {
                if (cause != null && cause != e) {
                    cause.addSuppressed(e);
                }
            }
        }
    }

    /** Ends a mapping left open (after an exception in the body); a no-op after a normal finish. */
    @Override
    public void close() throws IOException {
        if (iomap != null) {
            finished = true;
            endCurrent();
        }
        finished = true;
    }

    /**
     * Marks the body's progress: the next {@code bytes} at {@link #pos()} are done.
     *
     * @throws FsException EIO if {@code bytes} is negative or goes past {@link #length()}
     * @param bytes bytes done, 0 &le; bytes &le; {@link #length()}
     */
    public void advance(long bytes) throws IOException {
        if (iomap == null) {
            throw new IllegalStateException("advance without a current mapping");
        }
        if (bytes < 0 || bytes > length()) {
            IOException e = new FsException(Errno.EIO, "inode " + inode.ino() + ": advance by " + bytes
                    + " past mapping " + iomap + " at " + posBytes + " (length " + length() + ")");
            throw e;
        }
        posBytes += bytes;
        remainingBytes -= bytes;
        advancedInMapBytes += bytes;
    }

    /** Marks the current mapping stale: {@link #next()} will remap at the same position. */
    public void markStale() {
        iomap.setCoreFlag(IomapFlags.STALE);
    }

    /**
     * Current file position in bytes.
     *
     * @return the file byte offset
     */
    public long pos() {
        return posBytes;
    }

    /**
     * Bytes the body may handle now: up to the end of the mapping (and of a non-hole srcmap), at most the bytes
     * remaining in the operation.
     *
     * @return the bytes available in this mapping
     */
    public long length() {
        long end = iomap.endBytes();
        Iomap src = iomap.srcmap();
        if (src != null && src.type() != IomapType.HOLE) {
            end = Math.min(end, src.endBytes());
        }
        return Math.min(end - posBytes, remainingBytes);
    }

    /**
     * Bytes left in the whole operation.
     *
     * @return bytes not yet advanced
     */
    public long remainingBytes() {
        return remainingBytes;
    }

    /**
     * Bytes advanced since the start of the operation.
     *
     * @return bytes advanced
     */
    public long processedBytes() {
        return posBytes - startBytes;
    }

    /**
     * The current mapping (the destination for writes).
     *
     * @return the mapping
     */
    public Iomap iomap() {
        return iomap;
    }

    /**
     * The copy-on-write source, or null.
     *
     * @return the source mapping, or null
     */
    public Iomap srcmap() {
        return iomap.srcmap();
    }

    /**
     * The mapping to read from: the srcmap when there is one that is not a hole, else the mapping itself.
     *
     * @return the mapping to read from
     */
    public Iomap readMap() {
        Iomap src = iomap.srcmap();
        return (src != null && src.type() != IomapType.HOLE) ? src : iomap;
    }

    /** {@return the file being operated on} */
    public IomapInode inode() {
        return inode;
    }

    /** {@return the {@link IomapOpFlags} of the operation} */
    public int opFlags() {
        return opFlags;
    }

    /** {@return the filesystem's mapping operations} */
    public IomapOps ops() {
        return ops;
    }

    /**
     * Runs {@code body} over {@code [posBytes, posBytes + lengthBytes)} and returns the bytes processed. On an
     * exception the open mapping is ended and the exception rethrown.
     *
     * @param inode the file
     * @param posBytes file byte offset of the operation
     * @param lengthBytes operation length in bytes
     * @param opFlags the {@link IomapOpFlags} of the operation
     * @param ops the filesystem's mapping operations
     * @param body called once per mapping
     * @return bytes processed
     * @throws IOException from the body, iomapBegin or iomapEnd
     */
    public static long run(IomapInode inode, long posBytes, long lengthBytes, int opFlags, IomapOps ops, Body body)
            throws IOException {
        IomapIter it = new IomapIter(inode, posBytes, lengthBytes, opFlags, ops);
        try {
            while (it.next()) {
                body.apply(it);
            }
        } catch (IOException | RuntimeException | Error e) {
            it.abort(e);
            throw e;
        }
        return it.processedBytes();
    }

    /** The per-mapping body of an operation: handles at most {@link #length()} bytes and advances. */
    @FunctionalInterface
    public interface Body {
        /**
         * Handles the current mapping: processes up to {@link IomapIter#length()} bytes and advances.
         *
         * @param it the iterator, positioned on a mapping
         * @throws IOException to end the operation with this error
         */
        void apply(IomapIter it) throws IOException;
    }
}
