package org.iomap4j.jbd2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.iomap4j.block.FileBlockDevice;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Transactions written by {@link JournalWriter} into a fresh mkfs.ext4 image's journal, replayed by e2fsck
 * ({@code -E journal_only}), by the kernel (loop mount, as root) and by {@link JournalRecovery}: every logged block
 * must come back as the model says (latest committed copy; revoked copies not replayed; the transaction whose
 * commit block is torn not replayed; escaped blocks unescaped), the log wraps around its end, and the image our
 * replay leaves is byte-identical to e2fsck's apart from the ext4 superblock fields e2fsck itself sets (checked one
 * by one below). Configurations: checksum v3 + 64bit tags, v2, v1, none; 4 KiB and 1 KiB blocks.
 */
class WriterReplayOracleTest {
    @TempDir
    Path tmp;

    static Stream<Arguments> configs() {
        int v3 = JournalFormat.INCOMPAT_CSUM_V3;
        int v2 = JournalFormat.INCOMPAT_CSUM_V2;
        int b64 = JournalFormat.INCOMPAT_64BIT;
        return Stream.of(
                Arguments.of("csum v3, 64bit, 4 KiB", 4096, new String[0], new JournalWriter.Features(0, v3 | b64)),
                Arguments.of("csum v3, 64bit, 1 KiB", 1024, new String[0], new JournalWriter.Features(0, v3 | b64)),
                Arguments.of("csum v3, 64bit, async_commit, 4 KiB", 4096, new String[0],
                        new JournalWriter.Features(0, v3 | b64 | JournalFormat.INCOMPAT_ASYNC_COMMIT)),
                Arguments.of("csum v2, 32-bit tags, 1 KiB", 1024, new String[] {"-O", "^64bit"},
                        new JournalWriter.Features(0, v2)),
                Arguments.of("csum v1, 4 KiB", 4096, new String[] {"-O", "^metadata_csum,^64bit"},
                        new JournalWriter.Features(JournalFormat.COMPAT_CHECKSUM, 0)),
                Arguments.of("no csum, 32-bit tags, 4 KiB", 4096, new String[] {"-O", "^metadata_csum,^64bit"},
                        JournalWriter.Features.NONE),
                Arguments.of("no csum, 64bit tags, 1 KiB", 1024, new String[] {"-O", "^metadata_csum"},
                        new JournalWriter.Features(0, b64)));
    }

    /** Free blocks of a fresh image, from debugfs's own allocator search ("ffb count goal"). */
    private static long[] freeBlocks(Path image, int count, long goal) {
        String out = Jbd2Tools.run("debugfs", "-R", "ffb " + count + " " + goal, image.toString()).ok().stdout();
        String list = out.substring(out.indexOf(':') + 1).trim();
        return Arrays.stream(list.split("\\s+")).mapToLong(Long::parseLong).toArray();
    }

