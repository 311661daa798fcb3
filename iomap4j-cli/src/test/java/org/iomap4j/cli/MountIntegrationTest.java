package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job as a user runs it: {@code iomapfs mount} of an ext2 image, ordinary shell tools on the mount,
 * {@code iomapfs umount} (or SIGTERM), then e2fsck and debugfs on the image. The oracle is an in-memory model of
 * every file's bytes, and the host copy of the tree.
 */
class MountIntegrationTest {
    @TempDir
    Path tmp;

    private static String sh(String script) {
        return Ext2Tools.run("sh", "-c", script).ok().stdout();
    }

    private Path image(String size) {
        Path img = tmp.resolve("t.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", size).exit()).isZero();
        return img;
    }

    @Test
    void shellTools_onTheMount_thenImageIsCleanAndDebugfsAgrees() throws Exception {
        long seed = new Random().nextLong();
        Random rnd = new Random(seed);
        Path img = image("256M");
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path host = Files.createDirectories(tmp.resolve("host/a/b"));
        Map<String, byte[]> model = new HashMap<>();
        int[] sizes = {0, 1, 4096, 4097, 49152, 53248 + 11, 1 << 20, (8 << 20) - 3};
        for (int i = 0; i < sizes.length; i++) {
            byte[] b = new byte[sizes[i]];
            rnd.nextBytes(b);
            Path p = (i % 2 == 0 ? tmp.resolve("host") : host).resolve("f" + i);
            Files.write(p, b);
        }
        try (MountedImage m = MountedImage.start(img, mnt)) {
            String M = mnt.toString();
            // cp -r and diff -r of a tree with files of 0..8 MiB
            sh("cp -r " + tmp.resolve("host") + " " + M + "/tree && diff -r " + tmp.resolve("host") + " " + M + "/tree");
            // mv across directories; rm -r
            sh("mkdir -p " + M + "/x/y " + M + "/z && mv " + M + "/tree/f0 " + M + "/x/y/moved && mv " + M + "/x/y " + M + "/z/");
            assertThat(Files.exists(mnt.resolve("z/y/moved"))).isTrue();
            sh("cp -r " + M + "/tree " + M + "/gone && rm -r " + M + "/gone");
            assertThat(Files.exists(mnt.resolve("gone"))).isFalse();
            // ln -s, chmod
            sh("ln -s tree/a/b/f1 " + M + "/sym && cmp " + M + "/sym " + host.resolve("f1"));
            assertThat(sh("readlink " + M + "/sym").trim()).isEqualTo("tree/a/b/f1");
            sh("chmod 640 " + M + "/tree/f2");
            assertThat(sh("stat -c %a " + M + "/tree/f2").trim()).isEqualTo("640");
            // truncate both ways, against the model
            byte[] f6 = Files.readAllBytes(tmp.resolve("host/f6"));
            sh("truncate -s 10000 " + M + "/tree/f6");
            byte[] shrunk = Arrays.copyOf(f6, 10000);
            assertThat(Files.readAllBytes(mnt.resolve("tree/f6"))).isEqualTo(shrunk);
            sh("truncate -s 300000 " + M + "/tree/f6");
            model.put("/tree/f6", Arrays.copyOf(shrunk, 300000));
            assertThat(Files.readAllBytes(mnt.resolve("tree/f6"))).isEqualTo(model.get("/tree/f6"));
            // dd conv=notrunc overwrite in the middle
            byte[] patch = new byte[10000];
            rnd.nextBytes(patch);
            Files.write(tmp.resolve("patch"), patch);
            sh("dd if=" + tmp.resolve("patch") + " of=" + M + "/tree/a/b/f7 bs=1000 seek=1234 conv=notrunc status=none");
            byte[] f7 = Files.readAllBytes(host.resolve("f7"));
            System.arraycopy(patch, 0, f7, 1234 * 1000, patch.length);
            model.put("/tree/a/b/f7", f7);
            assertThat(Files.readAllBytes(mnt.resolve("tree/a/b/f7"))).isEqualTo(f7);
            // hard links: same st_ino, link count 2
            sh("ln " + M + "/tree/f4 " + M + "/hard");
            String[] a = sh("stat -c '%i %h' " + M + "/tree/f4").trim().split(" ");
            String[] b2 = sh("stat -c '%i %h' " + M + "/hard").trim().split(" ");
            assertThat(a).containsExactly(b2);
            assertThat(a[1]).isEqualTo("2");
            // parallel writers to different files
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                byte[] data = new byte[(3 << 20) + t * 777];
                new Random(seed + t).nextBytes(data);
                model.put("/par" + t, data);
                int tt = t;
                fs.add(pool.submit(() -> {
                    Files.write(mnt.resolve("par" + tt), data);
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            pool.shutdown();
            for (int t = 0; t < 4; t++) {
                assertThat(Files.readAllBytes(mnt.resolve("par" + t))).as("seed " + seed).isEqualTo(model.get("/par" + t));
            }
            String stBlocks = sh("stat -c %b " + M + "/tree/a/b/f7").trim();
            String du = sh("du -k " + M + "/tree/a/b/f7").split("\\s+")[0];
            assertThat(Long.parseLong(du) * 2).isEqualTo(Long.parseLong(stBlocks));
            assertThat(inodeOf(M + "/tree/a/b/f7")).isPositive();

            Cli.Run um = Cli.run("umount", M);
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
            assertThat(m.isMounted()).isFalse();
            Ext2Tools.assertFsckClean(img);
            for (var e : model.entrySet()) {
                assertThat(Ext2Tools.debugfsDump(img, e.getKey(), tmp)).as(e.getKey() + " seed " + seed)
                        .isEqualTo(e.getValue());
            }
            assertThat(Ext2Tools.debugfsDump(img, "/z/y/moved", tmp)).isEqualTo(Files.readAllBytes(tmp.resolve("host/f0")));
            String debugfsStat = Ext2Tools.debugfs(img, "stat /tree/a/b/f7").stdout();
            assertThat(debugfsStat).contains("Blockcount: " + stBlocks);
            assertThat(Ext2Tools.debugfs(img, "stat /hard").stdout()).contains("Links: 2");
            assertThat(Ext2Tools.debugfs(img, "stat /sym").stdout()).contains("Fast link dest: \"tree/a/b/f1\"");
        }
    }

    private static long inodeOf(String path) {
        return Long.parseLong(sh("stat -c %i " + path).trim());
    }

    @Test
    void sigterm_unmountsCleanly_andSecondMountIsRefused() throws Exception {
        Path img = image("64M");
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path mnt2 = Files.createDirectory(tmp.resolve("mnt2"));
        byte[] data = new byte[3 << 20];
        new Random(99).nextBytes(data);
        try (MountedImage m = MountedImage.start(img, mnt)) {
            Files.write(mnt.resolve("kept"), data);
            Cli.Run second = Cli.run("mount", img.toString(), mnt2.toString());
            assertThat(second.exit()).as(second.toString()).isEqualTo(1);
            assertThat(second.err()).contains("in use");
            Cli.Run cpIn = Cli.run("cp", tmp.resolve("t.img").toString(), img + ":/copy");
            assertThat(cpIn.exit()).isEqualTo(1);
            sh("kill -TERM " + m.process.pid());
            assertThat(m.awaitExit()).as("JVM exit status after SIGTERM").isEqualTo(128 + 15);
            assertThat(m.isMounted()).isFalse();
            assertThat(m.output.toString()).contains("written back and clean");
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDump(img, "/kept", tmp)).isEqualTo(data);
    }

    @Test
    void daxMount_filesRoundTrip_andTheImageIsClean() throws Exception {
        Path img = image("64M");
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        byte[] data = new byte[(5 << 20) + 123];
        new Random(5).nextBytes(data);
        Files.write(tmp.resolve("src"), data);
        try (MountedImage m = MountedImage.start(img, mnt, "--dax")) {
            sh("cp " + tmp.resolve("src") + " " + mnt + "/f && cmp " + tmp.resolve("src") + " " + mnt + "/f");
            sh("dd if=/dev/zero of=" + mnt + "/f bs=4096 seek=10 count=3 conv=notrunc status=none");
            java.util.Arrays.fill(data, 10 * 4096, 13 * 4096, (byte) 0);
            sh("truncate -s 1000000 " + mnt + "/f");
            data = java.util.Arrays.copyOf(data, 1_000_000);
            assertThat(Files.readAllBytes(mnt.resolve("f"))).isEqualTo(data);
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDump(img, "/f", tmp)).isEqualTo(data);
    }
}
