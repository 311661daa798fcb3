package org.iomap4j.ext.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Directory blocks (leaf tails, htree root/nodes, dx tails), the htree hash functions, xattrs (in-inode and
 * block, hashes, checksums) and POSIX ACLs against the kernel's ext4 on a loop mount and debugfs (dx_hash).
 */
class DirXattrOracleTest {
    @TempDir
    Path dir;
    private boolean csumOn;

    @Test
    void hashesMatchDebugfsDxHashForEveryVersion() throws Exception {
        long seed = System.nanoTime();
        System.out.println("dx_hash seed " + seed);
        Random rnd = new Random(seed);
        Path img = Ext4Images.mkfs(dir.resolve("h.img"), 16L << 20, "-O", "^has_journal");
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-éü€";
        List<String> names = new ArrayList<>(List.of("a", ".", "..", "lost+found", "x".repeat(31), "y".repeat(32),
                "z".repeat(33), "w".repeat(255)));
        for (int i = 0; i < 40; i++) {
            StringBuilder b = new StringBuilder();
            int len = 1 + rnd.nextInt(i < 20 ? 20 : 120);
            for (int k = 0; k < len; k++) {
                b.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            }
            names.add(b.charAt(0) == '-' ? "n" + b : b.toString()); // debugfs would read a leading '-' as an option
        }
        byte[] seedBytes = new byte[16];
        rnd.nextBytes(seedBytes);
        String seedUuid = uuid(seedBytes);
        List<String> script = new ArrayList<>();
        for (String n : names) {
            for (int v = 0; v <= 5; v++) {
                script.add("dx_hash -h " + v + " -s " + seedUuid + " " + n);
            }
        }
        Path cmds = dir.resolve("cmds");
        Files.write(cmds, script, StandardCharsets.UTF_8);
        String out = Ext2Tools.run("debugfs", "-f", cmds.toString(), img.toString()).ok().stdout();
        Matcher m = Pattern.compile("Hash of (.*) is 0x([0-9a-f]+) \\(minor 0x([0-9a-f]+)\\)").matcher(
                new String(out.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8));
        int[] seedWords = DxHash.seedWords(seedBytes);
        int checked = 0;
        for (String n : names) {
            for (int v = 0; v <= 5; v++) {
                assertThat(m.find()).as("debugfs output for %s v%d", n, v).isTrue();
                DxHash.Hash h = DxHash.hash(v, n.getBytes(StandardCharsets.UTF_8), seedWords);
                assertThat(Integer.toUnsignedString(h.major(), 16)).as("major of '%s' v%d", n, v).isEqualTo(m.group(2));
                assertThat(Integer.toUnsignedString(h.minor(), 16)).as("minor of '%s' v%d", n, v).isEqualTo(m.group(3));
                checked++;
            }
        }
        assertThat(checked).isEqualTo(names.size() * 6);
    }

