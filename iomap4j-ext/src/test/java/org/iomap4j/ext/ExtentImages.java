package org.iomap4j.ext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iomap4j.ext.disk.ExtentLeaf;

/**
 * Test images with the {@code extent} feature and the host-tool oracles for extent trees: {@code mke2fs -t ext4}
 * without the features the driver does not serve yet, debugfs {@code ex} parsed into leaf extents, and the
 * kernel's ext4 on a loop mount.
 */
final class ExtentImages {
    /** The ext4 features this branch mounts read-write: ext4 minus journal, 64bit, metadata_csum, flex_bg, ... */
    static final String EXT4_STRIPPED = "^has_journal,^64bit,^metadata_csum,^flex_bg,^huge_file,^dir_nlink,^extra_isize";

    private ExtentImages() {
    }

    /** {@code mke2fs -t ext4 -O EXT4_STRIPPED -b blockSize [extra...] image}. */
    static Path mkfsExt4(Path image, long sizeBytes, int blockSizeBytes, String... extra) throws IOException {
        Ext2Tools.sparseImage(image, sizeBytes);
        List<String> cmd = new ArrayList<>(List.of("mke2fs", "-q", "-F", "-t", "ext4", "-O", EXT4_STRIPPED,
                "-b", Integer.toString(blockSizeBytes)));
        cmd.addAll(List.of(extra));
        cmd.add(image.toString());
        Ext2Tools.run(cmd.toArray(String[]::new)).ok();
        return image;
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

    /** Why an ext4 loop mount is unavailable, or null. */
    static String ext4LoopUnavailableReason() {
        String r = Ext2Tools.loopMountUnavailableReason();
        if (r != null) {
            return r;
        }
        try {
            if (!Files.readString(Path.of("/proc/filesystems")).contains("ext4")) {
                return "the kernel has no ext4";
            }
        } catch (IOException e) {
            return e.getMessage();
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
}
