package org.iomap4j.buf;

/**
 * A handle: one atomic filesystem operation's part of the running transaction (the kernel's jbd2 {@code handle_t},
 * from {@code jbd2_journal_start} to {@code jbd2_journal_stop}). Obtained from {@link BufferJournal#start}; bound
 * to the thread that started it, which dirties metadata buffers with {@link Buffer#markDirty()} while it is open
 * (each buffer joining the transaction through this handle uses one credit). {@link #close()} stops it.
 *
 * <p>Nesting: a thread already holding a handle of the same journal gets the same handle back (a reference is
 * counted, as jbd2's h_ref) with the nested start's credits added (jbd2_journal_extend, which never waits). Not thread-safe: used by its thread only.
 */
public final class JournalHandle implements AutoCloseable {
    final BufferJournal journal;
    final BufferJournal.Transaction transaction;
    final Thread owner;
    int credits;
    int usedCredits;
    int refs = 1;

    JournalHandle(BufferJournal journal, BufferJournal.Transaction transaction, int credits) {
        this.journal = journal;
        this.transaction = transaction;
        this.owner = Thread.currentThread();
        this.credits = credits;
    }

    /**
     * The transaction id this handle's changes commit in (the id {@link BufferJournal#commitAndWait} takes).
     *
     * @return the transaction id
     */
    public long tid() {
        return transaction.tid;
    }

    /**
     * Credits the handle was started with: at most this many distinct buffers may join the transaction.
     *
     * @return the credits reserved
     */
    public int credits() {
        return credits;
    }

    /**
     * Credits used so far.
     *
     * @return the number of distinct buffers dirtied through this handle
     */
    public int usedCredits() {
        return usedCredits;
    }

    /**
     * data=ordered: the data of {@code inode} (a filesystem's own key, passed back to its
     * {@link BufferJournal.OrderedData}) is written back before this transaction's commit block. Call when the
     * operation made metadata point at newly written data blocks (a block map change).
     *
     * @param inode the filesystem's key for the inode whose data must reach the disk first
     */
    public void orderData(Object inode) {
        journal.orderData(this, inode);
    }

    /**
     * The block {@code pblk} was freed: forget its buffer and pending checkpoint writes, and write a revoke record
     * in this transaction if an older copy of it is in the log (so that replay never writes it over the block's
     * next owner). {@link BufferCache#forget} does this for the calling thread's handle.
     *
     * @param pblk the freed block number, in cache blocks
     */
    public void revoke(long pblk) {
        journal.cache.forget(pblk);
    }

    /** Stops the handle (drops one nesting reference); unused credits go back to the transaction. */
    @Override
    public void close() {
        journal.stop(this);
    }

    @Override
    public String toString() {
        return "JournalHandle[tid " + transaction.tid + ", " + usedCredits + "/" + credits + " credits, "
                + owner.getName() + "]";
    }
}
