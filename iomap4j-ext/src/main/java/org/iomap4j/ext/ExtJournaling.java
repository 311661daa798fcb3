package org.iomap4j.ext;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.iomap4j.buf.BufferJournal;
import org.iomap4j.buf.JournalCommitHooks;
import org.iomap4j.buf.JournalHandle;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.fs.Pins;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.jbd2.Jbd2Log;
import org.iomap4j.jbd2.JournalFormat;
import org.iomap4j.jbd2.JournalMap;
import org.iomap4j.jbd2.JournalWriter;
import org.iomap4j.pagecache.AddressSpace;

/**
 * Journaled writes of a read-write mount of an ext3/ext4 image with an internal journal (has_journal): the ext side
 * of fs/ext4/ext4_jbd2.c and super.c's journal setup, over the core's {@link BufferJournal} and the jbd2 log
 * ({@link Jbd2Log}).
 *
 * <ul>
 *   <li><b>mount</b> ({@link #start}): the log is opened ({@link JournalWriter#open}, checksum v3 with
 *       metadata_csum, 64-bit tags with the fs 64bit feature), needs_recovery is set in the superblock, written in
 *       place and flushed, then the journal is attached to the buffer cache: from then on every metadata buffer
 *       reaches its place only through a commit and a checkpoint.</li>
 *   <li><b>handles</b> ({@link #begin}, {@link #beginReserved}): every operation that changes metadata runs
 *       inside one, started outermost (before the namespace lock and the inode rwsem); a nested start extends the
 *       thread's handle by its credits. Credits come from the estimates below.</li>
 *   <li><b>commit</b> ({@link #beforeFreeze}, called with the transaction locked and no handle open): the dirty
 *       in-memory inodes, the group descriptors and the superblock are copied into their buffers inside the
 *       committing transaction, so a transaction holds whole operations (the effect of ext4_mark_inode_dirty and
 *       ext4_handle_dirty_super in every handle). data=ordered ({@link #writeAndWait}): the data of inodes whose
 *       handles mapped new initialized blocks (indirect-mapped files, symlinks, directories' first writes) is
 *       written before the commit block; extent files allocate unwritten extents converted at I/O completion,
 *       so their metadata never points at unwritten data.</li>
 *   <li><b>frees</b>: blocks freed in a transaction are kept from the allocator until it commits
 *       ({@link PendingFrees}) and their buffers are forgotten, with a revoke record if a copy is in the log.</li>
 *   <li><b>unmount</b> ({@link #close}): commit, checkpoint, the log marked clean; the caller then clears
 *       needs_recovery in place.</li>
 * </ul>
 * Without a journal (ext2, or a read-only mount) every method is a no-op and {@link #begin} returns null (a
 * try-with-resources skips it).
 */
final class ExtJournaling implements JournalCommitHooks, BufferJournal.OrderedData {
    private static final System.Logger LOG = System.getLogger(ExtJournaling.class.getName());
    /** jbd2's default commit interval (JBD2_DEFAULT_MAX_COMMIT_AGE, the {@code commit=} mount option). */
    static final Duration DEFAULT_COMMIT_INTERVAL = Duration.ofSeconds(5);

    private final ExtFileSystem fs;
    /** Inodes beforeFreeze wrote, pinned until afterFreeze; only the committer (one at a time) touches it. */
    private final List<Pins> heldAcrossFreeze = new ArrayList<>();
    private volatile BufferJournal journal;
    final PendingFrees pendingFrees = new PendingFrees();

    ExtJournaling(ExtFileSystem fs) {
        this.fs = fs;
    }

    /** True on a journaled read-write mount (after {@link #start}, before {@link #close}). */
    boolean active() {
        return journal != null;
    }

    /** The attached journal, or null. */
    BufferJournal journal() {
        return journal;
    }

