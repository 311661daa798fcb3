package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.iomap4j.ext.ExtMountOptions;
import org.iomap4j.fuse.FuseWarmup;

/**
 * Warms the JIT up before {@code iomapfs mount} serves requests: builds a small scratch ext2 image in memory
 * (/dev/shm when writable, else the temporary directory), mounts it with the user's data-path options and a page
 * cache smaller than the warm-up's data, runs {@link FuseWarmup} on it, and deletes it. It exists so that a fresh
 * mount answers its first requests with compiled code instead of interpreting while compiling (see
 * {@link FuseWarmup} for the measurement). The user's image is never touched.
 *
 * <p>An optimisation only: a failure (no space for the scratch image, say) is reported on stderr and the mount goes
 * on without it.
 */
final class JitWarmup {
    /** Scratch image size: room for the warm-up's 24 MiB data file, directories and metadata. */
    static final long SCRATCH_IMAGE_BYTES = 64L << 20;
    /** Scratch page cache: a third of the data file, so reads miss, fill folios and reclaim. */
    static final long SCRATCH_CACHE_BYTES = 8L << 20;

    private JitWarmup() {
    }

    /**
     * Runs the warm-up for at most about {@code budget}; returns its result, or null if it failed (reported on
     * {@code err}, with the stack trace when {@code debug}).
     */
    static FuseWarmup.Result run(ExtMountOptions userOptions, Duration budget, boolean debug, PrintWriter err) {
        Path dir = null;
        try {
            Path shm = Path.of("/dev/shm");
            Path parent = Files.isDirectory(shm) && Files.isWritable(shm) ? shm
                    : Path.of(System.getProperty("java.io.tmpdir"));
            dir = Files.createTempDirectory(parent, "iomapfs-warmup");
            Path img = dir.resolve("warmup.img");
            MkfsCommand.create(img, SCRATCH_IMAGE_BYTES, 4096, 256, "warmup");
            ExtMountOptions opts = userOptions.withReadOnly(false)
                    .withCache(SCRATCH_CACHE_BYTES, userOptions.maxFolioBytes());
            try (OpenImage opened = OpenImage.open(img, false, opts)) {
                return FuseWarmup.run(opened.vfs(), budget);
            }
        } catch (IOException | RuntimeException e) {
            err.println("iomapfs: JIT warm-up skipped: " + Main.describe(e));
            if (debug) {
                e.printStackTrace(err);
            }
            err.flush();
            return null;
        } finally {
            if (dir != null) {
                deleteQuietly(dir.resolve("warmup.img"), err);
                deleteQuietly(dir, err);
            }
        }
    }

    private static void deleteQuietly(Path p, PrintWriter err) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            err.println("iomapfs: cannot remove warm-up scratch " + p + ": " + e.getMessage());
        }
    }
}
