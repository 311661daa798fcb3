package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code iomapfs mount} of images made by mkfs.ext4: read-write on an extent-free image without a journal
 * (metadata_csum, flex_bg, uninit groups), shell tools on the mount, unmount, then e2fsck -fn and debugfs; and a
 * default (journaled) ext4 image, which mounts read-write through the jbd2 journal.
 */
class MountExt4Test {
    @TempDir
    Path tmp;

    private static String sh(String script) {
        return Ext2Tools.run("sh", "-c", script).ok().stdout();
    }

    /**
     * metadata_csum image: files mkfs put there are overwritten, appended to and truncated through the mount
     * (bitmaps, descriptors, inodes and superblock rewritten with their checksums; names untouched, directory
     * block checksums being the directory room's). uninit_bg image (crc16 descriptors): a whole tree copied in,
     * moved and partly removed.
     */
    @Test
    void readWriteMounts_thenImageIsCleanAndDebugfsAgrees() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("MountExt4Test seed " + seed);
        Random rnd = new Random(seed);
        Path src = Files.createDirectories(tmp.resolve("src/d"));
        Map<String, byte[]> model = new HashMap<>();
        int[] sizes = {0, 1, 4096, 70_000, 1 << 20, 3 << 20};
        for (int i = 0; i < sizes.length; i++) {
            byte[] b = new byte[sizes[i]];
            rnd.nextBytes(b);
            String rel = (i % 2 == 0 ? "" : "d/") + "f" + i;
            Files.write(tmp.resolve("src").resolve(rel), b);
            model.put("/" + rel, b);
        }
        Path csum = Ext2Tools.mkfsExt4(tmp.resolve("csum.img"), 128L << 20, "-O", "^has_journal,^extent,^64bit", "-d",
                tmp.resolve("src").toString());
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (MountedImage m = MountedImage.start(csum, mnt, "--warmup-ms", "0")) {
            String M = mnt.toString();
            assertThat(m.output.toString()).contains("(read-write");
            byte[] patch = new byte[200_000];
            rnd.nextBytes(patch);
            Files.write(tmp.resolve("patch"), patch);
            sh("dd if=" + tmp.resolve("patch") + " of=" + M + "/d/f5 bs=1000 seek=77 conv=notrunc status=none");
            byte[] f5 = Arrays.copyOf(model.get("/d/f5"), model.get("/d/f5").length);
            System.arraycopy(patch, 0, f5, 77_000, patch.length);
            model.put("/d/f5", f5);
            sh("cat " + tmp.resolve("patch") + " >> " + M + "/f2");
            byte[] f2 = Arrays.copyOf(model.get("/f2"), model.get("/f2").length + patch.length);
            System.arraycopy(patch, 0, f2, model.get("/f2").length, patch.length);
            model.put("/f2", f2);
            sh("truncate -s 5000 " + M + "/f4");
            model.put("/f4", Arrays.copyOf(model.get("/f4"), 5000));
            sh("truncate -s 9000000 " + M + "/d/f3");
            model.put("/d/f3", Arrays.copyOf(model.get("/d/f3"), 9_000_000));
            for (var e : model.entrySet()) {
                assertThat(Files.readAllBytes(mnt.resolve("." + e.getKey()))).as(e.getKey()).isEqualTo(e.getValue());
            }
            Cli.Run um = Cli.run("umount", M);
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
        }
        Ext2Tools.assertFsckClean(csum);
        for (var e : model.entrySet()) {
            assertThat(Ext2Tools.debugfsDump(csum, e.getKey(), tmp)).as(e.getKey() + " seed " + seed)
                    .isEqualTo(e.getValue());
        }

        Path uninit = Ext2Tools.mkfsExt4(tmp.resolve("uninit.img"), 256L << 20, "-b", "1024", "-O",
                "^has_journal,^extent,^64bit,^metadata_csum,uninit_bg");
        try (MountedImage m = MountedImage.start(uninit, mnt, "--warmup-ms", "0")) {
            String M = mnt.toString();
            sh("cp -r " + tmp.resolve("src") + " " + M + "/tree && diff -r " + tmp.resolve("src") + " " + M + "/tree");
            sh("mkdir -p " + M + "/x/y && mv " + M + "/tree/d " + M + "/x/y/ && cp -r " + M + "/x " + M + "/gone && rm -r "
                    + M + "/gone");
            Cli.Run um = Cli.run("umount", M);
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
        }
        Ext2Tools.assertFsckClean(uninit);
        assertThat(Ext2Tools.debugfsDump(uninit, "/x/y/d/f5", tmp)).isEqualTo(Files.readAllBytes(src.resolve("f5")));
        assertThat(Ext2Tools.debugfsDump(uninit, "/tree/f4", tmp)).isEqualTo(Files.readAllBytes(tmp.resolve("src/f4")));
    }

    /**
     * A default mkfs.ext4 image (has_journal, extents, 64bit, metadata_csum: a jbd2 log with checksum v3) mounted
     * read-write: shell tools write, fsync, rename, remove and make directories through the mount; while mounted
     * the superblock says needs_recovery; after the unmount the log is clean, needs_recovery is cleared, e2fsck -fn
     * is clean and the kernel reads the same bytes.
     */
    @Test
    void journaledImage_mountsReadWriteThroughTheJournal() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("j.img"), 64L << 20);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        byte[] big = new byte[3 << 20];
        new Random(14).nextBytes(big);
        Files.write(tmp.resolve("big"), big);
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0")) {
            String out = m.output.toString();
            assertThat(out).contains("(read-write");
            String M = mnt.toString();
            sh("mkdir -p " + M + "/a/b && cp " + tmp.resolve("big") + " " + M + "/a/b/big && echo hello > " + M
                    + "/a/h && mv " + M + "/a/h " + M + "/h2 && for i in $(seq 1 50); do echo $i > " + M
                    + "/a/n$i; done && rm " + M + "/a/n7 && sync");
            Ext2Tools.run("xfs_io", "-c", "fsync", M + "/a/b/big").ok();
            assertThat(Ext2Tools.run("dumpe2fs", "-h", img.toString()).stdout()).contains("needs_recovery");
            Cli.Run um = Cli.run("umount", M);
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
        }
        String dump = Ext2Tools.run("dumpe2fs", "-h", img.toString()).stdout();
        assertThat(dump).doesNotContain("needs_recovery").contains("has_journal");
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDump(img, "/a/b/big", tmp)).isEqualTo(big);
        assertThat(Ext2Tools.debugfsDump(img, "/h2", tmp)).isEqualTo("hello\n".getBytes());
        assertThat(Ext2Tools.debugfsList(img, "/a").stream().map(Ext2Tools.ListEntry::name))
                .contains("n1", "n50").doesNotContain("n7");
        if (Ext2Tools.loopMountUnavailableReason() == null) {
            try (Ext2Tools.LoopMount k = Ext2Tools.LoopMount.mount(img, tmp, true, "ext4")) {
                assertThat(Files.readAllBytes(k.root().resolve("a/b/big"))).isEqualTo(big);
                assertThat(Files.readString(k.root().resolve("a/n50"))).isEqualTo("50\n");
            }
        }
    }
}
