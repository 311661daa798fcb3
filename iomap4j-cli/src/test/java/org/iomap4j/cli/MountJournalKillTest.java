package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interop of iomap4j's journal with the kernel's and e2fsck's recovery (issue 14): a default mkfs.ext4 image is
 * mounted read-write with a real {@code iomapfs mount}; files are written and fsync'd through the mount, a writer
 * keeps creating files, and the serving process is killed with SIGKILL mid-workload. The image then needs
 * recovery; each of three replays - the kernel's (loop mount + umount), {@code e2fsck -fy} (nothing repaired
 * beyond the journal) and {@code iomapfs journal replay} - leaves it {@code e2fsck -fn} clean with every fsync'd
 * file's bytes, and the three agree on the fsync'd files.
 */
class MountJournalKillTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(600)
    void killMinus9MidWorkload_thenKernelE2fsckAndIomap4jReplaysAreCleanAndKeepFsyncedFiles() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("MountJournalKillTest seed " + seed);
        Random rnd = new Random(seed);
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("k.img"), 64L << 20);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Map<String, byte[]> synced = new LinkedHashMap<>();
        Process writer = null;
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0")) {
            Files.createDirectories(mnt.resolve("d/e"));
            for (int i = 0; i < 12; i++) {
                byte[] data = new byte[rnd.nextInt(200_000)];
                rnd.nextBytes(data);
                String rel = (i % 2 == 0 ? "d/" : "d/e/") + "s" + i;
                Files.write(mnt.resolve(rel), data);
                Ext2Tools.run("xfs_io", "-c", "fsync", mnt.resolve(rel).toString()).ok();
                synced.put(rel, data);
                Files.write(mnt.resolve("d/unsynced" + i), data); // never fsync'd: may or may not survive
            }
            writer = new ProcessBuilder("sh", "-c", "i=0; while [ $i -lt 100000 ]; do head -c 5000 /dev/urandom > "
                    + mnt + "/d/w$i || exit 0; mv " + mnt + "/d/w$i " + mnt + "/d/e/m$i || exit 0; i=$((i+1)); done")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            writer.waitFor(6500, TimeUnit.MILLISECONDS); // past a 5 s periodic commit (no assertion on timing)
            m.process.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL: no unmount, no final commit
        } finally {
            if (writer != null) {
                writer.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
            Ext2Tools.run("umount", "-l", mnt.toString());
        }
        assertThat(Ext2Tools.run("dumpe2fs", "-h", img.toString()).stdout()).as("a killed mount needs recovery")
                .contains("needs_recovery");

        // 1. the kernel's replay
        Path k = Files.copy(img, tmp.resolve("kernel.img"), StandardCopyOption.REPLACE_EXISTING);
        try (Ext2Tools.LoopMount lm = Ext2Tools.LoopMount.mount(k, tmp, false, "ext4")) {
            for (Map.Entry<String, byte[]> e : synced.entrySet()) {
                assertThat(Files.readAllBytes(lm.root().resolve(e.getKey()))).as("kernel: " + e.getKey())
                        .isEqualTo(e.getValue());
            }
        }
        Ext2Tools.assertFsckClean(k);
        // 2. e2fsck's replay: nothing but the journal
        Path e2 = Files.copy(img, tmp.resolve("e2.img"), StandardCopyOption.REPLACE_EXISTING);
        Ext2Tools.Result fy = Ext2Tools.run("e2fsck", "-fy", e2.toString());
        assertThat(fy.exitCode()).as(fy.stdout()).isLessThanOrEqualTo(1);
        assertThat(repairs(fy.stdout())).as(fy.stdout()).isZero();
        Ext2Tools.assertFsckClean(e2);
        // 3. iomap4j's replay
        Path ours = Files.copy(img, tmp.resolve("ours.img"), StandardCopyOption.REPLACE_EXISTING);
        Cli.Run r = Cli.run("journal", "replay", ours.toString());
        assertThat(r.exit()).as(r.toString()).isZero();
        Ext2Tools.assertFsckClean(ours);
        for (Path p : new Path[] {k, e2, ours}) {
            for (Map.Entry<String, byte[]> e : synced.entrySet()) {
                assertThat(Ext2Tools.debugfsDump(p, "/" + e.getKey(), tmp)).as(p.getFileName() + ": " + e.getKey())
                        .isEqualTo(e.getValue());
            }
        }
        String kernelLs = Ext2Tools.run("debugfs", "-R", "ls -l /d/e", k.toString()).stdout();
        String oursLs = Ext2Tools.run("debugfs", "-R", "ls -l /d/e", ours.toString()).stdout();
        assertThat(names(oursLs)).as("iomap4j's and the kernel's replays hold the same names")
                .isEqualTo(names(kernelLs));
        System.out.println("MountJournalKillTest: " + synced.size() + " fsync'd files kept by 3 replays; /d/e holds "
                + names(kernelLs).split(" ").length + " names after the kernel's replay");
    }

    /** e2fsck "? yes" answers beyond the superblock free totals it recomputes after every replay. */
    private static int repairs(String out) {
        String[] lines = out.split("\n");
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

    private static String names(String debugfsLs) {
        return String.join(" ", debugfsLs.lines().map(String::trim).filter(l -> !l.isEmpty())
                .map(l -> l.substring(l.lastIndexOf(' ') + 1)).sorted().toList());
    }
}
