package org.iomap4j.testkit.tools;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the host's tools that tests use as oracles (e2fsck, debugfs, dumpe2fs, mke2fs, xfs_io, ...): found in the
 * sbin and bin directories even when PATH lacks them, stdin from /dev/null, both output streams collected, at most
 * 300 s per command (then killed and an AssertionError).
 */
public final class HostTools {
    private static final List<String> DIRS =
            List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin");
    private static final long TIMEOUT_SECONDS = 300;

    private HostTools() {
    }

    /**
     * What a command did: its exit code, stdout and stderr (decoded as ISO-8859-1, byte for char), and argv.
     *
     * @param exitCode the process exit code
     * @param stdout its standard output (UTF-8)
     * @param stderr its standard error (UTF-8)
     * @param command the command line run
     */
    public record Result(int exitCode, String stdout, String stderr, List<String> command) {
    }

    /**
     * The absolute path of {@code tool} in the sbin/bin directories, or null if it is not installed.
     *
     * @param tool a tool name, e.g. {@code e2fsck}
     * @return the absolute path, or null
     */
    public static String which(String tool) {
        for (String dir : DIRS) {
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /**
     * Runs {@code cmd}, whose first element is a tool name (looked up with {@link #which}) or a path.
     *
     * @throws AssertionError if the tool is not installed, the command runs longer than 300 s, or the wait is
     *                        interrupted
     * @throws UncheckedIOException if the process cannot be started
     * @param cmd the tool name or path, then its arguments
     * @return what the command did (a non-zero exit is not an error here)
     */
    public static Result run(String... cmd) {
        List<String> full = new ArrayList<>(Arrays.asList(cmd));
        if (!cmd[0].contains("/")) {
            String exe = which(cmd[0]);
            if (exe == null) {
                throw new AssertionError("required tool '" + cmd[0] + "' not found (.ci/run installs the oracles)");
            }
            full.set(0, exe);
        }
        try {
            Process p = new ProcessBuilder(full).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread te = Thread.ofVirtual().start(() -> copy(p.getErrorStream(), err));
            copy(p.getInputStream(), out);
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", full) + " did not finish in " + TIMEOUT_SECONDS + " s");
            }
            te.join();
            return new Result(p.exitValue(), out.toString(StandardCharsets.ISO_8859_1),
                    err.toString(StandardCharsets.ISO_8859_1), List.copyOf(full));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + full, e);
        }
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
