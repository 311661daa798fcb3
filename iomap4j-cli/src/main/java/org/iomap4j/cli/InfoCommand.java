package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.Callable;
import org.iomap4j.ext.Superblock;
import org.iomap4j.ext.disk.Features;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code iomapfs info IMAGE}: a superblock summary in the spirit of {@code dumpe2fs -h}. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the superblock of an image (like dumpe2fs -h).")
final class InfoCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;
    @Spec
    CommandSpec spec;
    @Parameters(paramLabel = "IMAGE", description = "The image file.")
    Path image;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        try (OpenImage img = OpenImage.openForInspection(image, spec.commandLine().getErr())) {
            Superblock s = img.fs().superblock();
            String ro = readWriteRefusal(s, image);
            row(out, "Filesystem volume name", s.volumeLabel().isEmpty() ? "<none>" : s.volumeLabel());
            row(out, "Filesystem UUID", s.uuid().toString());
            row(out, "Filesystem magic number", "0xEF53");
            row(out, "Filesystem revision #", s.revLevel() + (s.revLevel() == 0 ? " (original)" : " (dynamic)"));
            row(out, "Filesystem features", String.join(" ", concat(s)));
            row(out, "Filesystem state", (s.state() & 1) != 0 ? "clean" : "not clean");
            row(out, "Inode count", Long.toString(s.inodesCount()));
            row(out, "Block count", Long.toString(s.blocksCount()));
            row(out, "Reserved block count", Long.toString(s.reservedBlocksCount()));
            row(out, "Free blocks", Long.toString(s.freeBlocksCount()));
            row(out, "Free inodes", Long.toString(s.freeInodesCount()));
            row(out, "First block", Long.toString(s.firstDataBlock()));
            row(out, "Block size", Integer.toString(s.blockSizeBytes()));
            row(out, "Blocks per group", Long.toString(s.blocksPerGroup()));
            row(out, "Inodes per group", Long.toString(s.inodesPerGroup()));
            row(out, "Block groups", Long.toString(s.groupCount()));
            row(out, "Inode size", Integer.toString(s.inodeSizeBytes()));
            row(out, "Mount count", Integer.toString(s.mountCount()));
            row(out, "Maximum mount count", Integer.toString(s.maxMountCount()));
            row(out, "Last mount time", s.mtimeSec() == 0 ? "n/a" : Instant.ofEpochSecond(s.mtimeSec()).toString());
            row(out, "Last write time", s.wtimeSec() == 0 ? "n/a" : Instant.ofEpochSecond(s.wtimeSec()).toString());
            if (ro != null) {
                row(out, "Mounts only read-only", ro);
            }
        }
        out.flush();
        return 0;
    }

    /**
     * Why a read-write mount of this image would be read-only, or null when it would not: features this driver
     * does not write ({@link Superblock#featureVerdict}, e.g. has_journal), or an image file not writable by this
     * user. ({@code info} itself always opens read-only; that is no reason worth printing.)
     */
    static String readWriteRefusal(Superblock s, Path image) {
        if (!s.featureVerdict().isEmpty()) {
            return s.featureVerdict();
        }
        if (!java.nio.file.Files.isWritable(image)) {
            return "the image file is not writable by this user";
        }
        return null;
    }

    private static java.util.List<String> concat(Superblock s) {
        java.util.List<String> all = new java.util.ArrayList<>(s.compatFeatures());
        all.addAll(s.incompatFeatures());
        all.addAll(s.roCompatFeatures());
        return all;
    }

    private static void row(PrintWriter out, String key, String value) {
        out.printf("%-26s%s%n", key + ":", value);
    }
}
