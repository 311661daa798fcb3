package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.iomap4j.vfs.StatFs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code iomapfs df IMAGE}: space and inode usage of an image, like df(1) and df -i. */
@Command(name = "df", mixinStandardHelpOptions = true, description = "Show space and inode usage of an image.")
final class DfCommand implements Callable<Integer> {
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
            StatFs s = img.vfs().statfs();
            long k = s.blockSizeBytes() / 1024;
            long used = s.blocks() - s.freeBlocks();
            long usePct = s.blocks() == 0 ? 0 : (used * 100 + (used + s.availBlocks()) - 1) / Math.max(1, used + s.availBlocks());
            out.printf("%-20s %12s %12s %12s %5s%n", "Filesystem", "1K-blocks", "Used", "Available", "Use%");
            out.printf("%-20s %12d %12d %12d %4d%%%n", image.getFileName(), s.blocks() * k, used * k,
                    s.availBlocks() * k, usePct);
            long iused = s.files() - s.freeFiles();
            out.printf("%-20s %12s %12s %12s %5s%n", "", "Inodes", "IUsed", "IFree", "IUse%");
            out.printf("%-20s %12d %12d %12d %4d%%%n", "", s.files(), iused, s.freeFiles(),
                    s.files() == 0 ? 0 : (iused * 100 + s.files() - 1) / s.files());
        }
        out.flush();
        return 0;
    }
}
