package org.iomap4j.jbd2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.block.BlockDevice;

/**
 * Journal recovery, as the kernel's fs/jbd2/recovery.c (jbd2_journal_recover) and e2fsck's copy of it: PASS_SCAN
 * finds the end of the log ({@link LogScan}), PASS_REVOKE builds the revoke table (filesystem block -> the newest
 * transaction id that revoked it), PASS_REPLAY writes every logged copy of a transaction {@code T} whose block has
 * no revoke record with id {@code >= T}, in log order so the latest copy wins, putting the jbd2 magic back into
 * escaped copies. Then the replayed blocks are flushed and the journal superblock gets {@code s_start = 0} and
 * {@code s_sequence = end + 1} (as e2fsck's e2fsck_journal_release after recovery), and is flushed.
 *
 * <p>The caller clears the filesystem's needs_recovery (ext4 superblock incompat RECOVER 0x4) afterwards. If
 * {@link RecoveryResult#failedCommitTid()} is set, a commit block failed its checksum: the kernel refuses the mount
 * (-EFSCORRUPTED), e2fsck marks the filesystem with errors (s_state |= EXT2_ERROR_FS) and checks it; the caller
 * does one of those. A non-zero journal {@code s_errno} is left for the caller too (ext4_clear_journal_err).
 *
 * <p>Failure handling: every replayed copy's target is checked to lie on the device before anything is written. A
 * logged copy failing its tag checksum is skipped and the others are replayed; then, as the kernel (which fails
 * the mount with -EIO), a {@link CorruptFilesystemException} names the copies and the journal superblock is left
 * unchanged so that e2fsck can still see the log.
 */
public final class JournalRecovery {
    private JournalRecovery() {}

    /** Where replayed blocks go: the device, or an in-memory overlay. */
    interface Target {
        void write(long fsBlock, byte[] data) throws IOException;

        void flush() throws IOException;

        void writeJournalSuperblock(Journal journal) throws IOException;
    }

    /**
     * Replays the journal onto {@code device} (read-write) and marks it clean.
     *
     * @param device         the filesystem's device (the journal is inside it, or {@code map} says where)
     * @param map            the journal's location
     * @param blockSizeBytes the filesystem block size
     * @return what was done; {@link RecoveryResult#needed()} false if the journal was clean
     * @throws CorruptFilesystemException a bad journal superblock, a corrupt log (see {@link LogScan}), a logged
     *                                    copy for a block beyond the device, or copies failing their checksums
     * @throws IOException                device errors (reaching the caller; nothing is marked clean then)
     */
    public static RecoveryResult replay(BlockDevice device, JournalMap map, int blockSizeBytes) throws IOException {
        Journal journal = Journal.open(device, map, blockSizeBytes);
        return recover(journal, new Target() {
            @Override
            public void write(long fsBlock, byte[] data) throws IOException {
                device.write(fsBlock * blockSizeBytes, ByteBuffer.wrap(data));
            }

            @Override
            public void flush() throws IOException {
                device.flush();
            }

            @Override
            public void writeJournalSuperblock(Journal j) throws IOException {
                j.writeSuperblock();
            }
        });
    }

    /**
     * Replays the journal into memory only: returns a read-only device that reads as {@code device} would after
     * {@link #replay} (replayed blocks and the cleaned journal superblock served from memory) and never writes
     * {@code device}. For read-only mounts; memory used is at most the distinct replayed blocks.
     *
     * @throws CorruptFilesystemException as {@link #replay}
     * @param device the device holding the journal (the filesystem device for an internal journal)
     * @param map journal block to device block mapping (the journal inode s_journal_inum, or a contiguous run)
     * @param blockSizeBytes the filesystem block size in bytes
     * @return the overlay device
     */
    public static ReplayOverlayDevice replayInMemory(BlockDevice device, JournalMap map, int blockSizeBytes)
            throws IOException {
        Journal journal = Journal.open(device, map, blockSizeBytes);
        ReplayOverlayDevice overlay = new ReplayOverlayDevice(device, blockSizeBytes);
        RecoveryResult result = recover(journal, new Target() {
            @Override
            public void write(long fsBlock, byte[] data) {
                overlay.putBlock(fsBlock, data);
            }

            @Override
            public void flush() {
            }

            @Override
            public void writeJournalSuperblock(Journal j) throws IOException {
                overlay.putBlock(j.pblk(0), j.superblockBlock());
            }
        });
        overlay.setResult(result);
        return overlay;
    }