    @ParameterizedTest
    @ValueSource(strings = {"-b 1024", "-b 1024 -O ^metadata_csum", "-b 2048 -O ^64bit -I 128", "-b 4096 -O large_dir"})
    void htreeDirectoryBlocksMatchTheKernelsLayoutAndChecksums(String opts) throws Exception {
        assumeTrue(Ext4Images.loopUnavailable() == null, Ext4Images.loopUnavailable());
        long seed = System.nanoTime();
        System.out.println("htree seed " + seed);
        Random rnd = new Random(seed);
        Path img = Ext4Images.mkfs(dir.resolve("d.img"), 64L << 20, ("-O ^has_journal " + opts).split(" "));
        long dino;
        Set<String> names = new HashSet<>();
        try (Ext4Images.Mount m = new Ext4Images.Mount(img, dir)) {
            Path d = Files.createDirectory(m.root.resolve("big"));
            while (names.size() < 1500) {
                String n = "f" + Long.toString(rnd.nextLong() & Long.MAX_VALUE, 36) + "é".repeat(rnd.nextInt(3));
                if (names.add(n)) {
                    Files.createFile(d.resolve(n));
                }
            }
            dino = (Long) Files.getAttribute(d, "unix:ino");
        }
        DiskSuperblock sb = Ext4Images.superblock(img);
        DiskInode inode = Ext4Images.inode(img, sb, dino);
        assertThat(inode.flags() & DiskInode.FL_INDEX).isNotZero();
        int iseed = inode.csumSeed(sb.csumSeed(), dino);
        List<ExtentLeaf> ext = Ext4Images.extents(img, sb, dino, null);
        this.csumOn = sb.hasMetadataCsum();
        byte[] rootBlock = Ext4Images.block(img, sb, Ext4Images.mapBlock(ext, 0));
        boolean csum = sb.hasMetadataCsum();
        boolean largeDir = sb.hasIncompat(Features.INCOMPAT_LARGEDIR);
        DxBlock root = DxBlock.decode(rootBlock, true, csum, largeDir, dino, 0);
        if (csum) {
            DxBlock.verifyChecksum(iseed, rootBlock, true, dino, 0);
        }
        byte[] again = rootBlock.clone();
        root.encodeInto(again);
        if (csum) {
            DxBlock.updateChecksum(iseed, again, true);
        }
        assertThat(again).isEqualTo(rootBlock);
        int version = DxHash.effectiveVersion(root.hashVersion(), sb);
        int[] seedWords = DxHash.seedWords(sb.hashSeed());
        Set<String> seen = new HashSet<>();
        int leaves = checkLevel(img, sb, ext, root, root.indirectLevels(), 0, 0xFFFFFFFFL, version, seedWords, iseed, dino, seen);
        assertThat(leaves).isGreaterThan(sb.blockSizeBytes() > 2048 ? 3 : 10);
        assertThat(seen).containsAll(names);

        byte[] bad = rootBlock.clone();
        Le.put16(bad, DxBlock.ROOT_COUNT_OFFSET, 7);
        assertThatThrownBy(() -> DxBlock.decode(bad, true, csum, largeDir, dino, 0)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("directory inode " + dino).hasMessageContaining("limit 7");
        if (csum) {
            byte[] bad2 = rootBlock.clone();
            bad2[DxBlock.ROOT_COUNT_OFFSET + 12] ^= 1;
            assertThatThrownBy(() -> DxBlock.verifyChecksum(iseed, bad2, true, dino, 0)).hasMessageContaining("dx checksum");
        }
    }

    /** Walks one index level; every name in a leaf hashes into the range its dx entry gives. Returns leaves seen. */
    private int checkLevel(Path img, DiskSuperblock sb, List<ExtentLeaf> ext, DxBlock node, int levelsBelow, long lo,
            long hi, int version, int[] seedWords, int iseed, long dino, Set<String> seen) throws Exception {
        int leaves = 0;
        for (int i = 0; i < node.entries().size(); i++) {
            long from = i == 0 ? lo : Integer.toUnsignedLong(node.entries().get(i).hash()) & ~1L;
            long to = i + 1 < node.entries().size() ? Integer.toUnsignedLong(node.entries().get(i + 1).hash()) : hi;
            long lblk = node.entries().get(i).lblk();
            byte[] b = Ext4Images.block(img, sb, Ext4Images.mapBlock(ext, lblk));
            if (levelsBelow > 0) {
                DxBlock child = DxBlock.decode(b, false, csumOn, sb.hasIncompat(Features.INCOMPAT_LARGEDIR), dino, lblk);
                if (csumOn) {
                    DxBlock.verifyChecksum(iseed, b, false, dino, lblk);
                }
                leaves += checkLevel(img, sb, ext, child, levelsBelow - 1, from, to, version, seedWords, iseed, dino, seen);
                continue;
            }
            int end = b.length;
            if (csumOn) {
                DirBlockTail.verify(iseed, b, dino, lblk);
                end -= DirBlockTail.SIZE;
            } else {
                assertThat(DirBlockTail.present(b)).isFalse();
            }
            leaves++;
            int off = 0;
            while (off < end) {
                int rec = DirEntryCodec.checkEntry(b, off, end, dino, lblk * b.length, sb.inodesCount());
                int nl = DirEntryCodec.nameLen(b, off);
                if (DirEntryCodec.inode(b, off) != 0) {
                    String name = new String(b, off + 8, nl, StandardCharsets.UTF_8);
                    long h = Integer.toUnsignedLong(DxHash.hash(version, b, off + 8, nl, seedWords).major());
                    assertThat(h).as("hash of %s in leaf %d", name, lblk).isBetween(from, to);
                    seen.add(name);
                }
                off += rec;
            }
        }
        return leaves;
    }

    @ParameterizedTest
    @ValueSource(ints = {256, 128})
    void xattrsAndAclsDecodeToWhatTheKernelReturns(int inodeSize) throws Exception {
        assumeTrue(Ext4Images.loopUnavailable() == null, Ext4Images.loopUnavailable());
        Path img = Ext4Images.mkfs(dir.resolve("x.img"), 32L << 20, "-O", "^has_journal", "-b", "4096", "-I",
                Integer.toString(inodeSize));
        byte[] small = "v1".getBytes(StandardCharsets.UTF_8);
        byte[] big = new byte[700];
        new Random(7).nextBytes(big);
        byte[] acl = PosixAcl.encodeXattr(List.of(new PosixAcl.Entry(PosixAcl.TAG_USER_OBJ, 6, PosixAcl.UNDEFINED_ID),
                new PosixAcl.Entry(PosixAcl.TAG_USER, 4, 1000), new PosixAcl.Entry(PosixAcl.TAG_USER, 6, 1234),
                new PosixAcl.Entry(PosixAcl.TAG_GROUP_OBJ, 4, PosixAcl.UNDEFINED_ID),
                new PosixAcl.Entry(PosixAcl.TAG_GROUP, 5, 77), new PosixAcl.Entry(PosixAcl.TAG_MASK, 6, PosixAcl.UNDEFINED_ID),
                new PosixAcl.Entry(PosixAcl.TAG_OTHER, 0, PosixAcl.UNDEFINED_ID)));
        long ino;
        byte[] kernelAcl;
        long dirIno;
        byte[] kernelDefault;
        try (Ext4Images.Mount m = new Ext4Images.Mount(img, dir)) {
            Path f = Files.writeString(m.root.resolve("f"), "data");
            Ext4Images.setxattr(f, "user.small", small);
            Ext4Images.setxattr(f, "user.big", big);
            Ext4Images.setxattr(f, "trusted.t", "tt".getBytes(StandardCharsets.UTF_8));
            Ext4Images.setxattr(f, "user.big2", java.util.Arrays.copyOf(big, 300));
            Ext4Images.setxattr(f, "system.posix_acl_access", acl);
            kernelAcl = Ext4Images.getxattr(f, "system.posix_acl_access");
            ino = (Long) Files.getAttribute(f, "unix:ino");
            Path d = Files.createDirectory(m.root.resolve("d"));
            Ext4Images.setxattr(d, "system.posix_acl_default", acl);
            kernelDefault = Ext4Images.getxattr(d, "system.posix_acl_default");
            dirIno = (Long) Files.getAttribute(d, "unix:ino");
        }
        DiskSuperblock sb = Ext4Images.superblock(img);
        DiskInode inode = Ext4Images.inode(img, sb, ino);
        List<XattrEntry> ibody = XattrCodec.decodeIbody(inode, ino);
        long pblk = inode.fileAcl();
        assertThat(pblk).isNotZero();
        byte[] block = Ext4Images.block(img, sb, pblk);
        XattrCodec.verifyBlockChecksum(sb.csumSeed(), pblk, block);
        XattrCodec.Block xb = XattrCodec.decodeBlock(block, pblk);
        assertThat(xb.refcount()).isEqualTo(1);
        List<XattrEntry> all = new ArrayList<>(ibody);
        all.addAll(xb.entries());
        assertThat(XattrCodec.find(all, "user.small").value()).isEqualTo(small);
        assertThat(XattrCodec.find(all, "user.big").value()).isEqualTo(big);
        assertThat(XattrCodec.find(all, "user.big2").value()).isEqualTo(java.util.Arrays.copyOf(big, 300));
        assertThat(XattrCodec.find(all, "trusted.t").value()).isEqualTo("tt".getBytes(StandardCharsets.UTF_8));
        byte[] diskAcl = XattrCodec.find(all, "system.posix_acl_access").value();
        assertThat(PosixAcl.diskToXattr(diskAcl, "inode " + ino)).isEqualTo(kernelAcl);
        assertThat(PosixAcl.xattrToDisk(kernelAcl)).isEqualTo(diskAcl);
        // the directory's default ACL, wherever the kernel put it
        DiskInode dInode = Ext4Images.inode(img, sb, dirIno);
        List<XattrEntry> dAll = new ArrayList<>(XattrCodec.decodeIbody(dInode, dirIno));
        if (dInode.fileAcl() != 0) {
            dAll.addAll(XattrCodec.decodeBlock(Ext4Images.block(img, sb, dInode.fileAcl()), dInode.fileAcl()).entries());
        }
        XattrEntry def = XattrCodec.find(dAll, "system.posix_acl_default");
        assertThat(def.nameIndex()).isEqualTo(XattrCodec.INDEX_POSIX_ACL_DEFAULT);
        assertThat(PosixAcl.diskToXattr(def.value(), "inode " + dirIno)).isEqualTo(kernelDefault);
        for (XattrEntry e : xb.entries()) {
            assertThat(XattrCodec.entryHash(e.name(), e.value(), false)).as("hash of %s", e.fullName()).isEqualTo(e.hash());
        }
        assertThat(XattrCodec.blockHash(xb.entries())).isEqualTo(xb.hash());
        // exact re-encode of the block and of the inode's area
        byte[] again = XattrCodec.encodeBlock(xb.entries(), block.length, xb.refcount(), true);
        XattrCodec.updateBlockChecksum(sb.csumSeed(), pblk, again);
        assertThat(again).isEqualTo(block);
        byte[] raw = inode.encode();
        XattrCodec.encodeIbody(raw, inode.extraIsize(), ibody, true);
        assertThat(raw).isEqualTo(inode.encode());
        // a fresh layout decodes to the same names and values
        byte[] fresh = XattrCodec.encodeBlock(xb.entries(), block.length, 1, false);
        assertThat(XattrCodec.decodeBlock(fresh, 1).entries()).extracting(XattrEntry::fullName)
                .containsExactlyInAnyOrderElementsOf(xb.entries().stream().map(XattrEntry::fullName).toList());

        // mutations
        byte[] badSize = block.clone();
        Le.put32(badSize, XattrCodec.BLOCK_HEADER_BYTES + 8, 0x7fffffff);
        assertThatThrownBy(() -> XattrCodec.decodeBlock(badSize, pblk)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("xattr block " + pblk);
        byte[] badOffs = block.clone();
        Le.put16(badOffs, XattrCodec.BLOCK_HEADER_BYTES + 2, 8);
        assertThatThrownBy(() -> XattrCodec.decodeBlock(badOffs, pblk)).hasMessageContaining("overlaps");
        byte[] badName = block.clone();
        java.util.Arrays.fill(badName, XattrCodec.BLOCK_HEADER_BYTES, badName.length, (byte) 0x11); // no terminator
        assertThatThrownBy(() -> XattrCodec.decodeBlock(badName, pblk)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("xattr block " + pblk);
        byte[] badCsum = block.clone();
        badCsum[block.length - 1] ^= 1;
        assertThatThrownBy(() -> XattrCodec.verifyBlockChecksum(sb.csumSeed(), pblk, badCsum)).hasMessageContaining("checksum");
        assertThatThrownBy(() -> PosixAcl.decodeDisk(java.util.Arrays.copyOf(diskAcl, diskAcl.length - 2), "inode 5"))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("inode 5");
    }

    static String uuid(byte[] b) {
        String x = java.util.HexFormat.of().formatHex(b);
        return x.substring(0, 8) + "-" + x.substring(8, 12) + "-" + x.substring(12, 16) + "-" + x.substring(16, 20) + "-"
                + x.substring(20);
    }
}
