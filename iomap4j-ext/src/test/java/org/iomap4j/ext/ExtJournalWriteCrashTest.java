package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.CrashPointBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.testkit.tools.HostTools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Crash consistency of journaled writes without repair (issue 14): a seeded workload ({@link JournalWorkload}:
 * create, write, fsync, rename, unlink, truncate, mkdir, fallocate, setxattr) runs through the library on a
 * mkfs.ext4 (default features) and a mkfs.ext3 (1 KiB blocks) image over a {@link CrashPointBlockDevice}. At every
 * flush boundary (before and after each flush: the journal's commit and checkpoint barriers, and the data
 * writeback before a commit) and, in the long form, at random writes, the power-cut image (unflushed writes all
 * dropped, all kept, or a random part kept) is replayed three ways: iomap4j's ({@link ExtJournal#replay}),
 * {@code e2fsck -fy} (whose only action must be the journal replay: no "? yes" beyond the superblock free totals)
 * and the kernel's (loop mount + umount). Each must be {@code e2fsck -fn} clean, keep every file whose fsync
 * returned (and that was not changed since) with exactly its bytes, and the three trees must be equal.
 *
 * <p>Fast form in the suite; long form with {@code -Diomap4j.crash.long=true} (more operations and a crash point
 * after 5% of the writes).
 */
class ExtJournalWriteCrashTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "ext3"})
    @Timeout(1800)
    @org.junit.jupiter.api.condition.DisabledIfSystemProperty(named = "iomap4j.crash.skip", matches = "true")
    void everyCrashPointIsConsistentWithoutRepairAndKeepsWhatWasFsynced(String type) throws Exception {
        for (String t : new String[] {"mkfs.ext4", "mkfs.ext3", "e2fsck", "mount", "umount"}) {
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
        long seed = Long.getLong("iomap4j.crash.seed", new Random().nextLong());
        System.out.println("journal write crash test " + type + ": seed " + seed + (longForm ? " (long form)" : ""));
        Path image = Ext2Tools.sparseImage(tmp.resolve("base.img"), type.equals("ext4") ? 24L << 20 : 12L << 20);
        if (type.equals("ext4")) {
            Ext2Tools.run("mkfs.ext4", "-q", "-F", image.toString()).ok();
        } else {
            Ext2Tools.run("mkfs.ext3", "-q", "-F", "-b", "1024", image.toString()).ok();
        }
        byte[] base = Files.readAllBytes(image);
        MemoryBlockDevice mem = new MemoryBlockDevice(base.length, 512);
        mem.write(0, ByteBuffer.wrap(base));
        mem.flush();
        FaultInjectingBlockDevice fid = new FaultInjectingBlockDevice(mem);
        JournalWorkload[] w = new JournalWorkload[1];
        AtomicInteger threeWay = new AtomicInteger();
        CrashPointBlockDevice dev = new CrashPointBlockDevice(fid, new Random(seed ^ 0x5DEECE66DL),
                longForm ? 0.05 : 0.01, (bytes, ctx) -> check(bytes, ctx, w[0], threeWay));
        int ops = longForm ? 200 : 60;
        try (ExtFileSystem fs = ExtFileSystem.mount(dev, new ExtMountOptions(false, 8L << 20, 64 << 10, 2L << 20))) {
            assertThat(fs.journal.active()).isTrue();
            boolean trace = Boolean.getBoolean("iomap4j.crash.trace");
            w[0] = new JournalWorkload(fs, new Random(seed), type.equals("ext4"), op -> {
                dev.setLastOp(op);
                if (trace) {
                    System.out.println("op: " + op);
                }
            });
            dev.setArmed(true);
            w[0].run(ops);
            dev.setLastOp("unmount");
        } finally {
            dev.setArmed(false);
        }
        System.out.println("journal write crash test " + type + ": " + dev.pointsTested() + " crash points tested, "
                + dev.pointsPassed() + " passed (" + threeWay.get() + " replays checked, " + w[0].fsyncs
                + " fsyncs)");
        assertThat(dev.failures()).isEmpty();
        assertThat(dev.pointsTested()).isGreaterThanOrEqualTo(20);
        byte[] after = mem.toByteArray();
        Path clean = tmp.resolve("after.img");
        Files.write(clean, after);
        Ext2Tools.assertFsckClean(clean);
        try (ExtFileSystem fs = ExtFileSystem.mount(clean, ExtMountOptions.defaults().withReadOnly(true))) {
            assertThat(w[0].compareAll(TreeModel.capture(fs))).isEmpty();
        }
    }

    private String check(byte[] bytes, String ctx, JournalWorkload w, AtomicInteger threeWay) throws IOException {
        Map<String, byte[]> promises = w == null ? Map.of() : new TreeMap<>(w.promised);
        Path crashed = tmp.resolve("crashed.img");
        Files.write(crashed, bytes);
        List<String> problems = new ArrayList<>();
        List<Map<String, TreeModel.Node>> trees = new ArrayList<>();
        // 1. iomap4j's replay
        Path ours = Files.copy(crashed, tmp.resolve("ours.img"), StandardCopyOption.REPLACE_EXISTING);
        ExtJournal.replay(ours);
        verify("iomap4j", ours, w, promises, problems, trees);
        // 2. e2fsck -fy: the journal replay only
        Path e2 = Files.copy(crashed, tmp.resolve("e2.img"), StandardCopyOption.REPLACE_EXISTING);
        Ext2Tools.Result fy = Ext2Tools.run("e2fsck", "-fy", e2.toString());
        if (fy.exitCode() > 1 || ExtJournalReplayCrashTest.repairs(fy.stdout()) > 0) {
            problems.add("e2fsck -fy repaired more than the journal (exit " + fy.exitCode() + "):\n" + fy.stdout());
        }
        verify("e2fsck", e2, w, promises, problems, trees);
        // 3. the kernel's
        Path k = Files.copy(crashed, tmp.resolve("kernel.img"), StandardCopyOption.REPLACE_EXISTING);
        Path mnt = Files.createDirectories(tmp.resolve("check-mnt"));
        Ext2Tools.Result m = Ext2Tools.run("mount", "-t", "ext4", "-o", "loop", k.toString(), mnt.toString());
        if (m.exitCode() != 0) {
            problems.add("kernel mount failed: " + m.stderr());
        } else {
            Ext2Tools.run("umount", mnt.toString()).ok();
            verify("kernel", k, w, promises, problems, trees);
        }
        if (problems.isEmpty() && trees.size() == 3
                && !(trees.get(0).equals(trees.get(1)) && trees.get(1).equals(trees.get(2)))) {
            problems.add("the replays differ: iomap4j " + trees.get(0).keySet() + ", e2fsck " + trees.get(1).keySet()
                    + ", kernel " + trees.get(2).keySet());
        }
        threeWay.addAndGet(trees.size());
        return problems.isEmpty() ? null : ctx + ": " + String.join("; ", problems);
    }

    private static void verify(String who, Path img, JournalWorkload w, Map<String, byte[]> promises,
            List<String> problems, List<Map<String, TreeModel.Node>> trees) throws IOException {
        Ext2Tools.Result fn = Ext2Tools.run("e2fsck", "-fn", img.toString());
        if (fn.exitCode() != 0) {
            problems.add(who + ": e2fsck -fn exit " + fn.exitCode() + "\n" + fn.stdout());
            return;
        }
        Map<String, TreeModel.Node> got;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            got = TreeModel.capture(fs);
        }
        String bad = w == null ? "" : w.comparePromised(got, promises);
        if (!bad.isEmpty()) {
            problems.add(who + ": " + bad);
            return;
        }
        trees.add(got);
    }
}