    private static byte[] randomBlock(Random rnd, int bs) {
        byte[] b = new byte[bs];
        rnd.nextBytes(b);
        return b;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    @Timeout(600)
    void e2fsckAndKernelReplayWhatTheWriterLogged(String name, int bs, String[] mkfsOpts,
                                                  JournalWriter.Features features) throws Exception {
        Jbd2Tools.assumeTools("mkfs.ext4", "e2fsck", "debugfs", "dumpe2fs");
        long seed = new Random().nextLong();
        System.out.println(name + ": seed " + seed);
        Random rnd = new Random(seed);
        Path image = Jbd2Tools.mkfsExt4(tmp.resolve("fs.img"), 64L << 20, bs, mkfsOpts);
        JournalMap map = Jbd2Tools.journalMap(image);
        long deviceBlocks = (64L << 20) / bs;
        long[] free = freeBlocks(image, 200, deviceBlocks / 2);
        Jbd2Tools.debugfsWrite(image, "feature needs_recovery");

        Map<Long, byte[]> original = new HashMap<>();
        for (long b : free) {
            original.put(b, Jbd2Tools.readBlock(image, b, bs));
        }
        Map<Long, byte[]> expected = new HashMap<>(original);
        long[] clock = {1_700_000_000L};
        InstantSource source = () -> Instant.ofEpochSecond(clock[0]++, 123_456_789);

        JournalWriter.LoggedTransaction torn;
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            JournalWriter w = JournalWriter.open(dev, map, bs, features, source);
            JournalSuperblock sb = w.superblock();

            // Phase 1: checkpointed transactions push the head to near the end of the log, so phase 2 wraps.
            int p = 0;
            while (true) {
                long toEnd = sb.maxlenBlocks() - w.headJblk();
                if (toEnd < 30) {
                    break;
                }
                int n = (int) Math.min(60, toEnd - 25);
                JournalTransaction tx = new JournalTransaction(bs);
                for (int i = 0; i < n; i++) {
                    long blk = free[100 + (p++ % 100)];
                    byte[] img = randomBlock(rnd, bs);
                    tx.logBlock(blk, img);
                }
                JournalWriter.LoggedTransaction t = w.commit(tx);
                for (Map.Entry<Long, byte[]> e : tx.blocks().entrySet()) { // checkpoint: write in place, flush
                    dev.write(e.getKey() * bs, ByteBuffer.wrap(e.getValue()));
                    expected.put(e.getKey(), e.getValue());
                    original.put(e.getKey(), e.getValue());
                }
                dev.flush();
                w.checkpointed(t.tid());
            }
            long wrapFrom = w.headJblk();

            // Phase 2: live transactions across the wrap.
            long a = free[0], b = free[1], m = free[2], c = free[3], d = free[4], e = free[5], f = free[6];
            byte[] magicBlock = randomBlock(rnd, bs);
            ByteBuffer.wrap(magicBlock).putInt(0, JournalFormat.MAGIC);
            JournalTransaction t1 = new JournalTransaction(bs).logBlock(a, randomBlock(rnd, bs))
                    .logBlock(b, randomBlock(rnd, bs)).logBlock(m, magicBlock).logBlock(c, randomBlock(rnd, bs))
                    .logBlock(e, randomBlock(rnd, bs));
            JournalTransaction t2 = new JournalTransaction(bs).logBlock(b, randomBlock(rnd, bs)).revoke(c).revoke(e);
            JournalTransaction t3 = new JournalTransaction(bs).logBlock(d, randomBlock(rnd, bs))
                    .logBlock(e, randomBlock(rnd, bs));
            for (int i = 7; i < 40; i++) {
                t3.logBlock(free[i], randomBlock(rnd, bs));
            }
            JournalTransaction t4 = new JournalTransaction(bs).logBlock(f, randomBlock(rnd, bs))
                    .logBlock(a, randomBlock(rnd, bs));
            w.commit(t1);
            w.commit(t2);
            w.commit(t3);
            torn = w.commit(t4);
            assertThat(w.headJblk()).as("log wrapped").isLessThan(wrapFrom);
            expected.put(a, t1.blocks().get(a));
            expected.put(b, t2.blocks().get(b));
            expected.put(m, magicBlock);
            t3.blocks().forEach(expected::put); // d, e (revoked in t2, logged again in t3), free[7..40)
            // c: revoked in t2, only logged in t1 -> original. f: only in the torn t4 -> original.

            // Tear t4: its commit block never reached the disk.
            long commitJblk = sb.advance(torn.startJblk(), torn.lengthBlocks() - 1);
            dev.write(map.pblk(commitJblk) * bs, ByteBuffer.wrap(new byte[bs]));
            dev.flush();
        }
        assertThat(Jbd2Tools.dumpe2fsField(image, "Journal start")).isNotEqualTo("0");

        Path byE2fsck = Files.copy(image, tmp.resolve("e2fsck.img"));
        Path byUs = Files.copy(image, tmp.resolve("ours.img"));
        Jbd2Tools.e2fsckReplay(byE2fsck);
        RecoveryResult r;
        try (FileBlockDevice dev = FileBlockDevice.open(byUs, false)) {
            r = JournalRecovery.replay(dev, map, bs);
        }
        System.out.println(name + ": " + r);
        assertThat(r.transactionsReplayed()).isEqualTo(3);
        assertThat(r.endTid()).isEqualTo(Integer.toUnsignedLong(torn.tid()));
        assertThat(r.revokeHits()).isEqualTo(2); // c and e of t1
        assertThat(r.failedCommitTid()).isEqualTo(-1);

        for (Map.Entry<Long, byte[]> x : expected.entrySet()) {
            assertThat(Jbd2Tools.readBlock(byE2fsck, x.getKey(), bs)).as("e2fsck: block %d", x.getKey())
                    .isEqualTo(x.getValue());
            assertThat(Jbd2Tools.readBlock(byUs, x.getKey(), bs)).as("ours: block %d", x.getKey())
                    .isEqualTo(x.getValue());
        }
        assertSameAsE2fsck(byUs, byE2fsck, bs, map);

        if (Jbd2Tools.canLoopMount()) {
            Path byKernel = Files.copy(image, tmp.resolve("kernel.img"));
            Jbd2Tools.kernelMountUnmount(byKernel, tmp.resolve("jbd2-mnt"), "");
            for (Map.Entry<Long, byte[]> x : expected.entrySet()) {
                assertThat(Jbd2Tools.readBlock(byKernel, x.getKey(), bs)).as("kernel: block %d", x.getKey())
                        .isEqualTo(x.getValue());
            }
            assertThat(Jbd2Tools.dumpe2fsField(byKernel, "Journal start")).isEqualTo("0");
        } else {
            System.out.println("SKIP kernel replay: needs root and mount/umount");
        }
    }

