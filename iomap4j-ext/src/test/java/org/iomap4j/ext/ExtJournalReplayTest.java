package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.iomap4j.FsException;
import org.iomap4j.jbd2.RecoveryResult;
import org.iomap4j.testkit.tools.HostTools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Replay at mount ({@link ExtJournal}) on images the kernel left needing recovery: ext3 or ext4 on a loop mount, a
 * workload with fsyncs (each commits a transaction) and unlinks, then the shutdown ioctl without a log flush
 * ({@code xfs_io -x -c shutdown}). Oracles: the kernel's own replay (loop mount + umount of a copy), e2fsck's
 * ({@code -E journal_only}), {@code e2fsck -fn}, and the model of what was fsync'd.
 */
class ExtJournalReplayTest {
    @TempDir
    Path tmp;

    private static void assumeKernel() {
        for (String t : new String[] {"mkfs.ext3", "e2fsck", "dumpe2fs", "xfs_io", "mount", "umount"}) {
            if (HostTools.which(t) == null) {
                System.out.println("SKIP: tool '" + t + "' is not installed");
                Assumptions.abort("tool '" + t + "' is not installed");
            }
        }
        String why = Ext2Tools.loopMountUnavailableReason();
        if (why != null) {
            System.out.println("SKIP: " + why);
            Assumptions.abort(why);
        }
    }

