package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Big directories through {@code iomapfs mount} on an ext4 image (extent-free, dir_index): 4 processes' worth of
 * threads create 3,000 files each in their own directory and 1,000 each in a shared one, rename and unlink some;
 * {@code ls | wc -l} and stat through the mount agree with the model; after unmount the directories are indexed
 * (EXT4_INDEX_FL), e2fsck -fn is clean and the kernel's ext4 lists the same names and inodes.
 */
class MountHtreeTest {
    @TempDir
    Path tmp;

    @Test
    void bigDirectoriesThroughTheMountStayIndexedAndValid() throws Exception {
        MountedImage.requireFuse();
        Path img = tmp.resolve("h.img");
        Ext2Tools.sparseImage(img, 96L << 20);
        Ext2Tools.run("mkfs.ext4", "-q", "-F", "-O",
                "^has_journal,^extent,^64bit,^flex_bg,^huge_file,^metadata_csum,^extra_isize", "-b", "1024", "-N",
                "32768", img.toString()).ok();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Map<String, Map<String, Long>> model = new TreeMap<>();
        int threads = 4;
        try (MountedImage m = MountedImage.start(img, mnt)) {
            Path shared = Files.createDirectory(mnt.resolve("shared"));
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                Path own = Files.createDirectory(mnt.resolve("t" + t));
                fs.add(pool.submit(() -> {
                    for (int i = 0; i < 3000; i++) {
                        Files.createFile(own.resolve("file-" + i));
                        if (i % 3 == 0) {
                            Files.createFile(shared.resolve("w" + tt + "-" + i));
                        }
                    }
                    for (int i = 0; i < 3000; i += 10) {
                        Files.move(own.resolve("file-" + i), shared.resolve("moved-" + tt + "-" + i));
                        Files.delete(own.resolve("file-" + (i + 1)));
                    }
                    return null;
                }));
            }
            try {
                for (Future<?> f : fs) {
                    f.get(10, TimeUnit.MINUTES);
                }
            } finally {
                pool.shutdownNow();
            }
            for (String d : List.of("shared", "t0", "t1", "t2", "t3")) {
                Map<String, Long> names = new TreeMap<>();
                try (Stream<Path> s = Files.list(mnt.resolve(d))) {
                    for (Path p : (Iterable<Path>) s::iterator) {
                        names.put(p.getFileName().toString(), (Long) Files.getAttribute(p, "unix:ino"));
                    }
                }
                model.put(d, names);
                String wc = Ext2Tools.run("sh", "-c", "ls " + mnt.resolve(d) + " | wc -l").ok().stdout().trim();
                assertThat(Integer.parseInt(wc)).as("ls | wc -l of " + d).isEqualTo(names.size());
            }
            assertThat(model.get("t0")).hasSize(3000 - 600);
            assertThat(model.get("shared")).hasSize(threads * (1000 + 300));
        }
        Ext2Tools.assertFsckClean(img);
        for (String d : model.keySet()) {
            assertThat(Ext2Tools.debugfs(img, "stat /" + d).ok().stdout()).as(d).contains("Flags: 0x1000");
        }
        String why = Ext2Tools.loopMountUnavailableReason();
        if (why != null) {
            System.out.println("kernel cross-check skipped: " + why);
            return;
        }
        Path k = Files.createDirectory(tmp.resolve("k"));
        Ext2Tools.run("mount", "-t", "ext4", "-o", "loop,ro", img.toString(), k.toString()).ok();
        try {
            for (Map.Entry<String, Map<String, Long>> e : model.entrySet()) {
                Map<String, Long> names = new TreeMap<>();
                try (Stream<Path> s = Files.list(k.resolve(e.getKey()))) {
                    for (Path p : (Iterable<Path>) s::iterator) {
                        names.put(p.getFileName().toString(), (Long) Files.getAttribute(p, "unix:ino"));
                    }
                }
                assertThat(names).as("kernel listing of " + e.getKey()).isEqualTo(e.getValue());
            }
        } finally {
            Ext2Tools.run("umount", k.toString()).ok();
        }
    }
}
