package org.iomap4j.pagecache;

import java.io.IOException;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.iomap.IomapInode;

/**
 * The page cache of one inode: folios indexed by file offset. SKELETON: API fixed, implementation in progress.
 */
public final class AddressSpace {
    private final ReentrantReadWriteLock invalidateLock = new ReentrantReadWriteLock();
    private final ErrSeq errors = new ErrSeq();

    AddressSpace() {
    }

    public IomapInode host() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Held shared while inserting folios, exclusive while removing them (truncate, punch, invalidate). */
    public ReentrantReadWriteLock invalidateLock() {
        return invalidateLock;
    }

    /** Writeback errors of this file (reported by fsync once per open handle). */
    public ErrSeq errors() {
        return errors;
    }

    /** Bytes of folio memory this mapping holds. */
    public long cachedBytes() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Bytes in dirty blocks of this mapping. */
    public long dirtyBytes() {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * Removes cached data at and beyond {@code newSizeBytes} (truncate_inode_pages): whole folios beyond are
     * dropped, blocks beyond in the straddling folio lose their uptodate/dirty state. Takes the invalidate lock
     * exclusively. Zeroing the partial block at the new EOF is {@link BufferedIo#truncatePage}'s job.
     */
    public void truncateFrom(long newSizeBytes) {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * Writes back and then drops every folio overlapping {@code [startBytes, endBytes)} (for direct I/O and
     * hole punching). Takes the invalidate lock exclusively.
     */
    public void invalidateRange(long startBytes, long endBytes) throws IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Drops every clean unlocked folio of this mapping. */
    public void dropClean() {
        throw new UnsupportedOperationException("skeleton");
    }
}
