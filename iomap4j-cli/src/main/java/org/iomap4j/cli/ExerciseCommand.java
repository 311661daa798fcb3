package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.Callable;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.ExtFileSystem;
import org.iomap4j.ext.ExtMountOptions;
import org.iomap4j.testkit.exercise.ExerciseConfig;
import org.iomap4j.testkit.exercise.ExerciseFailure;
import org.iomap4j.testkit.exercise.ExerciseOp;
import org.iomap4j.testkit.exercise.ExerciseTarget;
import org.iomap4j.testkit.exercise.ExerciseTarget.Capability;
import org.iomap4j.testkit.exercise.Exerciser;
import org.iomap4j.testkit.exercise.PathTarget;
import org.iomap4j.testkit.exercise.VfsTarget;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code iomapfs exercise}: the fsx-style random-operation exerciser, either on an ext2 image through the library
 * (with remounts) or on a file in any directory (an iomapfs FUSE mount, a kernel loop mount as a control). Every
 * read is checked against an in-memory model; a mismatch prints the seed, the op-log tail and the differing
 * bytes, and exits 1. {@code --log} writes the replayable op log, {@code --replay} runs one.
 */
@Command(name = "exercise", mixinStandardHelpOptions = true,
        description = "Run random file operations checked against a model (fsx-style), on an image or a directory.")
final class ExerciseCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;
    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Where where;

    /** Exactly one target. */
    static final class Where {
        @Parameters(paramLabel = "IMAGE", description = "An ext2 image, exercised through the library (remounts included).")
        Path image;
        @Option(names = "--dir", paramLabel = "PATH", description = "A directory (e.g. a mount point): exercises a file in it.")
        Path dir;
    }

    @Option(names = "--seed", description = "Random seed (default: random, printed).")
    Long seed;
    @Option(names = "--ops", defaultValue = "100000", description = "Operations (default ${DEFAULT-VALUE}).")
    long ops;
    @Option(names = "--mix", description = "Weights, e.g. read=20,write=20,remount=0 (others keep defaults).")
    String mix;
    @Option(names = "--max-size", defaultValue = "256K", converter = SizeConverter.class,
            description = "Largest file size (default ${DEFAULT-VALUE}).")
    long maxSizeBytes;
    @Option(names = "--log", paramLabel = "FILE", description = "Write the replayable op log here.")
    Path log;
    @Option(names = "--replay", paramLabel = "FILE", description = "Replay an op log instead of random ops.")
    Path replay;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        long s = seed != null ? seed : new java.util.Random().nextLong();
        ExerciseConfig cfg;
        try {
            cfg = ExerciseConfig.of(s, ops).withMaxSize(maxSizeBytes).withMix(ExerciseConfig.parseMix(mix));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        OpenImage[] current = {null};
        ExerciseTarget target;
        if (where.image != null) {
            Path image = where.image;
            if (!Files.isRegularFile(image)) {
                throw new FsException(Errno.ENOENT, image + ": no such image");
            }
            int bs;
            try (OpenImage probe = OpenImage.open(image, true)) {
                bs = probe.fs().superblock().blockSizeBytes();
            }
            target = new VfsTarget("ext2 library on " + image, () -> {
                if (current[0] != null) {
                    current[0].close();
                }
                current[0] = OpenImage.open(image, false, ExtMountOptions.defaults().withCache(64L << 20, 2 << 20));
                return current[0].vfs();
            }, vfs -> ((ExtFileSystem) vfs).pageCache().dropCleanCaches(), "iomapfs-exercise.dat",
                    EnumSet.allOf(Capability.class), bs);
        } else {
            if (!Files.isDirectory(where.dir)) {
                throw new FsException(Errno.ENOTDIR, where.dir + ": not a directory");
            }
            boolean root = "root".equals(System.getProperty("user.name"));
            target = new PathTarget(where.dir.resolve("iomapfs-exercise.dat"), 4096,
                    EnumSet.of(Capability.ZERO_RANGE, Capability.PUNCH_HOLE, Capability.DIRECT_IO,
                            Capability.SEEK_DATA_HOLE, Capability.DROP_CACHES, Capability.PREALLOCATE), null, root);
        }
        out.println("exercise: target " + target.describe() + ", seed " + s + ", " + ops + " ops, max size "
                + maxSizeBytes + " bytes");
        out.flush();
        try (Writer logWriter = log != null ? Files.newBufferedWriter(log) : Writer.nullWriter()) {
            Exerciser ex = new Exerciser(target, cfg).logTo(line -> {
                try {
                    logWriter.write(line);
                    logWriter.write('\n');
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            Exerciser.Result r;
            if (replay != null) {
                List<ExerciseOp> list = new ArrayList<>();
                for (String line : Files.readAllLines(replay)) {
                    if (!line.isBlank() && !line.startsWith("#")) {
                        list.add(ExerciseOp.parse(line));
                    }
                }
                r = ex.replay(list);
            } else {
                r = ex.run();
            }
            out.println("exercise: passed: " + r.ops() + " ops " + r.counts() + ", " + r.bytesRead() + " bytes read, "
                    + r.bytesWritten() + " bytes written, final size " + r.finalSizeBytes()
                    + "; capabilities " + target.capabilities());
            out.flush();
            return 0;
        } catch (ExerciseFailure f) {
            spec.commandLine().getErr().println("iomapfs: exercise FAILED (seed " + s + "):");
            spec.commandLine().getErr().println(f.getMessage());
            return 1;
        } finally {
            target.close();
            if (current[0] != null) {
                current[0].close();
            }
        }
    }
}
