package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.iomap4j.ext.disk.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Read-write mounts of journaled images (mkfs.ext4 defaults: extents, metadata_csum, 64bit, csum v3 journal;
 * mkfs.ext3 with 1 KiB blocks: indirect maps, no checksums) through the library: a seeded workload of every
 * metadata-changing operation runs through the jbd2 journal (commits counted), the unmount checkpoints and marks
 * the log clean and clears needs_recovery, {@code e2fsck -fn} is clean, and the tree equals the model, read back
 * by iomap4j and by the kernel (loop mount).
 */
class ExtJournalWriteTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "ext3"})
    void workloadThroughTheJournalIsCleanAndReadsBackInTheKernel(String type) throws Exception {
        long seed = new Random().nextLong();
        System.out.println("ExtJournalWriteTest " + type + " seed " + seed);
        Path image = Ext2Tools.sparseImage(tmp.resolve(type + ".img"), 32L << 20);
        if (type.equals("ext4")) {
            Ext2Tools.run("mkfs.ext4", "-q", "-F", image.toString()).ok();
        } else {
            Ext2Tools.run("mkfs.ext3", "-q", "-F", "-b", "1024", image.toString()).ok();
        }
        JournalWorkload w;
        long[] stats;
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults())) {
            assertThat(fs.isReadOnly()).as(String.valueOf(fs.readOnlyReason())).isFalse();
            assertThat(fs.journal.active()).isTrue();
            assertThat(fs.superblock().toString()).isNotNull();
            w = new JournalWorkload(fs, new Random(seed), type.equals("ext4"), op -> { });
            w.run(300);
            stats = fs.journal.journal().stats();
            assertThat(w.compareAll(TreeModel.capture(fs))).isEmpty();
        }
        System.out.println("ExtJournalWriteTest " + type + ": " + stats[0] + " commits, " + stats[1]
                + " checkpoints before unmount, " + w.fsyncs + " fsyncs");
        assertThat(stats[0]).isGreaterThan(0);
        Ext2Tools.assertFsckClean(image);
        String dump = Ext2Tools.run("dumpe2fs", "-h", image.toString()).stdout();
        assertThat(dump).doesNotContain("needs_recovery").contains("has_journal");
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults().withReadOnly(true))) {
            assertThat(w.compareAll(TreeModel.capture(fs))).isEmpty();
        }
        if (Ext2Tools.loopMountUnavailableReason() == null) {
            try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(image, tmp, true, type)) {
                for (Map.Entry<String, byte[]> e : w.files.entrySet()) {
                    assertThat(Files.readAllBytes(m.root().resolve(e.getKey().substring(1)))).as(e.getKey())
                            .isEqualTo(e.getValue());
                }
                for (String d : w.dirs) {
                    assertThat(m.root().resolve(d.isEmpty() ? "." : d.substring(1))).isDirectory();
                }
            }
            Ext2Tools.assertFsckClean(image);
        }
    }

    /**
     * Four threads run the workload at once (each below its own directory) with the commit thread's 5 s commits,
     * fsync commits and writeback's reserved handles interleaving: no deadlock (the test's timeout), no credit
     * overflow, and after the unmount e2fsck -fn is clean and every thread's tree equals its model.
     */
    @Test
    @org.junit.jupiter.api.Timeout(600)
    void concurrentWorkloadsCommitWithoutDeadlockAndStayClean() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("ExtJournalWriteTest concurrent seed " + seed);
        Path image = Ext2Tools.sparseImage(tmp.resolve("c.img"), 64L << 20);
        Ext2Tools.run("mkfs.ext4", "-q", "-F", "-J", "size=4", image.toString()).ok();
        int threads = 4;
        JournalWorkload[] w = new JournalWorkload[threads];
        long[] stats;
        // A small page cache, so that writers run writeback (balance_dirty) while holding their handles.
        try (ExtFileSystem fs = ExtFileSystem.mount(image, new ExtMountOptions(false, 2L << 20, 64 << 10, 1L << 20))) {
            java.util.List<java.util.concurrent.Future<?>> fut = new java.util.ArrayList<>();
            var pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
            try {
                for (int t = 0; t < threads; t++) {
                    fs.mkdir(fs.rootIno(), "t" + t, 0755, 0, 0);
                    w[t] = new JournalWorkload(fs, new Random(seed + t), true, op -> { }, "/t" + t);
                    JournalWorkload mine = w[t];
                    fut.add(pool.submit(() -> {
                        mine.run(250);
                        return null;
                    }));
                }
                for (var f : fut) {
                    f.get();
                }
            } finally {
                pool.shutdownNow();
            }
            stats = fs.journal.journal().stats();
        }
        System.out.println("ExtJournalWriteTest concurrent: " + stats[0] + " commits, " + stats[1] + " checkpoints");
        assertThat(stats[1]).as("a 4 MiB log fills: checkpoints while running").isGreaterThan(0);
        Ext2Tools.assertFsckClean(image);
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults().withReadOnly(true))) {
            Map<String, TreeModel.Node> tree = TreeModel.capture(fs);
            for (JournalWorkload x : w) {
                assertThat(x.compareAll(tree)).isEmpty();
            }
        }
    }
}
