package org.iomap4j.buf;

import java.io.IOException;

/**
 * A filesystem's part of a commit, for filesystems that keep metadata in memory (inodes, group descriptors,
 * superblock counters) and copy it into buffers only when it is written (the kernel's ext4 does it at every
 * {@code ext4_mark_inode_dirty}; iomap4j's ext does it here, once per commit).
 */
public interface JournalCommitHooks {
    /**
     * Called by the committer while the running transaction {@code tid} is locked and no handle is open (the
     * whole filesystem is between operations): write the in-memory metadata changed since the last commit
     * into its buffers now ({@link Buffer#markDirty()} joins {@code tid} through the committer's own handle,
     * which has no credit limit). Must not wait for anything a handle holder may hold; handles started here
     * nest into the committer's.
     *
     * @param tid the transaction being committed
     * @param transactionEmpty true if no buffer joined the transaction yet (the filesystem may then skip
     *                         buffers that only change with others, e.g. the superblock's free counts)
     * @throws IOException if a metadata buffer cannot be read; the commit is abandoned and retried later
     */
    void beforeFreeze(long tid, boolean transactionEmpty) throws IOException;

    /**
     * True if the filesystem holds in-memory metadata changes that {@link #beforeFreeze} would write (a commit
     * of a transaction without buffers is otherwise skipped). Called without journal locks held.
     *
     * @return true if a commit is needed even though no buffer was dirtied
     */
    boolean hasPendingMetadata();

    /**
     * Called by the committer right after transaction {@code tid} was frozen and a new running transaction opened
     * (handles may start again), before its ordered data and log blocks are written, with no journal lock held:
     * the place for work that {@link #beforeFreeze} had to put off because it may wait for handle holders, e.g.
     * releasing inodes it pinned (which may evict or free them). Errors here cannot abandon the commit: the
     * filesystem reports them itself.
     *
     * @param tid the transaction being committed
     */
    default void afterFreeze(long tid) {
    }

    /**
     * Transaction {@code tid} is durable (its commit block is flushed): blocks freed in it may be reused.
     *
     * @param tid the newest committed transaction id
     */
    void committed(long tid);
}
