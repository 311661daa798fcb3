package org.iomap4j.jbd2;

import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import org.iomap4j.buf.BufferJournal;

/**
 * The jbd2 on-disk log under the core's generic {@link BufferJournal}: each transaction the buffer journal commits
 * is written by a {@link JournalWriter} (descriptor, escaped copies, revoke and commit blocks with the journal's
 * checksums); checkpoints move the log tail; {@link #markClean} empties the log at unmount.
 *
 * <p>Transaction ids: the buffer journal's are longs counting up from {@link #firstTid()}; jbd2's are their low 32
 * bits (wrapping as jbd2's unsigned tids do). The largest transaction is a quarter of the log (the kernel's
 * j_max_transaction_buffers), less its descriptor blocks. Not thread-safe: the buffer journal calls it from one
 * committer at a time.
 */
public final class Jbd2Log implements BufferJournal.Log {
    private final JournalWriter writer;
    private final long firstTid;
    private final int maxTxBuffers;

    /**
     * The log of {@code writer}'s journal for a {@link org.iomap4j.buf.BufferJournal}; a transaction may hold about a
     *     quarter of the log.
     *
     * @param writer the open journal writer
     */
    public Jbd2Log(JournalWriter writer) {
        this.writer = writer;
        this.firstTid = Integer.toUnsignedLong(writer.nextTid());
        long quarter = writer.superblock().logBlocks() / 4;
        int cap = DescriptorBlock.capacity(writer.superblock());
        this.maxTxBuffers = (int) Math.max(1, Math.min(Integer.MAX_VALUE, quarter * cap / (cap + 1) - 2));
    }

    /** {@return the journal writer this log commits through} */
    public JournalWriter writer() {
        return writer;
    }

    @Override
    public long firstTid() {
        return firstTid;
    }

    @Override
    public int maxTransactionBuffers() {
        return maxTxBuffers;
    }

    @Override
    public long freeBlocks() {
        return writer.freeBlocks();
    }

    @Override
    public long blocksNeeded(int buffers, int revokes) {
        JournalSuperblock sb = writer.superblock();
        long revokeBlocks = (revokes + RevokeBlock.capacity(sb) - 1) / RevokeBlock.capacity(sb);
        long descBlocks = (buffers + DescriptorBlock.capacity(sb) - 1) / DescriptorBlock.capacity(sb);
        return revokeBlocks + descBlocks + buffers + 1;
    }

    @Override
    public void commit(long tid, SortedMap<Long, byte[]> images, Set<Long> revokes) throws IOException {
        if ((int) tid != writer.nextTid()) {
            throw new IllegalStateException("buffer journal commits transaction " + tid + " where the log expects "
                    + Integer.toUnsignedString(writer.nextTid()));
        }
        JournalTransaction tx = new JournalTransaction(writer.superblock().blockSizeBytes());
        for (Long blk : revokes) {
            tx.revoke(blk);
        }
        for (Map.Entry<Long, byte[]> e : images.entrySet()) {
            tx.logBlock(e.getKey(), e.getValue());
        }
        writer.commit(tx);
    }

    @Override
    public void checkpointed(long throughTid) throws IOException {
        writer.checkpointed((int) throughTid);
    }

    @Override
    public void markClean() throws IOException {
        writer.markClean();
    }
}
