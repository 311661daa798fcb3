package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.jbd2.JournalMap;
import org.iomap4j.jbd2.JournalTransaction;
import org.iomap4j.jbd2.JournalWriter;
import org.iomap4j.testkit.tools.HostTools;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replay at mount on journals written by {@link JournalWriter} into an {@code mkfs.ext3} image (needs_recovery set
 * by hand, so no root is needed): the logged blocks are replayed; a commit block failing its checksum refuses the
 * mount (after replaying the transactions before it, with the superblock marked with errors, as the kernel and
 * e2fsck do); a read-only mount of the same image refuses too and writes nothing; a journal inode with a hole, an
 * external journal and needs_recovery without a journal give clear errors naming what is wrong.
 */
class ExtJournalCorruptTest {
    @TempDir
    Path tmp;
    Path image;
    static final int BS = 1024;
    /** Free blocks (well past the metadata of group 0) the tests log images of. */
    static final long TARGET = 6000;

    @BeforeEach
    void mkfs() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(HostTools.which("mkfs.ext3") != null, "mkfs.ext3 missing");
        image = Ext2Tools.sparseImage(tmp.resolve("j.img"), 16L << 20);
        Ext2Tools.run("mkfs.ext3", "-q", "-F", "-b", Integer.toString(BS), image.toString()).ok();
    }

    private static byte[] pattern(int seed) {
        byte[] b = new byte[BS];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Logs two transactions (TARGET, TARGET+1) and sets needs_recovery; returns the second one's commit jblk. */
    private long logTwoTransactions() throws Exception {
        long commit2;
        JournalMap map;
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            byte[] raw = new byte[DiskSuperblock.SIZE];
            dev.read(1024, ByteBuffer.wrap(raw));
            DiskSuperblock sb = DiskSuperblock.decode(raw, 0);
            map = ExtJournal.journalMap(dev, sb);
            JournalWriter w = JournalWriter.open(dev, map, BS, JournalWriter.Features.CSUM_V3_64BIT);
            w.commit(new JournalTransaction(BS).logBlock(TARGET, pattern(1)));
            JournalWriter.LoggedTransaction t2 = w.commit(new JournalTransaction(BS).logBlock(TARGET + 1, pattern(2))
                    .logBlock(TARGET, pattern(3)));
            commit2 = map.pblk(t2.startJblk() + t2.lengthBlocks() - 1);
            sb.setFeatureIncompat(sb.featureIncompat() | Features.INCOMPAT_RECOVER);
            dev.write(1024, ByteBuffer.wrap(sb.encode()));
            dev.flush();
        }
        return commit2;
    }

    private byte[] block(long blk) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "r")) {
            byte[] b = new byte[BS];
            raf.seek(blk * BS);
            raf.readFully(b);
            return b;
        }
    }

    private DiskSuperblock superblock() throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "r")) {
            byte[] b = new byte[DiskSuperblock.SIZE];
            raf.seek(1024);
            raf.readFully(b);
            return DiskSuperblock.decode(b, 0);
        }
    }

    @Test
    void writerJournalIsReplayedAtMountNewestCopyWins() throws Exception {
        logTwoTransactions();
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults())) {
            assertThat(fs.lookupPath("/").isDirectory()).isTrue();
        }
        assertThat(block(TARGET)).isEqualTo(pattern(3));
        assertThat(block(TARGET + 1)).isEqualTo(pattern(2));
        assertThat(superblock().featureIncompat() & Features.INCOMPAT_RECOVER).isZero();
        Ext2Tools.run("e2fsck", "-fn", image.toString()).ok();
    }

    @Test
    void tornCommitRefusesTheMountAfterReplayingTheTransactionsBeforeIt() throws Exception {
        long commit2 = logTwoTransactions();
        byte[] c = block(commit2);
        c[0x3b] ^= 0x5a; // h_commit_nsec: the commit block's crc32c (full or partial) no longer matches
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.seek(commit2 * BS);
            raf.write(c);
        }
        byte[] before = Files.readAllBytes(image);
        assertThatThrownBy(() -> ExtFileSystem.mount(image, ExtMountOptions.defaults().withReadOnly(true)))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("journal transaction")
                .hasMessageContaining("is corrupt");
        assertThat(Arrays.equals(Files.readAllBytes(image), before)).as("read-only: nothing written").isTrue();

        assertThatThrownBy(() -> ExtFileSystem.mount(image, ExtMountOptions.defaults()))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("marked with errors")
                .hasMessageContaining("e2fsck");
        assertThat(block(TARGET)).as("transaction 1 replayed").isEqualTo(pattern(1));
        assertThat(block(TARGET + 1)).as("transaction 2 not replayed").isNotEqualTo(pattern(2));
        DiskSuperblock sb = superblock();
        assertThat(sb.state() & DiskSuperblock.STATE_ERROR).isNotZero();
        assertThat(sb.featureIncompat() & Features.INCOMPAT_RECOVER).isZero();
    }

    @Test
    void journalInodeWithAHoleIsNamed() throws Exception {
        logTwoTransactions();
        Ext2Tools.run("debugfs", "-w", "-R", "sif <8> block[3] 0", image.toString()).ok();
        assertThatThrownBy(() -> ExtFileSystem.mount(image, ExtMountOptions.defaults()))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("journal inode 8")
                .hasMessageContaining("journal block 3").hasMessageContaining("hole");
    }

    @Test
    void externalJournalAndMissingJournalAreRefusedClearly() throws Exception {
        logTwoTransactions();
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            DiskSuperblock sb = superblock();
            byte[] raw = sb.encode();
            ByteBuffer.wrap(raw).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0xE0, 0); // s_journal_inum
            raf.seek(1024);
            raf.write(raw);
        }
        FsException e = org.junit.jupiter.api.Assertions.assertThrows(FsException.class,
                () -> ExtFileSystem.mount(image, ExtMountOptions.defaults()));
        assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP);
        assertThat(e.getMessage()).contains("external journal");

        Path e2 = Ext2Tools.mke2fs(tmp.resolve("e2.img"), 8 << 20);
        try (RandomAccessFile raf = new RandomAccessFile(e2.toFile(), "rw")) {
            raf.seek(1024 + 96);
            int incompat = Integer.reverseBytes(raf.readInt());
            raf.seek(1024 + 96);
            raf.writeInt(Integer.reverseBytes(incompat | Features.INCOMPAT_RECOVER));
        }
        assertThatThrownBy(() -> ExtFileSystem.mount(e2, ExtMountOptions.defaults()))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("has_journal is not");
    }

    /**
     * Seeded fuzzing of the journal blocks and the journal inode of an image needing recovery: a read-only mount
     * either works or fails with an FsException (CorruptFilesystemException included) - never another exception,
     * a hang or an allocation sized from a corrupt field - and never writes the image.
     */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void fuzzedJournalNeverEscapesAsARawException() throws Exception {
        logTwoTransactions();
        long seed = new Random().nextLong();
        System.out.println("journal fuzz seed " + seed);
        Random rnd = new Random(seed);
        JournalMap map;
        long inode8Byte;
        try (FileBlockDevice dev = FileBlockDevice.open(image, true)) {
            byte[] raw = new byte[DiskSuperblock.SIZE];
            dev.read(1024, ByteBuffer.wrap(raw));
            DiskSuperblock sb = DiskSuperblock.decode(raw, 0);
            map = ExtJournal.journalMap(dev, sb);
            byte[] gd = new byte[BS];
            dev.read((sb.firstDataBlock() + 1) * BS, ByteBuffer.wrap(gd));
            long itable = org.iomap4j.ext.disk.GroupDescriptor.decode(gd, 0, sb.descSizeBytes()).inodeTable();
            inode8Byte = itable * BS + 7L * sb.inodeSize();
        }
        byte[] pristine = Files.readAllBytes(image);
        Path victim = tmp.resolve("fuzz.img");
        int mounted = 0;
        int refused = 0;
        for (int iter = 0; iter < 60; iter++) {
            byte[] img = pristine.clone();
            int flips = 1 + rnd.nextInt(8);
            for (int f = 0; f < flips; f++) {
                long at = rnd.nextInt(4) == 0 ? inode8Byte + rnd.nextInt(128)
                        : map.pblk(rnd.nextInt(8)) * BS + rnd.nextInt(BS);
                img[(int) at] ^= (byte) (1 << rnd.nextInt(8));
            }
            Files.write(victim, img);
            try (ExtFileSystem fs = ExtFileSystem.mount(victim, ExtMountOptions.defaults().withReadOnly(true))) {
                fs.lookupPath("/");
                mounted++;
            } catch (FsException e) {
                refused++;
            } catch (RuntimeException | OutOfMemoryError e) {
                throw new AssertionError("iteration " + iter + " (seed " + seed + "): raw " + e, e);
            }
            assertThat(Arrays.equals(Files.readAllBytes(victim), img)).as("iteration %d wrote the image", iter)
                    .isTrue();
        }
        System.out.println("journal fuzz: " + mounted + " mounted, " + refused + " refused with an FsException");
    }
}
