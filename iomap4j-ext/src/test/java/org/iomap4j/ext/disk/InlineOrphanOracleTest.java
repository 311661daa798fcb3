package org.iomap4j.ext.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inline data (files and a directory the kernel wrote inline) and orphan file blocks (as mke2fs lays them out)
 * decoded and checked against what was written and the checksums e2fsprogs stored.
 */
class InlineOrphanOracleTest {
    @TempDir
    Path dir;

    @Test
    void inlineFilesAndDirectoryDecodeToWhatWasWritten() throws Exception {
        assumeTrue(Ext4Images.loopUnavailable() == null, Ext4Images.loopUnavailable());
        long seed = System.nanoTime();
        System.out.println("inline seed " + seed);
        Random rnd = new Random(seed);
        Path img = Ext4Images.mkfs(dir.resolve("i.img"), 32L << 20, "-O", "^has_journal,inline_data", "-I", "256");
        Map<Long, byte[]> written = new LinkedHashMap<>();
        long dino;
        List<String> dirNames = List.of("a", "bb", "ccc");
        try (Ext4Images.Mount m = new Ext4Images.Mount(img, dir)) {
            for (int size : new int[] {1, 10, 59, 60, 61, 100, 120}) {
                byte[] data = new byte[size];
                rnd.nextBytes(data);
                Path f = Files.write(m.root.resolve("f" + size), data);
                written.put((Long) Files.getAttribute(f, "unix:ino"), data);
            }
            Path d = Files.createDirectory(m.root.resolve("small"));
            for (String n : dirNames) {
                Files.createFile(d.resolve(n));
            }
            dino = (Long) Files.getAttribute(d, "unix:ino");
        }
        DiskSuperblock sb = Ext4Images.superblock(img);
        int inlineFiles = 0;
        for (var e : written.entrySet()) {
            DiskInode inode = Ext4Images.inode(img, sb, e.getKey());
            inode.verifyChecksum(sb.csumSeed(), e.getKey());
            if ((inode.flags() & DiskInode.FL_INLINE_DATA) == 0) {
                continue; // the kernel chose blocks for this size
            }
            inlineFiles++;
            List<XattrEntry> ibody = XattrCodec.decodeIbody(inode, e.getKey());
            byte[] content = InlineData.read(inode, e.getKey(), inode.sizeBytes(true), ibody);
            assertThat(content).as("inline inode %d", e.getKey()).isEqualTo(e.getValue());
            assertThat(InlineData.iblockPart(content)).isEqualTo(inode.blockBytes());
            assertThat(InlineData.xattrPart(content)).isEqualTo(XattrCodec.find(ibody, InlineData.XATTR_NAME).value());
            assertThat(content.length).isLessThanOrEqualTo(InlineData.maxInlineBytes(sb.inodeSize(), inode.extraIsize(),
                    ibody.stream().filter(x -> !x.fullName().equals(InlineData.XATTR_NAME)).toList()));
        }
        assertThat(inlineFiles).isGreaterThanOrEqualTo(4);

        DiskInode d = Ext4Images.inode(img, sb, dino);
        assertThat(d.flags() & DiskInode.FL_INLINE_DATA).isNotZero();
        assertThat(InlineData.dirParent(d)).isEqualTo(2);
        byte[] ib = d.blockBytes();
        List<String> names = new ArrayList<>();
        int off = InlineData.DOTDOT_BYTES;
        while (off < ib.length) {
            int rec = DirEntryCodec.checkEntry(ib, off, ib.length, dino, 0, sb.inodesCount());
            if (DirEntryCodec.inode(ib, off) != 0) {
                names.add(new String(ib, off + 8, DirEntryCodec.nameLen(ib, off), StandardCharsets.UTF_8));
            }
            off += rec;
        }
        assertThat(names).containsExactlyInAnyOrderElementsOf(dirNames);

        // A system.data shorter than i_size says is reported against the inode.
        long ino = written.keySet().stream().filter(i -> written.get(i).length == 100).findFirst().orElseThrow();
        DiskInode inode = Ext4Images.inode(img, sb, ino);
        if ((inode.flags() & DiskInode.FL_INLINE_DATA) != 0) {
            List<XattrEntry> ibody = XattrCodec.decodeIbody(inode, ino);
            assertThatThrownBy(() -> InlineData.read(inode, ino, 4096, ibody)).isInstanceOf(CorruptFilesystemException.class)
                    .hasMessageContaining("inode " + ino);
            assertThatThrownBy(() -> InlineData.read(inode, ino, 100, List.of())).hasMessageContaining("system.data");
        }
    }

    @Test
    void orphanFileBlocksCarryE2fsprogsChecksums() throws Exception {
        Path img = Ext4Images.mkfs(dir.resolve("o.img"), 64L << 20, "-O", "has_journal,orphan_file", "-b", "4096");
        DiskSuperblock sb = Ext4Images.superblock(img);
        long oino = sb.orphanFileInum();
        assertThat(oino).isNotZero();
        DiskInode o = Ext4Images.inode(img, sb, oino);
        int oseed = o.csumSeed(sb.csumSeed(), oino);
        List<ExtentLeaf> ext = Ext4Images.extents(img, sb, oino, null);
        long blocks = o.sizeBytes(true) / sb.blockSizeBytes();
        assertThat(blocks).isGreaterThan(0);
        for (long l = 0; l < blocks; l++) {
            long pblk = Ext4Images.mapBlock(ext, l);
            byte[] b = Ext4Images.block(img, sb, pblk);
            long[] slots = OrphanBlock.decode(b, pblk, oseed, true);
            assertThat(slots).hasSize(OrphanBlock.slotsPerBlock(b.length));
            assertThat(OrphanBlock.inodes(slots)).isEmpty();
            assertThat(OrphanBlock.encode(slots, b.length, pblk, oseed, true)).isEqualTo(b);
            byte[] withOrphans = OrphanBlock.encode(new long[] {12, 0, 13}, b.length, pblk, oseed, true);
            assertThat(OrphanBlock.inodes(OrphanBlock.decode(withOrphans, pblk, oseed, true))).containsExactly(12, 13);
            byte[] bad = b.clone();
            bad[0] = 12;
            assertThatThrownBy(() -> OrphanBlock.decode(bad, pblk, oseed, true)).isInstanceOf(CorruptFilesystemException.class)
                    .hasMessageContaining("orphan file block " + pblk).hasMessageContaining("checksum");
            byte[] badMagic = b.clone();
            badMagic[b.length - 8] ^= 1;
            assertThatThrownBy(() -> OrphanBlock.decode(badMagic, pblk, oseed, false)).hasMessageContaining("magic");
        }
    }
}
