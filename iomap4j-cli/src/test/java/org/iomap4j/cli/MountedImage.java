package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An {@code iomapfs mount IMAGE MNT} running as a child JVM, as a user runs it; {@link #close()} unmounts it
 * (lazily if it must) and reaps the process, also after a failed test.
 */
final class MountedImage implements AutoCloseable {
    final Path image;
    final Path mountpoint;
    final Process process;
    final StringBuffer output = new StringBuffer();

    private MountedImage(Path image, Path mountpoint, Process process) {
        this.image = image;
        this.mountpoint = mountpoint;
        this.process = process;
    }

    /** Fails with a clear message when this machine cannot mount FUSE (not root, or no /dev/fuse). */
    static void requireFuse() {
        assertThat(Path.of("/dev/fuse")).as("/dev/fuse is missing: the FUSE kernel module is needed for mount tests")
                .exists();
        assertThat(System.getProperty("user.name")).as("mount tests need root (mount(2) of a fuse filesystem)")
                .isEqualTo("root");
    }

    /** Starts {@code iomapfs mount} and returns once it says it is mounted (or fails with its output). */
    static MountedImage start(Path image, Path mountpoint, String... extra) throws Exception {
        requireFuse();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "mount", image.toString(),
                mountpoint.toString()));
        cmd.addAll(List.of(extra));
        return startCommand(cmd, image, mountpoint);
    }

    /** Starts {@code cmd}, an {@code iomapfs mount} command line (e.g. run as another user), as {@link #start}. */
    static MountedImage startCommand(List<String> cmd, Path image, Path mountpoint) throws Exception {
        return startCommand(cmd, image, mountpoint, null);
    }

    /** As {@link #startCommand(List, Path, Path)}, run in directory {@code cwd} (null: this one). */
    static MountedImage startCommand(List<String> cmd, Path image, Path mountpoint, Path cwd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (cwd != null) {
            pb.directory(cwd.toFile());
        }
        Process p = pb.start();
        MountedImage m = new MountedImage(image, mountpoint, p);
        CompletableFuture<Boolean> mounted = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    m.output.append(line).append('\n');
                    if (line.contains(" mounted at ")) {
                        mounted.complete(true);
                    }
                }
            } catch (IOException e) {
                m.output.append("[reader failed: ").append(e).append("]\n");
            }
            mounted.complete(false);
        }, "iomapfs-mount-output");
        reader.setDaemon(true);
        reader.start();
        boolean ok;
        try {
            ok = mounted.get(60, TimeUnit.SECONDS);
        } catch (TimeoutException | ExecutionException e) {
            ok = false;
        }
        if (!ok) {
            m.close();
            throw new AssertionError("iomapfs mount did not come up:\n" + m.output);
        }
        return m;
    }

    /** True while the mount point is a FUSE mount in /proc/self/mounts. */
    boolean isMounted() throws IOException {
        String mnt = mountpoint.toAbsolutePath().normalize().toString();
        return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                .anyMatch(l -> l.split(" ")[1].equals(mnt) && l.split(" ")[2].startsWith("fuse"));
    }

    /** The /proc/self/mounts line of the mount point ("SOURCE MNT TYPE OPTIONS 0 0"), or null. */
    String mountEntry() throws IOException {
        return mountEntry(mountpoint);
    }

    static String mountEntry(Path mountpoint) throws IOException {
        String mnt = mountpoint.toAbsolutePath().normalize().toString();
        return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                .filter(l -> l.split(" ")[1].equals(mnt)).findFirst().orElse(null);
    }

    /** Waits for the serving process to exit (after an unmount) and returns its exit code. */
    int awaitExit() throws InterruptedException {
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            throw new AssertionError("iomapfs mount did not exit 120 s after unmount:\n" + output);
        }
        return process.exitValue();
    }

    @Override
    public void close() throws Exception {
        if (isMounted()) {
            new ProcessBuilder("umount", "-l", mountpoint.toString()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
        }
        if (process.isAlive() && !process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
