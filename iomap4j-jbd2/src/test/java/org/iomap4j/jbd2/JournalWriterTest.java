package org.iomap4j.jbd2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.MemoryBlockDevice;
import org.junit.jupiter.api.Test;

/**
 * Writer accounting against a model, replayed by {@link JournalRecovery} on an in-memory journal: free space,
 * journal full, checkpoints moving the tail, markClean, refusal of a journal that needs recovery.
 */
class JournalWriterTest {
    private static final int BS = 1024;

    @Test
    void journalFullUntilCheckpointedThenReplayGivesTheLiveTransactions() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        MemoryJournals.Fixture fx = MemoryJournals.create(BS, 4096, 100, 64, rnd);
        JournalWriter w = JournalWriter.open(fx.device(), fx.map(), BS, JournalWriter.Features.CSUM_V3_64BIT);
        assertThat(w.freeBlocks()).isEqualTo(62); // 63 log blocks minus one of slack

        Map<Long, byte[]> inPlace = new HashMap<>(); // what checkpoints wrote
        Map<Long, byte[]> model = new HashMap<>();   // inPlace + live transactions, latest wins
        int committed = 0;
        int fulls = 0;
        for (int i = 0; i < 200; i++) {
            JournalTransaction tx = new JournalTransaction(BS);
            int n = 1 + rnd.nextInt(12);
            for (int k = 0; k < n; k++) {
                byte[] img = new byte[BS];
                rnd.nextBytes(img);
                tx.logBlock(2000 + rnd.nextInt(300), img);
            }
            long needed = w.blocksNeeded(tx);
            long head = w.headJblk();
            try {
                w.commit(tx);
                committed++;
                model.putAll(tx.blocks());
            } catch (JournalFullException e) {
                fulls++;
                assertThat(e.neededBlocks()).isEqualTo(needed).isGreaterThan(w.freeBlocks());
                assertThat(e.errno()).isEqualTo(Errno.ENOSPC);
                assertThat(w.headJblk()).as("nothing written").isEqualTo(head);
                // Checkpoint the oldest half of the live transactions: write them in place, flush, release.
                var live = w.liveTransactions();
                int upTo = live.get(live.size() / 2).tid();
                checkpoint(fx, model, inPlace);
                w.checkpointed(upTo);
                assertThat(w.liveTransactions()).allMatch(t -> t.tid() - upTo > 0);
            }
            assertThat(w.usedBlocks() + w.freeBlocks()).isEqualTo(62);
        }
        assertThat(fulls).isPositive();
        System.out.println(committed + " commits, " + fulls + " journal-full reports");
        // Crash now: replay must give the model (checkpointed blocks are in place, live ones come from the log).
        MemoryBlockDevice crashed = fx.copy();
        RecoveryResult r = JournalRecovery.replay(crashed, fx.map(), BS);
        assertThat(r.transactionsReplayed()).isEqualTo(w.liveTransactions().size());
        for (Map.Entry<Long, byte[]> e : model.entrySet()) {
            byte[] got = new byte[BS];
            crashed.read(e.getKey() * BS, ByteBuffer.wrap(got));
            assertThat(got).as("block %d", e.getKey()).isEqualTo(e.getValue());
        }
        // Replayed journal: clean, and a writer opens on it again.
        assertThat(JournalRecovery.needsRecovery(crashed, fx.map(), BS)).isFalse();
        JournalWriter again = JournalWriter.open(crashed, fx.map(), BS, JournalWriter.Features.CSUM_V3_64BIT);
        assertThat(again.nextTid()).isEqualTo((int) r.newSequence() + 1);
    }

    private static void checkpoint(MemoryJournals.Fixture fx, Map<Long, byte[]> model, Map<Long, byte[]> inPlace)
            throws Exception {
        for (Map.Entry<Long, byte[]> e : model.entrySet()) {
            fx.device().write(e.getKey() * BS, ByteBuffer.wrap(e.getValue()));
            inPlace.put(e.getKey(), e.getValue());
        }
        fx.device().flush();
    }

    @Test
    void markCleanNeedsEverythingCheckpointedAndAJournalNeedingRecoveryIsRefused() throws Exception {
        Random rnd = new Random(7);
        MemoryJournals.Fixture fx = MemoryJournals.create(BS, 4096, 100, 64, rnd);
        JournalWriter w = JournalWriter.open(fx.device(), fx.map(), BS, JournalWriter.Features.NONE);
        var t = w.commit(new JournalTransaction(BS).logBlock(3000, new byte[BS]).revoke(3001));
        assertThat(w.superblock().hasRevoke()).isTrue();
        assertThatThrownBy(() -> JournalWriter.open(fx.copy(), fx.map(), BS, JournalWriter.Features.NONE))
                .isInstanceOfSatisfying(FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EUCLEAN))
                .hasMessageContaining("needs recovery");
        assertThatThrownBy(w::markClean).isInstanceOf(IllegalStateException.class);
        w.checkpointed(t.tid());
        w.markClean();
        assertThat(JournalRecovery.needsRecovery(fx.device(), fx.map(), BS)).isFalse();
        assertThat(JournalRecovery.replay(fx.device(), fx.map(), BS).needed()).isFalse();

        JournalTransaction huge = new JournalTransaction(BS);
        for (int i = 0; i < 70; i++) {
            huge.logBlock(2000 + i, new byte[BS]);
        }
        assertThatThrownBy(() -> w.commit(huge)).isInstanceOfSatisfying(FsException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.ENOSPC)).isNotInstanceOf(JournalFullException.class)
                .hasMessageContaining("can never fit");
    }

    @Test
    void revokeOfABlockLoggedInTheSameTransactionIsCancelled() {
        JournalTransaction tx = new JournalTransaction(BS).revoke(5).logBlock(5, new byte[BS]).revoke(5).revoke(6);
        assertThat(tx.revokes()).containsExactly(6L);
        assertThat(tx.blocks()).containsOnlyKeys(5L);
    }
}