    /**
     * Our replay (then needs_recovery cleared as the ext driver will) vs e2fsck's: identical but for the ext4
     * superblock, whose differing bytes must all lie in fields e2fsck sets itself.
     */
    static void assertSameAsE2fsck(Path ours, Path theirs, int bs, JournalMap map) throws IOException {
        Jbd2Tools.debugfsWrite(ours, "feature -needs_recovery");
        List<Long> diff = Jbd2Tools.differingBlocks(ours, theirs, bs);
        long sbBlock = bs == 1024 ? 1 : 0;
        assertThat(diff).as("blocks differing from e2fsck's replay").isSubsetOf(List.of(sbBlock));
        byte[] x = Jbd2Tools.readBlock(ours, sbBlock, bs);
        byte[] y = Jbd2Tools.readBlock(theirs, sbBlock, bs);
        int base = bs == 1024 ? 0 : 1024;
        List<String> fields = new ArrayList<>();
        for (int i = 0; i < 1024; i++) {
            if (x[base + i] != y[base + i]) {
                fields.add(Ext4SuperblockFields.nameOf(i));
            }
        }
        System.out.println("ext4 superblock fields e2fsck set beyond the replay: " + new java.util.TreeSet<>(fields));
        assertThat(fields).as("ext4 superblock fields differing from e2fsck's").allMatch(
                Ext4SuperblockFields.E2FSCK_SETS::contains);
    }

