package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exerciser through the whole stack: {@code iomapfs exercise --dir} on an iomapfs FUSE mount of ext2 (kernel
 * page cache, FUSE protocol, iomap4j page cache, ext2 block map), every read checked against the model; then the
 * image must be e2fsck-clean. Also {@code iomapfs exercise IMAGE} (library target with remounts).
 */
class ExerciseMountTest {
    @TempDir
    Path tmp;

    private static long ops() {
        return Long.getLong("exercise.ops", 50_000);
    }

    @Test
    void exerciseThroughTheFuseMount_matchesTheModel_andLeavesACleanImage() throws Exception {
        long seed = Long.getLong("exercise.seed", new Random().nextLong());
        Path img = tmp.resolve("t.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "128M").exit()).isZero();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (MountedImage m = MountedImage.start(img, mnt)) {
            Cli.Run r = Cli.run("exercise", "--dir", mnt.toString(), "--seed", Long.toString(seed), "--ops",
                    Long.toString(ops()), "--max-size", "256K");
            assertThat(r.exit()).as("seed " + seed + "\n" + r).isZero();
            assertThat(r.out()).contains("passed: " + ops() + " ops");
            System.out.println(r.out());
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
    }

    /**
     * The same through a FUSE mount of an {@code mke2fs -t ext4} image (journal, 64bit, metadata_csum and flex_bg
     * off): the exercised file is extent-mapped, so fallocate mode 0 and KEEP_SIZE (unwritten extents) are in the
     * mix, besides zero range, punch, O_DIRECT and SEEK_DATA/SEEK_HOLE.
     */
    @Test
    void exerciseThroughTheFuseMount_ofAnExtentImage_withPreallocation() throws Exception {
        long seed = Long.getLong("exercise.seed", new Random().nextLong());
        Path img = tmp.resolve("e4.img");
        Ext2Tools.sparseImage(img, 128L << 20);
        Ext2Tools.run("mke2fs", "-q", "-F", "-t", "ext4", "-O",
                "^has_journal,^64bit,^metadata_csum,^flex_bg,^huge_file,^dir_nlink,^extra_isize", "-b", "4096",
                img.toString()).ok(); // 4 KiB blocks: the --dir exerciser models 4 KiB granularity
        Path mnt = Files.createDirectory(tmp.resolve("mnt4"));
        long ops = Math.min(ops(), 20_000);
        try (MountedImage m = MountedImage.start(img, mnt)) {
            Cli.Run r = Cli.run("exercise", "--dir", mnt.toString(), "--seed", Long.toString(seed), "--ops",
                    Long.toString(ops), "--max-size", "256K");
            assertThat(r.exit()).as("seed " + seed + "\n" + r).isZero();
            assertThat(r.out()).contains("passed: " + ops + " ops").containsPattern("FALLOCATE=[1-9]");
            System.out.println(r.out());
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "stat /iomapfs-exercise.dat").ok().stdout()).contains("EXTENTS:");
    }

    @Test
    void exerciseOnAnImage_withRemounts_andReplayOfItsLog() throws Exception {
        Path img = tmp.resolve("t.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "64M", "--block-size", "1024").exit()).isZero();
        Path log = tmp.resolve("ops.log");
        Cli.Run r = Cli.run("exercise", img.toString(), "--seed", "7", "--ops", "5000", "--log", log.toString());
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("REMOUNT=");
        assertThat(Files.readAllLines(log)).hasSizeGreaterThanOrEqualTo(5000);
        Cli.Run replay = Cli.run("exercise", img.toString(), "--replay", log.toString());
        assertThat(replay.exit()).as(replay.toString()).isZero();
        Ext2Tools.assertFsckClean(img);
        Cli.Run bad = Cli.run("exercise", img.toString(), "--mix", "frobnicate=3");
        assertThat(bad.exit()).isEqualTo(2);
    }
}
