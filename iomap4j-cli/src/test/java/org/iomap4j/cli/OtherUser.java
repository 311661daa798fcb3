package org.iomap4j.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs commands, and {@code iomapfs} itself in a child JVM, as an unprivileged uid (nobody, 65534) through
 * {@code setpriv --reuid --regid --clear-groups}. The test classpath lives under /root (mode 0700), so it is
 * copied once per directory given to {@link #OtherUser(Path)} into a place that uid can read.
 */
final class OtherUser {
    static final int UID = 65534;
    static final int GID = 65534;

    record Run(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err;
        }

        List<String> errLines() {
            return err.lines().filter(l -> !l.isBlank()).toList();
        }
    }

    private final String classpath;

    /** Copies this JVM's classpath under {@code dir} (made world-readable) for the child JVMs. */
    OtherUser(Path dir) throws IOException {
        openUp(dir);
        Path cpDir = Files.createDirectories(dir.resolve("classpath"));
        List<String> entries = new ArrayList<>();
        int i = 0;
        for (String e : System.getProperty("java.class.path").split(":")) {
            Path src = Path.of(e);
            if (!Files.exists(src)) {
                continue;
            }
            Path dst = cpDir.resolve((i++) + "-" + src.getFileName());
            copyTree(src, dst);
            entries.add(dst.toString());
        }
        chmodReadable(cpDir);
        this.classpath = String.join(":", entries);
    }

    /** Whether this JVM can switch to another uid (it runs as root). */
    static boolean canSwitch() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Makes {@code dir} and its parents up to /tmp traversable by everyone (JUnit's @TempDir is 0700). */
    static void openUp(Path dir) throws IOException {
        for (Path p = dir.toAbsolutePath(); p != null && !p.toString().equals("/tmp") && p.getNameCount() > 0;
                p = p.getParent()) {
            if (Files.isDirectory(p)) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        }
    }

    /** Gives {@code p} to uid/gid 65534. */
    static void chown(Path p) throws IOException {
        Files.setAttribute(p, "unix:uid", UID);
        Files.setAttribute(p, "unix:gid", GID);
    }

    private static void copyTree(Path src, Path dst) throws IOException {
        if (Files.isDirectory(src)) {
            try (Stream<Path> s = Files.walk(src)) {
                for (Path p : s.toList()) {
                    Path t = dst.resolve(src.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(t);
                    } else {
                        Files.copy(p, t);
                    }
                }
            }
        } else {
            Files.copy(src, dst);
        }
    }

    private static void chmodReadable(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(
                        Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
    }

    /** The command line that runs {@code iomapfs ARGS} as the other user. */
    List<String> iomapfs(String... args) {
        List<String> cmd = new ArrayList<>(asUser());
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-cp", classpath, Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** The prefix that runs a command as the other user (nothing if this JVM is not root: it already is one). */
    static List<String> asUser() {
        return canSwitch() ? List.of("setpriv", "--reuid=" + UID, "--regid=" + GID, "--clear-groups", "--")
                : List.of();
    }

    /** Runs {@code iomapfs ARGS} as the other user and waits (at most 300 s). */
    Run run(Map<String, String> env, String... args) {
        return exec(iomapfs(args), env);
    }

    Run run(String... args) {
        return run(Map.of(), args);
    }

    /** Runs {@code sh -c SCRIPT} as the other user. */
    static Run sh(String script) {
        List<String> cmd = new ArrayList<>(asUser());
        cmd.addAll(List.of("sh", "-c", script));
        return exec(cmd, Map.of());
    }

    /** Starts {@code iomapfs ARGS} as the other user, output merged (for a mount that stays in the foreground). */
    Process start(String... args) throws IOException {
        return new ProcessBuilder(iomapfs(args)).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    }

    static Run exec(List<String> cmd, Map<String, String> env) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().putAll(env);
            Process p = pb.start();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread te = Thread.ofVirtual().start(() -> copy(p.getErrorStream(), err));
            copy(p.getInputStream(), out);
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(cmd + " did not finish in 300 s");
            }
            te.join();
            return new Run(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + cmd, e);
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
