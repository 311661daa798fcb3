package org.iomap4j.jbd2;

/**
 * What a recovery did. Transaction ids are unsigned 32-bit journal tids; block counts are filesystem blocks.
 *
 * @param needed                 false if the journal was clean ({@code s_start == 0}): nothing was read or written
 * @param startTid               s_sequence before recovery: the first transaction looked for
 * @param endTid                 the first transaction id not replayed (the kernel's end_transaction)
 * @param transactionsReplayed   complete transactions replayed, {@code endTid - startTid}
 * @param blocksReplayed         logged copies written (a block logged in several transactions counts each time)
 * @param revokeRecords          revoke records read from the replayed transactions
 * @param revokeHits             logged copies skipped because a revoke record covered them
 * @param failedCommitTid        a transaction whose commit block failed its checksum, or -1 (it and later ones
 *                               were not replayed; the kernel then refuses the mount, e2fsck marks the filesystem
 *                               with errors and checks it)
 * @param newSequence            s_sequence written afterwards ({@code endTid + 1}, as e2fsck and the kernel)
 */
public record RecoveryResult(boolean needed, long startTid, long endTid, long transactionsReplayed,
                             long blocksReplayed, long revokeRecords, long revokeHits, long failedCommitTid,
                             long newSequence) {

    /** The result for a clean journal. */
    static RecoveryResult clean(int sequence) {
        return new RecoveryResult(false, Integer.toUnsignedLong(sequence), Integer.toUnsignedLong(sequence), 0, 0, 0,
                0, -1, Integer.toUnsignedLong(sequence));
    }

    @Override
    public String toString() {
        if (!needed) {
            return "journal clean (sequence " + startTid + "), nothing to replay";
        }
        return "replayed transactions " + startTid + ".." + (endTid - 1) + " (" + transactionsReplayed + "): "
                + blocksReplayed + " blocks, " + revokeHits + "/" + revokeRecords + " revoke hits/records"
                + (failedCommitTid >= 0 ? ", transaction " + failedCommitTid + " failed its commit checksum" : "")
                + "; next sequence " + newSequence;
    }
}
