package org.iomap4j.ext.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Inodes (timestamps with nanoseconds, epochs and clamping, crtime, checksums) and extent trees against the
 * kernel's ext4 on a loop mount (what stat reports before unmount) and debugfs ("ex" output).
 */
class InodeExtentOracleTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(ints = {256, 128})
    void timestampsDecodeToWhatTheKernelReportsAndReencodeToItsBytes(int inodeSize) throws Exception {
        assumeTrue(Ext4Images.loopUnavailable() == null, Ext4Images.loopUnavailable());
        long seed = System.nanoTime();
        System.out.println("timestamps seed " + seed + " inode size " + inodeSize);
        Random rnd = new Random(seed);
        Path img = Ext4Images.mkfs(dir.resolve("t.img"), 64L << 20, "-O", "^has_journal", "-I", Integer.toString(inodeSize));
        List<Instant> wanted = new ArrayList<>(List.of(Instant.parse("1960-01-01T00:00:00.123456789Z"),
                Instant.parse("1901-12-13T20:45:52Z"), Instant.parse("2038-01-19T03:14:08.5Z"),
                Instant.parse("2100-06-01T12:00:00.999999999Z"), Instant.parse("2446-05-10T22:38:55Z"),
                Instant.parse("1970-01-01T00:00:00Z"), Instant.parse("1969-12-31T23:59:59.000000001Z")));
        for (int i = 0; i < 12; i++) {
            long sec = Integer.MIN_VALUE + (long) (rnd.nextDouble() * ((1L << 34) - 1));
            wanted.add(Instant.ofEpochSecond(sec, rnd.nextInt(1_000_000_000)));
        }
        Map<Long, Instant[]> kernel = new LinkedHashMap<>();
        Map<Long, Instant> asked = new LinkedHashMap<>();
        try (Ext4Images.Mount m = new Ext4Images.Mount(img, dir)) {
            for (int i = 0; i < wanted.size(); i++) {
                Path f = m.root.resolve("f" + i);
                Files.writeString(f, "x");
                Instant w = wanted.get(i);
                // touch(1) -> utimensat(2): sets atime and mtime with nanoseconds (the JDK clamps pre-1970 times).
                Ext2Tools.run("touch", "-d", "@" + java.math.BigDecimal.valueOf(w.getEpochSecond()).add(java.math.BigDecimal.valueOf(w.getNano(), 9)).toPlainString(), f.toString()).ok();
                long ino = (Long) Files.getAttribute(f, "unix:ino");
                // stat(1) prints what statx(2) reports: atime, mtime, birth time, with nanoseconds.
                String[] st = Ext2Tools.run("stat", "-c", "%.9X %.9Y %.9W", f.toString()).ok().stdout().trim().split(" ");
                kernel.put(ino, new Instant[] {instant(st[0]), instant(st[1]), instant(st[2])});
                asked.put(ino, wanted.get(i));
            }
        }
        DiskSuperblock sb = Ext4Images.superblock(img);
        for (var e : kernel.entrySet()) {
            long ino = e.getKey();
            DiskInode inode = Ext4Images.inode(img, sb, ino);
            inode.verifyChecksum(sb.csumSeed(), ino);
            Instant k = e.getValue()[1];
            InodeTimestamp mt = inode.mtimeTs();
            assertThat(Instant.ofEpochSecond(mt.seconds(), mt.nanos())).as("inode %d mtime (asked %s)", ino, asked.get(ino))
                    .isEqualTo(k);
            Instant ka = e.getValue()[0];
            assertThat(Instant.ofEpochSecond(inode.atimeTs().seconds(), inode.atimeTs().nanos())).isEqualTo(ka);
            InodeTimestamp cr = inode.crtimeTs();
            if (inodeSize > 128) {
                Instant kc = e.getValue()[2];
                assertThat(Instant.ofEpochSecond(cr.seconds(), cr.nanos())).isEqualTo(kc);
            } else {
                assertThat(cr).isNull();
            }
            // Our encoder, given what was asked, writes the kernel's bytes (clamping in 128-byte inodes).
            Instant a = asked.get(ino);
            DiskInode mine = DiskInode.decode(inode.encode(), 0, inode.inodeSize());
            mine.setMtimeTs(new InodeTimestamp(a.getEpochSecond(), a.getNano()));
            mine.setAtimeTs(new InodeTimestamp(a.getEpochSecond(), a.getNano()));
            mine.updateChecksum(sb.csumSeed(), ino);
            assertThat(mine.encode()).as("inode %d re-encoded from %s", ino, a).isEqualTo(inode.encode());
        }
        // A flipped byte is reported with the inode number.
        long ino = kernel.keySet().iterator().next();
        byte[] raw = Ext4Images.inode(img, sb, ino).encode();
        raw[0x10] ^= 0x40;
        DiskInode bad = DiskInode.decode(raw, 0, raw.length);
        assertThatThrownBy(() -> bad.verifyChecksum(sb.csumSeed(), ino)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("inode " + ino);
    }

    private static Instant instant(String decimalSeconds) {
        java.math.BigDecimal d = new java.math.BigDecimal(decimalSeconds);
        java.math.BigDecimal sec = d.setScale(0, java.math.RoundingMode.FLOOR);
        return Instant.ofEpochSecond(sec.longValueExact(), d.subtract(sec).movePointRight(9).intValueExact());
    }

    @Test
    void fragmentedFileExtentTreeMatchesDebugfsAndChecksums() throws Exception {
        assumeTrue(Ext4Images.loopUnavailable() == null, Ext4Images.loopUnavailable());
        long seed = System.nanoTime();
        System.out.println("extents seed " + seed);
        Random rnd = new Random(seed);
        Path img = Ext4Images.mkfs(dir.resolve("e.img"), 128L << 20, "-O", "^has_journal", "-b", "1024");
        long ino;
        try (Ext4Images.Mount m = new Ext4Images.Mount(img, dir)) {
            Path f = m.root.resolve("frag");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                byte[] blk = new byte[1024];
                for (int i = 0; i < 600; i++) {
                    rnd.nextBytes(blk);
                    ch.write(ByteBuffer.wrap(blk), (long) i * 3 * 1024 + (rnd.nextBoolean() ? 0 : 1024));
                }
                ch.force(true);
            }
            for (int i = 0; i < 40; i++) { // unwritten extents beyond the data
                long off = (2000L + i * 4) * 1024;
                Ext2Tools.run("fallocate", "-o", Long.toString(off), "-l", "2048", f.toString()).ok();
            }
            ino = (Long) Files.getAttribute(f, "unix:ino");
        }
        DiskSuperblock sb = Ext4Images.superblock(img);
        DiskInode inode = Ext4Images.inode(img, sb, ino);
        assertThat(inode.flags() & DiskInode.FL_EXTENTS).isNotZero();
        List<Long> treeBlocks = new ArrayList<>();
        List<ExtentLeaf> leaves = Ext4Images.extents(img, sb, ino, treeBlocks);
        ExtentNode root = ExtentNode.decode(inode.blockBytes(), 0, 60, -1, sb.blocksCount(), "root");
        assertThat(root.depth()).isGreaterThanOrEqualTo(1);
        int seedIno = inode.csumSeed(sb.csumSeed(), ino);
        for (long pblk : treeBlocks) {
            byte[] b = Ext4Images.block(img, sb, pblk);
            ExtentNode.verifyTailChecksum(seedIno, b, "block " + pblk);
            ExtentNode n = ExtentNode.decode(b, 0, b.length, -1, sb.blocksCount(), "block " + pblk);
            byte[] again = b.clone();
            n.encodeInto(again, 0);
            ExtentNode.updateTailChecksum(seedIno, again);
            assertThat(again).as("re-encoded extent block %d", pblk).isEqualTo(b);
        }
        byte[] rootAgain = inode.blockBytes();
        root.encodeInto(rootAgain, 0);
        assertThat(rootAgain).isEqualTo(inode.blockBytes());

        // debugfs "ex": one line per leaf extent (level == depth).
        String ex = Ext2Tools.run("debugfs", "-R", "ex <" + ino + ">", img.toString()).ok().stdout();
        Pattern p = Pattern.compile("^\\s*(\\d+)/\\s*(\\d+)\\s+\\d+/\\s*\\d+\\s+(\\d+)\\s+-\\s+(\\d+)\\s+(\\d+)\\s+-\\s+(\\d+)\\s+(\\d+)\\s*(Uninit)?\\s*$",
                Pattern.MULTILINE);
        Matcher m = p.matcher(ex);
        List<ExtentLeaf> fromDebugfs = new ArrayList<>();
        while (m.find()) {
            if (!m.group(1).equals(m.group(2))) {
                continue;
            }
            fromDebugfs.add(new ExtentLeaf(Long.parseLong(m.group(3)), Integer.parseInt(m.group(7)), Long.parseLong(m.group(5)),
                    m.group(8) != null));
        }
        assertThat(fromDebugfs).hasSizeGreaterThan(300);
        assertThat(leaves).isEqualTo(fromDebugfs);
        assertThat(leaves).anyMatch(ExtentLeaf::unwritten);

        // Mutations: clear errors naming the block.
        long pblk = treeBlocks.get(treeBlocks.size() - 1); // the last node walked is a leaf
        byte[] b = Ext4Images.block(img, sb, pblk);
        byte[] badMagic = b.clone();
        badMagic[0] ^= 1;
        assertThatThrownBy(() -> ExtentNode.decode(badMagic, 0, badMagic.length, 0, sb.blocksCount(), "inode 12 extent block " + pblk))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("extent block " + pblk).hasMessageContaining("magic");
        byte[] badEntries = b.clone();
        Le.put16(badEntries, 2, 0xffff);
        assertThatThrownBy(() -> ExtentNode.decode(badEntries, 0, badEntries.length, 0, sb.blocksCount(), "blk " + pblk))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("eh_entries");
        byte[] badMax = b.clone();
        Le.put16(badMax, 4, 0xffff);
        assertThatThrownBy(() -> ExtentNode.decode(badMax, 0, badMax.length, 0, sb.blocksCount(), "blk " + pblk))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("eh_max");
        byte[] badPblk = b.clone();
        Le.put16(badPblk, 12 + 6, 0x7fff);
        assertThatThrownBy(() -> ExtentNode.decode(badPblk, 0, badPblk.length, 0, sb.blocksCount(), "blk " + pblk))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("outside the filesystem");
        byte[] badCsum = b.clone();
        badCsum[20] ^= 1;
        assertThatThrownBy(() -> ExtentNode.verifyTailChecksum(seedIno, badCsum, "blk " + pblk))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("checksum");
    }
}
