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
import java.util.stream.Stream;

/**
 * Images and kernel helpers for the htree tests: extent-free ext4 images (the driver's current incompat set),
 * ext2 with dir_index, the kernel's ext4 on loop, and a name → inode model check through the kernel.
 */
final class HtreeTestImages {
    private HtreeTestImages() {}

    /** ext4 without the features the driver cannot write yet (journal, extents, 64bit, flex_bg, ...). */
    static final String EXT4_NO_CSUM = "^has_journal,^extent,^64bit,^flex_bg,^huge_file,^metadata_csum,^extra_isize";
    /** The same with metadata_csum (it mounts read-only until the superblock/inode checksums are written). */
    static final String EXT4_CSUM = "^has_journal,^extent,^64bit,^flex_bg";

    /** {@code mkfs.ext4 -q -F -O features [extra] image}. */
    static Path mkfsExt4(Path image, long sizeBytes, String features, String... extra) throws IOException {
        Ext2Tools.sparseImage(image, sizeBytes);
        List<String> cmd = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F", "-O", features));
        cmd.addAll(Arrays.asList(extra));
        cmd.add(image.toString());
        Ext2Tools.run(cmd.toArray(String[]::new)).ok();
        return image;
    }

    /** A kernel ext4 loop mount that unmounts on close. */
    static final class Ext4Mount implements AutoCloseable {
        final Path root;
        private boolean mounted;

        Ext4Mount(Path image, Path scratch, boolean readOnly) throws IOException {
            root = Files.createTempDirectory(scratch, "mnt");
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

    /** Why the kernel's ext4 cannot be loop mounted here, or null. */
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
