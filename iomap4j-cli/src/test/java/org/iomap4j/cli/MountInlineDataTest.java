package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code iomapfs mount} of an inline_data image (small files and directories stored in their inodes, as
 * {@code mkfs.ext4 -O inline_data -d} lays them out, debugfs confirming): the tree reads as the source through
 * the mount, shell tools append to, truncate and create in inline inodes, and after unmount {@code e2fsck -fn} is
 * clean and debugfs dumps the expected bytes.
 */
class MountInlineDataTest {
    @TempDir
    Path tmp;

    private static String sh(String script) {
        return Ext2Tools.run("sh", "-c", script).ok().stdout();
    }

    @Test
    void inlineImageReadsAndWritesThroughTheMount() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("MountInlineDataTest seed " + seed);
        Random rnd = new Random(seed);
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.createDirectories(src.resolve("d/sub"));
        Files.createDirectories(src.resolve("empty"));
        Map<String, byte[]> model = new TreeMap<>();
        String[] names = {"a", "b", "c", "d/x", "d/y", "d/sub/z"};
        int[] sizes = {0, 10, 100, 59, 140, 61};
        for (int i = 0; i < names.length; i++) {
            byte[] b = new byte[sizes[i]];
            rnd.nextBytes(b);
            Files.write(src.resolve(names[i]), b);
            model.put("/" + names[i], b);
        }
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("inline.img"), 64L << 20, "-O", "^has_journal,inline_data",
                "-b", "4096", "-d", src.toString());
        for (String p : new String[] {"/b", "/c", "/d", "/empty", "/d/sub/z"}) {
            assertThat(Ext2Tools.debugfs(img, "stat " + p).stdout()).as(p).contains("Size of inline data");
        }
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0")) {
            String M = mnt.toString();
            assertThat(m.output.toString()).contains("(read-write");
            sh("diff -r " + src + " " + M + " -x lost+found");
            byte[] patch = new byte[3000];
            rnd.nextBytes(patch);
            Files.write(tmp.resolve("patch"), patch);
            sh("cat " + tmp.resolve("patch") + " >> " + M + "/c");
            byte[] c = Arrays.copyOf(model.get("/c"), 100 + patch.length);
            System.arraycopy(patch, 0, c, 100, patch.length);
            model.put("/c", c);
            sh("truncate -s 7 " + M + "/d/y");
            model.put("/d/y", Arrays.copyOf(model.get("/d/y"), 7));
            sh("cp " + tmp.resolve("patch") + " " + M + "/empty/new && rm " + M + "/d/x && mkdir " + M + "/d/sub/w"
                    + " && mv " + M + "/d/sub " + M + "/empty/");
            model.remove("/d/x");
            model.put("/empty/new", patch);
            model.put("/empty/sub/z", model.remove("/d/sub/z"));
            for (var e : model.entrySet()) {
                assertThat(Files.readAllBytes(mnt.resolve("." + e.getKey()))).as(e.getKey()).isEqualTo(e.getValue());
            }
            Cli.Run um = Cli.run("umount", M);
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
        for (var e : model.entrySet()) {
            // debugfs dumps an inline file padded to its 60 i_block bytes: compare i_size and the first i_size bytes
            int len = e.getValue().length;
            assertThat(Ext2Tools.debugfs(img, "stat " + e.getKey()).stdout()).as(e.getKey()).contains("Size: " + len + "\n");
            byte[] dump = Ext2Tools.debugfsDump(img, e.getKey(), tmp);
            assertThat(Arrays.copyOf(dump, len)).as(e.getKey() + " seed " + seed).isEqualTo(e.getValue());
        }
        assertThat(Ext2Tools.debugfs(img, "ls /d/x").stderr()).contains("not found");
        assertThat(Ext2Tools.debugfs(img, "stat /empty/sub/w").stdout()).contains("Type: directory");
    }
}
