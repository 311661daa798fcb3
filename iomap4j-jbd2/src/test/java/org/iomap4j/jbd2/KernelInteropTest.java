package org.iomap4j.jbd2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.iomap4j.block.FileBlockDevice;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Journals the kernel leaves: ext4 on loop, a workload with fsyncs (each commits a transaction) and a directory
 * removal (revoke records), then the shutdown ioctl without a log flush ({@code xfs_io -x -c shutdown}, i.e.
 * EXT4_IOC_SHUTDOWN with EXT4_GOING_FLAGS_NOLOGFLUSH). One copy is replayed by e2fsck ({@code -E journal_only}), one
 * by {@link JournalRecovery#replay}: the images must be identical but for the ext4 superblock fields e2fsck sets
 * itself. A third replay into memory ({@link JournalRecovery#replayInMemory}) must read like our device replay and
 * leave the image file untouched. Needs root, mount and xfs_io (xfsprogs; .ci/run installs it).
 */
class KernelInteropTest {
    @TempDir
    Path tmp;

    static Stream<Arguments> configs() {
        return Stream.of(
                Arguments.of("ext4 default (csum v3, 64bit), 4 KiB", 4096, new String[0]),
                Arguments.of("ext4 ^metadata_csum, 1 KiB", 1024, new String[] {"-O", "^metadata_csum"}),
                Arguments.of("ext4 ^metadata_csum mounted journal_checksum (csum v1)", 4096,
                        new String[] {"-O", "^metadata_csum,^64bit"}),
                Arguments.of("ext4 default (csum v3), 1 KiB", 1024, new String[0]),
                Arguments.of("ext4 default mounted journal_async_commit,data=writeback (csum v3, async)", 4096, new String[0]));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    @Timeout(600)
    void ourReplayMatchesE2fsckOnAKernelShutdownImage(String name, int bs, String[] mkfsOpts) throws Exception {
        Jbd2Tools.assumeTools("mkfs.ext4", "e2fsck", "debugfs", "dumpe2fs", "xfs_io");
        Jbd2Tools.assumeRootLoopMount();
        long seed = new Random().nextLong();
        System.out.println(name + ": seed " + seed);
        Path image = Jbd2Tools.mkfsExt4(tmp.resolve("k.img"), 96L << 20, bs, mkfsOpts);
        Path mnt = tmp.resolve("jbd2-kmnt");
        Files.createDirectories(mnt);
        String options = name.contains("journal_checksum") ? "loop,journal_checksum"
                : name.contains("journal_async_commit") ? "loop,journal_async_commit,data=writeback" : "loop";
        Jbd2Tools.run("mount", "-o", options, image.toString(), mnt.toString()).ok();
        try {
            workload(mnt, new Random(seed));
            Jbd2Tools.run("xfs_io", "-x", "-c", "shutdown", mnt.toString()).ok();
        } finally {
            Jbd2Tools.unmount(mnt);
        }
        String logdump = Jbd2Tools.run("debugfs", "-c", "-R", "logdump", image.toString()).stdout();
        System.out.println(name + ": journal features " + Jbd2Tools.dumpe2fsField(image, "Journal features")
                + "; logdump: " + logdump.lines().filter(l -> l.contains("commit block")).count() + " commits, "
                + logdump.lines().filter(l -> l.contains("revoke table")).count() + " revoke blocks");
        assertThat(Jbd2Tools.dumpe2fsField(image, "Journal start")).as("journal needs replay").isNotEqualTo("0");
        JournalMap map = Jbd2Tools.journalMap(image);

        Path byE2fsck = Files.copy(image, tmp.resolve("e2fsck.img"));
        Path byUs = Files.copy(image, tmp.resolve("ours.img"));
        Jbd2Tools.e2fsckReplay(byE2fsck);
        RecoveryResult r;
        try (FileBlockDevice dev = FileBlockDevice.open(byUs, false)) {
            r = JournalRecovery.replay(dev, map, bs);
        }
        System.out.println(name + ": " + r);
        assertThat(r.needed()).isTrue();
        assertThat(r.transactionsReplayed()).isPositive();
        assertThat(r.blocksReplayed()).isPositive();

        // In-memory replay of the original: reads as our device replay (before needs_recovery is cleared).
        String before = sha256(image);
        try (FileBlockDevice ro = FileBlockDevice.open(image, true);
             FileBlockDevice replayed = FileBlockDevice.open(byUs, true)) {
            ReplayOverlayDevice overlay = JournalRecovery.replayInMemory(ro, map, bs);
            assertThat(overlay.result()).isEqualTo(r);
            assertThat(overlay.isReadOnly()).isTrue();
            byte[] x = new byte[1 << 20];
            byte[] y = new byte[1 << 20];
            for (long pos = 0; pos < ro.sizeBytes(); pos += x.length) {
                overlay.read(pos, ByteBuffer.wrap(x));
                replayed.read(pos, ByteBuffer.wrap(y));
                assertThat(x).as("overlay MiB at %d", pos).isEqualTo(y);
            }
            // Unaligned reads straddling overlaid blocks.
            Random rnd = new Random(seed);
            for (int i = 0; i < 200; i++) {
                long pos = (long) (rnd.nextDouble() * (ro.sizeBytes() - 10000));
                int len = 1 + rnd.nextInt(9999);
                overlay.read(pos, ByteBuffer.wrap(x, 0, len));
                replayed.read(pos, ByteBuffer.wrap(y, 0, len));
                assertThat(java.util.Arrays.equals(x, 0, len, y, 0, len)).as("read %d+%d", pos, len).isTrue();
            }
        }
        assertThat(sha256(image)).as("in-memory replay never writes the device").isEqualTo(before);

        WriterReplayOracleTest.assertSameAsE2fsck(byUs, byE2fsck, bs, map);
        Jbd2Tools.run("e2fsck", "-fn", byUs.toString()).ok();
    }

    private static void workload(Path mnt, Random rnd) throws IOException {
        Path d = Files.createDirectories(mnt.resolve("d"));
        Path doomed = Files.createDirectories(mnt.resolve("doomed"));
        for (int round = 0; round < 4; round++) {
            for (int i = 0; i < 60; i++) {
                byte[] data = new byte[rnd.nextInt(9000)];
                rnd.nextBytes(data);
                Files.write(d.resolve("r" + round + "-f" + i), data);
                Files.write(doomed.resolve("r" + round + "-x" + i), data);
            }
            fsync(d.resolve("r" + round + "-f0"));
            fsync(d);
        }
        List<Path> victims;
        try (Stream<Path> list = Files.list(doomed)) {
            victims = list.toList();
        }
        for (Path p : victims) {
            Files.delete(p);
        }
        Files.delete(doomed);
        fsync(mnt);
        for (int i = 0; i < 30; i++) { // committed by the next fsync
            Files.writeString(d.resolve("late" + i), "late " + i);
        }
        fsync(d);
        for (int i = 0; i < 30; i++) { // never committed: lost at the shutdown
            Files.writeString(d.resolve("lost" + i), "lost " + i);
        }
    }

    private static void fsync(Path p) throws IOException {
        Jbd2Tools.run("xfs_io", "-c", "fsync", p.toString()).ok();
    }

    private static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

}
