package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.ext.disk.OrphanBlock;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The orphan file (compat orphan_file, ro_compat orphan_present; {@link ExtOrphanFile}, {@link ExtOrphan}) against
 * the kernel's ext4 and e2fsck 1.47: orphans the kernel left (a file unlinked while open, then the shutdown ioctl)
 * are processed at our mount; orphans we leave (unlinked while open, the filesystem abandoned after a sync) are
 * processed by e2fsck, by the kernel and by our next mount; a clean unmount leaves the file empty and
 * ORPHAN_PRESENT cleared. Oracles: debugfs (orphan file slots, inode in use), e2fsck -fn, the kernel's mount.
 *
 * <p>mke2fs makes orphan_file only with a journal, and journaled images mount read-only until journaled writes
 * are served; the tests therefore clear the has_journal bit with debugfs around our read-write mounts (the
 * journal inode stays, the journal is clean) and set it again before e2fsck and the kernel look
 * ({@link #withoutJournalFlag}).
 */
class ExtOrphanFileTest {
    @TempDir
    Path tmp;

    static final long ORPHAN_INO = 12;

    private Path image(String name, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("-O", "orphan_file"));
        args.addAll(Arrays.asList(extra));
        return Ext2Tools.mkfsExt4(tmp.resolve(name), 64L << 20, args.toArray(String[]::new));
    }

    /** Runs {@code action} with has_journal cleared on the image, then sets it again. */
    static void withoutJournalFlag(Path img, IoAction action) throws Exception {
        Ext2Tools.debugfsWrite(img, "feature -has_journal");
        try {
            action.run();
        } finally {
            Ext2Tools.debugfsWrite(img, "feature has_journal");
        }
    }

    @FunctionalInterface
    interface IoAction {
        void run() throws Exception;
    }

    /** The non-zero slots of the orphan file as stored (debugfs dump of inode 12), checking each block's magic. */
    long[] orphanSlots(Path img) throws IOException {
        Path out = tmp.resolve("of-" + System.nanoTime());
        Ext2Tools.run("debugfs", "-R", "dump <" + ORPHAN_INO + "> " + out, img.toString()).ok();
        byte[] all = Files.readAllBytes(out);
        int bs = Ext4MetadataTest.superblock(img).blockSizeBytes();
        assertThat(all.length % bs).isZero();
        List<Long> found = new ArrayList<>();
        ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        for (int b = 0; b < all.length / bs; b++) {
            assertThat(bb.getInt(b * bs + bs - 8)).as("orphan block %d magic", b).isEqualTo(OrphanBlock.MAGIC);
            for (int s = 0; s < OrphanBlock.slotsPerBlock(bs); s++) {
                long v = Integer.toUnsignedLong(bb.getInt(b * bs + 4 * s));
                if (v != 0) {
                    found.add(v);
                }
            }
        }
        return found.stream().mapToLong(Long::longValue).toArray();
    }

    static boolean orphanPresent(Path img) throws IOException {
        return Ext4MetadataTest.superblock(img).hasRoCompat(Features.RO_COMPAT_ORPHAN_PRESENT);
    }

    static boolean inUse(Path img, long ino) {
        return !Ext2Tools.debugfs(img, "testi <" + ino + ">").ok().stdout().contains("not in use");
    }

    static void assumeLoop() {
        String why = Ext2Tools.loopMountUnavailableReason();
        Assumptions.assumeTrue(why == null, why);
        Assumptions.assumeTrue(Ext2Tools.run("xfs_io", "-V").exitCode() == 0, "xfs_io missing");
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /**
     * The kernel unlinks two open files (one 300 KB, one empty) and is shut down with the log flushed: its orphan
     * file lists both. Our read-write mount replays the journal, frees both, clears the slots; the image is then
     * e2fsck clean and the kernel reads the surviving file unchanged.
     */
    @ParameterizedTest
    @ValueSource(ints = {4096, 1024})
    void kernelOrphansAreProcessedAtOurMount(int blockSize) throws Exception {
        assumeLoop();
        Path img = image("k.img", "-b", String.valueOf(blockSize));
        byte[] kept = random(70_000, 1);
        long victimIno;
        long emptyIno;
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, false, "ext4")) {
            Files.write(m.root().resolve("kept"), kept);
            Files.write(m.root().resolve("victim"), random(300_000, 2));
            Files.write(m.root().resolve("empty"), new byte[0]);
            Ext2Tools.run("sync").ok();
            victimIno = (Long) Files.getAttribute(m.root().resolve("victim"), "unix:ino");
            emptyIno = (Long) Files.getAttribute(m.root().resolve("empty"), "unix:ino");
            try (FileChannel a = FileChannel.open(m.root().resolve("victim"), StandardOpenOption.READ);
                 FileChannel b = FileChannel.open(m.root().resolve("empty"), StandardOpenOption.READ)) {
                Files.delete(m.root().resolve("victim"));
                Files.delete(m.root().resolve("empty"));
                Ext2Tools.run("xfs_io", "-x", "-c", "shutdown -f", m.root().toString()).ok();
            }
        }
        // Our replay of the journal onto the image (the orphan slots may live only there), without a mount.
        ExtJournal.replay(img);
        assertThat(orphanSlots(img)).containsExactlyInAnyOrder(victimIno, emptyIno);
        assertThat(orphanPresent(img)).isTrue();
        assertThat(inUse(img, victimIno)).isTrue();

        withoutJournalFlag(img, () -> {
            try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
                assertThat(fs.readOnlyReason()).isNull();
                assertThat(fs.orphanFile.size()).isZero();
                byte[] back = new byte[kept.length];
                FileHandle h = fs.open(fs.lookupPath("/kept").ino(), Vfs.O_RDONLY);
                fs.read(h, 0, ByteBuffer.wrap(back));
                fs.release(h);
                assertThat(back).isEqualTo(kept);
            }
        });
        assertThat(orphanSlots(img)).isEmpty();
        assertThat(orphanPresent(img)).as("cleared at our clean unmount").isFalse();
        assertThat(inUse(img, victimIno)).isFalse();
        assertThat(inUse(img, emptyIno)).isFalse();
        Ext2Tools.assertFsckClean(img);
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, true, "ext4")) {
            assertThat(Files.readAllBytes(m.root().resolve("kept"))).isEqualTo(kept);
            assertThat(m.root().resolve("victim")).doesNotExist();
        }
    }

    /**
     * We unlink a 300 KB file and a directory-held file while they are open, sync and abandon the filesystem (a
     * crash): the orphan file lists both with valid checksums and ORPHAN_PRESENT is set. e2fsck -fy, the kernel's
     * mount and our own next mount each free them and leave a clean image.
     */
    @Test
    void ourOrphansAreProcessedByE2fsckTheKernelAndUs() throws Exception {
        Path img = image("o.img");
        byte[] kept = random(50_000, 3);
        long[] inos = new long[2];
        withoutJournalFlag(img, () -> {
            FileBlockDevice dev = FileBlockDevice.open(img, false);
            ExtFileSystem fs = ExtFileSystem.mount(dev, ExtMountOptions.defaults());
            Vfs.Created k = fs.create(fs.rootIno(), "kept", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
            fs.write(k.handle(), 0, ByteBuffer.wrap(kept));
            fs.release(k.handle());
            List<FileHandle> open = new ArrayList<>();
            for (int n = 0; n < 2; n++) {
                Vfs.Created c = fs.create(fs.rootIno(), "victim" + n, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                fs.write(c.handle(), 0, ByteBuffer.wrap(random(300_000 * n + 1000, 4 + n)));
                inos[n] = c.attr().ino();
                open.add(c.handle());
                fs.unlink(fs.rootIno(), "victim" + n);
            }
            assertThat(fs.orphanFile.size()).isEqualTo(2);
            fs.sync();
            dev.close(); // abandoned: no release, no unmount
        });
        assertThat(orphanSlots(img)).containsExactlyInAnyOrder(inos[0], inos[1]);
        assertThat(orphanPresent(img)).isTrue();
        assertThat(inUse(img, inos[1])).isTrue();

        Path forFsck = Files.copy(img, tmp.resolve("fsck.img"), StandardCopyOption.REPLACE_EXISTING);
        Ext2Tools.Result fix = Ext2Tools.run("e2fsck", "-fy", forFsck.toString());
        assertThat(fix.exitCode()).as(fix.stdout()).isLessThanOrEqualTo(1);
        Ext2Tools.assertFsckClean(forFsck);
        assertThat(inUse(forFsck, inos[0]) || inUse(forFsck, inos[1])).isFalse();

        Path forUs = Files.copy(img, tmp.resolve("us.img"), StandardCopyOption.REPLACE_EXISTING);
        withoutJournalFlag(forUs, () -> {
            try (ExtFileSystem fs = ExtFileSystem.mount(forUs, ExtMountOptions.defaults())) {
                assertThat(fs.lookupPath("/kept").sizeBytes()).isEqualTo(kept.length);
            }
        });
        Ext2Tools.assertFsckClean(forUs);
        assertThat(inUse(forUs, inos[0]) || inUse(forUs, inos[1])).isFalse();
        assertThat(orphanSlots(forUs)).isEmpty();

        String why = Ext2Tools.loopMountUnavailableReason();
        Assumptions.assumeTrue(why == null, why);
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, false, "ext4")) {
            assertThat(Files.readAllBytes(m.root().resolve("kept"))).isEqualTo(kept);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(inUse(img, inos[0]) || inUse(img, inos[1])).isFalse();
        assertThat(orphanSlots(img)).isEmpty();
    }

    /**
     * An open unlinked file is recorded while open and its slot cleared when its last handle goes; truncate
     * leaves no slot behind; a clean unmount clears ORPHAN_PRESENT; the image is e2fsck clean and the slots
     * carry valid checksums (our own remount verifies them).
     */
    @ParameterizedTest
    @ValueSource(strings = {"metadata_csum", "^metadata_csum"})
    void slotsFollowTheInodesLife(String csum) throws Exception {
        Path img = image("l.img", "-O", csum);
        withoutJournalFlag(img, () -> {
            try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
                assertThat(orphanPresent(img)).as("set at a read-write mount").isTrue();
                Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                fs.write(c.handle(), 0, ByteBuffer.wrap(random(40_000, 9)));
                fs.setattr(c.attr().ino(), org.iomap4j.vfs.SetAttr.size(1000));
                assertThat(fs.orphanFile.size()).as("a finished truncate leaves no orphan").isZero();
                fs.unlink(fs.rootIno(), "f");
                assertThat(fs.orphanFile.contains(c.attr().ino())).isTrue();
                fs.sync();
                assertThat(orphanSlots(img)).containsExactly(c.attr().ino());
                fs.release(c.handle());
                fs.forget(c.attr().ino(), 1);
                assertThat(fs.orphanFile.size()).isZero();
                // unlink of a closed file: recorded and cleared at once
                Vfs.Created d = fs.create(fs.rootIno(), "g", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                fs.release(d.handle());
                fs.forget(d.attr().ino(), 1);
                fs.unlink(fs.rootIno(), "g");
                assertThat(fs.orphanFile.size()).isZero();
            }
            assertThat(orphanSlots(img)).isEmpty();
            assertThat(orphanPresent(img)).isFalse();
            try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
                assertThat(fs.orphanFile.tracking()).isTrue();
            }
        });
        Ext2Tools.assertFsckClean(img);
    }

    /**
     * 600 open unlinked files on 1 KiB blocks (254 slots per orphan block) fill three orphan blocks; abandoned,
     * e2fsck -fy and our next mount each free all 600.
     */
    @Test
    void manyOrphansSpanOrphanBlocks() throws Exception {
        Path img = image("many.img", "-b", "1024");
        int n = 600;
        long[] inos = new long[n];
        withoutJournalFlag(img, () -> {
            FileBlockDevice dev = FileBlockDevice.open(img, false);
            ExtFileSystem fs = ExtFileSystem.mount(dev, ExtMountOptions.defaults());
            for (int k = 0; k < n; k++) {
                Vfs.Created c = fs.create(fs.rootIno(), "v" + k, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                fs.write(c.handle(), 0, ByteBuffer.wrap(random(1500, k)));
                inos[k] = c.attr().ino();
                fs.unlink(fs.rootIno(), "v" + k);
            }
            assertThat(fs.orphanFile.size()).isEqualTo(n);
            fs.sync();
            dev.close();
        });
        assertThat(orphanSlots(img)).hasSize(n).containsExactlyInAnyOrder(inos);
        Path forFsck = Files.copy(img, tmp.resolve("many-fsck.img"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(Ext2Tools.run("e2fsck", "-fy", forFsck.toString()).exitCode()).isLessThanOrEqualTo(1);
        Ext2Tools.assertFsckClean(forFsck);
        withoutJournalFlag(img, () -> {
            try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
                assertThat(fs.statfs().freeFiles()).isEqualTo(fs.statfs().files() - 12); // inodes 1..12 only
            }
        });
        Ext2Tools.assertFsckClean(img);
        assertThat(orphanSlots(img)).isEmpty();
    }

    /** A corrupt orphan block (bad checksum, bad magic) is refused naming the orphan file and the block. */
    @Test
    void corruptOrphanBlockIsNamed() throws Exception {
        Path img = image("c.img");
        long pblk = Ext2Tools.debugfsBlocks(img, "<" + ORPHAN_INO + ">")[1];
        int bs = Ext4MetadataTest.superblock(img).blockSizeBytes();
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {7}), pblk * bs + 40); // a slot changes: checksum mismatch
        }
        withoutJournalFlag(img, () -> assertThatThrownBy(() -> ExtFileSystem.mount(img, ExtMountOptions.defaults()).close())
                .isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("orphan file inode " + ORPHAN_INO + " block 1")
                .hasMessageContaining("checksum"));
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 0}), pblk * bs + bs - 8);
        }
        withoutJournalFlag(img, () -> assertThatThrownBy(() -> ExtFileSystem.mount(img, ExtMountOptions.defaults()).close())
                .isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("bad magic"));
    }

    /** The mke2fs-made superblock fields this class relies on. */
    @Test
    void mke2fsOrphanFileLayout() throws Exception {
        Path img = image("m.img");
        DiskSuperblock sb = Ext4MetadataTest.superblock(img);
        assertThat(sb.hasCompat(Features.COMPAT_ORPHAN_FILE)).isTrue();
        assertThat(sb.orphanFileInum()).isEqualTo(ORPHAN_INO);
        assertThat(orphanSlots(img)).isEmpty();
    }
}
