package org.iomap4j.example.simplefs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.EnumSet;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.exercise.ExerciseConfig;
import org.iomap4j.testkit.exercise.ExerciseTarget.Capability;
import org.iomap4j.testkit.exercise.Exerciser;
import org.iomap4j.testkit.exercise.VfsTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exerciser on simplefs through the library: seeded random reads, writes, truncates, fsyncs, zero-range,
 * punch, direct reads/writes, SEEK_DATA/SEEK_HOLE, cache drops and remounts, every read checked against a model of
 * the file. The seed is printed; {@code -Dsimplefs.seed=N} replays one, {@code -Dexercise.ops=N} runs longer.
 */
class SimpleFsExerciseTest {
    private static final long OPS = Long.getLong("exercise.ops", 10_000);

    @TempDir
    Path tmp;

    @Test
    void exerciserAgreesWithTheModelThroughRemountsAndCacheDrops() throws Exception {
        long seed = Long.getLong("simplefs.seed", System.nanoTime());
        System.out.println("SimpleFsExerciseTest seed " + seed);
        Path image = tmp.resolve("ex.img");
        SimpleFs.mkfs(FileBlockDevice.create(image, 32L << 20), 64);
        // A small cache: folios are evicted and read again from the blocks the mapping names.
        PageCacheConfig small = PageCacheConfig.of(1L << 20, 64 << 10);
        ExerciseConfig cfg = ExerciseConfig.of(seed, OPS).withMaxSize(4L << 20);
        Exerciser.Result r;
        try (VfsTarget t = new VfsTarget("simplefs on " + image, () -> SimpleFs.mount(FileBlockDevice.open(image, false),
                small), vfs -> ((SimpleFs) vfs).cache().dropCleanCaches(), "exercised", EnumSet.allOf(Capability.class),
                SimpleFs.BLOCK)) {
            r = new Exerciser(t, cfg).run();
            System.out.println("simplefs seed " + seed + " capabilities " + t.capabilities() + ": " + r);
            assertThat(t.capabilities()).contains(Capability.DIRECT_IO, Capability.SEEK_DATA_HOLE,
                    Capability.PUNCH_HOLE, Capability.ZERO_RANGE, Capability.REMOUNT);
        }
        assertThat(r.ops()).isEqualTo(OPS);
        assertThat(r.counts().get(ExerciseConfig.Kind.REMOUNT)).isPositive();
    }
}
