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
    private final long neededBlocks;
    private final long freeBlocks;

    public JournalFullException(long neededBlocks, long freeBlocks) {
        super(Errno.ENOSPC, "journal full: transaction needs " + neededBlocks + " log blocks, " + freeBlocks
                + " free; checkpoint first");
        this.neededBlocks = neededBlocks;
        this.freeBlocks = freeBlocks;
    }

    /** Log blocks the transaction needs (revoke, descriptor, copies and commit blocks). */
    public long neededBlocks() {
        return neededBlocks;
    }

    /** Log blocks free now. */
    public long freeBlocks() {
        return freeBlocks;
    }
}
