package org.iomap4j.jbd2;

import static org.iomap4j.jbd2.JournalFormat.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;

/**
 * The log half of jbd2 transaction commits (fs/jbd2/commit.c, journal.c), without filesystem logic: writes a
 * transaction's revoke blocks, descriptor blocks with tags followed by the logged copies (a copy beginning with the
 * jbd2 magic is logged with its first 4 bytes zeroed and the ESCAPE flag), and a commit block, with the checksums
 * the journal's features ask for; keeps the circular log's free-space accounting; moves the log tail when the caller
 * reports a checkpoint.
 *
 * <p>Durability order of {@link #commit}: (first commit into an empty journal: the superblock with {@code s_start}
 * and {@code s_sequence}, flushed), then revoke, descriptor and copy blocks, a flush (skipped with async_commit,
 * whose checksums make an early commit block detectable), the commit block, a flush. When {@code commit} returns the
 * transaction is durable and recovery will replay it.
 *
 * <p>Caller obligations (the ext driver): replay the journal first ({@link JournalRecovery}) - a journal needing
 * recovery is refused here; set the filesystem's needs_recovery before the first commit and clear it only after
 * {@link #markClean()}; in data=ordered, write and flush the data blocks a transaction's metadata points to before
 * calling {@code commit}; checkpoint (write the committed blocks in place and flush) before {@link #checkpointed}.
 *
 * <p>Not thread-safe: the caller serialises commits and checkpoints (one commit at a time, as jbd2's kjournald2).
 */
public final class JournalWriter {
    /**
     * A committed transaction still in the log (not yet checkpointed).
     *
     * @param tid the transaction id (h_sequence)
     * @param startJblk journal block of its first (revoke or descriptor) block
     * @param lengthBlocks log blocks it occupies, commit block included
     */
    public record LoggedTransaction(int tid, long startJblk, long lengthBlocks) {}

    /**
     * Features to turn on in the journal superblock on open (the kernel's jbd2_journal_set_features at mount).
     *
     * @param compat   JournalFormat.COMPAT_CHECKSUM (checksum v1, ext4's journal_checksum without
     *                 metadata_csum) or 0
     * @param incompat JournalFormat.INCOMPAT_* bits: 64BIT (for filesystems over 2^32 blocks, ext4 sets it with the
     *                 fs 64bit feature), CSUM_V2/V3 (ext4 with metadata_csum sets V3), ASYNC_COMMIT
     */
    public record Features(int compat, int incompat) {
        public static final Features NONE = new Features(0, 0);

        /** What ext4 sets for a metadata_csum + 64bit filesystem: checksum v3 and 64-bit tags. */
        public static final Features CSUM_V3_64BIT = new Features(0, INCOMPAT_CSUM_V3 | INCOMPAT_64BIT);
    }

    private final Journal journal;
    private final JournalSuperblock sb;
    private final JournalChecksum csum;
    private final InstantSource clock;
    private final Deque<LoggedTransaction> live = new ArrayDeque<>();
    private long headJblk;
    private int nextTid;

    private JournalWriter(Journal journal, InstantSource clock) {
        this.journal = journal;
        this.sb = journal.superblock();
        this.csum = new JournalChecksum(sb.uuid());
        this.clock = clock;
        this.headJblk = sb.firstBlock();
        this.nextTid = sb.sequence() + 1;
    }

