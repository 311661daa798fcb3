package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DxBlock;
import org.iomap4j.fs.Pins;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The htree's depth limit: with 1 KiB blocks and 250-byte names (3 per leaf) the index outgrows two levels
 * (124 root entries × 127 node entries) after roughly 25,000 entries. With large_dir it grows a third level and
 * stays valid for e2fsck and the kernel; without it the insert that needs a third level fails with ENOSPC and
 * leaves the directory valid. The ENOSPC case runs with {@code -Diomap4j.htree.long=true} (it costs as much again).
 */
class HtreeLevelsTest {
    @TempDir
    Path tmp;

    private static String longName(int i) {
        String p = "n" + i + "-";
        return p + "z".repeat(250 - p.length());
    }

    /** Creates entries until the root says {@code wantLevels} or an error; returns name → inode. */
    private static Map<String, Long> fill(ExtFileSystem fs, long dir, int wantLevels, int max) throws Exception {
        Map<String, Long> model = new TreeMap<>();
        try (Pins pins = fs.icache.pins()) {
            ExtInode d = fs.inodes.iget(pins, dir);
            for (int i = 0; i < max; i++) {
                long ino = fs.mknod(dir, longName(i), 0100644, 0, 0, 0).ino();
                fs.forget(ino, 1);
                model.put(longName(i), ino);
                if (i % 256 == 0 && fs.dirs.isDx(d) && levels(fs, d) >= wantLevels) {
                    break;
                }
            }
        }
        return model;
    }

    private static int levels(ExtFileSystem fs, ExtInode d) throws Exception {
        return DxBlock.decode(fs.dirs.readBlock(d, 0), true, fs.dirs.csum, fs.dirs.largeDir, d.ino, 0).indirectLevels();
    }

    @Test
    void largeDirGrowsAThirdIndexLevel() throws Exception {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("l.img"), 128L << 20, Ext4TestImages.EXT4_NO_CSUM + ",large_dir",
                "-b", "1024", "-N", "40000", "-I", "128");
        Map<String, Long> model;
        long dir;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.readOnlyReason()).isNull();
            dir = fs.mkdir(fs.rootIno(), "l", 0755, 0, 0).ino();
            model = fill(fs, dir, 2, 40_000);
            try (Pins pins = fs.icache.pins()) {
                ExtInode d = fs.inodes.iget(pins, dir);
                assertThat(levels(fs, d)).as("indirect levels after %d entries", model.size()).isEqualTo(2);
                long before = fs.dirs.blockReads.sum();
                for (String n : model.keySet()) {
                    fs.forget(fs.lookup(dir, n).ino(), 1);
                }
                double perLookup = (fs.dirs.blockReads.sum() - before) / (double) model.size();
                System.out.printf("large_dir: %d entries, %d blocks, 3 index levels, %.2f blocks read per lookup%n",
                        model.size(), fs.dirs.nrBlocks(d), perLookup);
                assertThat(perLookup).isLessThanOrEqualTo(4.1);
            }
        }
        Ext2Tools.assertFsckClean(img);
        String why = Ext4TestImages.ext4MountUnavailableReason();
        assumeTrue(why == null, "kernel cross-check skipped: " + why);
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, true)) {
            assertThat(Ext4TestImages.kernelListing(m.root.resolve("l"))).isEqualTo(model);
        }
    }

    @Test
    void withoutLargeDirTheThirdLevelIsENOSPC() throws Exception {
        assumeTrue(Boolean.getBoolean("iomap4j.htree.long"), "long form: -Diomap4j.htree.long=true");
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("n.img"), 128L << 20, Ext4TestImages.EXT4_NO_CSUM, "-b",
                "1024", "-N", "40000", "-I", "128");
        Map<String, Long> model = new TreeMap<>();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long dir = fs.mkdir(fs.rootIno(), "n", 0755, 0, 0).ino();
            FsException enospc = null;
            for (int i = 0; i < 40_000 && enospc == null; i++) {
                try {
                    long ino = fs.mknod(dir, longName(i), 0100644, 0, 0, 0).ino();
                    fs.forget(ino, 1);
                    model.put(longName(i), ino);
                } catch (FsException e) {
                    enospc = e;
                }
            }
            assertThat(enospc).as("an insert needing a third level").isNotNull();
            assertThat(enospc.errno()).isEqualTo(Errno.ENOSPC);
            assertThat(enospc.getMessage()).contains("htree index full");
            System.out.println("without large_dir: ENOSPC after " + model.size() + " entries: " + enospc.getMessage());
        }
        Ext2Tools.assertFsckClean(img);
    }
}
