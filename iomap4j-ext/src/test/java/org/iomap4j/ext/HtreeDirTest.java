package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DxBlock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * htree (dir_index) directories maintained by iomap4j as the kernel's ext4 keeps them: a directory of 100,000
 * entries created through the library is indexed (EXT4_INDEX_FL, two index levels with 1 KiB blocks), e2fsck -fn
 * finds nothing, the kernel's ext4 on loop lists every name with the same inode, and a lookup reads only the
 * index path and one leaf (counted by {@link Directories#blockReads}, not timed).
 *
 * <p>{@code -Diomap4j.htree.entries=N} runs the big-directory test with N entries instead (the long form).
 */
class HtreeDirTest {
    @TempDir
    Path tmp;

    static final int ENTRIES = Integer.getInteger("iomap4j.htree.entries", 100_000);

    @Test
    void hundredThousandEntriesStayIndexedValidAndVisibleToTheKernel() throws Exception {
        // 1 KiB blocks make a two-level index of the 100,000; the long form (millions) needs 4 KiB blocks to fit
        // two levels without large_dir.
        boolean longForm = ENTRIES > 200_000;
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("big.img"), Math.max(192L << 20, ENTRIES * 512L),
                Ext4TestImages.EXT4_NO_CSUM, "-b", longForm ? "4096" : "1024", "-I", "128", "-N",
                String.valueOf(ENTRIES + 2000));
        Map<String, Long> model = new TreeMap<>();
        long bigIno;
        int maxReads;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.readOnlyReason()).isNull();
            bigIno = fs.mkdir(fs.rootIno(), "big", 0755, 0, 0).ino();
            for (int i = 0; i < ENTRIES; i++) {
                String n = "file-" + i;
                long ino = fs.mknod(bigIno, n, 0100644, 0, 0, 0).ino();
                fs.forget(ino, 1);
                model.put(n, ino);
            }
            org.iomap4j.fs.Pins pins = fs.icache.pins();
            ExtInode big = fs.inodes.iget(pins, bigIno);
            assertThat(fs.dirs.isDx(big)).as("EXT4_INDEX_FL").isTrue();
            byte[] root = fs.dirs.readBlock(big, 0);
            DxBlock r = DxBlock.decode(root, true, false, false, bigIno, 0);
            assertThat(r.indirectLevels()).as("index levels below the root").isEqualTo(ENTRIES >= 50_000 ? 1 : r.indirectLevels());
            long blocks = fs.dirs.nrBlocks(big);
            // Lookups: index path (root + indirect levels) and one leaf; a hash collision may continue once.
            maxReads = 0;
            Random rnd = new Random(7);
            for (int k = 0; k < 2000; k++) {
                String n = "file-" + rnd.nextInt(ENTRIES);
                long before = fs.dirs.blockReads.sum();
                long ino = fs.lookup(bigIno, n).ino();
                fs.forget(ino, 1);
                int reads = (int) (fs.dirs.blockReads.sum() - before);
                maxReads = Math.max(maxReads, reads);
                assertThat(ino).as(n).isEqualTo(model.get(n));
            }
            long before = fs.dirs.blockReads.sum();
            try {
                fs.lookup(bigIno, "absent-name");
                throw new AssertionError("absent name found");
            } catch (FsException e) {
                assertThat(e.errno()).isEqualTo(Errno.ENOENT);
            }
            int missReads = (int) (fs.dirs.blockReads.sum() - before);
            System.out.printf("htree: %d entries, %d directory blocks, %d index levels below the root; a lookup read"
                    + " at most %d blocks, a miss %d%n", ENTRIES, blocks, r.indirectLevels(), maxReads, missReads);
            assertThat(maxReads).isLessThanOrEqualTo(r.indirectLevels() + 2 + 1);
            assertThat(missReads).isLessThanOrEqualTo(r.indirectLevels() + 2 + 1);
            assertThat(blocks).isGreaterThan(10L * maxReads);
            pins.close();
            // Removal leaves the index valid.
            for (int i = 0; i < ENTRIES; i += 7) {
                fs.unlink(bigIno, "file-" + i);
                model.remove("file-" + i);
            }
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "stat /big").ok().stdout()).contains("Flags: 0x1000");
        String why = Ext4TestImages.ext4MountUnavailableReason();
        assumeTrue(why == null, "kernel cross-check skipped: " + why);
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, true)) {
            Path big = m.root.resolve("big");
            assertThat(Ext4TestImages.kernelListing(big)).isEqualTo(model);
            Random rnd = new Random(11);
            List<String> names = new ArrayList<>(model.keySet());
            for (int k = 0; k < 300; k++) {
                String n = names.get(rnd.nextInt(names.size()));
                assertThat((Long) Files.getAttribute(big.resolve(n), "unix:ino")).as(n).isEqualTo(model.get(n));
            }
        }
    }

    /**
     * readdir of an indexed directory resumes by hash cookie: a reader that lists 17 entries per call while 40
     * creates per call split leaves under it sees every entry that existed before it started exactly once (byte
     * offsets would repeat entries moved to a new block and skip entries packed to lower offsets). New entries
     * may or may not be listed (POSIX), but never twice.
     */
    @Test
    void readdirInBatchesAcrossLeafSplitsSeesEveryOldEntryOnce() throws Exception {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("rd.img"), 64L << 20, Ext4TestImages.EXT4_NO_CSUM, "-b",
                "1024", "-N", "16384");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long d = fs.mkdir(fs.rootIno(), "d", 0755, 0, 0).ino();
            for (int i = 0; i < 2000; i++) {
                fs.forget(fs.mknod(d, "old-" + i, 0100644, 0, 0, 0).ino(), 1);
            }
            Map<String, Integer> seen = new TreeMap<>();
            long off = 0;
            int created = 0;
            long blocksBefore;
            try (org.iomap4j.fs.Pins pins = fs.icache.pins()) {
                blocksBefore = fs.dirs.nrBlocks(fs.inodes.iget(pins, d));
            }
            while (true) {
                List<org.iomap4j.vfs.DirEntry> got = new ArrayList<>();
                fs.readdir(d, off, e -> {
                    if (got.size() == 17) {
                        return false;
                    }
                    got.add(e);
                    return true;
                });
                if (got.isEmpty()) {
                    break;
                }
                for (org.iomap4j.vfs.DirEntry e : got) {
                    seen.merge(e.name(), 1, Integer::sum);
                }
                off = got.get(got.size() - 1).nextOffset();
                for (int k = 0; k < 40 && created < 4000; k++) {
                    fs.forget(fs.mknod(d, "new-" + created++, 0100644, 0, 0, 0).ino(), 1);
                }
            }
            try (org.iomap4j.fs.Pins pins = fs.icache.pins()) {
                assertThat(fs.dirs.nrBlocks(fs.inodes.iget(pins, d))).as("leaves split during the listing")
                        .isGreaterThan(blocksBefore + 20);
            }
            for (int i = 0; i < 2000; i++) {
                assertThat(seen.get("old-" + i)).as("old-" + i).isEqualTo(1);
            }
            assertThat(seen.values()).allMatch(c -> c == 1);
            assertThat(seen.get(".")).isEqualTo(1);
            assertThat(seen.get("..")).isEqualTo(1);
        }
        Ext2Tools.assertFsckClean(img);
    }
}
