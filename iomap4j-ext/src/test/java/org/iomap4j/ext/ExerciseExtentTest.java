package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.EnumSet;
import org.iomap4j.testkit.exercise.ExerciseConfig;
import org.iomap4j.testkit.exercise.ExerciseTarget.Capability;
import org.iomap4j.testkit.exercise.Exerciser;
import org.iomap4j.testkit.exercise.VfsTarget;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exerciser (fsx-style, model-checked) on an extent file: the library on an {@code mke2fs -t ext4} image with
 * every capability, fallocate mode 0 and KEEP_SIZE (unwritten extents) included, small caches so folios are
 * evicted and re-read, remounts; afterwards {@code e2fsck -fn} must find the image clean.
 */
class ExerciseExtentTest {
    /** 20,000 in mvn test; -Dexercise.ops=1000000 for the long run. */
    private static final long OPS = Long.getLong("exercise.ops", 20_000);
    /** The fixed seed 0x510e527f (prints as 1359893119); -Dexercise.seed=N runs another. */
    private static final long SEED = Long.getLong("exercise.seed", 0x510e527fL);
    @TempDir
    Path tmp;

    /*
     * Was disabled (issue 13): with seed 1359893119 it failed about every other run at op ~12,300 with "after
     * remount: read ... first difference" at the start of a ZERO_RANGE over dirty data in an unwritten extent.
     * The zeroing saw UNWRITTEN, waited in the page cache's dirty query for the folio under background writeback,
     * whose ioend converted the extent meanwhile, and then skipped the range on the stale mapping. BufferedWrite's
     * zeroRange now revalidates the cookie after that wait; UnwrittenConversionRaceTest replays the order.
     */
    @ParameterizedTest(name = "delalloc={0}")
    @ValueSource(booleans = {false, true})
    void library_extentFile_withPreallocation_matchesModel_andFsckClean(boolean delalloc) throws Exception {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
        Path image = Ext4TestImages.mkfsExt4(tmp.resolve("ex4.img"), 32L << 20, 1024);
        long seed = SEED;
        ExerciseConfig cfg = ExerciseConfig.of(seed, OPS).withMaxSize(512 << 10);
        Exerciser.Result r;
        try (VfsTarget t = new VfsTarget("ext4 extents library on " + image,
                () -> ExtFileSystem.mount(image, new ExtMountOptions(false, 1L << 20, 64 << 10, 512L << 10)
                        .withDelalloc(delalloc)),
                vfs -> ((ExtFileSystem) vfs).pageCache().dropCleanCaches(), "exercised",
                EnumSet.allOf(Capability.class), 1024)) {
            r = new Exerciser(t, cfg).run();
            System.out.println("exercise ext4 extents library (delalloc " + delalloc + ") seed " + seed
                    + " capabilities " + t.capabilities()
                    + ": " + r);
            assertThat(t.capabilities()).contains(Capability.PREALLOCATE, Capability.ZERO_RANGE,
                    Capability.PUNCH_HOLE, Capability.DIRECT_IO, Capability.SEEK_DATA_HOLE);
        }
        assertThat(r.ops()).isEqualTo(OPS);
        assertThat(r.counts().get(ExerciseConfig.Kind.FALLOCATE)).isPositive();
        assertThat(r.counts().get(ExerciseConfig.Kind.REMOUNT)).isPositive();
        Ext2Tools.assertFsckClean(image);
    }
}