    /**
     * Whether the journal needs recovery ({@code s_start != 0}), without replaying.
     *
     * @throws CorruptFilesystemException a bad journal superblock
     * @param device the device holding the journal (the filesystem device for an internal journal)
     * @param map journal block to device block mapping (the journal inode s_journal_inum, or a contiguous run)
     * @param blockSizeBytes the filesystem block size in bytes
     * @return true if {@code s_start != 0}
     */
    public static boolean needsRecovery(BlockDevice device, JournalMap map, int blockSizeBytes) throws IOException {
        return Journal.open(device, map, blockSizeBytes).superblock().start() != 0;
    }

    static RecoveryResult recover(Journal journal, Target target) throws IOException {
        JournalSuperblock sb = journal.superblock();
        if (sb.start() == 0) {
            return RecoveryResult.clean(sb.sequence());
        }
        LogScan.Result scan = LogScan.scan(journal);

        // PASS_REVOKE: newest revoking transaction per block.
        Map<Long, Integer> revoked = new HashMap<>();
        long revokeRecords = 0;
        for (LogScan.Transaction t : scan.transactions()) {
            for (long jblk : t.revokeJblks()) {
                long[] blocks = RevokeBlock.decode(journal.readBlock(jblk), sb, "journal block " + jblk
                        + " (revoke, transaction " + Integer.toUnsignedString(t.tid()) + ")");
                for (long blk : blocks) {
                    revoked.merge(blk, t.tid(), (a, b) -> JournalFormat.tidGt(b, a) ? b : a);
                }
                revokeRecords += blocks.length;
            }
        }

        // Check every target before writing anything.
        long deviceBlocks = journal.device().sizeBytes() / journal.blockSizeBytes();
        for (LogScan.Transaction t : scan.transactions()) {
            for (LogScan.Descriptor d : t.descriptors()) {
                for (int i = 0; i < d.tags().size(); i++) {
                    long blk = d.tags().get(i).fsBlock();
                    if (blk < 0 || blk >= deviceBlocks) {
                        throw new CorruptFilesystemException("journal block " + d.jblk() + " (descriptor, "
                                + "transaction " + Integer.toUnsignedString(t.tid()) + ") tag " + i + " names block "
                                + Long.toUnsignedString(blk) + " beyond the device's " + deviceBlocks + " blocks");
                    }
                }
            }
        }

        // PASS_REPLAY.
        JournalChecksum csum = new JournalChecksum(sb.uuid());
        long replays = 0;
        long revokeHits = 0;
        List<String> badCopies = new ArrayList<>();
        for (LogScan.Transaction t : scan.transactions()) {
            for (LogScan.Descriptor d : t.descriptors()) {
                long copyJblk = d.firstCopyJblk();
                for (DescriptorBlock.Tag tag : d.tags()) {
                    long here = copyJblk;
                    copyJblk = sb.next(copyJblk);
                    Integer rev = revoked.get(tag.fsBlock());
                    if (rev != null && !JournalFormat.tidGt(t.tid(), rev)) {
                        revokeHits++;
                        continue;
                    }
                    byte[] copy = journal.readBlock(here);
                    if (!DescriptorBlock.tagVerifies(tag, t.tid(), copy, sb, csum)) {
                        badCopies.add("block " + tag.fsBlock() + " logged at journal block " + here + " (transaction "
                                + Integer.toUnsignedString(t.tid()) + ")");
                        continue;
                    }
                    if (tag.escaped()) {
                        ByteBuffer.wrap(copy).putInt(0, JournalFormat.MAGIC);
                    }
                    target.write(tag.fsBlock(), copy);
                    replays++;
                }
            }
        }
        target.flush();
        if (!badCopies.isEmpty()) {
            throw new CorruptFilesystemException("journal replay: " + badCopies.size() + " logged cop"
                    + (badCopies.size() == 1 ? "y fails its" : "ies fail their") + " checksum and "
                    + (badCopies.size() == 1 ? "was" : "were") + " not replayed; journal left for e2fsck: "
                    + String.join("; ", badCopies.subList(0, Math.min(8, badCopies.size())))
                    + (badCopies.size() > 8 ? "; ..." : ""));
        }
        sb.sequence = scan.endTid() + 1;
        sb.start = 0;
        target.writeJournalSuperblock(journal);
        target.flush();
        return new RecoveryResult(true, Integer.toUnsignedLong(scan.startTid()),
                Integer.toUnsignedLong(scan.endTid()), Integer.toUnsignedLong(scan.endTid() - scan.startTid()),
                replays, revokeRecords, revokeHits,
                scan.failedCommit() == null ? -1 : Integer.toUnsignedLong(scan.failedCommit()),
                Integer.toUnsignedLong(sb.sequence));
    }
}
