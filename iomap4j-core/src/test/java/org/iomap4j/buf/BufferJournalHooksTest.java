package org.iomap4j.buf;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.iomap4j.block.MemoryBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link JournalCommitHooks} and reserved handles against the model log of {@link BufferJournalTest}: the
 * filesystem's in-memory metadata joins the committing transaction while no handle is open; a commit of
 * in-memory changes only happens; {@code committed} follows each durable commit; a reserved start joins a
 * transaction whose commit waits for handles (the writer it would otherwise deadlock with), a normal start waits.
 */
class BufferJournalHooksTest {
    static final int BS = BufferJournalTest.BS;

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

    /** A filesystem that keeps block 7 ("an inode table block") in memory and writes it at commit. */
    static final class Hooks implements JournalCommitHooks {
        final BufferCache cache;
        volatile byte inode = 0;
        volatile boolean dirty;
        final List<String> calls = Collections.synchronizedList(new ArrayList<>());
        BufferJournal journal;

        Hooks(BufferCache cache) {
            this.cache = cache;
        }

        @Override
        public void beforeFreeze(long tid, boolean transactionEmpty) throws IOException {
            calls.add("freeze " + tid + (transactionEmpty ? " empty" : "") + " handles-open="
                    + (journal.currentHandle() == null ? "none" : "committer"));
            if (dirty) {
                dirty = false;
                put(cache, 7, inode);
            }
        }

        @Override
        public boolean hasPendingMetadata() {
            return dirty;
        }

        @Override
        public void committed(long tid) {
            calls.add("committed " + tid);
        }
    }

    @Test
    void inMemoryMetadataJoinsTheCommitAndACommitOfOnlyInMemoryChangesHappens() throws Exception {
        BufferJournalTest.ModelLog log = new BufferJournalTest.ModelLog(1000, 16);
        BufferCache cache = new BufferCache(new MemoryBlockDevice(1 << 20), BS, 1 << 20);
        Hooks hooks = new Hooks(cache);
        BufferJournal j = BufferJournal.attach(cache, log, null, Duration.ofHours(1), hooks);
        hooks.journal = j;
        long tid;
        try (JournalHandle h = j.start(1)) {
            put(cache, 3, (byte) 'b'); // a bitmap
            hooks.inode = 'i';
            hooks.dirty = true; // the inode pointing into it, in memory only
            tid = h.tid();
        }
        assertThat(j.commitAll()).isTrue();
        assertThat(log.committed.get(tid).keySet()).containsExactly(3L, 7L);
        assertThat(log.committed.get(tid).get(7L)[0]).isEqualTo((byte) 'i');
        assertThat(hooks.calls).containsExactly("freeze " + tid + " handles-open=committer", "committed " + tid);

        // Nothing dirty anywhere: no commit, the hook is not even asked to freeze.
        assertThat(j.commitAll()).isFalse();
        assertThat(hooks.calls).hasSize(2);

        // Only an in-memory change (a chmod): the commit happens, holding just the inode block.
        hooks.inode = 'c';
        hooks.dirty = true;
        assertThat(j.commitAll()).isTrue();
        assertThat(log.committed.get(tid + 1).keySet()).containsExactly(7L);
        assertThat(hooks.calls).contains("freeze " + (tid + 1) + " empty handles-open=committer");
        j.close();
        assertThat(log.events).last().isEqualTo("clean");
    }

    @Test
    @Timeout(60)
    void aReservedStartJoinsATransactionWhoseCommitWaitsWhileANormalStartWaits() throws Exception {
        BufferJournalTest.ModelLog log = new BufferJournalTest.ModelLog(1000, 16);
        BufferCache cache = new BufferCache(new MemoryBlockDevice(1 << 20), BS, 1 << 20);
        BufferJournal j = BufferJournal.attach(cache, log, null, Duration.ofHours(1), null);
        JournalHandle writer = j.start(2);
        put(cache, 1, (byte) 1);
        long tid = writer.tid();
        CompletableFuture<Boolean> commit = CompletableFuture.supplyAsync(() -> {
            try {
                return j.commitAndWait(tid);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        while (!commitWaiting(j)) {
            Thread.onSpinWait();
        }
        // The commit is waiting for the writer's handle (the transaction is locked): a normal start waits.
        AtomicBoolean normalStarted = new AtomicBoolean();
        CountDownLatch normalTried = new CountDownLatch(1);
        Thread normal = Thread.ofPlatform().start(() -> {
            try {
                normalTried.countDown();
                try (JournalHandle h = j.start(1)) {
                    normalStarted.set(true);
                    assertThat(h.tid()).isEqualTo(tid + 1);
                }
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        normalTried.await();
        while (!normalStarted.get() && normal.getState() != Thread.State.WAITING) {
            Thread.onSpinWait();
        }
        // A reserved start (I/O completion the writer waits for) joins the locked transaction at once.
        CompletableFuture<Long> completion = CompletableFuture.supplyAsync(() -> {
            while (!commitWaiting(j)) {
                Thread.onSpinWait();
            }
            try (JournalHandle h = j.start(1, true)) {
                put(cache, 2, (byte) 2);
                return h.tid();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        assertThat(completion.get(30, TimeUnit.SECONDS)).as("the reserved handle joined the committing transaction")
                .isEqualTo(tid);
        assertThat(normalStarted).as("a normal start waits for the commit").isFalse();
        assertThat(commit).isNotDone();
        writer.close();
        assertThat(commit.get(30, TimeUnit.SECONDS)).isTrue();
        normal.join(30_000);
        assertThat(normalStarted).isTrue();
        assertThat(log.committed.get(tid).keySet()).containsExactly(1L, 2L);
        j.close();
    }

    /** True once the running transaction is locked by a committer (a normal start would wait now). */
    private static boolean commitWaiting(BufferJournal j) {
        j.stateForTests().lock();
        try {
            return j.runningLockedForTests();
        } finally {
            j.stateForTests().unlock();
        }
    }
}
