package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delayed allocation with reservations on ext4 (issue 13 item 4, seed 003): a buffered write into a hole of an
 * extent file reserves its blocks at write() (the page cache keeps one reserved bit per dirty block), writeback
 * allocates whole dirty runs as large extents, truncate and punch give reservations back, and ENOSPC comes from
 * write(), never from writeback or fsync. Oracles: e2fsck -fn, a model of the written bytes read back after a
 * remount, and the filesystem's own free-block count.
 */
class Ext4DelallocTest {
    @TempDir
    Path tmp;

    private static void writeAll(ExtFileSystem fs, FileHandle h, long pos, byte[] data) throws IOException {
        ByteBuffer src = ByteBuffer.wrap(data);
        while (src.hasRemaining()) {
            fs.write(h, pos + src.position(), src);
        }
    }

    @Test
    void writesReserveWithoutAllocating_truncateGivesBack_fsyncAllocatesFewExtents() throws IOException {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("d.img"), 256L << 20, "-b", "4096", "-O", "^has_journal");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withDelalloc(true))) {
            long free0 = fs.groups.freeBlocks();
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "f", 0100644, Vfs.O_RDWR, 0, 0);
            FileHandle h = c.handle();
            byte[] mib = new byte[1 << 20];
            Arrays.fill(mib, (byte) 7);
            for (int i = 0; i < 16; i++) {
                writeAll(fs, h, (long) i << 20, mib);
            }
            assertThat(fs.balloc.delallocReservedBlocks()).as("16 MiB of 4 KiB blocks reserved").isEqualTo(4096);
            assertThat(fs.groups.freeBlocks()).as("nothing allocated before writeback").isEqualTo(free0);
            assertThat(fs.statfs().freeBlocks()).as("statfs counts the reservation").isEqualTo(free0 - 4096);
            assertThat(fs.getattr(c.attr().ino()).blocks512()).as("st_blocks counts it too (ext4_getattr)")
                    .isEqualTo(4096L * 8);
            fs.setattr(c.attr().ino(), org.iomap4j.vfs.SetAttr.size(4L << 20));
            assertThat(fs.balloc.delallocReservedBlocks()).as("truncate gives back what it drops").isEqualTo(1024);
            fs.fallocate(h, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
            assertThat(fs.balloc.delallocReservedBlocks()).as("punch gives back too").isEqualTo(768);
            for (int i = 4; i < 40; i++) {
                writeAll(fs, h, (long) i << 20, mib);
            }
            fs.fsync(h, false);
            assertThat(fs.balloc.delallocReservedBlocks()).isZero();
            List<org.iomap4j.ext.disk.ExtentLeaf> tree = ExtentTreeTest.treeOf(fs, c.attr().ino());
            System.out.println("delalloc 39 MiB file: " + tree.size() + " extents " + tree);
            assertThat(tree).as("one dirty run, one allocation: a single extent").hasSize(1);
            assertThat(tree.getFirst().unwritten()).isFalse();
            fs.release(h);
        }
        Ext2Tools.assertFsckClean(img);
    }

    @Test
    void fillingTheImage_enospcAtWrite_neverAtFsync_andEverythingWrittenSurvives() throws IOException {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("fill.img"), 24L << 20, "-O", "^has_journal", "-N", "128");
        long seed = new Random().nextLong();
        System.out.println("Ext4DelallocTest fill seed=" + seed);
        Random rnd = new Random(seed);
        List<byte[]> contents = new ArrayList<>();
        FsException enospc = null;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withDelalloc(true))) {
            List<FileHandle> handles = new ArrayList<>();
            for (int f = 0; f < 40 && enospc == null; f++) {
                Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "f" + f, 0100644, Vfs.O_RDWR, 0, 0);
                handles.add(c.handle());
                byte[] data = new byte[(1 << 20) + rnd.nextInt(1 << 20)];
                rnd.nextBytes(data);
                ByteBuffer src = ByteBuffer.wrap(data);
                try {
                    while (src.hasRemaining()) {
                        fs.write(c.handle(), src.position(), src);
                    }
                } catch (FsException e) {
                    enospc = e;
                }
                contents.add(Arrays.copyOf(data, src.position()));
            }
            assertThat(enospc).as("a 24 MiB image must fill up").isNotNull();
            assertThat(enospc.errno()).isEqualTo(Errno.ENOSPC);
            // Every byte write() accepted has its blocks: writeback and fsync never fail.
            for (FileHandle h : handles) {
                fs.fsync(h, false);
                fs.release(h);
            }
            assertThat(fs.balloc.delallocReservedBlocks()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            for (int f = 0; f < contents.size(); f++) {
                long ino = fs.lookup(ExtFileSystem.ROOT_INO, "f" + f).ino();
                byte[] want = contents.get(f);
                FileHandle h = fs.open(ino, Vfs.O_RDONLY);
                ByteBuffer got = ByteBuffer.allocate(want.length + 1);
                while (fs.read(h, got.position(), got) > 0) {
                    // read to EOF
                }
                fs.release(h);
                assertThat(got.position()).as("size of f%d (seed %d)", f, seed).isEqualTo(want.length);
                assertThat(Arrays.copyOf(got.array(), want.length)).as("f%d (seed %d)", f, seed).isEqualTo(want);
            }
        }
    }

    @Test
    void nodelalloc_allocatesAtWrite() throws IOException {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("n.img"), 64L << 20, "-b", "4096", "-O", "^has_journal");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withDelalloc(false))) {
            long free0 = fs.groups.freeBlocks();
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "f", 0100644, Vfs.O_RDWR, 0, 0);
            writeAll(fs, c.handle(), 0, new byte[1 << 20]);
            assertThat(fs.balloc.delallocReservedBlocks()).isZero();
            assertThat(fs.groups.freeBlocks()).as("unwritten extents allocated at write()").isLessThan(free0);
            fs.release(c.handle());
        }
        Ext2Tools.assertFsckClean(img);
    }
}
