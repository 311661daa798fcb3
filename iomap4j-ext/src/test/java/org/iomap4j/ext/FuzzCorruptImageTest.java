package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A seeded mutation fuzzer for damaged ext2 images: a populated image (small files, a file deep into the
 * double-indirect tree, nested directories, a symlink) gets 1-8 mutations biased to the superblock, group
 * descriptors, bitmaps and inode table (first 64 KiB), directory blocks and the rest of the image; then it is
 * mounted read-only, the tree walked, every file read to EOF and its extents mapped. Only IOExceptions (the
 * project's FsException/CorruptFilesystemException/DeviceIOException) may come out; every image is handled
 * within a bounded time (assertTimeoutPreemptively) and never OOMs from a size read off disk.
 */
class FuzzCorruptImageTest {
    /** Iterations in mvn test; -Dfuzz.iterations=N for a longer run, -Dfuzz.seed=S for another seed. */
    private static final int ITERATIONS = Integer.getInteger("fuzz.iterations", 3000);
    private static final long SEED = Long.getLong("fuzz.seed", 0x5be0cd19L);

    @TempDir
    Path tmp;

    private byte[] populatedImage() throws IOException {
        Path img = Ext2Tools.mke2fs(tmp.resolve("fuzz.img"), 1L << 20, "-b", "1024", "-N", "64");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long root = fs.rootIno();
            long d1 = fs.mkdir(root, "dir", 0755, 0, 0).ino();
            long d2 = fs.mkdir(d1, "sub", 0755, 0, 0).ino();
            Random r = new Random(1);
            int[] sizes = {0, 100, 1024, 13 * 1024, 300 * 1024};
            long[] dirs = {root, d1, d2};
            for (int i = 0; i < sizes.length; i++) {
                Vfs.Created c = fs.create(dirs[i % 3], "file" + i, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                byte[] data = new byte[sizes[i]];
                r.nextBytes(data);
                fs.write(c.handle(), 0, ByteBuffer.wrap(data));
                fs.release(c.handle());
            }
            for (int i = 0; i < 12; i++) {
                fs.mknod(d2, "many-entries-" + i, 0100644, 0, 0, 0);
            }
            fs.symlink(root, "link", "dir/sub/file2", 0, 0);
        }
        return java.nio.file.Files.readAllBytes(img);
    }

    /** Mounts read-only, walks, reads and maps everything; returns normally or with an IOException. */
    static void exercise(byte[] image) throws IOException {
        MemoryBlockDevice dev = new MemoryBlockDevice(image.length, 512);
        dev.write(0, ByteBuffer.wrap(image));
        try (ExtFileSystem fs = ExtFileSystem.mount(dev, ExtMountOptions.defaults().withReadOnly(true)
                .withCache(4L << 20, 64 << 10))) {
            List<long[]> files = new ArrayList<>();
            fs.walkTree("/", (path, attr) -> {
                if (attr.isRegular()) {
                    files.add(new long[] {attr.ino()});
                } else if (FileModeHelper.isSymlink(attr.mode())) {
                    fs.readlink(attr.ino());
                }
            });
            ByteBuffer buf = ByteBuffer.allocate(64 << 10);
            for (long[] f : files) {
                FileHandle h = fs.open(f[0], Vfs.O_RDONLY);
                try {
                    long pos = 0;
                    for (int guard = 0; guard < 4096; guard++) { // 4096 x 64 KiB bounds a 1 MiB device's file
                        buf.clear();
                        int n = fs.read(h, pos, buf);
                        if (n <= 0) {
                            break;
                        }
                        pos += n;
                    }
                    fs.mapExtents(f[0]);
                } finally {
                    fs.release(h);
                }
            }
        } finally {
            dev.close();
        }
    }

    /** S_IFLNK test without depending on FileMode's helper names. */
    static final class FileModeHelper {
        static boolean isSymlink(int mode) {
            return (mode & 0170000) == 0120000;
        }
    }

    private static void mutate(byte[] img, Random rnd) {
        int n = 1 + rnd.nextInt(8);
        for (int i = 0; i < n; i++) {
            int where = rnd.nextInt(4);
            int off = switch (where) {
                case 0 -> 1024 + rnd.nextInt(1024);             // superblock
                case 1 -> rnd.nextInt(64 << 10);                // descriptors, bitmaps, inode table
                default -> rnd.nextInt(img.length);             // directory/indirect/data blocks, backups
            };
            switch (rnd.nextInt(5)) {
                case 0 -> img[off] = (byte) rnd.nextInt(256);
                case 1 -> img[off] ^= (byte) (1 << rnd.nextInt(8));
                case 2 -> img[off] = (byte) (rnd.nextBoolean() ? 0 : 0xff);
                default -> {
                    int at = Math.min(off & ~3, img.length - 4);
                    int v = switch (rnd.nextInt(4)) {
                        case 0 -> 0;
                        case 1 -> -1;
                        case 2 -> Integer.MAX_VALUE;
                        default -> rnd.nextInt(1 << 12);
                    };
                    ByteBuffer.wrap(img).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(at, v);
                }
            }
        }
    }

    @Test
    void mutatedImages_onlyDocumentedExceptions_boundedTime() throws Exception {
        fuzz(populatedImage(), "ext2", ITERATIONS);
    }

    /**
     * An ext4 image (metadata_csum, extents, 64bit, flex_bg, uninit groups, 256-byte inodes) populated by mkfs.ext4
     * -d: corruption of checksummed metadata must end in an IOException naming it, never anything else.
     */
    @Test
    void mutatedExt4Images_onlyDocumentedExceptions_boundedTime() throws Exception {
        Path src = java.nio.file.Files.createDirectories(tmp.resolve("src/dir/sub"));
        Random r = new Random(2);
        int[] sizes = {0, 100, 1024, 13 * 1024, 300 * 1024};
        for (int i = 0; i < sizes.length; i++) {
            byte[] data = new byte[sizes[i]];
            r.nextBytes(data);
            java.nio.file.Files.write((i % 2 == 0 ? src : src.getParent()).resolve("file" + i), data);
        }
        java.nio.file.Files.createSymbolicLink(tmp.resolve("src/link"), Path.of("dir/sub/file2"));
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("fuzz4.img"), 2L << 20, "-b", "1024", "-N", "64", "-O",
                "^has_journal,^resize_inode", "-d", tmp.resolve("src").toString());
        fuzz(java.nio.file.Files.readAllBytes(img), "ext4", ITERATIONS);
    }

    private void fuzz(byte[] base, String what, int iterations) throws Exception {
        exercise(base.clone()); // the unmutated image is fine
        Random rnd = new Random(SEED);
        List<String> findings = new ArrayList<>();
        int corrupt = 0;
        int ok = 0;
        for (int it = 0; it < iterations && findings.size() < 5; it++) {
            long caseSeed = rnd.nextLong();
            byte[] img = base.clone();
            mutate(img, new Random(caseSeed));
            try {
                Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () -> exercise(img),
                        "iteration " + it + " case seed " + caseSeed + " hung");
                ok++;
            } catch (Throwable t) { // assertTimeoutPreemptively rethrows the body's checked exceptions as they are
                if (t instanceof IOException) {
                    corrupt++;
                    continue;
                }
                StringWriter sw = new StringWriter();
                t.printStackTrace(new PrintWriter(sw));
                findings.add("iteration " + it + ", case seed " + caseSeed + " (run seed " + SEED + "): " + sw);
            }
        }
        System.out.println("fuzz corrupt " + what + " images seed " + SEED + ": " + iterations + " executions, " + corrupt
                + " refused with an IOException, " + ok + " read fully, " + findings.size() + " findings");
        assertThat(findings).isEmpty();
    }
}
