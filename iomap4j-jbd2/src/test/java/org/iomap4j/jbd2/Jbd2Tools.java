package org.iomap4j.jbd2;

import org.iomap4j.testkit.tools.HostTools;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * Test support: runs e2fsprogs and the kernel as oracles, reads the journal inode's block map through debugfs (so
 * the module under test needs no ext code), reads and writes image blocks.
 */
final class Jbd2Tools {
    private Jbd2Tools() {}

    record Result(int exitCode, String stdout, String stderr, List<String> command) {
        Result ok() {
            if (exitCode != 0) {
                throw new AssertionError(String.join(" ", command) + " exited " + exitCode + "\n" + stdout + stderr);
            }
            return this;
        }
    }

    static String which(String tool) {
        return HostTools.which(tool);
    }

    /** Skips the test, printing why, unless every tool is installed. */
    static void assumeTools(String... tools) {
        for (String t : tools) {
            if (which(t) == null) {
                System.out.println("SKIP: tool '" + t + "' is not installed");
                Assumptions.abort("tool '" + t + "' is not installed");
            }
        }
    }

    /** Whether this process runs as uid 0 (the owner of /proc/self is the process's uid). */
    static boolean isRoot() {
        try {
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /** Whether loop mounts can be tried: root and mount/umount installed. */
    static boolean canLoopMount() {
        return isRoot() && which("mount") != null && which("umount") != null;
    }

    /** Skips, printing why, unless root can loop-mount. */
    static void assumeRootLoopMount() {
        if (!isRoot()) {
            System.out.println("SKIP: loop mounts need root (running as " + System.getProperty("user.name") + ")");
            Assumptions.abort("loop mounts need root");
        }
        assumeTools("mount", "umount");
    }

    static Result run(String... cmd) {
        HostTools.Result r = HostTools.run(cmd);
        return new Result(r.exitCode(), r.stdout(), r.stderr(), r.command());
    }

    /** A fresh ext4 image: {@code mkfs.ext4 -q -F -b blockSize [extra] image sizeBytes}. */
    static Path mkfsExt4(Path image, long sizeBytes, int blockSize, String... extra) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(sizeBytes);
        }
        List<String> cmd = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F", "-b", Integer.toString(blockSize)));
        cmd.addAll(Arrays.asList(extra));
        cmd.add(image.toString());
        run(cmd.toArray(String[]::new)).ok();
        return image;
    }

    /** The journal inode's (inode 8) mapping, from {@code debugfs -R "blocks <8>"}, coalesced into extents. */
    static JournalMap journalMap(Path image) {
        Result r = run("debugfs", "-c", "-R", "blocks <8>", image.toString()).ok(); // -c: no bitmaps, which may not match before replay
        String s = r.stdout().trim();
        if (s.isEmpty()) {
            throw new AssertionError("debugfs lists no blocks for the journal inode of " + image + ": " + r.stderr() + run("debugfs", "-R", "stat <8>", image.toString()).stdout() + run("dumpe2fs", "-h", image.toString()).stdout());
        }
        long[] pblks = Arrays.stream(s.split("\\s+")).mapToLong(Long::parseLong).toArray();
        List<JournalMap.Extent> extents = new ArrayList<>();
        int i = 0;
        while (i < pblks.length) {
            int j = i + 1;
            while (j < pblks.length && pblks[j] == pblks[j - 1] + 1) {
                j++;
            }
            extents.add(new JournalMap.Extent(i, pblks[i], j - i));
            i = j;
        }
        return JournalMap.ofExtents(extents);
    }

    /** {@code e2fsck -E journal_only -y image}: replays the journal and nothing else; exit 0 or 1 expected. */
    static Result e2fsckReplay(Path image) {
        Result r = run("e2fsck", "-E", "journal_only", "-y", image.toString());
        if (r.exitCode() > 1) {
            throw new AssertionError("e2fsck journal replay exited " + r.exitCode() + "\n" + r.stdout() + r.stderr());
        }
        return r;
    }

    /** {@code debugfs -w -R request image}. */
    static Result debugfsWrite(Path image, String request) {
        return run("debugfs", "-w", "-R", request, image.toString()).ok();
    }

    /** {@code dumpe2fs -h} field value ("Journal start:" etc.), trimmed, or null. */
    static String dumpe2fsField(Path image, String field) {
        String out = run("dumpe2fs", "-h", image.toString()).stdout();
        for (String line : out.split("\n")) {
            if (line.startsWith(field + ":")) {
                return line.substring(field.length() + 1).trim();
            }
        }
        return null;
    }

    static byte[] readBlock(Path image, long blk, int bs) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "r")) {
            byte[] b = new byte[bs];
            raf.seek(blk * bs);
            raf.readFully(b);
            return b;
        }
    }

    static void writeBlock(Path image, long blk, byte[] data) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.seek(blk * data.length);
            raf.write(data);
        }
    }

    /** Blocks (of {@code bs} bytes) where two images differ. */
    static List<Long> differingBlocks(Path a, Path b, int bs) throws IOException {
        List<Long> diff = new ArrayList<>();
        try (RandomAccessFile ra = new RandomAccessFile(a.toFile(), "r");
             RandomAccessFile rb = new RandomAccessFile(b.toFile(), "r")) {
            if (ra.length() != rb.length()) {
                throw new AssertionError("image sizes differ: " + ra.length() + " vs " + rb.length());
            }
            byte[] x = new byte[bs];
            byte[] y = new byte[bs];
            for (long blk = 0; blk < ra.length() / bs; blk++) {
                ra.readFully(x);
                rb.readFully(y);
                if (!Arrays.equals(x, y)) {
                    diff.add(blk);
                }
            }
        }
        return diff;
    }

    /** Loop-mounts {@code image} on {@code dir} (replaying its journal in the kernel) and unmounts it. */
    static void kernelMountUnmount(Path image, Path dir, String options) throws IOException {
        Files.createDirectories(dir);
        run("mount", "-o", "loop" + (options.isEmpty() ? "" : "," + options), image.toString(), dir.toString()).ok();
        unmount(dir);
    }

    /** Unmounts {@code dir}; if busy, retries, then detaches it lazily so no mount outlives the test. */
    static void unmount(Path dir) {
        Result r = run("umount", dir.toString());
        for (int i = 0; i < 5 && r.exitCode() != 0; i++) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            r = run("umount", dir.toString());
        }
        if (r.exitCode() != 0) {
            run("umount", "-l", dir.toString());
            throw new AssertionError("umount " + dir + " failed (lazily detached): " + r.stderr());
        }
    }
}