    /**
     * Opens the log and attaches the journal (see the class comment). The buffer cache must be clean.
     *
     * @param commitInterval time between periodic commits
     * @throws IOException EUCLEAN if the log still needs recovery, EOPNOTSUPP for an external journal, device errors
     */
    void start(Duration commitInterval) throws IOException {
        DiskSuperblock sb = fs.sup.disk();
        JournalMap map = ExtJournal.journalMap(fs.device, sb);
        int incompat = 0;
        if (sb.hasMetadataCsum()) {
            incompat |= JournalFormat.INCOMPAT_CSUM_V3;
        }
        if (sb.hasIncompat(Features.INCOMPAT_64BIT)) {
            incompat |= JournalFormat.INCOMPAT_64BIT;
        }
        JournalWriter writer = JournalWriter.open(fs.device, map, fs.geo.blockSizeBytes(),
                new JournalWriter.Features(0, incompat));
        Jbd2Log log = new Jbd2Log(writer);
        fs.sup.setNeedsRecovery(true); // before the first commit: a crash from now on replays the log
        fs.sup.writeSuperblock();
        fs.bcache.flush();
        journal = BufferJournal.attach(fs.bcache, log, this, commitInterval, this);
        fs.balloc.journal = this;
        LOG.log(System.Logger.Level.DEBUG, "journal attached: {0} log blocks, {1} buffers per transaction",
                writer.superblock().logBlocks(), log.maxTransactionBuffers());
    }

    /**
     * Starts (or extends, nested) the calling thread's handle; null without a journal.
     *
     * @param credits the metadata buffers the operation may dirty (capped at the largest transaction)
     * @return the handle to close, or null
     * @throws IOException EIO if the journal aborted
     */
    JournalHandle begin(long credits) throws IOException {
        BufferJournal j = journal;
        return j == null ? null : j.start(cap(j, credits), false);
    }

    /**
     * A reserved handle for writeback and I/O completion (never waits for a commit that waits for handles).
     *
     * @param credits the metadata buffers the step may dirty
     * @return the handle to close, or null
     * @throws IOException EIO if the journal aborted
     */
    JournalHandle beginReserved(long credits) throws IOException {
        BufferJournal j = journal;
        return j == null ? null : j.start(cap(j, credits), true);
    }

    private static int cap(BufferJournal j, long credits) {
        return (int) Math.max(1, Math.min(credits, j.maxHandleCredits()));
    }

    // ---------------------------------------------------------------- credit estimates (ext4_jbd2.h's spirit)

    /**
     * Allocating up to {@code blocks} blocks: a block bitmap per group touched, the tree blocks that may be
     * written or created (indirect blocks, or extent leaves split with one extent per block at worst, and the
     * path above), the inode's xattr/orphan neighbours.
     */
    long allocCredits(long blocks) {
        long n = Math.max(1, Math.min(blocks, 1L << 24));
        long groupsTouched = Math.min(fs.geo.groups(), n / fs.geo.blocksPerGroup() + 2);
        long perTreeBlock = Math.max(1, fs.geo.blockSizeBytes() / 12);
        return 16 + 2 * groupsTouched + n / perTreeBlock + 2;
    }

    /** Freeing a whole file: a bitmap per group, the partially kept tree path (indirect or extent), the inode bitmap. */
    long freeCredits() {
        return 32 + 2L * fs.geo.groups();
    }

    /**
     * A namespace operation or setattr: two directories with htree splits (a leaf, its new sibling and three index
     * levels each), the inode and block bitmaps, a new directory's first block with its extent or indirect block,
     * an xattr block (ACL), the inode-table block of an inode written directly. Freeing a file's blocks extends the
     * handle by {@link #freeCredits} where it happens (ExtInodeTable), appending a directory block by its
     * allocation estimate (Directories).
     */
    long namespaceCredits() {
        return 40;
    }

    // ---------------------------------------------------------------- data=ordered

    /**
     * The calling thread's handle mapped new initialized blocks of {@code inode} whose data is in the page cache:
     * that data must reach the disk before the transaction's commit block.
     */
    void orderData(ExtInode inode) {
        BufferJournal j = journal;
        if (j == null) {
            return;
        }
        JournalHandle h = j.currentHandle();
        if (h != null) {
            h.orderData(inode);
        }
    }

