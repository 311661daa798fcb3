package org.iomap4j.ext;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.iomap4j.ext.disk.ExtentLeaf;

/**
 * Test images made by the host's mkfs.ext4 and the host-tool oracles the extent and htree tests share: images with
 * chosen feature sets, debugfs {@code ex} parsed into extents, the kernel's ext4 on a loop mount, and a directory's
 * name → inode listing as the kernel sees it.
 */
final class Ext4TestImages {
    /** ext4 with extents, without the journal and the features the extent tests leave out (64bit, ...). */
    static final String EXT4_STRIPPED = "^has_journal,^64bit,^metadata_csum,^flex_bg,^huge_file,^dir_nlink,^extra_isize";
    /** ext4 without the journal, extents, 64bit, flex_bg, huge_file, metadata_csum and extra_isize (htree tests). */
    static final String EXT4_NO_CSUM = "^has_journal,^extent,^64bit,^flex_bg,^huge_file,^metadata_csum,^extra_isize";
    /** The same with metadata_csum (and huge_file, extra_isize). */
    static final String EXT4_CSUM = "^has_journal,^extent,^64bit,^flex_bg";

    private Ext4TestImages() {
    }

    /** {@code mkfs.ext4 -q -F -O features [extra...] image} on a new sparse file of {@code sizeBytes}. */
    static Path mkfsExt4(Path image, long sizeBytes, String features, String... extra) throws IOException {
        Ext2Tools.sparseImage(image, sizeBytes);
        List<String> cmd = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F", "-O", features));
        cmd.addAll(Arrays.asList(extra));
        cmd.add(image.toString());
        Ext2Tools.run(cmd.toArray(String[]::new)).ok();
        return image;
    }

    /** {@code mkfs.ext4 -q -F -O EXT4_STRIPPED -b blockSize [extra...] image}: an extent image. */
    static Path mkfsExt4(Path image, long sizeBytes, int blockSizeBytes, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("-b", Integer.toString(blockSizeBytes)));
        args.addAll(Arrays.asList(extra));
        return mkfsExt4(image, sizeBytes, EXT4_STRIPPED, args.toArray(String[]::new));
    }

    private static final Pattern EX_LINE = Pattern.compile(
            "^\\s*(\\d+)/\\s*(\\d+)\\s+\\d+/\\s*\\d+\\s+(\\d+)\\s*-\\s*(\\d+)\\s+(\\d+)\\s*-\\s*(\\d+)\\s+(\\d+)\\s*(Uninit)?\\s*$");

    /** A node line of debugfs {@code ex}: level, and for leaves (level == max depth) the extent. */
    record ExLine(int level, int maxLevel, long lblk, long endLblk, long pblk, long len, boolean unwritten) {
    }

    /** {@code debugfs -R "ex path"} parsed: every line (index and leaf) of the tree. */
    static List<ExLine> debugfsEx(Path image, String path) {
        String out = Ext2Tools.debugfs(image, "ex " + path).ok().stdout();
        List<ExLine> lines = new ArrayList<>();
        for (String l : out.split("\n")) {
            Matcher m = EX_LINE.matcher(l);
            if (m.matches()) {
                lines.add(new ExLine(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                        Long.parseLong(m.group(3)), Long.parseLong(m.group(4)), Long.parseLong(m.group(5)),
                        Long.parseLong(m.group(7)), m.group(8) != null));
            }
        }
        return lines;
    }

    /** The leaf extents of {@code debugfs ex}. */
    static List<ExtentLeaf> debugfsLeaves(Path image, String path) {
        List<ExtentLeaf> out = new ArrayList<>();
        for (ExLine l : debugfsEx(image, path)) {
            if (l.level == l.maxLevel) {
                out.add(new ExtentLeaf(l.lblk, (int) l.len, l.pblk, l.unwritten));
            }
        }
        return out;
    }

    /** The tree depth debugfs reports (0 for a tree whose root is a leaf). */
    static int debugfsDepth(Path image, String path) {
        List<ExLine> lines = debugfsEx(image, path);
        return lines.isEmpty() ? 0 : lines.getFirst().maxLevel;
    }

    /** Why the kernel's ext4 cannot be loop mounted here, or null if it can. */
    static String ext4MountUnavailableReason() {
        String r = Ext2Tools.loopMountUnavailableReason();
        if (r != null) {
            return r;
        }
        try {
            if (!Files.readString(Path.of("/proc/filesystems")).contains("\text4")) {
                return "the kernel has no ext4 (not in /proc/filesystems)";
            }
        } catch (IOException e) {
            return "cannot read /proc/filesystems: " + e.getMessage();
        }
        return null;
    }

    /** The kernel's ext4 on a loop mount, unmounted on close. */
    static final class Ext4Mount implements AutoCloseable {
        final Path root;
        private boolean mounted;

        Ext4Mount(Path image, Path scratchDir, boolean readOnly) throws IOException {
            root = Files.createTempDirectory(scratchDir, "ext4mnt");
            Ext2Tools.run("mount", "-t", "ext4", "-o", "loop" + (readOnly ? ",ro" : ""), image.toString(),
                    root.toString()).ok();
            mounted = true;
        }

        @Override
        public void close() {
            if (mounted) {
                mounted = false;
                Ext2Tools.run("umount", root.toString()).ok();
            }
        }
    }

    /** name → inode number of a directory as the kernel lists it. */
    static Map<String, Long> kernelListing(Path dir) throws IOException {
        Map<String, Long> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                m.put(p.getFileName().toString(), (Long) Files.getAttribute(p, "unix:ino"));
            }
        }
        return m;
    }

    /** A name that is valid UTF-8 and, with {@code highBytes}, has bytes above 0x7F (signed/unsigned hash). */
    static String name(java.util.Random rnd, boolean highBytes) {
        int len = 1 + (rnd.nextInt(5) == 0 ? rnd.nextInt(120) : rnd.nextInt(12));
        StringBuilder sb = new StringBuilder();
        while (sb.toString().getBytes(StandardCharsets.UTF_8).length < len) {
            int k = rnd.nextInt(highBytes ? 40 : 36);
            sb.append(k < 26 ? (char) ('a' + k) : k < 36 ? (char) ('0' + k - 26) : "éßøü".charAt(k - 36));
        }
        return sb.toString();
    }
}