    /**
     * Opens a clean journal for writing and turns on {@code features} (written to the superblock now).
     *
     * @param clock the commit blocks' time source (h_commit_sec/nsec)
     * @throws FsException {@link Errno#EUCLEAN} if the journal needs recovery ({@code s_start != 0});
     *                     {@link Errno#EOPNOTSUPP} for a v1 superblock (no feature words) or unknown ro_compat
     *                     features; a {@link org.iomap4j.CorruptFilesystemException} for a bad superblock
     * @param device the device holding the journal (the filesystem device for an internal journal)
     * @param map journal block to device block mapping (the journal inode s_journal_inum, or a contiguous run)
     * @param blockSizeBytes the filesystem block size in bytes; s_blocksize must equal it
     * @param features JBD2_FEATURE_* words to turn on
     * @return the writer, positioned after the last checkpointed transaction
     */
    public static JournalWriter open(BlockDevice device, JournalMap map, int blockSizeBytes, Features features,
                                     InstantSource clock) throws IOException {
        Journal journal = Journal.open(device, map, blockSizeBytes);
        JournalSuperblock sb = journal.superblock();
        if (sb.start() != 0) {
            throw new FsException(Errno.EUCLEAN, "journal needs recovery (s_start " + sb.start() + "): replay it "
                    + "before writing");
        }
        if (sb.blocktype() != BLOCKTYPE_SUPERBLOCK_V2) {
            throw new FsException(Errno.EOPNOTSUPP, "journal superblock v1 has no features; iomap4j writes v2 only");
        }
        if (sb.featureRoCompat() != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "unknown journal ro_compat features 0x"
                    + Integer.toHexString(sb.featureRoCompat()));
        }
        int want = features.incompat();
        boolean v2or3 = (want & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3)) != 0;
        if ((want & ~(INCOMPAT_64BIT | INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3 | INCOMPAT_ASYNC_COMMIT)) != 0
                || (want & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3)) == (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3)
                || (features.compat() & ~COMPAT_CHECKSUM) != 0 || (features.compat() != 0 && v2or3)) {
            throw new IllegalArgumentException("bad journal features: compat 0x" + Integer.toHexString(
                    features.compat()) + ", incompat 0x" + Integer.toHexString(want));
        }
        if (v2or3 || features.compat() != 0) {
            // One checksum version at a time, as jbd2_journal_set_features.
            sb.featureIncompat &= ~(INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3);
            sb.featureCompat &= ~COMPAT_CHECKSUM;
        }
        if (v2or3) {
            sb.checksumType = CHECKSUM_TYPE_CRC32C;
        }
        sb.featureCompat |= features.compat();
        sb.featureIncompat |= want;
        journal.writeSuperblock();
        device.flush();
        return new JournalWriter(journal, clock);
    }

    /**
     * Opens with the system clock.
     *
     * @param device the device holding the journal (the filesystem device for an internal journal)
     * @param map journal block to device block mapping (the journal inode s_journal_inum, or a contiguous run)
     * @param blockSizeBytes the filesystem block size in bytes; s_blocksize must equal it
     * @param features JBD2_FEATURE_* words to turn on
     * @return the writer
     * @throws IOException EUCLEAN if the journal needs recovery, EOPNOTSUPP for an unsupported superblock, device
     *     errors
     */
    public static JournalWriter open(BlockDevice device, JournalMap map, int blockSizeBytes, Features features)
            throws IOException {
        return open(device, map, blockSizeBytes, features, InstantSource.system());
    }

    /** {@return the journal superblock as this writer keeps it (s_start, s_sequence updated as it writes)} */
    public JournalSuperblock superblock() {
        return sb;
    }

    /**
     * Id the next committed transaction gets.
     *
     * @return the next transaction id (tids wrap at 2^32, see {@link JournalFormat#tidGeq})
     */
    public int nextTid() {
        return nextTid;
    }

    /**
     * Journal block where the next transaction starts.
     *
     * @return the head journal block
     */
    public long headJblk() {
        return headJblk;
    }

    /**
     * Committed transactions not yet checkpointed, oldest first.
     *
     * @return the live transactions
     */
    public List<LoggedTransaction> liveTransactions() {
        return List.copyOf(live);
    }

    /**
     * Log blocks in use by live transactions.
     *
     * @return used log blocks
     */
    public long usedBlocks() {
        if (live.isEmpty()) {
            return 0;
        }
        long tail = live.peekFirst().startJblk();
        long used = headJblk - tail;
        return used < 0 ? used + sb.logBlocks() : used;
    }

    /**
     * Log blocks a new transaction may use now: the log minus live transactions minus one block of slack.
     *
     * @return free log blocks
     */
    public long freeBlocks() {
        return sb.logBlocks() - usedBlocks() - 1;
    }

    /**
     * Log blocks {@code tx} takes: revoke blocks, descriptor blocks, one per logged copy, and the commit block.
     *
     * @param tx the transaction
     * @return the log blocks it needs
     */
    public long blocksNeeded(JournalTransaction tx) {
        int nrev = tx.revokes().size();
        int ncopies = tx.blocks().size();
        long revokeBlocks = (nrev + RevokeBlock.capacity(sb) - 1) / RevokeBlock.capacity(sb);
        long descBlocks = (ncopies + DescriptorBlock.capacity(sb) - 1) / DescriptorBlock.capacity(sb);
        return revokeBlocks + descBlocks + ncopies + 1;
    }

    /**
     * Writes {@code tx} to the log and makes it durable.
     *
     * @return the transaction as it lies in the log
     * @throws JournalFullException not enough free log blocks now (nothing written): checkpoint and retry
     * @throws FsException          {@link Errno#ENOSPC} if the transaction is larger than the whole log can ever hold
     * @throws IOException          device errors (the transaction is then not committed)
     * @param tx the transaction to write; its blocks are escaped as needed (JBD2_FLAG_ESCAPE)
     */
    public LoggedTransaction commit(JournalTransaction tx) throws IOException {
        if (tx.blockSizeBytes() != sb.blockSizeBytes()) {
            throw new IllegalArgumentException("transaction of " + tx.blockSizeBytes() + "-byte blocks for a journal of "
                    + sb.blockSizeBytes());
        }
        long needed = blocksNeeded(tx);
        if (needed > sb.logBlocks() - 1) {
            throw new FsException(Errno.ENOSPC, "transaction of " + needed + " log blocks can never fit the "
                    + sb.logBlocks() + "-block journal");
        }
        if (needed > freeBlocks()) {
            throw new JournalFullException(needed, freeBlocks());
        }
        int tid = nextTid;
        long start = headJblk;
        if (sb.start() == 0) {
            sb.sequence = tid;
            sb.start = start;
            journal.writeSuperblock();
            journal.device().flush();
        }
        long jblk = start;
        if (!tx.revokes().isEmpty() && !sb.hasRevoke()) {
            sb.featureIncompat |= INCOMPAT_REVOKE;
            journal.writeSuperblock();
        }
        jblk = writeRevokes(tx, tid, jblk);
        int[] crc32Sum = {~0};
        jblk = writeDescriptorsAndCopies(tx, tid, jblk, crc32Sum);
        if (!sb.hasAsyncCommit()) {
            journal.device().flush();
        }
        Instant now = clock.instant();
        journal.writeBlock(jblk, CommitBlock.encode(sb, csum, tid, now.getEpochSecond(), now.getNano(),
                crc32Sum[0]));
        jblk = sb.next(jblk);
        journal.device().flush();
        LoggedTransaction logged = new LoggedTransaction(tid, start, needed);
        live.addLast(logged);
        headJblk = jblk;
        nextTid = tid + 1;
        return logged;
    }

    private long writeRevokes(JournalTransaction tx, int tid, long jblk) throws IOException {
        long[] revoked = tx.revokes().stream().mapToLong(Long::longValue).toArray();
        int cap = RevokeBlock.capacity(sb);
        for (int from = 0; from < revoked.length; from += cap) {
            journal.writeBlock(jblk, RevokeBlock.encode(sb, csum, tid, revoked, from,
                    Math.min(cap, revoked.length - from)));
            jblk = sb.next(jblk);
        }
        return jblk;
    }

    private long writeDescriptorsAndCopies(JournalTransaction tx, int tid, long jblk, int[] crc32Sum)
            throws IOException {
        List<Map.Entry<Long, byte[]>> entries = new ArrayList<>(tx.blocks().entrySet());
        int cap = DescriptorBlock.capacity(sb);
        for (int from = 0; from < entries.size(); from += cap) {
            int n = Math.min(cap, entries.size() - from);
            List<DescriptorBlock.Tag> tags = new ArrayList<>(n);
            List<byte[]> copies = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                Map.Entry<Long, byte[]> e = entries.get(from + i);
                byte[] copy = e.getValue().clone();
                int flags = 0;
                if (ByteBuffer.wrap(copy).getInt(0) == MAGIC) {
                    ByteBuffer.wrap(copy).putInt(0, 0);
                    flags |= FLAG_ESCAPE;
                }
                tags.add(new DescriptorBlock.Tag(e.getKey(), flags,
                        DescriptorBlock.tagChecksum(tid, copy, sb, csum)));
                copies.add(copy);
            }
            byte[] descriptor = DescriptorBlock.encode(sb, csum, tid, tags);
            journal.writeBlock(jblk, descriptor);
            jblk = sb.next(jblk);
            if (sb.hasCsumV1()) {
                crc32Sum[0] = JournalChecksum.crc32Be(crc32Sum[0], descriptor);
            }
            for (byte[] copy : copies) {
                journal.writeBlock(jblk, copy);
                jblk = sb.next(jblk);
                if (sb.hasCsumV1()) {
                    crc32Sum[0] = JournalChecksum.crc32Be(crc32Sum[0], copy);
                }
            }
        }
        return jblk;
    }

    /**
     * The caller has written every block of the transactions up to and including {@code throughTid} in place and
     * flushed the device: frees their log space and moves the tail ({@code s_start}, {@code s_sequence} = the
     * oldest live transaction, or the head and next id when none is left), writing and flushing the superblock.
     *
     * @throws IllegalArgumentException {@code throughTid} was not committed by this writer
     * @param throughTid the newest transaction written in place
     * @throws IOException if the superblock write or flush fails
     */
    public void checkpointed(int throughTid) throws IOException {
        if (!tidGt(nextTid, throughTid)) {
            throw new IllegalArgumentException("transaction " + Integer.toUnsignedString(throughTid)
                    + " is not committed yet (next " + Integer.toUnsignedString(nextTid) + ")");
        }
        while (!live.isEmpty() && !tidGt(live.peekFirst().tid(), throughTid)) {
            live.removeFirst();
        }
        if (sb.start() == 0) {
            return; // nothing was ever logged since the journal was clean
        }
        if (live.isEmpty()) {
            sb.start = headJblk;
            sb.sequence = nextTid;
        } else {
            sb.start = live.peekFirst().startJblk();
            sb.sequence = live.peekFirst().tid();
        }
        journal.writeSuperblock();
        journal.device().flush();
    }

    /**
     * Marks the journal empty ({@code s_start = 0}, {@code s_sequence} = the next id), as jbd2_mark_journal_empty at
     * unmount; afterwards the caller may clear needs_recovery. Every transaction must be checkpointed.
     *
     * @throws IllegalStateException live transactions remain
     * @throws IOException if the superblock write or flush fails
     */
    public void markClean() throws IOException {
        if (!live.isEmpty()) {
            throw new IllegalStateException(live.size() + " transactions not checkpointed (oldest "
                    + Integer.toUnsignedString(live.peekFirst().tid()) + ")");
        }
        sb.start = 0;
        sb.sequence = nextTid;
        journal.writeSuperblock();
        journal.device().flush();
        headJblk = sb.firstBlock();
        nextTid = sb.sequence() + 1;
    }
}
