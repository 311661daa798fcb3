package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.ExtentLeaf;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel's ext4 on a loop mount as the differential oracle for extent trees: it reads files iomap4j wrote
 * (a depth-2 tree on 1 KiB blocks, unwritten ranges inside and beyond EOF) with the same bytes, and
 * {@code filefrag -v} (the kernel's FIEMAP) lists the same extents with the same unwritten flags; iomap4j reads
 * files the kernel made (deep trees from fallocate and punch patterns, unwritten extents) with the kernel's bytes
 * and debugfs' tree, changes them, and the kernel and e2fsck accept the result.
 */
class ExtentKernelTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void tools() {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
        String why = Ext4TestImages.ext4MountUnavailableReason();
        Assumptions.assumeTrue(why == null, "no ext4 loop mount: " + why);
    }

    /** One extent of {@code filefrag -v}: logical and physical start, length, unwritten (all in blocks). */
    record Frag(long lblk, long pblk, long len, boolean unwritten) {
    }

    private static final Pattern FRAG = Pattern.compile(
            "^\\s*\\d+:\\s+(\\d+)\\.\\.\\s*(\\d+):\\s+(\\d+)\\.\\.\\s*(\\d+):\\s+(\\d+):.*$");

    static List<Frag> filefrag(Path file) {
        String out = Ext2Tools.run("filefrag", "-v", "-b" + 0, file.toString()).stdout();
        List<Frag> list = new ArrayList<>();
        for (String l : out.split("\n")) {
            Matcher m = FRAG.matcher(l);
            if (m.matches()) {
                list.add(new Frag(Long.parseLong(m.group(1)), Long.parseLong(m.group(3)),
                        Long.parseLong(m.group(5)), l.contains("unwritten")));
            }
        }
        return list;
    }

    private static List<Frag> asFrags(List<ExtentLeaf> leaves) {
        return leaves.stream().map(e -> new Frag(e.lblk(), e.pblk(), e.lenBlocks(), e.unwritten())).toList();
    }

    @Test
    void kernelReadsDeepTreesAndUnwrittenExtentsWrittenByIomap4j() throws IOException {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("k.img"), 64L << 20, 1024);
        long seed = System.nanoTime();
        System.out.println("ExtentKernelTest seed " + seed);
        Random r = new Random(seed);
        byte[] frag = new byte[800 * 2 * 1024];
        byte[] pre = new byte[300_000];
        List<ExtentLeaf> fragTree;
        List<ExtentLeaf> preTree;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "frag", 0100644, Vfs.O_RDWR, 0, 0);
            for (int k = 0; k < 800; k++) {
                byte[] d = new byte[1024];
                r.nextBytes(d);
                ExtentTreeTest.writeFully(fs, c.handle(), 2L * k * 1024, d);
                System.arraycopy(d, 0, frag, 2 * k * 1024, 1024);
            }
            frag = Arrays.copyOf(frag, frag.length - 1024);
            fs.release(c.handle());
            Vfs.Created p = fs.create(ExtFileSystem.ROOT_INO, "pre", 0100644, Vfs.O_RDWR, 0, 0);
            fs.fallocate(p.handle(), 0, 0, 200_000);                        // unwritten, size 200000
            byte[] d = new byte[50_000];
            r.nextBytes(d);
            ExtentTreeTest.writeFully(fs, p.handle(), 70_000, d);          // converts the middle
            System.arraycopy(d, 0, pre, 70_000, d.length);
            fs.fallocate(p.handle(), Vfs.FALLOC_FL_KEEP_SIZE, 250_000, 100_000); // beyond EOF, size stays
            ExtentTreeTest.writeFully(fs, p.handle(), 299_999, new byte[] {7}); // size 300000
            pre[299_999] = 7;
            fs.fsync(p.handle(), false);
            fs.release(p.handle());
            fs.sync(); // writeback converts the written unwritten blocks before the trees are compared
            fragTree = ExtentTreeTest.treeOf(fs, fs.lookup(ExtFileSystem.ROOT_INO, "frag").ino());
            preTree = ExtentTreeTest.treeOf(fs, fs.lookup(ExtFileSystem.ROOT_INO, "pre").ino());
            assertThat(ExtentTreeTest.depthOf(fs, fs.lookup(ExtFileSystem.ROOT_INO, "frag").ino())).isEqualTo(2);
        }
        assertThat(preTree).anyMatch(ExtentLeaf::unwritten).anyMatch(e -> !e.unwritten());
        Ext2Tools.assertFsckClean(img);
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, true)) {
            assertThat(Arrays.equals(Files.readAllBytes(m.root.resolve("frag")), frag)).as("frag bytes").isTrue();
            assertThat(Arrays.equals(Files.readAllBytes(m.root.resolve("pre")), pre)).as("pre bytes").isTrue();
            assertThat(filefrag(m.root.resolve("frag"))).isEqualTo(asFrags(fragTree));
            assertThat(filefrag(m.root.resolve("pre"))).isEqualTo(asFrags(preTree));
        }
    }

    @Test
    void iomap4jReadsAndChangesKernelMadeDeepTreesAndUnwrittenExtents() throws IOException {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("kw.img"), 64L << 20, 1024);
        byte[] deep;
        byte[] mixed;
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, false)) {
            Path d = m.root.resolve("deep");
            // 2 MiB preallocated (unwritten), data in every fourth block, every other block punched: ~1000
            // extents alternating written/unwritten with holes between them -> depth 2 on 1 KiB blocks.
            Ext2Tools.run("fallocate", "-l", "2MiB", d.toString()).ok();
            Ext2Tools.run("xfs_io", "-c", "pwrite -S 0x5a -b 1024 0 1024", d.toString()).ok();
            StringBuilder cmds = new StringBuilder();
            List<String> args = new ArrayList<>(List.of("xfs_io"));
            for (long blk = 0; blk < 2048; blk += 2) {
                args.add("-c");
                args.add("fpunch " + (blk + 1) * 1024 + " 1024");
                if (blk % 4 == 0) {
                    args.add("-c");
                    args.add("pwrite -S " + (blk & 0xff) + " " + blk * 1024 + " 1024");
                }
            }
            args.add(d.toString());
            Ext2Tools.run(args.toArray(String[]::new)).ok();
            assertThat(cmds).isEmpty();
            Path x = m.root.resolve("mixed");
            Ext2Tools.run("xfs_io", "-f", "-c", "falloc 0 1m", "-c", "pwrite -S 0x33 100000 5000",
                    "-c", "falloc -k 1m 256k", "-c", "fsync", x.toString()).ok();
            Ext2Tools.run("sync").ok();
            deep = Files.readAllBytes(d);
            mixed = Files.readAllBytes(x);
        }
        assertThat(Ext4TestImages.debugfsDepth(img, "/deep")).isGreaterThanOrEqualTo(2);
        List<ExtentLeaf> kernelDeep = Ext4TestImages.debugfsLeaves(img, "/deep");
        assertThat(kernelDeep).anyMatch(ExtentLeaf::unwritten);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long deepIno = fs.lookup(ExtFileSystem.ROOT_INO, "deep").ino();
            long mixedIno = fs.lookup(ExtFileSystem.ROOT_INO, "mixed").ino();
            assertThat(ExtentTreeTest.treeOf(fs, deepIno)).isEqualTo(kernelDeep);
            FileHandle h = fs.open(deepIno, Vfs.O_RDWR);
            assertThat(Arrays.equals(ExtentTreeTest.readAll(fs, h, deep.length + 1), deep)).isTrue();
            FileHandle hx = fs.open(mixedIno, Vfs.O_RDWR);
            // SEEK_DATA/SEEK_HOLE before anything is cached: unwritten ranges are holes (the kernel's iomap seek;
            // once read into the page cache, uptodate folios count as data there as here).
            assertThat(fs.seekDataHole(hx, 0, Vfs.SEEK_DATA)).isEqualTo(100000 / 1024 * 1024);
            assertThat(fs.seekDataHole(hx, 100_000, Vfs.SEEK_HOLE)).isEqualTo((105_000 + 1023) / 1024 * 1024);
            assertThat(Arrays.equals(ExtentTreeTest.readAll(fs, hx, mixed.length + 1), mixed)).isTrue();
            List<FiemapExtent> fm = fs.fiemap(mixedIno, 0, Long.MAX_VALUE, 0);
            assertThat(fm.getFirst().flags() & FiemapExtent.UNWRITTEN).isNotZero();
            assertThat(fm).anyMatch(e -> (e.flags() & FiemapExtent.UNWRITTEN) == 0);
            // Change the kernel's deep tree: overwrite into unwritten blocks, punch across many extents, extend.
            byte[] w = new byte[300_000];
            new Random(11).nextBytes(w);
            ExtentTreeTest.writeFully(fs, h, 500_000, w);
            System.arraycopy(w, 0, deep, 500_000, w.length);
            fs.fallocate(h, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, 1_000_000, 400_000);
            Arrays.fill(deep, 1_000_000, 1_400_000, (byte) 0);
            fs.fsync(h, false);
            fs.release(h);
            fs.release(hx);
            assertThat(ExtentTreeTest.treeOf(fs, deepIno)).as("tree after the changes")
                    .isNotEqualTo(kernelDeep);
        } catch (FsException e) {
            throw new AssertionError(e);
        }
        Ext2Tools.assertFsckClean(img);
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, true)) {
            assertThat(Arrays.equals(Files.readAllBytes(m.root.resolve("deep")), deep)).as("kernel reads").isTrue();
            assertThat(Arrays.equals(Files.readAllBytes(m.root.resolve("mixed")), mixed)).isTrue();
        }
    }

    static void writeAll(ExtFileSystem fs, FileHandle h, long pos, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            fs.write(h, pos + b.position(), b);
        }
    }
}
