package org.iomap4j.buf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.ForwardingBlockDevice;
import org.iomap4j.block.MemoryBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link BufferJournal} against a model log (commits, revokes and checkpoints recorded in order) and a device that
 * records every in-place write: a journaled buffer reaches its place only after its transaction committed, and
 * with the bytes of the newest committed transaction (never a running one's).
 */
class BufferJournalTest {
    static final int BS = 1024;

    /** A log recording what it is told, with a fixed capacity in blocks (one block per image/revoke + 1). */
    static final class ModelLog implements BufferJournal.Log {
        final List<String> events = Collections.synchronizedList(new ArrayList<>());
        final Map<Long, SortedMap<Long, byte[]>> committed = Collections.synchronizedMap(new TreeMap<>());
        final Map<Long, Set<Long>> revokes = Collections.synchronizedMap(new TreeMap<>());
        final long capacity;
        final int maxTx;
        long used;
        final Map<Long, Long> sizes = new HashMap<>();
        long nextTid = 100;

        ModelLog(long capacity, int maxTx) {
            this.capacity = capacity;
            this.maxTx = maxTx;
        }

        @Override
        public long firstTid() {
            return nextTid;
        }

        @Override
        public int maxTransactionBuffers() {
            return maxTx;
        }

        @Override
        public synchronized long freeBlocks() {
            return capacity - used;
        }

        @Override
        public long blocksNeeded(int buffers, int revokes) {
            return buffers + revokes + 1;
        }

        @Override
        public synchronized void commit(long tid, SortedMap<Long, byte[]> images, Set<Long> rev) {
            assertThat(tid).isEqualTo(nextTid);
            long need = blocksNeeded(images.size(), rev.size());
            assertThat(need).as("commit called without room").isLessThanOrEqualTo(freeBlocks());
            used += need;
            sizes.put(tid, need);
            nextTid++;
            SortedMap<Long, byte[]> copy = new TreeMap<>();
            images.forEach((k, v) -> copy.put(k, v.clone()));
            committed.put(tid, copy);
            revokes.put(tid, Set.copyOf(rev));
            events.add("commit " + tid + " " + images.keySet() + " revoke " + rev);
        }

        @Override
        public synchronized void checkpointed(long throughTid) {
            for (Map.Entry<Long, Long> e : new ArrayList<>(sizes.entrySet())) {
                if (e.getKey() <= throughTid) {
                    used -= e.getValue();
                    sizes.remove(e.getKey());
                }
            }
            events.add("checkpointed " + throughTid);
        }

        @Override
        public synchronized void markClean() {
            assertThat(sizes).isEmpty();
            events.add("clean");
        }
    }

    /** Records in-place writes and checks each against the model log: the block's newest committed image. */
    static final class CheckingDevice extends ForwardingBlockDevice {
        final ModelLog log;
        final List<Long> writes = Collections.synchronizedList(new ArrayList<>());
        volatile boolean check = true;

        CheckingDevice(BlockDevice inner, ModelLog log) {
            super(inner);
            this.log = log;
        }

        @Override
        public void write(long devAddrBytes, ByteBuffer src) throws IOException {
            long pblk = devAddrBytes / BS;
            if (check) {
                byte[] data = new byte[src.remaining()];
                src.duplicate().get(data);
                byte[] newest = null;
                synchronized (log.committed) {
                    for (SortedMap<Long, byte[]> images : log.committed.values()) {
                        if (images.containsKey(pblk)) {
                            newest = images.get(pblk);
                        }
                    }
                }
                assertThat(newest).as("in-place write of block %d before any commit logged it", pblk).isNotNull();
                assertThat(data).as("in-place write of block %d is its newest committed image", pblk)
                        .isEqualTo(newest);
            }
            writes.add(pblk);
            super.write(devAddrBytes, src);
        }
    }

    private static void put(BufferCache cache, long pblk, byte value) throws IOException {
        try (Buffer b = cache.read(pblk)) {
            b.lock();
            try {
                Arrays.fill(b.array(), value);
                b.markDirty();
            } finally {
                b.unlock();
            }
        }
    }

    private static byte deviceByte(BlockDevice dev, long pblk) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(BS);
        dev.read(pblk * BS, bb);
        return bb.get(0);
    }

    @Test
    void journaledBufferReachesItsPlaceOnlyAfterCommitThenCheckpoint() throws Exception {
        ModelLog log = new ModelLog(1000, 64);
        CheckingDevice dev = new CheckingDevice(new MemoryBlockDevice(1 << 20), log);
        BufferCache cache = new BufferCache(dev, BS, 1 << 20);
        BufferJournal j = BufferJournal.attach(cache, log, null, Duration.ofHours(1));
        long tid;
        try (JournalHandle h = j.start(2)) {
            tid = h.tid();
            put(cache, 5, (byte) 'A');
            put(cache, 6, (byte) 'B');
            put(cache, 5, (byte) 'C'); // again: no second credit
            assertThat(h.usedCredits()).isEqualTo(2);
        }
        cache.flush(); // the cache's own writeback must not write journaled buffers
        assertThat(dev.writes).isEmpty();
        assertThat(cache.dirtyCount()).isZero();
        j.commitAndWait(tid);
        assertThat(log.events).containsExactly("commit " + tid + " [5, 6] revoke []");
        assertThat(dev.writes).as("committed, not checkpointed").isEmpty();
        j.commitAndWait(tid); // already committed: nothing
        assertThat(log.committed).hasSize(1);
        j.checkpoint();
        assertThat(dev.writes).containsExactly(5L, 6L);
        assertThat(deviceByte(dev, 5)).isEqualTo((byte) 'C');
        assertThat(log.events).last().isEqualTo("checkpointed " + tid);
        j.close();
        assertThat(log.events).last().isEqualTo("clean");
        assertThat(cache.journal()).isNull();
    }

    @Test
    void creditsAreEnforcedAndDirtyingOutsideAHandleIsAnError() throws Exception {
        ModelLog log = new ModelLog(1000, 64);
        BufferCache cache = new BufferCache(new MemoryBlockDevice(1 << 20), BS, 1 << 20);
        BufferJournal j = BufferJournal.attach(cache, log, null, Duration.ofHours(1));
        assertThatThrownBy(() -> put(cache, 3, (byte) 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("block 3").hasMessageContaining("outside a journal handle");
        try (JournalHandle h = j.start(2)) {
            put(cache, 1, (byte) 1);
            try (JournalHandle nested = j.start(1)) {
                assertThat(nested).isSameAs(h);
                assertThat(h.credits()).isEqualTo(3); // a nested start extends the handle (jbd2_journal_extend)
                put(cache, 2, (byte) 1);
            }
            put(cache, 4, (byte) 1);
            assertThatThrownBy(() -> put(cache, 3, (byte) 1)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("handle of 3 credits").hasMessageContaining("dirtied buffer 4")
                    .hasMessageContaining("block 3");
        }
        assertThatThrownBy(() -> j.start(65)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1..64");
        j.close();
    }

    @Test
    void checkpointWritesTheCommittedImageNotTheRunningTransactionsBytes() throws Exception {
        ModelLog log = new ModelLog(1000, 64);
        CheckingDevice dev = new CheckingDevice(new MemoryBlockDevice(1 << 20), log);
        BufferCache cache = new BufferCache(dev, BS, 1 << 20);
        BufferJournal j = BufferJournal.attach(cache, log, null, Duration.ofHours(1));
        try (JournalHandle h = j.start(1)) {
            put(cache, 9, (byte) 'A');
        }
        j.commitAll();
        try (JournalHandle h = j.start(1)) {
            put(cache, 9, (byte) 'B'); // running transaction
            j.checkpoint();              // from another "thread" of control: writes A, never B
        }
        assertThat(deviceByte(dev, 9)).isEqualTo((byte) 'A');
        try (Buffer b = cache.read(9)) {
            assertThat(b.array()[0]).as("the cache serves the newest bytes").isEqualTo((byte) 'B');
        }
        j.close();
        assertThat(deviceByte(dev, 9)).isEqualTo((byte) 'B');
    }

    @Test
    void freedLoggedBlockIsRevokedAndNeverCheckpointed() throws Exception {
        ModelLog log = new ModelLog(1000, 64);
        CheckingDevice dev = new CheckingDevice(new MemoryBlockDevice(1 << 20), log);
        BufferCache cache = new BufferCache(dev, BS, 1 << 20);
        BufferJournal j = BufferJournal.attach(cache, log, null, Duration.ofHours(1));
        long t1;
        try (JournalHandle h = j.start(2)) {
            t1 = h.tid();
            put(cache, 7, (byte) 'M');
            put(cache, 8, (byte) 'N');
        }
        j.commitAll();
        long t2;
        try (JournalHandle h = j.start(1)) {
            t2 = h.tid();
            h.revoke(7); // freed, e.g. to become a data block
            put(cache, 8, (byte) 'O');
        }
        j.commitAll();
        assertThat(log.revokes.get(t2)).containsExactly(7L);
        // Reused as metadata in the same transaction that frees it: the revoke is cancelled.
        try (JournalHandle h = j.start(1)) {
            h.revoke(8);
            put(cache, 8, (byte) 'P');
        }
        j.commitAll();
        assertThat(log.revokes.get(t2 + 1)).isEmpty();
        dev.check = false;
        j.close();
        assertThat(dev.writes).as("block 7 was freed before its checkpoint").doesNotContain(7L);
        assertThat(deviceByte(dev, 8)).isEqualTo((byte) 'P');
        assertThat(t1).isLessThan(t2);
    }

    @Test
    void fullLogIsCheckpointedBeforeTheNextCommitAndOrderedDataPrecedesTheCommit() throws Exception {
        ModelLog log = new ModelLog(12, 4);
        CheckingDevice dev = new CheckingDevice(new MemoryBlockDevice(1 << 20), log);
        BufferCache cache = new BufferCache(dev, BS, 1 << 20);
        List<String> order = log.events;
        BufferJournal j = BufferJournal.attach(cache, log, inodes -> order.add("data " + inodes), Duration.ofHours(1));
        for (int round = 0; round < 6; round++) {
            try (JournalHandle h = j.start(3)) {
                for (int k = 0; k < 3; k++) {
                    put(cache, 10 + round * 3 + k, (byte) round);
                }
                h.orderData("inode" + round);
            }
            j.commitAll();
            assertThat(log.freeBlocks()).isNotNegative();
        }
        assertThat(order.stream().filter(e -> e.startsWith("checkpointed")).count()).isPositive();
        for (int i = 0; i < order.size(); i++) {
            if (order.get(i).startsWith("commit")) {
                assertThat(order.get(i - 1)).as("event before " + order.get(i)).startsWith("data");
            }
        }
        j.close();
        for (int round = 0; round < 6; round++) {
            assertThat(deviceByte(dev, 10 + round * 3)).isEqualTo((byte) round);
        }
    }

    /**
     * Threads run handles (each writes one value to its own pair of blocks) while the commit timer runs every
     * millisecond and full transactions force commits: every committed transaction holds both blocks of a pair
     * with the same value (handles are atomic), and after close the device holds each thread's last pair.
     */
    @Test
    @Timeout(60)
    void concurrentHandlesCommitAtomically() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("concurrentHandlesCommitAtomically seed " + seed);
        ModelLog log = new ModelLog(200, 16);
        CheckingDevice dev = new CheckingDevice(new MemoryBlockDevice(1 << 20), log);
        BufferCache cache = new BufferCache(dev, BS, 1 << 20);
        BufferJournal j = BufferJournal.attach(cache, log, null, Duration.ofMillis(1));
        int threads = 4;
        AtomicInteger errors = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int me = t;
            Random rnd = new Random(seed + t);
            ts.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int v = 1; v <= 300; v++) {
                        try (JournalHandle h = j.start(2 + rnd.nextInt(3))) {
                            put(cache, 100 + 2 * me, (byte) v);
                            put(cache, 101 + 2 * me, (byte) v);
                        }
                        if (rnd.nextInt(50) == 0) {
                            j.commitAll();
                        }
                    }
                } catch (Throwable e) {
                    e.printStackTrace();
                    errors.incrementAndGet();
                }
            }));
        }
        for (Thread t : ts) {
            t.join();
        }
        j.close();
        assertThat(errors).hasValue(0);
        for (SortedMap<Long, byte[]> images : log.committed.values()) {
            for (int t = 0; t < threads; t++) {
                byte[] a = images.get(100L + 2 * t);
                byte[] b = images.get(101L + 2 * t);
                assertThat(a == null).isEqualTo(b == null);
                if (a != null) {
                    assertThat(a[0]).isEqualTo(b[0]);
                }
            }
        }
        for (int t = 0; t < threads; t++) {
            assertThat(deviceByte(dev, 100 + 2 * t)).isEqualTo((byte) 300);
            assertThat(deviceByte(dev, 101 + 2 * t)).isEqualTo((byte) 300);
        }
        System.out.println("concurrentHandlesCommitAtomically: " + log.committed.size() + " commits, stats "
                + Arrays.toString(j.stats()));
    }

    @Test
    void logWriteFailureAbortsTheJournalAndNothingReachesItsPlace() throws Exception {
        ModelLog good = new ModelLog(1000, 64);
        BufferJournal.Log failing = new BufferJournal.Log() {
            @Override public long firstTid() { return good.firstTid(); }
            @Override public int maxTransactionBuffers() { return good.maxTransactionBuffers(); }
            @Override public long freeBlocks() { return good.freeBlocks(); }
            @Override public long blocksNeeded(int b, int r) { return good.blocksNeeded(b, r); }
            @Override public void commit(long tid, SortedMap<Long, byte[]> images, Set<Long> revokes)
                    throws IOException {
                throw new IOException("injected log write error");
            }
            @Override public void checkpointed(long tid) { good.checkpointed(tid); }
            @Override public void markClean() { good.markClean(); }
        };
        CheckingDevice dev = new CheckingDevice(new MemoryBlockDevice(1 << 20), good);
        BufferCache cache = new BufferCache(dev, BS, 1 << 20);
        BufferJournal j = BufferJournal.attach(cache, failing, null, Duration.ofHours(1));
        try (JournalHandle h = j.start(1)) {
            put(cache, 4, (byte) 'X');
        }
        assertThatThrownBy(j::commitAll).isInstanceOf(IOException.class).hasMessageContaining("injected");
        assertThatThrownBy(() -> j.start(1)).isInstanceOf(org.iomap4j.FsException.class)
                .hasMessageContaining("journal aborted");
        j.checkpoint();
        assertThatThrownBy(j::close).as("unmount reports the abort").isInstanceOf(org.iomap4j.FsException.class);
        assertThat(cache.journal()).as("detached anyway").isNull();
        assertThat(dev.writes).as("an aborted journal writes nothing in place").isEmpty();
        assertThat(good.events).doesNotContain("clean");
    }
}
