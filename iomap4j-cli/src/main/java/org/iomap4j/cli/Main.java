package org.iomap4j.cli;

import java.io.PrintWriter;
import org.iomap4j.FsException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code iomapfs} command: mounts ext2 images through FUSE and works on images without mounting.
 * Exit codes: 0 ok, 1 the operation failed, 2 usage error. Errors go to stderr as
 * {@code iomapfs: <what>: <cause>}; a stack trace only with {@code --debug}.
 */
@Command(name = "iomapfs", mixinStandardHelpOptions = true, version = "iomapfs 0.1.0",
        description = "Mount ext2/3/4 images (and S3 buckets) through FUSE (iomap4j), and inspect or copy into images without mounting.",
        subcommands = {MountCommand.class, UmountCommand.class, LsCommand.class, CatCommand.class,
                StatCommand.class, FiemapCommand.class, DfCommand.class, InfoCommand.class, CpCommand.class,
                MkfsCommand.class, JournalCommand.class, ExerciseCommand.class, TrainCommand.class, XattrCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** java.util.logging's SimpleFormatter line format (read once, when the first record is formatted). */
    private static final String LOG_FORMAT_PROPERTY = "java.util.logging.SimpleFormatter.format";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }

    /**
     * Builds the command line with iomapfs' exit-code and error conventions; binary output goes to stdout.
     *
     * @param out where commands print their output
     * @param err where errors and usage go
     * @return the command line, ready to {@code execute}
     */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        return commandLine(out, err, new java.io.FileOutputStream(java.io.FileDescriptor.out));
    }

    /**
     * As {@link #commandLine(PrintWriter, PrintWriter)}, with file bytes ({@code cat}) written to {@code binaryOut}.
     *
     * @param out       where commands print their output
     * @param err       where errors and usage go
     * @param binaryOut where {@code cat} writes file bytes
     * @return the command line, ready to {@code execute}
     */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err, java.io.OutputStream binaryOut) {
        CommandLine.IFactory defaults = CommandLine.defaultFactory();
        CommandLine cl = new CommandLine(new Main(), new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                K k = defaults.create(cls);
                if (k instanceof CatCommand cat) {
                    cat.sink = binaryOut;
                }
                return k;
            }
        });
        cl.setOut(out);
        cl.setErr(err);
        // A bad command line gets one line saying what is wrong and where help is, not the whole usage text.
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            PrintWriter e = cmd.getErr();
            e.println("iomapfs: " + ex.getMessage());
            if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
                e.println("Did you mean: " + String.join(", ", u.getSuggestions()) + "?");
            }
            e.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help'.");
            e.flush();
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            boolean debug = parseResult.subcommand() != null
                    && parseResult.subcommand().hasMatchedOption("--debug");
            if (ex instanceof UsageException) {
                cmd.getErr().println("iomapfs: " + ex.getMessage());
                cmd.getErr().println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help'.");
                return 2;
            }
            cmd.getErr().println("iomapfs: " + describe(ex));
            if (debug) {
                ex.printStackTrace(cmd.getErr());
            }
            cmd.getErr().flush();
            return 1;
        });
        return cl;
    }

    /**
     * The one-line text of an error: an {@link FsException}'s message, followed by its errno and description only
     * when the message does not already say them (so never {@code "Permission denied (errno 13) (EACCES: ...)"}).
     */
    static String describe(Throwable ex) {
        if (ex instanceof FsException fe) {
            String m = fe.getMessage();
            String lower = m.toLowerCase(java.util.Locale.ROOT);
            boolean said = lower.contains(fe.errno().description().toLowerCase(java.util.Locale.ROOT))
                    || m.contains(fe.errno().name()) || lower.contains("(errno ");
            return said ? m : m + " (" + fe.errno() + ": " + fe.errno().description() + ")";
        }
        String m = ex.getMessage();
        return m == null ? ex.toString() : m;
    }

    /**
     * The {@code iomapfs} command: runs the subcommand and exits with its code.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        // The library modules log through System.Logger, which goes to java.util.logging's console handler
        // (stderr, INFO and above). One line per record, like iomapfs' own messages, unless the user chose a format.
        if (System.getProperty(LOG_FORMAT_PROPERTY) == null) {
            System.setProperty(LOG_FORMAT_PROPERTY, "iomapfs: %4$s: %5$s%6$s%n");
        }
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int code = commandLine(out, err).execute(args);
        out.flush();
        err.flush();
        System.exit(code);
    }
}
