package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.ExtentLeaf;
import org.iomap4j.fs.Pins;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The extent tree through the filesystem on {@code mke2fs -t ext4} images (journal, 64bit, metadata_csum and
 * flex_bg off): new files get EXT4_EXTENTS_FL, seeded workloads of writes, truncates, punches and fallocates at
 * random offsets against a content model leave an image {@code e2fsck -fn} finds clean, whose trees
 * {@code debugfs ex} lists exactly as iomap4j's, and whose bytes debugfs dumps as the model has them.
 */
class ExtentTreeTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void tools() {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
    }

    static List<ExtentLeaf> treeOf(ExtFileSystem fs, long ino) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            ExtInode i = fs.inodes.iget(pins, ino);
            i.lock.lock();
            try {
                return fs.extentTree.allExtents(i);
            } finally {
                i.lock.unlock();
            }
        }
    }

    static int depthOf(ExtFileSystem fs, long ino) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            ExtInode i = fs.inodes.iget(pins, ino);
            return fs.extentTree.depth(i);
        }
    }

    static long flagsOf(ExtFileSystem fs, long ino) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            return fs.inodes.iget(pins, ino).disk.flags();
        }
    }

    static void writeFully(ExtFileSystem fs, FileHandle fh, long pos, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            fs.write(fh, pos + b.position(), b);
        }
    }

    static byte[] readAll(ExtFileSystem fs, FileHandle fh, int size) throws IOException {
        byte[] out = new byte[size];
        ByteBuffer b = ByteBuffer.wrap(out);
        while (b.hasRemaining()) {
            int n = fs.read(fh, b.position(), b);
            if (n <= 0) {
                break;
            }
        }
        return Arrays.copyOf(out, b.position());
    }

    @Test
    void newFilesDirsAndSlowSymlinksGetExtentTreesFastSymlinksDoNot() throws IOException {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("a.img"), 32L << 20, 1024);
        long fIno;
        long dIno;
        long slowIno;
        long fastIno;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "f", 0100644, Vfs.O_RDWR, 0, 0);
            fIno = c.attr().ino();
            writeFully(fs, c.handle(), 0, "hello".getBytes());
            fs.release(c.handle());
            dIno = fs.mkdir(ExtFileSystem.ROOT_INO, "d", 0755, 0, 0).ino();
            slowIno = fs.symlink(ExtFileSystem.ROOT_INO, "slow", "x".repeat(200), 0, 0).ino();
            fastIno = fs.symlink(ExtFileSystem.ROOT_INO, "fast", "short", 0, 0).ino();
            assertThat(flagsOf(fs, fIno) & DiskInode.FL_EXTENTS).isNotZero();
            assertThat(flagsOf(fs, dIno) & DiskInode.FL_EXTENTS).isNotZero();
            assertThat(flagsOf(fs, slowIno) & DiskInode.FL_EXTENTS).isNotZero();
            assertThat(flagsOf(fs, fastIno) & DiskInode.FL_EXTENTS).isZero();
            assertThat(fs.readlink(slowIno)).isEqualTo("x".repeat(200));
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "stat /f").ok().stdout()).contains("Flags: 0x80000").contains("EXTENTS:");
        assertThat(Ext2Tools.debugfs(img, "stat /d").ok().stdout()).contains("Flags: 0x80000");
        assertThat(Ext2Tools.debugfs(img, "stat /fast").ok().stdout()).contains("Fast link dest: \"short\"");
        assertThat(Ext4TestImages.debugfsLeaves(img, "/f")).hasSize(1);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.readlink(fs.lookup(ExtFileSystem.ROOT_INO, "fast").ino())).isEqualTo("short");
            FileHandle h = fs.open(fIno, Vfs.O_RDONLY);
            assertThat(new String(readAll(fs, h, 5))).isEqualTo("hello");
            fs.release(h);
        }
    }

    /** A fragmented file (every other block written) on 1 KiB blocks forces a tree of depth 2; then truncated away. */
    @Test
    void fragmentedFileGrowsDepthTwoAndTruncateShrinksIt() throws IOException {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("deep.img"), 64L << 20, 1024);
        int blocks = 900;
        byte[] model = new byte[blocks * 2 * 1024];
        long ino;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "frag", 0100644, Vfs.O_RDWR, 0, 0);
            ino = c.attr().ino();
            Random r = new Random(7);
            for (int k = 0; k < blocks; k++) {
                byte[] d = new byte[1024];
                r.nextBytes(d);
                writeFully(fs, c.handle(), (2L * k) * 1024, d);
                System.arraycopy(d, 0, model, 2 * k * 1024, 1024);
                if (k % 100 == 99) {
                    fs.fsync(c.handle(), false); // writeback converts; interleaving keeps extents apart
                }
            }
            fs.fsync(c.handle(), false);
            assertThat(treeOf(fs, ino)).hasSize(blocks);
            assertThat(depthOf(fs, ino)).isEqualTo(2);
            fs.release(c.handle());
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext4TestImages.debugfsDepth(img, "/frag")).isEqualTo(2);
        byte[] dumped = Ext2Tools.debugfsDump(img, "/frag", tmp);
        assertThat(dumped).hasSize(model.length - 1024);
        assertThat(Arrays.equals(dumped, Arrays.copyOf(model, model.length - 1024))).isTrue();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(treeOf(fs, ino)).isEqualTo(Ext4TestImages.debugfsLeaves(img, "/frag"));
            fs.setattr(ino, SetAttr.size(3 * 1024));
            assertThat(depthOf(fs, ino)).isEqualTo(0);
            assertThat(treeOf(fs, ino)).hasSize(2);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext4TestImages.debugfsDepth(img, "/frag")).isEqualTo(0);
        String stat = Ext2Tools.debugfs(img, "stat /frag").ok().stdout();
        assertThat(stat).contains("Blockcount: 4"); // two 1 KiB data blocks, no tree block
    }

    /** DAX on an extent file: writes into preallocated (unwritten) extents are zeroed and converted in iomapBegin. */
    @Test
    void daxWritesIntoUnwrittenExtentsConvertThem() throws IOException {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("dax.img"), 16L << 20, 1024);
        long ino;
        byte[] model = new byte[200_000];
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withDax(true))) {
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "d", 0100644, Vfs.O_RDWR, 0, 0);
            ino = c.attr().ino();
            fs.fallocate(c.handle(), 0, 0, 150_000);
            byte[] d = new byte[30_000];
            new Random(3).nextBytes(d);
            writeFully(fs, c.handle(), 50_500, d);
            System.arraycopy(d, 0, model, 50_500, d.length);
            writeFully(fs, c.handle(), 170_000, d); // a hole past EOF: allocated initialized
            System.arraycopy(d, 0, model, 170_000, d.length);
            assertThat(readAll(fs, c.handle(), 300_000)).isEqualTo(model);
            List<ExtentLeaf> t = treeOf(fs, ino);
            assertThat(t).anyMatch(ExtentLeaf::unwritten).anyMatch(e -> !e.unwritten());
            fs.release(c.handle());
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Arrays.equals(Ext2Tools.debugfsDump(img, "/d", tmp), model)).isTrue();
    }

    /** fallocate past the free space: ENOSPC at fallocate, nothing leaked, writes into the allocated part work. */
    @Test
    void fallocateBeyondFreeSpaceIsEnospcAndLeaksNothing() throws IOException {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("full.img"), 8L << 20, 1024);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long freeBefore = fs.statfs().freeBlocks();
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "big", 0100644, Vfs.O_RDWR, 0, 0);
            assertThatThrownBy(() -> fs.fallocate(c.handle(), Vfs.FALLOC_FL_KEEP_SIZE, 0, 64L << 20))
                    .isInstanceOfSatisfying(org.iomap4j.FsException.class,
                            e -> assertThat(e.errno()).isEqualTo(org.iomap4j.Errno.ENOSPC));
            assertThat(fs.statfs().freeBlocks()).as("blocks beyond EOF given back").isEqualTo(freeBefore);
            fs.fallocate(c.handle(), 0, 0, 2 << 20);
            assertThat(treeOf(fs, c.attr().ino())).allMatch(ExtentLeaf::unwritten);
            byte[] d = new byte[1 << 20];
            Arrays.fill(d, (byte) 9);
            writeFully(fs, c.handle(), 512 << 10, d);
            fs.fsync(c.handle(), false);
            byte[] all = readAll(fs, c.handle(), 3 << 20);
            assertThat(all).hasSize(2 << 20);
            assertThat(Arrays.copyOfRange(all, 512 << 10, (512 << 10) + d.length)).isEqualTo(d);
            assertThat(Arrays.copyOf(all, 512 << 10)).containsOnly(0);
            fs.release(c.handle());
        }
        Ext2Tools.assertFsckClean(img);
    }
}
