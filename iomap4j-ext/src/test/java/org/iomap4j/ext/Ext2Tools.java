package org.iomap4j.ext;

import org.iomap4j.testkit.tools.HostTools;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Test support shared through the ext2 test-jar: runs the e2fsprogs oracles (mke2fs, e2fsck, debugfs), creates
 * sparse images, and loop-mounts images in the Linux kernel with a guaranteed unmount. A missing tool fails with
 * a message that names it (CI installs e2fsprogs); loop mounting reports its unavailability so callers can skip
 * with a reason.
 */
public final class Ext2Tools {
    private Ext2Tools() {}

    /** The result of one external command. */
    public record Result(int exitCode, String stdout, String stderr, List<String> command) {
        /** Throws with the whole output unless the exit code is 0. */
        public Result ok() {
            if (exitCode != 0) {
                throw new AssertionError(String.join(" ", command) + " exited " + exitCode + "\nstdout:\n" + stdout
                        + "\nstderr:\n" + stderr);
            }
            return this;
        }

        public byte[] stdoutBytes() {
            return stdout.getBytes(StandardCharsets.ISO_8859_1);
        }
    }

    /** Runs a command (first element a tool name looked up in sbin/bin), stdout decoded as ISO-8859-1. */
    public static Result run(String... cmd) {
        HostTools.Result r = HostTools.run(cmd);
        return new Result(r.exitCode(), r.stdout(), r.stderr(), r.command());
    }

    /** Creates a sparse image file of {@code sizeBytes}. */
    public static Path sparseImage(Path path, long sizeBytes) throws IOException {
        try (var raf = new java.io.RandomAccessFile(path.toFile(), "rw")) {
            raf.setLength(sizeBytes);
        }
        return path;
    }

    /** {@code mke2fs -q -F -t ext2 [extra...] image}; fails the test on error. */
    public static Path mke2fs(Path image, long sizeBytes, String... extra) throws IOException {
        sparseImage(image, sizeBytes);
        List<String> cmd = new ArrayList<>(List.of("mke2fs", "-q", "-F", "-t", "ext2"));
        cmd.addAll(Arrays.asList(extra));
        cmd.add(image.toString());
        run(cmd.toArray(String[]::new)).ok();
        return image;
    }

    /** {@code mkfs.ext4 -q -F [extra...] image} on a new sparse file; fails the test on error. */
    public static Path mkfsExt4(Path image, long sizeBytes, String... extra) throws IOException {
        sparseImage(image, sizeBytes);
        List<String> cmd = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F"));
        cmd.addAll(Arrays.asList(extra));
        cmd.add(image.toString());
        run(cmd.toArray(String[]::new)).ok();
        return image;
    }

    /** {@code e2fsck -fn image}: exit code 0 means clean. */
    public static Result e2fsck(Path image) {
        return run("e2fsck", "-fn", image.toString());
    }

    /** Asserts {@code e2fsck -fn} finds nothing to fix. */
    public static void assertFsckClean(Path image) {
        Result r = e2fsck(image);
        if (r.exitCode() != 0) {
            throw new AssertionError("e2fsck -fn " + image + " exited " + r.exitCode() + ":\n" + r.stdout() + r.stderr());
        }
    }

    /** {@code debugfs -R request image} (read-only). */
    public static Result debugfs(Path image, String request) {
        return run("debugfs", "-R", request, image.toString());
    }

    /** {@code debugfs -w -R request image}; fails on a non-zero exit or an error line. */
    public static Result debugfsWrite(Path image, String request) {
        Result r = run("debugfs", "-w", "-R", request, image.toString()).ok();
        if (r.stderr().lines().skip(1).anyMatch(l -> !l.isBlank())) {
            throw new AssertionError("debugfs -w -R '" + request + "' reported:\n" + r.stderr());
        }
        return r;
    }