    /**
     * A commit block whose checksum fails. Damage inside the commit header's fields: e2fsck replays the transactions
     * before it and none after, and so do we; the kernel refuses to mount ("journal transaction N is corrupt").
     * Damage only past the fields (a commit block torn after its first sector): the kernel (6.x) counts the commit
     * as complete and replays everything, and so do we; e2fsprogs 1.47.0 predates that rule and aborts (printed).
     */
    @ParameterizedTest(name = "async_commit {0}, damage at byte {1}")
    @org.junit.jupiter.params.provider.CsvSource({"false, 58", "true, 58", "false, 512"})
    @Timeout(300)
    void aCorruptCommitChecksumEndsReplayAsTheOraclesDo(boolean async, int damageAt) throws Exception {
        Jbd2Tools.assumeTools("mkfs.ext4", "e2fsck", "debugfs", "dumpe2fs");
        long seed = new Random().nextLong();
        System.out.println("corrupt commit, async " + async + ", byte " + damageAt + ": seed " + seed);
        Random rnd = new Random(seed);
        int bs = 4096;
        Path image = Jbd2Tools.mkfsExt4(tmp.resolve("fs.img"), 64L << 20, bs);
        JournalMap map = Jbd2Tools.journalMap(image);
        long[] free = freeBlocks(image, 30, 8192);
        Jbd2Tools.debugfsWrite(image, "feature needs_recovery");
        Map<Long, byte[]> original = new HashMap<>();
        for (long b : free) {
            original.put(b, Jbd2Tools.readBlock(image, b, bs));
        }
        List<JournalTransaction> txs = new ArrayList<>();
        List<JournalWriter.LoggedTransaction> at = new ArrayList<>();
        long[] clock = {1_700_000_000L};
        int features = JournalFormat.INCOMPAT_CSUM_V3 | JournalFormat.INCOMPAT_64BIT
                | (async ? JournalFormat.INCOMPAT_ASYNC_COMMIT : 0);
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            JournalWriter w = JournalWriter.open(dev, map, bs, new JournalWriter.Features(0, features),
                    () -> Instant.ofEpochSecond(clock[0]++));
            for (int i = 0; i < 4; i++) {
                JournalTransaction tx = new JournalTransaction(bs);
                for (int k = 0; k < 5; k++) {
                    tx.logBlock(free[rnd.nextInt(free.length)], randomBlock(rnd, bs));
                }
                txs.add(tx);
                at.add(w.commit(tx));
            }
            JournalWriter.LoggedTransaction bad = at.get(2);
            long commitPblk = map.pblk(bad.startJblk() + bad.lengthBlocks() - 1);
            byte[] c = Jbd2Tools.readBlock(image, commitPblk, bs);
            c[damageAt] ^= 0x01; // 58: inside h_commit_nsec; 512: past the commit header, second sector
            dev.write(commitPblk * bs, ByteBuffer.wrap(c));
            dev.flush();
        }
        boolean fieldsDamaged = damageAt < CommitBlock.HEADER_STRUCT_BYTES;
        int replayed = fieldsDamaged ? 2 : 4;
        Map<Long, byte[]> expected = new HashMap<>(original);
        for (int i = 0; i < replayed; i++) {
            txs.get(i).blocks().forEach(expected::put);
        }

        Path byE2fsck = Files.copy(image, tmp.resolve("e2fsck.img"));
        Path byUs = Files.copy(image, tmp.resolve("ours.img"));
        Jbd2Tools.Result e = Jbd2Tools.e2fsckReplay(byE2fsck);
        System.out.println("e2fsck: " + e.stdout().trim().replace('\n', ' '));
        RecoveryResult r;
        try (FileBlockDevice dev = FileBlockDevice.open(byUs, false)) {
            r = JournalRecovery.replay(dev, map, bs);
        }
        System.out.println("ours: " + r);
        assertThat(r.transactionsReplayed()).isEqualTo(replayed);
        assertThat(r.failedCommitTid()).isEqualTo(async || !fieldsDamaged ? -1
                : Integer.toUnsignedLong(at.get(2).tid()));
        for (Map.Entry<Long, byte[]> x : expected.entrySet()) {
            if (fieldsDamaged) {
                assertThat(Jbd2Tools.readBlock(byE2fsck, x.getKey(), bs)).as("e2fsck: block %d", x.getKey())
                        .isEqualTo(x.getValue());
            }
            assertThat(Jbd2Tools.readBlock(byUs, x.getKey(), bs)).as("ours: block %d", x.getKey())
                    .isEqualTo(x.getValue());
        }
        if (Jbd2Tools.canLoopMount() && !async) {
            Path byKernel = Files.copy(image, tmp.resolve("kernel.img"));
            Path mnt = Files.createDirectories(tmp.resolve("jbd2-mnt"));
            Jbd2Tools.Result m = Jbd2Tools.run("mount", "-o", "loop", byKernel.toString(), mnt.toString());
            if (m.exitCode() == 0) {
                Jbd2Tools.unmount(mnt);
            }
            System.out.println("kernel mount: exit " + m.exitCode() + " " + m.stderr().trim());
            if (fieldsDamaged) {
                assertThat(m.exitCode()).as("kernel refuses a journal with a corrupt commit").isNotZero();
            } else {
                assertThat(m.exitCode()).as("kernel accepts a commit torn past its fields").isZero();
                for (Map.Entry<Long, byte[]> x : expected.entrySet()) {
                    assertThat(Jbd2Tools.readBlock(byKernel, x.getKey(), bs)).as("kernel: block %d", x.getKey())
                            .isEqualTo(x.getValue());
                }
            }
        }
    }
}
