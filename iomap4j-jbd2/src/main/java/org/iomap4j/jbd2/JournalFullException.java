package org.iomap4j.jbd2;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * The log has not enough free blocks for a transaction: the caller must checkpoint older transactions (write their
 * blocks in place, flush, then {@link JournalWriter#checkpointed}) and retry. Nothing was written. Carries
 * {@link Errno#ENOSPC}.
 */
public final class JournalFullException extends FsException {
    private static final long serialVersionUID = 1L;
    /** Log blocks the transaction needs. */
    private final long neededBlocks;
    /** Log blocks free when it was refused. */
    private final long freeBlocks;

    /**
     * The transaction needs more log blocks than are free (ENOSPC).
     *
     * @param neededBlocks log blocks the transaction needs
     * @param freeBlocks log blocks free now
     */
    public JournalFullException(long neededBlocks, long freeBlocks) {
        super(Errno.ENOSPC, "journal full: transaction needs " + neededBlocks + " log blocks, " + freeBlocks
                + " free; checkpoint first");
        this.neededBlocks = neededBlocks;
        this.freeBlocks = freeBlocks;
    }

    /**
     * Log blocks the transaction needs (revoke, descriptor, copies and commit blocks).
     *
     * @return the blocks needed
     */
    public long neededBlocks() {
        return neededBlocks;
    }

    /**
     * Log blocks free now.
     *
     * @return the blocks free
     */
    public long freeBlocks() {
        return freeBlocks;
    }
}
