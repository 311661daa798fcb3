package org.iomap4j.nio;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The independent oracles of these tests: e2fsck and the kernel's ext4 driver (ext2/ext4) through a loop mount. */
final class HostTools {
    private HostTools() {}

    record Result(int exit, String output) {
    }

    static Result run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** e2fsck -fn: exit 0 means clean. */
    static Result fsck(Path image) throws IOException, InterruptedException {
        return run(List.of("e2fsck", "-fn", image.toString()));
    }

    /**
     * Creates a new image of {@code sizeBytes} through the provider and opens it read-write. By URI: with a Path and
     * "create", the JDK's zipfs (installed first) would create a zip file instead.
     */
    static FileSystem create(Path image, long sizeBytes) throws IOException {
        return FileSystems.newFileSystem(java.net.URI.create("ext:" + image.toAbsolutePath().toUri()),
                Map.of("create", true, "size", sizeBytes));
    }

    /** {@code mkfs.ext4 -q -F -O FEATURES -b 4096} on a new sparse file of {@code sizeBytes}. */
    static Result mkfsExt4(Path image, long sizeBytes, String features) throws IOException, InterruptedException {
        try (var ch = java.nio.channels.FileChannel.open(image, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(0);
            ch.write(java.nio.ByteBuffer.allocate(1), sizeBytes - 1);
        }
        return run(List.of("mkfs.ext4", "-q", "-F", "-O", features, "-b", "4096", image.toString()));
    }

    /** Why a loop mount cannot run here, or null if it can (root and a loop device). */
    static String loopMountUnavailable() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return "not root: kernel loop-mount comparison skipped";
        }
        if (!Files.exists(Path.of("/dev/loop-control"))) {
            return "no /dev/loop-control: kernel loop-mount comparison skipped";
        }
        return null;
    }

    /** A read-only kernel loop mount of an image; close unmounts it. */
    static final class LoopMount implements AutoCloseable {
        final Path dir;

        LoopMount(Path image, Path dir) throws IOException, InterruptedException {
            this.dir = dir;
            Files.createDirectories(dir);
            Result r = run(List.of("mount", "-o", "loop,ro", image.toString(), dir.toString())); // ext2 or ext4
            if (r.exit() != 0) {
                throw new IOException("mount -o loop,ro " + image + " failed: " + r.output());
            }
        }

        @Override
        public void close() throws IOException, InterruptedException {
            Result r = run(List.of("umount", dir.toString()));
            if (r.exit() != 0) {
                throw new IOException("umount " + dir + " failed: " + r.output());
            }
        }
    }

    /** Every path under {@code root}, relative, sorted, directories with a trailing '/'. */
    static List<String> listTree(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        try (var s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.equals(root)) {
                    continue;
                }
                String rel = root.relativize(p).toString();
                out.add(Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) ? rel + "/" : rel);
            }
        }
        out.sort(null);
        return out;
    }
}