    /** The bytes of a file as {@code debugfs -R "dump -p"} extracts it. */
    public static byte[] debugfsDump(Path image, String path, Path scratchDir) throws IOException {
        Path out = Files.createTempFile(scratchDir, "dump", ".bin");
        try {
            run("debugfs", "-R", "dump " + path + " " + out, image.toString()).ok();
            return Files.readAllBytes(out);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Physical blocks of a file, in logical order, as {@code debugfs -R "blocks path"} lists them (data only). */
    public static long[] debugfsBlocks(Path image, String path) {
        String s = debugfs(image, "blocks " + path).ok().stdout().trim();
        if (s.isEmpty()) {
            return new long[0];
        }
        return Arrays.stream(s.split("\\s+")).mapToLong(Long::parseLong).toArray();
    }

    /** Runs a debugfs command file ({@code debugfs -w -f cmds image}); fails on any error line. */
    public static Result debugfsScript(Path image, List<String> commands, Path scratchDir) throws IOException {
        Path f = Files.createTempFile(scratchDir, "debugfs", ".cmd");
        try {
            Files.write(f, commands);
            Result r = run("debugfs", "-w", "-f", f.toString(), image.toString()).ok();
            List<String> errors = r.stderr().lines().filter(l -> !l.isBlank() && !l.startsWith("debugfs ")).toList();
            if (!errors.isEmpty()) {
                throw new AssertionError("debugfs script reported:\n" + String.join("\n", errors));
            }
            return r;
        } finally {
            Files.deleteIfExists(f);
        }
    }

    /** One data run of a file as debugfs's "stat" BLOCKS section shows it. */
    public record BlockRun(long lblk, long pblk, long nrBlocks) {
    }

    /** The data runs of a file (indirect blocks excluded) from {@code debugfs -R "stat path"}. */
    public static List<BlockRun> debugfsDataRuns(Path image, String path) {
        String out = debugfs(image, "stat " + path).ok().stdout();
        int i = out.indexOf("BLOCKS:");
        List<BlockRun> runs = new ArrayList<>();
        if (i < 0) {
            return runs;
        }
        String blocks = out.substring(i + 7, out.indexOf("TOTAL:", i) < 0 ? out.length() : out.indexOf("TOTAL:", i));
        var m = java.util.regex.Pattern.compile("\\((\\d+)(?:-(\\d+))?\\):(\\d+)(?:-(\\d+))?").matcher(blocks);
        while (m.find()) {
            long l0 = Long.parseLong(m.group(1));
            long l1 = m.group(2) == null ? l0 : Long.parseLong(m.group(2));
            runs.add(new BlockRun(l0, Long.parseLong(m.group(3)), l1 - l0 + 1));
        }
        return runs;
    }

    /** One line of {@code debugfs -R "ls -l dir"}. */
    public record ListEntry(long ino, int mode, String name, long sizeBytes) {
    }

    /** The entries of a directory as {@code debugfs -R "ls -l"} lists them (deleted entries excluded). */
    public static List<ListEntry> debugfsList(Path image, String dir) {
        String out = debugfs(image, "ls -l " + dir).ok().stdout();
        var p = java.util.regex.Pattern.compile(
                "^\\s*(\\d+)\\s+([0-7]+)\\s+\\(\\d+\\)\\s+\\d+\\s+\\d+\\s+(\\d+|\\s*\\d+,\\s*\\d+)\\s+\\S+\\s+\\S+\\s(.*)$");
        List<ListEntry> list = new ArrayList<>();
        for (String line : out.split("\n")) {
            var m = p.matcher(line);
            if (m.matches()) {
                String size = m.group(3).trim();
                list.add(new ListEntry(Long.parseLong(m.group(1)), Integer.parseInt(m.group(2), 8), m.group(4),
                        size.contains(",") ? -1 : Long.parseLong(size)));
            }
        }
        return list;
    }

    /** Why loop mounting is unavailable here, or null if it works (root, loop devices, ext2 in the kernel). */
    public static String loopMountUnavailableReason() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return "not running as root";
        }
        if (!Files.exists(Path.of("/dev/loop-control")) && !Files.exists(Path.of("/dev/loop0"))) {
            return "no loop devices (/dev/loop-control missing)";
        }
        try {
            String fs = Files.readString(Path.of("/proc/filesystems"));
            if (!fs.contains("\text2\n") && !fs.contains("\text2")) {
                return "the kernel has no ext2 (not in /proc/filesystems)";
            }
        } catch (IOException e) {
            return "cannot read /proc/filesystems: " + e.getMessage();
        }
        return null;
    }

    /** A kernel loop mount that unmounts on close (also after a failure inside the try block). */
    public static final class LoopMount implements AutoCloseable {
        private final Path mountPoint;
        private boolean mounted;

        private LoopMount(Path image, Path mountPoint, boolean readOnly, String fsType) {
            this.mountPoint = mountPoint;
            run("mount", "-t", fsType, "-o", "loop" + (readOnly ? ",ro" : ""), image.toString(), mountPoint.toString())
                    .ok();
            mounted = true;
        }

        /** Mounts {@code image} (ext2) at a new directory under {@code scratchDir}. */
        public static LoopMount mount(Path image, Path scratchDir, boolean readOnly) throws IOException {
            return mount(image, scratchDir, readOnly, "ext2");
        }

        /** Mounts {@code image} with the kernel's {@code fsType} driver (ext2, ext4) under {@code scratchDir}. */
        public static LoopMount mount(Path image, Path scratchDir, boolean readOnly, String fsType) throws IOException {
            Path mp = Files.createTempDirectory(scratchDir, "mnt");
            return new LoopMount(image, mp, readOnly, fsType);
        }

        public Path root() {
            return mountPoint;
        }

        @Override
        public void close() {
            if (mounted) {
                mounted = false;
                run("umount", mountPoint.toString()).ok();
            }
        }
    }
}
