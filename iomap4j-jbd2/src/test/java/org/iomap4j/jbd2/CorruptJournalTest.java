package org.iomap4j.jbd2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.block.MemoryBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Corrupt journals: random damage to descriptor, commit, revoke and copy blocks, absurd counts, a log that never
 * commits. Recovery must end with a clear {@link CorruptFilesystemException} naming the journal, or replay exactly
 * a prefix of the committed transactions (checked against a model of jbd2 replay), and never hang.
 */
class CorruptJournalTest {
    private static final int BS = 1024;
    private static final long JOURNAL_PBLK = 100;

    /** A journal with six live transactions (blocks and revokes) and the model of what each logged. */
    record Logged(MemoryJournals.Fixture fx, List<JournalTransaction> txs, List<JournalWriter.LoggedTransaction> at) {}

    static Logged sixTransactions(Random rnd, JournalWriter.Features features) throws Exception {
        MemoryJournals.Fixture fx = MemoryJournals.create(BS, 2048, JOURNAL_PBLK, 256, rnd);
        long[] t = {1_700_000_000L};
        InstantSource clock = () -> Instant.ofEpochSecond(t[0]++);
        JournalWriter w = JournalWriter.open(fx.device(), fx.map(), BS, features, clock);
        List<JournalTransaction> txs = new ArrayList<>();
        List<JournalWriter.LoggedTransaction> at = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            JournalTransaction tx = new JournalTransaction(BS);
            for (int k = 0; k < 3 + rnd.nextInt(8); k++) {
                byte[] img = new byte[BS];
                rnd.nextBytes(img);
                if (rnd.nextInt(5) == 0) {
                    ByteBuffer.wrap(img).putInt(0, JournalFormat.MAGIC);
                }
                tx.logBlock(1000 + rnd.nextInt(40), img);
            }
            for (int k = 0; k < rnd.nextInt(4); k++) {
                tx.revoke(1000 + rnd.nextInt(40));
            }
            at.add(w.commit(tx));
            txs.add(tx);
        }
        return new Logged(fx, txs, at);
    }

    /** jbd2 replay of the first {@code k} transactions over an all-zero device region (the model). */
    static Map<Long, byte[]> model(List<JournalTransaction> txs, int k) {
        Map<Long, Integer> revokedBy = new HashMap<>();
        for (int i = 0; i < k; i++) {
            for (long b : txs.get(i).revokes()) {
                revokedBy.put(b, i);
            }
        }
        Map<Long, byte[]> out = new HashMap<>();
        for (int i = 0; i < k; i++) {
            for (Map.Entry<Long, byte[]> e : txs.get(i).blocks().entrySet()) {
                Integer r = revokedBy.get(e.getKey());
                if (r == null || r < i) {
                    out.put(e.getKey(), e.getValue());
                }
            }
        }
        return out;
    }

    static void assertStateIsPrefix(MemoryBlockDevice dev, List<JournalTransaction> txs, int k) throws Exception {
        Map<Long, byte[]> want = model(txs, k);
        Set<Long> all = new HashSet<>();
        txs.forEach(t -> all.addAll(t.blocks().keySet()));
        for (long b : all) {
            byte[] got = new byte[BS];
            dev.read(b * BS, ByteBuffer.wrap(got));
            assertThat(got).as("block %d after replaying %d transactions", b, k)
                    .isEqualTo(want.getOrDefault(b, new byte[BS]));
        }
    }

    @ParameterizedTest(name = "checksum v3: {0}")
    @ValueSource(booleans = {true, false})
    @Timeout(300)
    void randomDamageEndsInAClearErrorOrAPrefixReplay(boolean csumV3) throws Exception {
        long seed = new Random().nextLong();
        System.out.println("csum v3 " + csumV3 + ": seed " + seed);
        Random rnd = new Random(seed);
        Logged lg = sixTransactions(rnd, csumV3 ? JournalWriter.Features.CSUM_V3_64BIT : JournalWriter.Features.NONE);
        MemoryBlockDevice clean = lg.fx().copy();
        RecoveryResult base = JournalRecovery.replay(clean, lg.fx().map(), BS);
        assertThat(base.transactionsReplayed()).isEqualTo(6);
        assertStateIsPrefix(clean, lg.txs(), 6);

        long logStart = lg.at().getFirst().startJblk();
        long logEnd = lg.at().getLast().startJblk() + lg.at().getLast().lengthBlocks();
        int errors = 0;
        int prefixes = 0;
        for (int iter = 0; iter < 400; iter++) {
            MemoryBlockDevice dev = lg.fx().copy();
            long jblk = logStart + rnd.nextLong(logEnd - logStart);
            byte[] block = new byte[BS];
            long addr = (JOURNAL_PBLK + jblk) * BS;
            dev.read(addr, ByteBuffer.wrap(block));
            int type = ByteBuffer.wrap(block).getInt(0) == JournalFormat.MAGIC ? ByteBuffer.wrap(block).getInt(4) : 0;
            switch (rnd.nextInt(6)) {
                case 0 -> block[rnd.nextInt(BS)] ^= (byte) (1 << rnd.nextInt(8));
                case 1 -> {
                    int off = rnd.nextInt(BS - 16);
                    for (int i = 0; i < 1 + rnd.nextInt(16); i++) {
                        block[off + i] = (byte) rnd.nextInt();
                    }
                }
                case 2 -> rnd.nextBytes(block);
                case 3 -> java.util.Arrays.fill(block, (byte) 0);
                case 4 -> { // absurd counts and flags in a header-bearing block
                    if (type == JournalFormat.BLOCKTYPE_REVOKE) {
                        ByteBuffer.wrap(block).putInt(12, rnd.nextBoolean() ? -1 : BS + 1 + rnd.nextInt(1000));
                    } else if (type == JournalFormat.BLOCKTYPE_DESCRIPTOR) {
                        for (int off = 12; off + 8 <= BS; off += 4) { // no LAST_TAG anywhere: tags run to the end
                            block[off + 3] = (byte) (block[off + 3] & ~JournalFormat.FLAG_LAST_TAG);
                        }
                    } else {
                        ByteBuffer.wrap(block).putInt(8, rnd.nextInt());
                    }
                }
                default -> ByteBuffer.wrap(block).putLong(0x30, rnd.nextLong()); // commit time or copy bytes
            }
            dev.write(addr, ByteBuffer.wrap(block));
            try {
                RecoveryResult r = JournalRecovery.replay(dev, lg.fx().map(), BS);
                prefixes++;
                assertThat(r.transactionsReplayed()).isBetween(0L, 6L);
                if (csumV3) {
                    assertStateIsPrefix(dev, lg.txs(), (int) r.transactionsReplayed());
                }
            } catch (CorruptFilesystemException e) {
                errors++;
                assertThat(e.getMessage()).containsIgnoringCase("journal");
            }
        }
        System.out.println("csum v3 " + csumV3 + ": " + errors + " clear errors, " + prefixes + " prefix replays");
        assertThat(errors + prefixes).isEqualTo(400);
    }

    @Test
    void badCommitChecksumStopsReplayAtThatTransactionAndRecordsIt() throws Exception {
        Logged lg = sixTransactions(new Random(11), JournalWriter.Features.CSUM_V3_64BIT);
        JournalWriter.LoggedTransaction fourth = lg.at().get(3);
        long commitJblk = fourth.startJblk() + fourth.lengthBlocks() - 1;
        MemoryBlockDevice dev = lg.fx().copy();
        byte[] b = new byte[BS];
        dev.read((JOURNAL_PBLK + commitJblk) * BS, ByteBuffer.wrap(b));
        b[0x39] ^= 0x55; // inside h_commit_nsec: the fields themselves are damaged
        dev.write((JOURNAL_PBLK + commitJblk) * BS, ByteBuffer.wrap(b));
        RecoveryResult r = JournalRecovery.replay(dev, lg.fx().map(), BS);
        assertThat(r.transactionsReplayed()).isEqualTo(3);
        assertThat(r.failedCommitTid()).isEqualTo(Integer.toUnsignedLong(fourth.tid()));
        assertStateIsPrefix(dev, lg.txs(), 3);
        Journal j = Journal.open(dev, lg.fx().map(), BS);
        assertThat(j.superblock().errno()).isZero();
        assertThat(j.superblock().start()).isZero();

        // Damage only past the commit header (a commit block torn after its first sector) counts as complete.
        MemoryBlockDevice torn = lg.fx().copy();
        torn.read((JOURNAL_PBLK + commitJblk) * BS, ByteBuffer.wrap(b));
        java.util.Arrays.fill(b, CommitBlock.HEADER_STRUCT_BYTES + 4, BS, (byte) 0x5A);
        torn.write((JOURNAL_PBLK + commitJblk) * BS, ByteBuffer.wrap(b));
        RecoveryResult all = JournalRecovery.replay(torn, lg.fx().map(), BS);
        assertThat(all.transactionsReplayed()).isEqualTo(6);
        assertThat(all.failedCommitTid()).isEqualTo(-1);
        assertStateIsPrefix(torn, lg.txs(), 6);
    }

    @Test
    void absurdRevokeCountNamesTheJournalBlock() throws Exception {
        MemoryJournals.Fixture fx = MemoryJournals.create(BS, 2048, JOURNAL_PBLK, 256, new Random(3));
        JournalWriter w = JournalWriter.open(fx.device(), fx.map(), BS, JournalWriter.Features.NONE);
        var t = w.commit(new JournalTransaction(BS).revoke(1500).logBlock(1501, new byte[BS]));
        long revokeJblk = t.startJblk();
        byte[] b = new byte[BS];
        fx.device().read((JOURNAL_PBLK + revokeJblk) * BS, ByteBuffer.wrap(b));
        assertThat(ByteBuffer.wrap(b).getInt(4)).isEqualTo(JournalFormat.BLOCKTYPE_REVOKE);
        ByteBuffer.wrap(b).putInt(12, 0x7FFFFFFF);
        fx.device().write((JOURNAL_PBLK + revokeJblk) * BS, ByteBuffer.wrap(b));
        byte[] before = fx.snapshot();
        assertThatThrownBy(() -> JournalRecovery.replay(fx.device(), fx.map(), BS))
                .isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("journal block " + revokeJblk).hasMessageContaining("r_count");
        assertThat(fx.snapshot()).as("nothing written").isEqualTo(before);
    }

    @Test
    void tagNamingABlockBeyondTheDeviceIsRefusedBeforeAnyWrite() throws Exception {
        MemoryJournals.Fixture fx = MemoryJournals.create(BS, 2048, JOURNAL_PBLK, 256, new Random(4));
        JournalWriter w = JournalWriter.open(fx.device(), fx.map(), BS, JournalWriter.Features.NONE);
        w.commit(new JournalTransaction(BS).logBlock(1500, new byte[BS]));
        w.commit(new JournalTransaction(BS).logBlock(1_000_000, new byte[BS]));
        byte[] before = fx.snapshot();
        assertThatThrownBy(() -> JournalRecovery.replay(fx.device(), fx.map(), BS))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("1000000")
                .hasMessageContaining("beyond the device");
        assertThat(fx.snapshot()).isEqualTo(before);
    }

    @Test
    @Timeout(60)
    void aLogThatNeverCommitsCannotLoopForever() throws Exception {
        MemoryJournals.Fixture fx = MemoryJournals.create(BS, 2048, JOURNAL_PBLK, 64, new Random(5));
        Journal j = Journal.open(fx.device(), fx.map(), BS);
        JournalSuperblock sb = j.superblock();
        JournalChecksum csum = new JournalChecksum(sb.uuid());
        for (long jblk = 1; jblk < 64; jblk++) { // every log block a revoke block of the expected transaction
            j.writeBlock(jblk, RevokeBlock.encode(sb, csum, sb.sequence(), new long[] {7}, 0, 1));
        }
        sb.start = 1;
        j.writeSuperblock();
        assertThatThrownBy(() -> JournalRecovery.replay(fx.device(), fx.map(), BS))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("spans more than the log");
    }

    /**
     * Random damage in a real image's journal, replayed by e2fsck and by us: whenever we replay (the damage ended the
     * log early or was detected as a failed commit), e2fsck must leave every logged block exactly as we do. Damage to
     * a commit block stays inside its 60-byte fields (past them Linux 6.x and we accept the commit, e2fsprogs 1.47.0
     * does not: see WriterReplayOracleTest).
     */
    @Test
    @Timeout(600)
    void whereWeReplayE2fsckReplaysTheSame(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws Exception {
        Jbd2Tools.assumeTools("mkfs.ext4", "e2fsck", "debugfs");
        long seed = new Random().nextLong();
        System.out.println("e2fsck damage: seed " + seed);
        Random rnd = new Random(seed);
        int bs = 4096;
        java.nio.file.Path image = Jbd2Tools.mkfsExt4(tmp.resolve("fs.img"), 32L << 20, bs);
        JournalMap map = Jbd2Tools.journalMap(image);
        Jbd2Tools.debugfsWrite(image, "feature needs_recovery");
        String ffb = Jbd2Tools.run("debugfs", "-R", "ffb 40 4000", image.toString()).ok().stdout();
        long[] free = java.util.Arrays.stream(ffb.substring(ffb.indexOf(':') + 1).trim().split("\\s+"))
                .mapToLong(Long::parseLong).toArray();
        List<JournalWriter.LoggedTransaction> at = new ArrayList<>();
        Set<Long> logged = new HashSet<>();
        long[] t = {1_700_000_000L};
        try (org.iomap4j.block.FileBlockDevice dev = org.iomap4j.block.FileBlockDevice.open(image, false)) {
            JournalWriter w = JournalWriter.open(dev, map, bs, JournalWriter.Features.CSUM_V3_64BIT,
                    () -> Instant.ofEpochSecond(t[0]++));
            for (int i = 0; i < 6; i++) {
                JournalTransaction tx = new JournalTransaction(bs);
                for (int k = 0; k < 2 + rnd.nextInt(6); k++) {
                    byte[] img = new byte[bs];
                    rnd.nextBytes(img);
                    tx.logBlock(free[rnd.nextInt(free.length)], img);
                }
                if (rnd.nextBoolean()) {
                    tx.revoke(free[rnd.nextInt(free.length)]);
                }
                logged.addAll(tx.blocks().keySet());
                at.add(w.commit(tx));
            }
        }
        long logStart = at.getFirst().startJblk();
        long logEnd = at.getLast().startJblk() + at.getLast().lengthBlocks();
        int compared = 0;
        int ourErrors = 0;
        for (int iter = 0; iter < 40; iter++) {
            java.nio.file.Path ours = java.nio.file.Files.copy(image, tmp.resolve("ours.img"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            long jblk = logStart + rnd.nextLong(logEnd - logStart);
            long pblk = map.pblk(jblk);
            byte[] block = Jbd2Tools.readBlock(ours, pblk, bs);
            ByteBuffer bb = ByteBuffer.wrap(block);
            boolean commit = bb.getInt(0) == JournalFormat.MAGIC && bb.getInt(4) == JournalFormat.BLOCKTYPE_COMMIT;
            int span = commit ? CommitBlock.HEADER_STRUCT_BYTES : bs;
            switch (rnd.nextInt(3)) {
                case 0 -> block[rnd.nextInt(span)] ^= (byte) (1 << rnd.nextInt(8));
                case 1 -> {
                    int off = rnd.nextInt(span - 8);
                    for (int i = 0; i < 8; i++) {
                        block[off + i] = (byte) rnd.nextInt();
                    }
                }
                default -> java.util.Arrays.fill(block, 0, span, (byte) 0);
            }
            Jbd2Tools.writeBlock(ours, pblk, block);
            java.nio.file.Path theirs = java.nio.file.Files.copy(ours, tmp.resolve("theirs.img"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Jbd2Tools.Result e = Jbd2Tools.run("e2fsck", "-E", "journal_only", "-y", theirs.toString());
            try (org.iomap4j.block.FileBlockDevice dev = org.iomap4j.block.FileBlockDevice.open(ours, false)) {
                RecoveryResult r = JournalRecovery.replay(dev, map, bs);
                compared++;
                for (long b : logged) {
                    assertThat(Jbd2Tools.readBlock(ours, b, bs)).as("iteration %d, journal block %d damaged (%s): "
                            + "block %d; e2fsck said %s; ours %s", iter, jblk, commit ? "commit" : "other", b,
                            e.stdout(), r).isEqualTo(Jbd2Tools.readBlock(theirs, b, bs));
                }
            } catch (CorruptFilesystemException ex) {
                ourErrors++;
                assertThat(ex.getMessage()).containsIgnoringCase("journal");
            }
        }
        System.out.println("e2fsck damage: " + compared + " replays identical to e2fsck's, " + ourErrors
                + " refused with a clear error");
        assertThat(compared + ourErrors).isEqualTo(40);
    }
}
