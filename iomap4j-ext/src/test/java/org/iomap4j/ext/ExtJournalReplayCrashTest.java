package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.CrashPointBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.testkit.tools.HostTools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recovery must be restartable: a power cut during iomap4j's replay of a kernel-crashed ext3 image (at every flush
 * boundary and at seeded random writes, unflushed writes dropped or kept) leaves an image that each of three
 * replays - iomap4j's ({@link ExtJournal#replay}), {@code e2fsck -fy} (whose only action must be the journal
 * replay), the kernel's (loop mount + umount) - brings to the same tree as an uninterrupted replay, with
 * {@code e2fsck -fn} clean (no repairs) and every fsync'd file's bytes present.
 *
 * <p>Fast form in the suite (the flush boundaries and random points with probability 0.01 per write); long form with
 * {@code -Diomap4j.crash.long=true} (a point after every write).
 */
class ExtJournalReplayCrashTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(900)
    void powerCutDuringReplayIsRepairedByEveryReplayWithoutRepairs() throws Exception {
        for (String t : new String[] {"mkfs.ext3", "e2fsck", "xfs_io", "mount", "umount"}) {
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
        boolean longForm = Boolean.getBoolean("iomap4j.crash.long");
        long seed = new Random().nextLong();
        System.out.println("replay crash test: seed " + seed + (longForm ? " (long form)" : ""));
        Random rnd = new Random(seed);

        Path image = Ext2Tools.sparseImage(tmp.resolve("k.img"), 16L << 20);
        Ext2Tools.run("mkfs.ext3", "-q", "-F", "-b", "1024", image.toString()).ok();
        Map<String, byte[]> synced = new LinkedHashMap<>();
        Path mnt = Files.createDirectories(tmp.resolve("kmnt"));
        Ext2Tools.run("mount", "-t", "ext3", "-o", "loop", image.toString(), mnt.toString()).ok();
        try {
            Path d = Files.createDirectories(mnt.resolve("d"));
            for (int i = 0; i < 30; i++) {
                byte[] data = new byte[rnd.nextInt(6000)];
                rnd.nextBytes(data);
                Files.write(d.resolve("f" + i), data);
                if (i % 6 == 5) {
                    Ext2Tools.run("xfs_io", "-c", "fsync", d.resolve("f" + i).toString()).ok();
                    synced.put("/d/f" + i, data);
                }
            }
            Files.delete(d.resolve("f0"));
            Files.createDirectories(mnt.resolve("e/f"));
            Ext2Tools.run("xfs_io", "-c", "fsync", mnt.toString()).ok();
            Ext2Tools.run("xfs_io", "-x", "-c", "shutdown", mnt.toString()).ok();
        } finally {
            Ext2Tools.run("umount", mnt.toString()).ok();
        }

        // The uninterrupted replay: the reference tree.
        Path reference = Files.copy(image, tmp.resolve("reference.img"));
        ExtJournal.replay(reference);
        Map<String, TreeModel.Node> want = tree(reference);
        for (Map.Entry<String, byte[]> e : synced.entrySet()) {
            assertThat(want.get(e.getKey()).content()).as(e.getKey()).isEqualTo(e.getValue());
        }

        byte[] crashedBytes = Files.readAllBytes(image);
        MemoryBlockDevice mem = new MemoryBlockDevice(crashedBytes.length);
        mem.write(0, ByteBuffer.wrap(crashedBytes));
        mem.flush();
        FaultInjectingBlockDevice fid = new FaultInjectingBlockDevice(mem);
        List<String> passedWays = new ArrayList<>();
        CrashPointBlockDevice dev = new CrashPointBlockDevice(fid, new Random(seed ^ 0x9e3779b97f4a7c15L),
                longForm ? 1.0 : 0.01, (bytes, ctx) -> check(bytes, ctx, want, passedWays));
        dev.setArmed(true);
        dev.setLastOp("journal replay");
        ExtJournal.replay(dev);
        dev.setArmed(false);
        System.out.println("replay crash test: " + dev.pointsTested() + " crash points tested, "
                + dev.pointsPassed() + " passed (each replayed 3 ways: " + passedWays.size() + " replays checked)");
        assertThat(dev.failures()).isEmpty();
        assertThat(dev.pointsTested()).isGreaterThanOrEqualTo(4);
    }

    private String check(byte[] bytes, String ctx, Map<String, TreeModel.Node> want, List<String> passed)
            throws IOException {
        Path crashed = tmp.resolve("crashed.img");
        Files.write(crashed, bytes);
        List<String> problems = new ArrayList<>();
        // 1. iomap4j
        Path ours = Files.copy(crashed, tmp.resolve("ours.img"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        ExtJournal.replay(ours);
        verify("iomap4j", ours, want, problems, passed);
        // 2. e2fsck -fy: only the journal replay
        Path e2 = Files.copy(crashed, tmp.resolve("e2.img"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Ext2Tools.Result fy = Ext2Tools.run("e2fsck", "-fy", e2.toString());
        if (fy.exitCode() > 1 || repairs(fy.stdout()) > 0) {
            problems.add("e2fsck -fy repaired more than the journal (exit " + fy.exitCode() + "):\n" + fy.stdout());
        }
        verify("e2fsck", e2, want, problems, passed);
        // 3. the kernel
        Path k = Files.copy(crashed, tmp.resolve("kernel.img"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path mnt = Files.createDirectories(tmp.resolve("check-mnt"));
        Ext2Tools.Result m = Ext2Tools.run("mount", "-t", "ext3", "-o", "loop", k.toString(), mnt.toString());
        if (m.exitCode() != 0) {
            problems.add("kernel mount failed: " + m.stderr());
        } else {
            Ext2Tools.run("umount", mnt.toString()).ok();
            verify("kernel", k, want, problems, passed);
        }
        return problems.isEmpty() ? null : ctx + ": " + String.join("; ", problems);
    }

    /**
     * Fixes e2fsck made beyond the journal replay: every "? yes" answer except the superblock's free block and
     * inode totals, which the kernel does not keep exact in the journal either (e2fsck recomputes them after every
     * replay; they are PR_NOT_A_FIX problems that do not change its exit code).
     */
    static int repairs(String e2fsckOutput) {
        String[] lines = e2fsckOutput.split("\n");
        int n = 0;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains("? yes")) {
                String prev = i > 0 ? lines[i - 1] : "";
                if (!prev.startsWith("Free blocks count wrong (") && !prev.startsWith("Free inodes count wrong (")) {
                    n++;
                }
            }
        }
        return n;
    }

    private static void verify(String who, Path img, Map<String, TreeModel.Node> want, List<String> problems,
                               List<String> passed) throws IOException {
        Ext2Tools.Result fn = Ext2Tools.run("e2fsck", "-fn", img.toString());
        if (fn.exitCode() != 0) {
            problems.add(who + ": e2fsck -fn exit " + fn.exitCode() + "\n" + fn.stdout());
            return;
        }
        Map<String, TreeModel.Node> got = tree(img);
        if (!got.equals(want)) {
            problems.add(who + ": tree differs from the uninterrupted replay: " + got.keySet() + " vs "
                    + want.keySet());
            return;
        }
        passed.add(who);
    }

    private static Map<String, TreeModel.Node> tree(Path img) throws IOException {
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            return TreeModel.capture(fs);
        }
    }
}
