package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;
import org.iomap4j.testkit.exercise.ExerciseConfig;
import org.iomap4j.testkit.exercise.ExerciseTarget.Capability;
import org.iomap4j.testkit.exercise.Exerciser;
import org.iomap4j.testkit.exercise.PathTarget;
import org.iomap4j.testkit.exercise.VfsTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exerciser on ext2: the library filesystem on an image file (remount = unmount + mount, drop caches = drop
 * the clean page cache) and, as a control, the kernel's ext2 on a loop mount of the same kind of image. 50,000
 * ops each; afterwards e2fsck -fn must find the image clean.
 */
class ExerciseExt2Test {
    /** 50,000 in mvn test; -Dexercise.ops=1000000 for the long run. */
    private static final long OPS = Long.getLong("exercise.ops", 50_000);
    @TempDir
    Path tmp;

    /** Small caches so that folios are evicted and re-read during the run. */
    private static ExtMountOptions smallCache() {
        return new ExtMountOptions(false, 1L << 20, 64 << 10, 512L << 10);
    }

    @Test
    void library_fiftyThousandOps_matchModel_andFsckClean() throws Exception {
        Path image = Ext2Tools.mke2fs(tmp.resolve("ex.img"), 32L << 20, "-b", "1024");
        long seed = 0xbb67ae85L;
        // 512 KiB files with 1 KiB blocks reach the double-indirect tree (from 268 KiB).
        ExerciseConfig cfg = ExerciseConfig.of(seed, OPS).withMaxSize(512 << 10);
        Exerciser.Result r;
        try (VfsTarget t = new VfsTarget("ext2 library on " + image, () -> ExtFileSystem.mount(image, smallCache()),
                vfs -> ((ExtFileSystem) vfs).pageCache().dropCleanCaches(), "exercised",
                EnumSet.allOf(Capability.class), 1024)) {
            r = new Exerciser(t, cfg).run();
            System.out.println("exercise ext2 library seed " + seed + " capabilities " + t.capabilities() + ": " + r);
        }
        assertThat(r.ops()).isEqualTo(OPS);
        assertThat(r.counts().get(ExerciseConfig.Kind.REMOUNT)).isPositive();
        Ext2Tools.assertFsckClean(image);
    }

    @Test
    void kernelLoopMount_control_fiftyThousandOps_matchModel() throws Exception {
        String why = Ext2Tools.loopMountUnavailableReason();
        assertThat(why).as("kernel ext2 loop mount needed for the control run").isNull();
        Path image = Ext2Tools.mke2fs(tmp.resolve("loop.img"), 32L << 20, "-b", "1024");
        long seed = 0x3c6ef372L;
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Ext2Tools.run("mount", "-t", "ext2", "-o", "loop", image.toString(), mnt.toString()).ok();
        boolean[] mounted = {true};
        try {
            PathTarget.Remounter remount = () -> {
                Ext2Tools.run("umount", mnt.toString()).ok();
                mounted[0] = false;
                Ext2Tools.run("mount", "-t", "ext2", "-o", "loop", image.toString(), mnt.toString()).ok();
                mounted[0] = true;
            };
            Map<ExerciseConfig.Kind, Integer> mix = ExerciseConfig.defaultMix();
            mix.put(ExerciseConfig.Kind.REMOUNT, 0); // no remounts in the control: a loop mount costs tens of ms
            ExerciseConfig cfg = ExerciseConfig.of(seed, OPS).withMaxSize(512 << 10).withMix(mix);
            Exerciser.Result r;
            try (PathTarget t = new PathTarget(mnt.resolve("exercised"), 1024, EnumSet.allOf(Capability.class), remount,
                    false)) {
                r = new Exerciser(t, cfg).run();
                System.out.println("exercise kernel ext2 loop seed " + seed + " capabilities " + t.capabilities()
                        + ": " + r);
            }
            assertThat(r.ops()).isEqualTo(OPS);
        } finally {
            if (mounted[0]) {
                Ext2Tools.run("umount", mnt.toString()).ok();
            }
        }
        Ext2Tools.assertFsckClean(image);
    }
}
