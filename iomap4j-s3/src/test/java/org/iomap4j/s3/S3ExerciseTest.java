package org.iomap4j.s3;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.EnumSet;
import org.iomap4j.testkit.exercise.ExerciseConfig;
import org.iomap4j.testkit.exercise.ExerciseTarget.Capability;
import org.iomap4j.testkit.exercise.Exerciser;
import org.iomap4j.testkit.exercise.VfsTarget;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The core's fsx-style exerciser on one S3 file through the {@link Vfs}: random reads, writes, truncates, fsyncs,
 * page-cache drops and remounts (each an upload and a fresh mount on the same local cache) checked against the
 * exerciser's model; afterwards the object in the bucket, read with a plain SDK client, equals the file.
 */
class S3ExerciseTest {
    @TempDir
    Path tmp;

    @Test
    void exerciserModelMatchesTheFileAndTheBucket() throws Exception {
        S3ProxyServer server = S3ProxyServer.shared();
        String bucket = "exercise";
        long seed = System.nanoTime();
        try (S3Client oracle = server.oracle()) {
            oracle.createBucket(b -> b.bucket(bucket));
            S3MountOptions o = S3Fixture.options(bucket, "", tmp.resolve("cache"), server.port());
            ExerciseConfig cfg = ExerciseConfig.of(seed, 800).withMaxSize(3 << 20);
            Exerciser.Result r;
            try (VfsTarget t = new VfsTarget("s3 bucket " + bucket, () -> S3FileSystem.mount(o),
                    vfs -> ((S3FileSystem) vfs).dropPageCache(), "exercised", EnumSet.of(Capability.REMOUNT, Capability.DROP_CACHES),
                    4096)) {
                r = new Exerciser(t, cfg).run();
                System.out.println("exercise s3 seed " + seed + " capabilities " + t.capabilities() + ": " + r);
            }
            assertThat(r.counts().get(ExerciseConfig.Kind.REMOUNT)).isPositive();
            byte[] object = oracle.getObjectAsBytes(b -> b.bucket(bucket).key("exercised")).asByteArray();
            try (S3FileSystem fs = S3FileSystem.mount(o)) {
                long ino = fs.lookup(fs.rootIno(), "exercised").ino();
                FileHandle fh = fs.open(ino, Vfs.O_RDONLY);
                ByteBuffer all = ByteBuffer.allocate((int) r.finalSizeBytes() + 1);
                while (fs.read(fh, all.position(), all) > 0) {
                    // until EOF
                }
                fs.release(fh);
                all.flip();
                byte[] file = new byte[all.remaining()];
                all.get(file);
                assertThat(file.length).as("seed " + seed).isEqualTo(r.finalSizeBytes());
                assertThat(object).as("the bucket holds what the file reads (seed " + seed + ")").isEqualTo(file);
            }
        }
    }
}
