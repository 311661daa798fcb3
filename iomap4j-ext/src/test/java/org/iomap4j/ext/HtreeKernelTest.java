package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fs.Pins;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * htree directories shared with the kernel's ext4 (loop mounts): the kernel builds an indexed directory, iomap4j
 * extends and shrinks it, the kernel extends it again, and e2fsck and both sides agree on every name; with
 * metadata_csum, the kernel's leaf and dx checksums verify and a damaged block gives an error naming the
 * directory inode and block.
 */
class HtreeKernelTest {
    @TempDir
    Path tmp;

    @Test
    void kernelHtreeIsExtendedByIomap4jAndBackByTheKernel() throws Exception {
        String why = Ext4TestImages.ext4MountUnavailableReason();
        assumeTrue(why == null, "needs the kernel's ext4: " + why);
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("k.img"), 64L << 20, Ext4TestImages.EXT4_NO_CSUM, "-b",
                "1024", "-N", "16384");
        long seed = Long.getLong("iomap4j.htree.seed", System.nanoTime());
        System.out.println("HtreeKernelTest seed " + seed);
        Random rnd = new Random(seed);
        TreeMap<String, Long> model = new TreeMap<>();
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, false)) {
            Path k = Files.createDirectory(m.root.resolve("k"));
            for (int i = 0; i < 2500; i++) {
                Files.createFile(k.resolve("kernel-" + i + "-" + "y".repeat(rnd.nextInt(40))));
            }
            model.putAll(Ext4TestImages.kernelListing(k));
        }
        assertThat(Ext2Tools.debugfs(img, "stat /k").ok().stdout()).contains("Flags: 0x1000");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long k = fs.lookupPath("/k").ino();
            for (Map.Entry<String, Long> e : model.entrySet()) {
                assertThat(fs.lookup(k, e.getKey()).ino()).as(e.getKey()).isEqualTo(e.getValue());
                fs.forget(e.getValue(), 1);
            }
            for (int i = 0; i < 4000; i++) {
                String n = "ours-" + HtreeWorkloadTest.name(rnd, true, false) + "-" + i;
                long ino = fs.mknod(k, n, 0100644, 0, 0, 0).ino();
                fs.forget(ino, 1);
                model.put(n, ino);
            }
            List<String> names = new ArrayList<>(model.keySet());
            for (int i = 0; i < 800; i++) {
                String n = names.get(rnd.nextInt(names.size()));
                if (model.remove(n) != null) {
                    fs.unlink(k, n);
                }
            }
        }
        Ext2Tools.assertFsckClean(img);
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, false)) {
            Path k = m.root.resolve("k");
            assertThat(Ext4TestImages.kernelListing(k)).isEqualTo(model);
            for (int i = 0; i < 1500; i++) {
                Files.createFile(k.resolve("again-" + i));
            }
            List<String> ours = new ArrayList<>(model.keySet().stream().filter(s -> s.startsWith("ours-")).toList());
            for (int i = 0; i < 300; i++) {
                String n = ours.get(rnd.nextInt(ours.size()));
                if (model.remove(n) != null) {
                    Files.delete(k.resolve(n));
                }
            }
            model.clear();
            model.putAll(Ext4TestImages.kernelListing(k));
        }
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            long k = fs.lookupPath("/k").ino();
            for (Map.Entry<String, Long> e : model.entrySet()) {
                assertThat(fs.lookup(k, e.getKey()).ino()).as(e.getKey()).isEqualTo(e.getValue());
            }
        }
    }

    @Test
    void kernelChecksummedHtreeVerifiesAndADamagedBlockIsNamed() throws Exception {
        String why = Ext4TestImages.ext4MountUnavailableReason();
        assumeTrue(why == null, "needs the kernel's ext4: " + why);
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("c.img"), 64L << 20, Ext4TestImages.EXT4_CSUM, "-b", "1024",
                "-N", "16384");
        Map<String, Long> model;
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, false)) {
            Path c = Files.createDirectory(m.root.resolve("c"));
            for (int i = 0; i < 3000; i++) {
                Files.createFile(c.resolve("csum-entry-" + i));
            }
            model = Ext4TestImages.kernelListing(c);
        }
        long dirIno;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            dirIno = fs.lookupPath("/c").ino();
            try (Pins pins = fs.icache.pins()) {
                assertThat(fs.dirs.isDx(fs.inodes.iget(pins, dirIno))).isTrue();
            }
            for (Map.Entry<String, Long> e : model.entrySet()) {
                long before = fs.dirs.blockReads.sum();
                assertThat(fs.lookup(dirIno, e.getKey()).ino()).as(e.getKey()).isEqualTo(e.getValue());
                assertThat(fs.dirs.blockReads.sum() - before).as("blocks read looking up " + e.getKey())
                        .isLessThanOrEqualTo(3);
            }
            // readdir reads every block: leaves and index blocks each verify with their own tail.
            Map<String, Long> listed = new TreeMap<>();
            fs.readdir(dirIno, 0, e -> {
                if (!e.name().equals(".") && !e.name().equals("..")) {
                    listed.put(e.name(), e.ino());
                }
                return true;
            });
            assertThat(listed).isEqualTo(model);
        }
        // Flip one byte inside the entries of leaf block 5 and inside the root's dx entries.
        long leafPblk = pblk(img, "/c", 5);
        long rootPblk = pblk(img, "/c", 0);
        flip(img, leafPblk * 1024 + 40);
        int failures = 0;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            for (String n : model.keySet()) {
                try {
                    fs.lookup(dirIno, n);
                } catch (CorruptFilesystemException e) {
                    assertThat(e.getMessage()).contains("directory inode " + dirIno + " block 5").contains("checksum");
                    failures++;
                }
            }
        }
        assertThat(failures).as("lookups of names in the damaged leaf").isPositive().isLessThan(model.size() / 4);
        flip(img, leafPblk * 1024 + 40);
        flip(img, rootPblk * 1024 + 48);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            assertThatThrownBy(() -> fs.lookup(dirIno, "csum-entry-1")).isInstanceOf(CorruptFilesystemException.class)
                    .hasMessageContaining("directory inode " + dirIno + " htree block 0").hasMessageContaining("checksum");
        }
    }

    /** Physical block of logical block {@code lblk} of a file (debugfs bmap). */
    static long pblk(Path img, String path, long lblk) {
        String out = Ext2Tools.debugfs(img, "bmap " + path + " " + lblk).ok().stdout().trim();
        Matcher m = Pattern.compile("(\\d+)\\s*$").matcher(out);
        assertThat(m.find()).as("debugfs bmap: " + out).isTrue();
        return Long.parseLong(m.group(1));
    }

    static void flip(Path img, long posBytes) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(posBytes);
            int b = f.read();
            f.seek(posBytes);
            f.write(b ^ 0x20);
        }
    }

    @Test
    void indexedDirectoryWithMoreThan65000SubdirectoriesCountsOneLink() throws Exception {
        int subdirs = Integer.getInteger("iomap4j.htree.subdirs", 65_001);
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("n.img"), 160L << 20,
                Ext4TestImages.EXT4_NO_CSUM + ",^dir_nlink", "-b", "1024", "-N",
                String.valueOf(subdirs + 1000), "-I", "128");
        long d;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            d = fs.mkdir(fs.rootIno(), "d", 0755, 0, 0).ino();
            for (int i = 0; i < subdirs; i++) {
                fs.forget(fs.mkdir(d, "s" + i, 0755, 0, 0).ino(), 1);
            }
            assertThat(fs.getattr(d).nlink()).isEqualTo(subdirs + 2 > ExtNamei.DIR_LINK_MAX ? 1 : subdirs + 2);
            fs.rmdir(d, "s0");
            assertThat(fs.getattr(d).nlink()).isEqualTo(subdirs + 2 > ExtNamei.DIR_LINK_MAX ? 1 : subdirs + 1);
        }
        Ext2Tools.assertFsckClean(img);
        if (subdirs + 2 > ExtNamei.DIR_LINK_MAX) {
            assertThat(Ext2Tools.run("dumpe2fs", "-h", img.toString()).ok().stdout()).contains("dir_nlink");
            assertThat(Ext2Tools.debugfs(img, "stat /d").ok().stdout()).contains("Links: 1");
        }
    }
}
