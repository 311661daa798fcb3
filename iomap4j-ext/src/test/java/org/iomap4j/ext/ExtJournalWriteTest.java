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
}