    /**
     * ext3 (indirect journal inode): read-only mount replays in memory (image file unchanged, tree as the kernel's
     * replay), read-write mount replays onto the device and clears needs_recovery (e2fsck -fn clean, tree as the
     * kernel's replay, every fsync'd file present with its bytes).
     */
    @ParameterizedTest(name = "ext3 {0}-byte blocks")
    @ValueSource(ints = {1024, 4096})
    @Timeout(300)
    void ext3MountReplaysLikeTheKernel(int bs) throws Exception {
        assumeKernel();
        long seed = new Random().nextLong();
        System.out.println("ext3 " + bs + ": seed " + seed);
        Path image = kernelCrashedImage("ext3", bs, new Random(seed));
        assertThat(dumpe2fsField(image, "Filesystem features")).contains("needs_recovery");
        Map<String, byte[]> synced = lastSynced;

        Path byKernel = Files.copy(image, tmp.resolve("kernel.img"));
        Path mnt = Files.createDirectories(tmp.resolve("kmnt"));
        Ext2Tools.run("mount", "-t", "ext3", "-o", "loop", byKernel.toString(), mnt.toString()).ok();
        Ext2Tools.run("umount", mnt.toString()).ok();
        Ext2Tools.run("e2fsck", "-fn", byKernel.toString()).ok();
        Map<String, TreeModel.Node> kernelTree;
        try (ExtFileSystem fs = ExtFileSystem.mount(byKernel, ExtMountOptions.defaults().withReadOnly(true))) {
            kernelTree = TreeModel.capture(fs);
        }

        // Read-only: replay into memory only.
        String before = sha256(image);
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults().withReadOnly(true))) {
            assertThat(fs.superblock().toString()).isNotNull();
            assertThat(TreeModel.capture(fs)).as("read-only mount's in-memory replay").isEqualTo(kernelTree);
        }
        assertThat(sha256(image)).as("a read-only mount never writes the device").isEqualTo(before);
        assertThat(dumpe2fsField(image, "Filesystem features")).contains("needs_recovery");

        // Read-write: replay onto the device, then the mount journals its own writes (needs_recovery set while
        // mounted); the unmount checkpoints, empties the log and clears needs_recovery.
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults())) {
            assertThat(fs.readOnlyReason()).isNull();
            assertThat(dumpe2fsField(image, "Filesystem features")).contains("needs_recovery");
        }
        assertThat(dumpe2fsField(image, "Filesystem features")).doesNotContain("needs_recovery");
        assertThat(dumpe2fsField(image, "Journal start")).isEqualTo("0");
        Ext2Tools.run("e2fsck", "-fn", image.toString()).ok();
        Map<String, TreeModel.Node> ours;
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults().withReadOnly(true))) {
            ours = TreeModel.capture(fs);
        }
        assertThat(ours).as("replayed at a read-write mount vs the kernel's replay").isEqualTo(kernelTree);
        for (Map.Entry<String, byte[]> e : synced.entrySet()) {
            assertThat(ours).as("fsync'd %s", e.getKey()).containsKey(e.getKey());
            assertThat(ours.get(e.getKey()).content()).as("fsync'd %s", e.getKey()).isEqualTo(e.getValue());
        }
        System.out.println("ext3 " + bs + ": " + ours.size() + " paths after replay, " + synced.size()
                + " fsync'd files checked");
    }

    /**
     * ext4 (extent-mapped journal inode, checksum v3): {@link ExtJournal#replay(Path)} (the {@code iomapfs journal
     * replay} command) gives the same blocks as e2fsck's replay but for the superblock, and e2fsck -fn is clean.
     */
    @Test
    @Timeout(300)
    void ext4ReplayCommandMatchesE2fsck() throws Exception {
        assumeKernel();
        long seed = new Random().nextLong();
        System.out.println("ext4: seed " + seed);
        Path image = kernelCrashedImage("ext4", 4096, new Random(seed));
        Path byE2fsck = Files.copy(image, tmp.resolve("e2fsck.img"));
        Ext2Tools.Result r = Ext2Tools.run("e2fsck", "-E", "journal_only", "-y", byE2fsck.toString());
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isLessThanOrEqualTo(1);
        RecoveryResult ours = ExtJournal.replay(image);
        System.out.println("ext4: " + ours);
        assertThat(ours.needed()).isTrue();
        assertThat(ours.transactionsReplayed()).isPositive();
        assertThat(dumpe2fsField(image, "Filesystem features")).doesNotContain("needs_recovery");
        Ext2Tools.run("e2fsck", "-fn", image.toString()).ok();
        List<Long> diff = differingBlocks(image, byE2fsck, 4096);
        assertThat(diff).as("blocks differing from e2fsck's replay (block 0 holds the superblock)")
                .isSubsetOf(List.of(0L));
        RecoveryResult again = ExtJournal.replay(image);
        assertThat(again.needed()).as("second replay").isFalse();
    }

    @Test
    void imageWithoutJournalIsRefusedByTheReplayCommand() throws Exception {
        Path image = Ext2Tools.mke2fs(tmp.resolve("e2.img"), 8 << 20);
        assertThatThrownBy(() -> ExtJournal.replay(image)).isInstanceOf(FsException.class)
                .hasMessageContaining("no journal");
    }

    /** The files fsync'd by the last {@link #kernelCrashedImage} workload: path -> content. */
    private Map<String, byte[]> lastSynced = new LinkedHashMap<>();

    private Path kernelCrashedImage(String type, int bs, Random rnd) throws IOException {
        Path image = Ext2Tools.sparseImage(tmp.resolve(type + ".img"), 64L << 20);
        Ext2Tools.run("mkfs." + type, "-q", "-F", "-b", Integer.toString(bs), image.toString()).ok();
        Path mnt = Files.createDirectories(tmp.resolve("crash-mnt"));
        Ext2Tools.run("mount", "-t", type, "-o", "loop", image.toString(), mnt.toString()).ok();
        try {
            Path d = Files.createDirectories(mnt.resolve("d"));
            Path doomed = Files.createDirectories(mnt.resolve("doomed"));
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 40; i++) {
                    byte[] data = new byte[rnd.nextInt(20000)];
                    rnd.nextBytes(data);
                    Path f = d.resolve("r" + round + "-f" + i);
                    Files.write(f, data);
                    Files.write(doomed.resolve("r" + round + "-x" + i), data);
                    if (i % 10 == 0) {
                        fsync(f);
                        lastSynced.put("/d/" + f.getFileName(), data);
                    }
                }
                fsync(d);
            }
            List<Path> victims = new ArrayList<>();
            try (var list = Files.list(doomed)) {
                list.forEach(victims::add);
            }
            for (Path p : victims) {
                Files.delete(p);
            }
            Files.delete(doomed);
            fsync(mnt);
            for (int i = 0; i < 20; i++) {
                Files.writeString(d.resolve("lost" + i), "never committed " + i);
            }
            Ext2Tools.run("xfs_io", "-x", "-c", "shutdown", mnt.toString()).ok();
        } finally {
            Ext2Tools.run("umount", mnt.toString()).ok();
        }
        return image;
    }

    private static void fsync(Path p) {
        Ext2Tools.run("xfs_io", "-c", "fsync", p.toString()).ok();
    }

    static String dumpe2fsField(Path image, String field) {
        for (String line : Ext2Tools.run("dumpe2fs", "-h", image.toString()).stdout().split("\n")) {
            if (line.startsWith(field + ":")) {
                return line.substring(field.length() + 1).trim();
            }
        }
        return null;
    }

    static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(Files.readAllBytes(p));
        return HexFormat.of().formatHex(md.digest());
    }

    static List<Long> differingBlocks(Path a, Path b, int bs) throws IOException {
        List<Long> diff = new ArrayList<>();
        try (RandomAccessFile ra = new RandomAccessFile(a.toFile(), "r");
             RandomAccessFile rb = new RandomAccessFile(b.toFile(), "r")) {
            byte[] x = new byte[bs];
            byte[] y = new byte[bs];
            for (long blk = 0; blk < ra.length() / bs; blk++) {
                ra.readFully(x);
                rb.readFully(y);
                if (!java.util.Arrays.equals(x, y)) {
                    diff.add(blk);
                }
            }
        }
        return diff;
    }
}
