package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * inline_data against the kernel's ext4 (the oracle): the kernel writes small files, small directories and a
 * directory that grows past inline on a {@code mkfs.ext4 -O ^has_journal,inline_data -b 4096} image; iomap4j must
 * read the same tree and bytes (debugfs confirms the inodes are inline), then write, append, truncate, fallocate,
 * create, unlink, rename and mkdir in inline inodes (converting them to blocks); {@code e2fsck -fn} stays clean,
 * and the kernel reads back exactly the expected tree. A corrupt inline area is an error naming the inode.
 */
class InlineDataKernelTest {
    @TempDir
    Path tmp;

    static final int[] SIZES = {0, 1, 30, 59, 60, 61, 100, 120, 150};

    /** The kernel-made image and the bytes it wrote per path. */
    private Path kernelImage(Map<String, byte[]> files) throws IOException {
        return kernelImage(files, "4096", "^has_journal,inline_data");
    }

    private Path kernelImage(Map<String, byte[]> files, String blockSize, String features) throws IOException {
        String why = Ext2Tools.loopMountUnavailableReason();
        assumeTrue(why == null, why);
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("inline.img"), 64L << 20, "-O", features,
                "-b", blockSize, "-I", "256");
        long seed = System.nanoTime();
        System.out.println("InlineDataKernelTest seed " + seed);
        Random rnd = new Random(seed);
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, false)) {
            for (int size : SIZES) {
                files.put("/f" + size, randomFile(rnd, m.root.resolve("f" + size), size));
            }
            Path small = Files.createDirectory(m.root.resolve("small"));
            for (String n : List.of("a", "bb", "ccc")) {
                files.put("/small/" + n, randomFile(rnd, small.resolve(n), 10 + n.length()));
            }
            Files.createDirectory(small.resolve("sub"));
            files.put("/small/sub/x", randomFile(rnd, small.resolve("sub/x"), 5));
            Path two = Files.createDirectory(m.root.resolve("two"));
            files.put("/two/y", randomFile(rnd, two.resolve("y"), 70));
            files.put("/two/z", randomFile(rnd, two.resolve("z"), 0));
            Files.createDirectory(m.root.resolve("empty"));
            Files.createDirectory(m.root.resolve("empty2"));
            Path mid = Files.createDirectory(m.root.resolve("mid")); // entries spill from i_block into system.data
            for (int k = 0; k < 6; k++) {
                files.put("/mid/m-000" + k, randomFile(rnd, mid.resolve("m-000" + k), 3));
            }
            Path grow = Files.createDirectory(m.root.resolve("grow"));
            for (int k = 0; k < 40; k++) {
                files.put("/grow/name-" + k, randomFile(rnd, grow.resolve("name-" + k), k));
            }
            Files.createSymbolicLink(m.root.resolve("s"), Path.of("small/a"));
            Files.createSymbolicLink(m.root.resolve("slong"), Path.of("x".repeat(90)));
        }
        Ext2Tools.assertFsckClean(img);
        // The oracle used inline storage for what this test calls inline.
        for (String p : List.of("/f1", "/f59", "/f100", "/small", "/two", "/empty")) {
            assertThat(Ext2Tools.debugfs(img, "stat " + p).stdout()).as("debugfs stat %s", p)
                    .contains("Size of inline data");
        }
        assertThat(Ext2Tools.debugfs(img, "stat /grow").stdout()).doesNotContain("Size of inline data");
        var midSize = java.util.regex.Pattern.compile("Size of inline data: (\\d+)")
                .matcher(Ext2Tools.debugfs(img, "stat /mid").stdout());
        assertThat(midSize.find()).as("/mid is inline").isTrue();
        assertThat(Integer.parseInt(midSize.group(1))).as("/mid uses system.data").isGreaterThan(60);
        return img;
    }

    private static byte[] randomFile(Random rnd, Path p, int size) throws IOException {
        byte[] b = new byte[size];
        rnd.nextBytes(b);
        Files.write(p, b);
        return b;
    }

    /** The kernel's view of a mounted tree as {@link TreeModel} nodes (lost+found skipped). */
    static Map<String, TreeModel.Node> hostTree(Path root) throws IOException {
        Map<String, TreeModel.Node> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                if (p.equals(root)) {
                    continue;
                }
                String rel = "/" + root.relativize(p).toString();
                if (rel.startsWith("/lost+found")) {
                    continue;
                }
                int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
                int nlink = (Integer) Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
                if (Files.isSymbolicLink(p)) {
                    String t = Files.readSymbolicLink(p).toString();
                    out.put(rel, new TreeModel.Node(mode, nlink, t.length(), null, t));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, new TreeModel.Node(mode, nlink, 0, null, null));
                } else {
                    byte[] c = Files.readAllBytes(p);
                    out.put(rel, new TreeModel.Node(mode, nlink, c.length, c, null));
                }
            }
        }
        return out;
    }

    private static Map<String, TreeModel.Node> kernelTree(Path img, Path tmp) throws IOException {
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, true)) {
            return hostTree(m.root);
        }
    }

    @Test
    void readsTheKernelsInlineTree() throws Exception {
        Map<String, byte[]> files = new TreeMap<>();
        Path img = kernelImage(files);
        Map<String, TreeModel.Node> kernel = kernelTree(img, tmp);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            Map<String, TreeModel.Node> ours = TreeModel.capture(fs);
            assertThat(ours).isEqualTo(kernel);
            for (var e : files.entrySet()) {
                assertThat(ours.get(e.getKey()).content()).as(e.getKey()).isEqualTo(e.getValue());
            }
            assertThat(fs.readlink(fs.lookup(ExtFileSystem.ROOT_INO, "slong").ino())).isEqualTo("x".repeat(90));
            long small = fs.lookup(ExtFileSystem.ROOT_INO, "small").ino();
            long sub = fs.lookup(small, "sub").ino();
            assertThat(fs.lookup(sub, "..").ino()).isEqualTo(small);
            assertThat(fs.lookup(small, "..").ino()).isEqualTo(ExtFileSystem.ROOT_INO);
            assertThat(fs.lookup(small, "bb").sizeBytes()).isEqualTo(12);
        }
        Ext2Tools.assertFsckClean(img); // a read-write mount that only read leaves the image as it was
        byte[] before = Files.readAllBytes(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            assertThat(TreeModel.capture(fs)).isEqualTo(kernel);
            long f = fs.lookup(ExtFileSystem.ROOT_INO, "f100").ino();
            FileHandle h = fs.open(f, Vfs.O_RDONLY);
            assertThat(fs.fiemap(f, 0, Long.MAX_VALUE, 0)).singleElement()
                    .satisfies(e -> assertThat(e.flags() & org.iomap4j.iomap.FiemapExtent.DATA_INLINE).isNotZero());
            fs.release(h);
        }
        assertThat(Arrays.equals(Files.readAllBytes(img), before)).as("a read-only mount writes nothing").isTrue();
    }

    @ParameterizedTest
    @CsvSource({"4096, '^has_journal,inline_data'", "1024, '^has_journal,^metadata_csum,inline_data'"})
    void writesConvertToBlocksAndTheKernelReadsThemBack(String blockSize, String features) throws Exception {
        Map<String, byte[]> files = new TreeMap<>();
        Path img = kernelImage(files, blockSize, features);
        Random rnd = new Random(7);
        Map<String, byte[]> expect = new TreeMap<>(files);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long root = ExtFileSystem.ROOT_INO;
            // append to an inline file
            byte[] add = bytes(rnd, 500);
            write(fs, root, "f61", 61, add);
            expect.put("/f61", concat(expect.get("/f61"), add));
            // overwrite inside an inline file (stays within its size)
            byte[] mid = bytes(rnd, 20);
            write(fs, root, "f100", 40, mid);
            byte[] f100 = expect.get("/f100").clone();
            System.arraycopy(mid, 0, f100, 40, 20);
            expect.put("/f100", f100);
            // write into the empty inline file
            byte[] z = bytes(rnd, 9);
            write(fs, root, "f0", 0, z);
            expect.put("/f0", z);
            // truncate down and up
            fs.setattr(fs.lookup(root, "f150").ino(), SetAttr.size(10));
            expect.put("/f150", Arrays.copyOf(expect.get("/f150"), 10));
            fs.setattr(fs.lookup(root, "f1").ino(), SetAttr.size(5000));
            expect.put("/f1", Arrays.copyOf(expect.get("/f1"), 5000));
            // fallocate on an inline file
            FileHandle h = fs.open(fs.lookup(root, "f59").ino(), Vfs.O_RDWR);
            fs.fallocate(h, 0, 0, 8192);
            fs.release(h);
            expect.put("/f59", Arrays.copyOf(expect.get("/f59"), 8192));
            // namespace changes in inline directories
            long small = fs.lookup(root, "small").ino();
            Vfs.Created c = fs.create(small, "new", 0644, Vfs.O_RDWR, 0, 0);
            byte[] nb = bytes(rnd, 33);
            fs.write(c.handle(), 0, ByteBuffer.wrap(nb));
            fs.release(c.handle());
            expect.put("/small/new", nb);
            fs.unlink(small, "a");
            expect.remove("/small/a");
            long two = fs.lookup(root, "two").ino();
            fs.rename(two, "y", two, "y2", 0);
            expect.put("/two/y2", expect.remove("/two/y"));
            long empty = fs.lookup(root, "empty").ino();
            fs.mkdir(empty, "d", 0755, 0, 0);
            fs.rename(small, "sub", empty, "sub", 0); // a directory moves: its inline ".." changes
            long sub = fs.lookup(empty, "sub").ino();
            assertThat(fs.lookup(sub, "..").ino()).isEqualTo(empty);
            fs.unlink(two, "z");
            expect.remove("/two/z");
            fs.link(fs.lookup(root, "f30").ino(), two, "f30link");
            expect.put("/two/f30link", expect.get("/f30"));
            fs.rmdir(root, "empty2");
            long midDir = fs.lookup(root, "mid").ino();
            fs.unlink(midDir, "m-0005"); // an entry kept in system.data
            expect.remove("/mid/m-0005");
            fs.rename(midDir, "m-0004", midDir, "renamed-in-mid", 0);
            expect.put("/mid/renamed-in-mid", expect.remove("/mid/m-0004"));
            for (int k = 0; k < 300; k++) { // grows well past one block after converting
                Vfs.Created g = fs.create(midDir, "grown-by-iomap4j-" + k, 0644, Vfs.O_RDWR, 0, 0);
                fs.release(g.handle());
                fs.forget(g.attr().ino(), 1);
                expect.put("/mid/grown-by-iomap4j-" + k, new byte[0]);
            } // an inline directory goes away without converting
            for (String k : List.copyOf(expect.keySet())) {
                if (k.startsWith("/small/sub/")) {
                    expect.put(k.replace("/small/sub/", "/empty/sub/"), expect.remove(k));
                }
            }
            fs.sync();
            Map<String, TreeModel.Node> ours = TreeModel.capture(fs);
            for (var e : expect.entrySet()) {
                assertThat(ours.get(e.getKey())).as(e.getKey()).isNotNull();
                assertThat(ours.get(e.getKey()).content()).as(e.getKey()).isEqualTo(e.getValue());
            }
        }
        Ext2Tools.assertFsckClean(img);
        Map<String, TreeModel.Node> kernel = kernelTree(img, tmp);
        for (var e : expect.entrySet()) {
            assertThat(kernel.get(e.getKey())).as("kernel " + e.getKey()).isNotNull();
            assertThat(kernel.get(e.getKey()).content()).as("kernel " + e.getKey()).isEqualTo(e.getValue());
        }
        assertThat(kernel).containsKeys("/empty/d", "/empty/sub", "/small/bb", "/grow/name-39", "/two/f30link")
                .doesNotContainKeys("/small/a", "/small/sub", "/two/y", "/two/z", "/empty2", "/mid/m-0005", "/mid/m-0004");
        assertThat(kernel.get("/two/f30link").nlink()).isEqualTo(2);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(TreeModel.capture(fs)).isEqualTo(kernel);
        }
        assertThat(Ext2Tools.debugfs(img, "stat /f61").stdout()).doesNotContain("Size of inline data");
        assertThat(Ext2Tools.debugfs(img, "stat /f30").stdout()).contains("Size of inline data");
    }

    @Test
    void aCorruptInlineAreaIsAnErrorNamingTheInode() throws Exception {
        Map<String, byte[]> files = new TreeMap<>();
        Path img = kernelImage(files);
        // i_size beyond the 60 bytes of i_block plus system.data (debugfs recomputes the inode checksum).
        Ext2Tools.debugfsWrite(img, "sif /f100 size 300");
        Ext2Tools.debugfsWrite(img, "sif /two size 200");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long f = fs.lookup(ExtFileSystem.ROOT_INO, "f100").ino();
            FileHandle h = fs.open(f, Vfs.O_RDONLY);
            assertThatThrownBy(() -> fs.read(h, 0, ByteBuffer.allocate(100)))
                    .isInstanceOf(IOException.class).hasMessageContaining("inode " + f);
            fs.release(h);
            long two = fs.lookup(ExtFileSystem.ROOT_INO, "two").ino();
            assertThatThrownBy(() -> fs.lookup(two, "z")).isInstanceOf(IOException.class)
                    .hasMessageContaining("inode " + two);
        }
    }

    private static void write(ExtFileSystem fs, long dir, String name, long pos, byte[] data) throws IOException {
        FileHandle h = fs.open(fs.lookup(dir, name).ino(), Vfs.O_RDWR);
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            fs.write(h, pos + b.position(), b);
        }
        fs.release(h);
    }

    private static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