    @Override
    public void writeAndWait(Set<Object> inodes) throws IOException {
        for (Object o : inodes) {
            ExtInode i = (ExtInode) o;
            AddressSpace m = i.mappingIfCreated();
            if (m != null) {
                Writeback.writeAndWait(m, 0, Long.MAX_VALUE);
            }
        }
    }

    // ---------------------------------------------------------------- commit hooks

    @Override
    public void beforeFreeze(long tid, boolean transactionEmpty) throws IOException {
        boolean inodes = fs.icache.writeback().dirtyCount() > 0;
        // The written inodes stay pinned until afterFreeze: releasing a pin here may evict an inode, which waits for
        // page-cache writeback in flight, whose mapping (delalloc allocation, unwritten conversion) waits for this
        // frozen transaction: a deadlock (found by ExtJournalWriteTest's concurrent workload with delalloc on).
        fs.icache.writeback().writeDirtyInodes(heldAcrossFreeze);
        if (!transactionEmpty || inodes) {
            fs.groups.writeDescriptors();
            fs.sup.writeSuperblock();
        }
    }

    @Override
    public void afterFreeze(long tid) {
        List<Pins> held = new ArrayList<>(heldAcrossFreeze);
        heldAcrossFreeze.clear();
        for (Pins p : held) {
            try {
                p.close();
            } catch (IOException | RuntimeException e) {
                // An unlinked inode whose freeing failed stays an orphan (freed at the next mount or by e2fsck).
                LOG.log(System.Logger.Level.ERROR, "journal: releasing inodes after freezing transaction {0}: {1}",
                        tid, e.toString());
            }
        }
    }

    @Override
    public boolean hasPendingMetadata() {
        return fs.icache.writeback().dirtyCount() > 0;
    }

    @Override
    public void committed(long tid) {
        pendingFrees.release(tid);
    }

    // ---------------------------------------------------------------- frees

    /**
     * Blocks {@code [start, start + count)} were freed (bitmap bits cleared) by the calling thread's handle: keep
     * them from the allocator until the transaction commits and forget their buffers (revoked if logged).
     */
    void blocksFreed(long start, long count) {
        BufferJournal j = journal;
        if (j == null) {
            return;
        }
        JournalHandle h = j.currentHandle();
        long tid = h != null ? h.tid() : j.runningTid();
        pendingFrees.addSplit(start, count, tid);
        fs.bcache.forgetRange(start, count);
    }

    /**
     * {@return blocks freed in transactions not yet committed: counted free, but not allocatable before a commit
     * (0 without a journal)}
     */
    long pendingFreeBlocks() {
        return journal == null ? 0 : pendingFrees.pendingBlocks();
    }

    /** True if {@code pblk} was freed in a transaction that has not committed (the allocator skips it). */
    long pendingEnd(long pblk) {
        return journal == null ? -1 : pendingFrees.pendingEnd(pblk);
    }

    // ---------------------------------------------------------------- fsync, sync, unmount

    /**
     * Makes every change so far durable: commits the running transaction and waits (fsync, sync); without
     * anything to commit, flushes the device (data overwritten in place).
     *
     * @throws IOException if the log write fails (the journal is aborted)
     */
    void commitAll() throws IOException {
        BufferJournal j = journal;
        if (j != null && !j.commitAll()) {
            fs.device.flush(); // nothing to commit: the data written just before still needs its flush
        }
    }

    /**
     * Unmount: commit, checkpoint, mark the log clean, detach. The caller then clears needs_recovery.
     *
     * @throws IOException if a log or checkpoint write fails (the log is then left for recovery)
     */
    void close() throws IOException {
        BufferJournal j = journal;
        if (j == null) {
            return;
        }
        try {
            j.close();
        } finally {
            journal = null;
        }
    }
}
