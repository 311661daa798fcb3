package org.iomap4j.jbd2;

import static org.iomap4j.jbd2.JournalFormat.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;

/**
 * PASS_SCAN of recovery: walks the log from {@code s_start}/{@code s_sequence} and finds its end, as the kernel's
 * fs/jbd2/recovery.c do_one_pass (and e2fsck/recovery.c, the same code) does:
 * <ul>
 *   <li>the log ends at a block without the jbd2 magic, with another sequence than the expected transaction id, or
 *       of an unknown type;</li>
 *   <li>each commit block with the expected id closes one transaction and the next id is expected;</li>
 *   <li>a v2/v3 commit block whose checksum matches only over its fields with the rest of the block zero (a commit
 *       block torn after its first sector) counts as valid, as Linux 6.x's jbd2_commit_block_csum_verify_partial
 *       (e2fsprogs 1.47.0's copy of recovery.c predates it and aborts there);</li>
 *   <li>a commit block whose checksum fails (v2/v3 crc32c, or v1 crc32_be over the transaction) ends the log at its
 *       transaction, which is not replayed; without async_commit this is a failed commit ({@code j_failed_commit}),
 *       with async_commit the scan goes on only to report that, as the kernel does;</li>
 *   <li>a descriptor or revoke block whose tail checksum fails marks its transaction suspect: at its commit block, a
 *       commit time older than the previous commit's means stale blocks of an earlier journal (the log ends there),
 *       a newer one is corruption and recovery fails ({@code -EFSBADCRC}).</li>
 * </ul>
 * Deviation, conservative: with async_commit and several failed commits, the first failure ends the log (the kernel
 * keeps the last). A transaction whose blocks span more than the whole log is corruption (the kernel would loop).
 */
final class LogScan {

    /** One descriptor block of a committed transaction and where its logged copies lie. */
    record Descriptor(long jblk, List<DescriptorBlock.Tag> tags, long firstCopyJblk) {}

    /** One transaction found complete in the log. */
    record Transaction(int tid, long startJblk, List<Descriptor> descriptors, List<Long> revokeJblks) {}

    /**
     * What the scan found.
     *
     * @param startTid     s_sequence
     * @param endTid       first transaction id not to replay (the kernel's info->end_transaction)
     * @param transactions complete transactions {@code [startTid, endTid)}, in log order
     * @param failedCommit the id of a transaction whose commit failed its checksum (the kernel's j_failed_commit),
     *                     or null
     * @param endJblk      the journal block where the scan stopped
     */
    record Result(int startTid, int endTid, List<Transaction> transactions, Integer failedCommit, long endJblk) {}

    private LogScan() {}

    static Result scan(Journal journal) throws IOException {
        JournalSuperblock sb = journal.superblock();
        JournalChecksum csum = new JournalChecksum(sb.uuid());
        int tid = sb.sequence();
        long jblk = sb.start();
        Integer endTid = null;
        Integer failedCommit = null;
        boolean needCheckCommitTime = false;
        long lastCommitTime = 0;
        int crc32Sum = ~0;
        List<Transaction> done = new ArrayList<>();
        List<Descriptor> descriptors = new ArrayList<>();
        List<Long> revokes = new ArrayList<>();
        long txStart = jblk;
        long blocksInTx = 0;

        scan:
        while (true) {
            if (blocksInTx > sb.logBlocks()) {
                throw new CorruptFilesystemException("journal transaction " + Integer.toUnsignedString(tid)
                        + " starting at journal block " + txStart + " spans more than the log's " + sb.logBlocks()
                        + " blocks without a commit block");
            }
            long here = jblk;
            byte[] block = journal.readBlock(here);
            jblk = sb.next(jblk);
            blocksInTx++;
            ByteBuffer b = ByteBuffer.wrap(block);
            if (b.getInt(0) != MAGIC || b.getInt(8) != tid) {
                break;
            }
            int type = b.getInt(4);
            switch (type) {
                case BLOCKTYPE_DESCRIPTOR -> {
                    if (!DescriptorBlock.tailVerifies(block, sb, csum)) {
                        needCheckCommitTime = true;
                    }
                    List<DescriptorBlock.Tag> tags = DescriptorBlock.decode(block, sb);
                    if (sb.hasCsumV1() && !needCheckCommitTime && endTid == null) {
                        crc32Sum = JournalChecksum.crc32Be(crc32Sum, block);
                        long c = jblk;
                        for (int i = 0; i < tags.size(); i++) {
                            crc32Sum = JournalChecksum.crc32Be(crc32Sum, journal.readBlock(c));
                            c = sb.next(c);
                        }
                    }
                    descriptors.add(new Descriptor(here, tags, jblk));
                    jblk = sb.advance(jblk, tags.size());
                    blocksInTx += tags.size();
                }
                case BLOCKTYPE_REVOKE -> {
                    if (!DescriptorBlock.tailVerifies(block, sb, csum)) {
                        needCheckCommitTime = true;
                    }
                    revokes.add(here);
                }
                case BLOCKTYPE_COMMIT -> {
                    CommitBlock cb = CommitBlock.decode(block);
                    long commitTime = cb.commitSec();
                    if (needCheckCommitTime) {
                        if (Long.compareUnsigned(commitTime, lastCommitTime) >= 0) {
                            throw new CorruptFilesystemException("journal transaction "
                                    + Integer.toUnsignedString(tid) + ": a descriptor or revoke block fails its "
                                    + "checksum though its commit block (journal block " + here + ") is in place");
                        }
                        break scan; // stale blocks of an older journal: the log ends here
                    }
                    boolean bad = false;
                    if (sb.hasCsumV1()) {
                        if (endTid != null) {
                            failedCommit = endTid;
                            break scan;
                        }
                        boolean match = cb.chksum0() == crc32Sum && cb.chksumType() == COMMIT_CHKSUM_CRC32
                                && cb.chksumSize() == COMMIT_CHKSUM_CRC32_SIZE;
                        boolean unused = cb.chksumType() == 0 && cb.chksumSize() == 0 && cb.chksum0() == 0;
                        bad = !(match || unused);
                        crc32Sum = ~0;
                    }
                    if (bad || (!CommitBlock.verifies(block, sb, csum)
                            && !CommitBlock.verifiesPartial(block, sb, csum))) {
                        if (Long.compareUnsigned(commitTime, lastCommitTime) < 0) {
                            break scan; // stale: ignore the mismatch, the log ends here
                        }
                        if (endTid == null) {
                            endTid = tid;
                        }
                        if (!sb.hasAsyncCommit()) {
                            failedCommit = tid;
                            break scan;
                        }
                    }
                    lastCommitTime = commitTime;
                    done.add(new Transaction(tid, txStart, List.copyOf(descriptors), List.copyOf(revokes)));
                    descriptors.clear();
                    revokes.clear();
                    tid++;
                    txStart = jblk;
                    blocksInTx = 0;
                }
                default -> {
                    break scan;
                }
            }
        }
        int end = endTid != null ? endTid : tid;
        List<Transaction> replayable = done.stream().filter(t -> t.tid() - end < 0).toList();
        return new Result(sb.sequence(), end, replayable, failedCommit, jblk);
    }
}
