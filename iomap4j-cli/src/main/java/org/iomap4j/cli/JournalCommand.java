package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.iomap4j.ext.ExtJournal;
import org.iomap4j.jbd2.RecoveryResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code iomapfs journal ...}: the ext3/ext4 (jbd2) journal of an image, without mounting it. */
@Command(name = "journal", mixinStandardHelpOptions = true,
        description = "Work on the journal of an ext3/ext4 image without mounting it.",
        subcommands = {JournalCommand.Replay.class})
final class JournalCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a journal subcommand is required");
    }

    /**
     * {@code iomapfs journal replay IMAGE}: replays the journal of an image that needs recovery, as a read-write
     * mount (or {@code e2fsck -E journal_only}) would, and clears needs_recovery. Exit 0 also when nothing was to
     * replay (it says so); 1 for an image without a journal, an external journal, or a corrupt log.
     */
    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = "Replay the journal into the image (as a read-write mount would) and clear needs_recovery.")
    static final class Replay implements Callable<Integer> {
        @Mixin
        CommonOptions common;
        @Spec
        CommandSpec spec;
        @Parameters(paramLabel = "IMAGE", description = "The image file (modified in place).")
        Path image;

        @Override
        public Integer call() throws IOException {
            if (!Files.isRegularFile(image) && !(image.startsWith("/dev/") && Files.exists(image))) {
                throw new UsageException("'" + image + "' is not an image file");
            }
            RecoveryResult r = ExtJournal.replay(image);
            PrintWriter out = spec.commandLine().getOut();
            out.println(image + ": " + (r.needed() ? r.toString()
                    : "needs_recovery not set, nothing replayed (journal sequence " + r.startTid() + ")"));
            out.flush();
            return 0;
        }
    }
}
