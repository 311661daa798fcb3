package org.iomap4j.ext.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Superblock, feature table, group descriptors and bitmap checksums against e2fsprogs: mkfs.ext4 makes the images,
 * dumpe2fs is the oracle for every field, name and checksum compared.
 */
class SuperblockGroupOracleTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"", "-b 1024", "-b 4096", "-I 128", "-O ^metadata_csum", "-O ^64bit", "-O ^metadata_csum,^64bit",
        "-O inline_data", "-O large_dir", "-O metadata_csum_seed", "-O ^flex_bg", "-b 2048 -O has_journal,orphan_file", "-O ^metadata_csum,uninit_bg", "-O ^metadata_csum,^64bit,uninit_bg -I 128"})
    void fieldsChecksumsAndGroupsMatchDumpe2fs(String opts) throws Exception {
        Path img = dir.resolve("a.img");
        String[] o = ("-O ^has_journal " + opts).trim().split("\\s+");
        Ext4Images.mkfs(img, 96L << 20, o);
        if (opts.contains("metadata_csum_seed")) {
            Ext2Tools.run("tune2fs", "-U", "random", img.toString()).ok(); // the uuid changes, the seed stays
        }
        DiskSuperblock sb = Ext4Images.superblock(img);
        Map<String, String> h = Ext4Images.dumpe2fsHeader(img);

        assertThat(String.join(" ", Features.allNames(sb))).isEqualTo(h.get("Filesystem features"));
        assertThat(sb.blocksCount()).isEqualTo(Long.parseLong(h.get("Block count")));
        assertThat(sb.freeBlocksCount()).isEqualTo(Long.parseLong(h.get("Free blocks")));
        assertThat(sb.reservedBlocksCount()).isEqualTo(Long.parseLong(h.get("Reserved block count")));
        assertThat(sb.inodesCount()).isEqualTo(Long.parseLong(h.get("Inode count")));
        assertThat(sb.blockSizeBytes()).isEqualTo(Integer.parseInt(h.get("Block size")));
        if (sb.is64bit()) {
            assertThat(sb.descSizeBytes()).isEqualTo(Integer.parseInt(h.get("Group descriptor size")));
        } else {
            assertThat(sb.descSizeBytes()).isEqualTo(32);
        }
        if (h.containsKey("Flex block group size")) {
            assertThat(1 << sb.logGroupsPerFlex()).isEqualTo(Integer.parseInt(h.get("Flex block group size")));
        }
        if (sb.inodeSize() > 128) {
            assertThat(sb.minExtraIsize()).isEqualTo(Integer.parseInt(h.get("Required extra isize")));
            assertThat(sb.wantExtraIsize()).isEqualTo(Integer.parseInt(h.get("Desired extra isize")));
        }
        assertThat(uuid(sb.hashSeed())).isEqualTo(h.get("Directory Hash Seed"));
        assertThat(new String[] {"legacy", "half_md4", "tea"}[sb.defHashVersion()]).isEqualTo(h.get("Default directory hash"));
        assertThat(h.get("Filesystem flags")).contains(sb.unsignedDirHash() ? "unsigned_directory_hash" : "signed_directory_hash");
        if (sb.hasMetadataCsum()) {
            assertThat(String.format("0x%08x", sb.checksum())).isEqualTo(h.get("Checksum"));
            assertThat(sb.computeChecksum()).isEqualTo(sb.checksum());
            if (h.containsKey("Checksum seed")) {
                assertThat(String.format("0x%08x", sb.csumSeed())).isEqualTo(h.get("Checksum seed"));
            }
        }
        if (sb.orphanFileInum() != 0) {
            assertThat(h.get("Orphan file inode")).isEqualTo(Long.toString(sb.orphanFileInum()));
        }
        sb.validateExt4();
        assertThat(FeatureSupport.classify(sb).access()).isEqualTo(FeatureSupport.Access.READ_WRITE); // journals too

        // Re-encoding: every setter given the decoded value reproduces the bytes; checksum recomputed equal.
        DiskSuperblock copy = sb.copy();
        copy.setBlocksCount(sb.blocksCount());
        copy.setFreeBlocksCount(sb.freeBlocksCount());
        copy.setReservedBlocksCount(sb.reservedBlocksCount());
        copy.setWtimeSeconds(sb.wtimeSeconds());
        copy.setMtimeSeconds(sb.mtimeSeconds());
        if (sb.hasMetadataCsum()) {
            copy.updateChecksum();
        }
        assertThat(copy.encode()).isEqualTo(sb.encode());

        checkGroups(img, sb);
    }

    private void checkGroups(Path img, DiskSuperblock sb) throws Exception {
        String dump = Ext4Images.dumpe2fs(img);
        String[] groups = dump.split("\nGroup (?=\\d+: )");
        long n = Ext4Images.groupCount(sb);
        assertThat(groups.length - 1L).isEqualTo(n);
        Pattern head = Pattern.compile("^(\\d+): \\(Blocks (\\d+)-(\\d+)\\)(?: csum 0x([0-9a-f]+))?(?: \\[([A-Z_, ]*)\\])?");
        for (int g = 0; g < n; g++) {
            String text = groups[g + 1];
            GroupDescriptor gd = Ext4Images.descriptor(img, sb, g);
            Matcher m = head.matcher(text);
            assertThat(m.find()).as("group %d header: %s", g, text.lines().findFirst().orElse("")).isTrue();
            if (sb.hasMetadataCsum() || sb.hasGdtCsum()) {
                assertThat(String.format("%04x", gd.checksum())).as("group %d csum", g).isEqualTo(m.group(4));
                assertThat(gd.computeChecksum(sb, g)).as("group %d computed csum", g).isEqualTo(gd.checksum());
                gd.verifyChecksum(sb, g);
            }
            List<String> flags = m.group(5) == null ? List.of() : Arrays.asList(m.group(5).split(",\\s*"));
            boolean csum = sb.hasMetadataCsum() || sb.hasGdtCsum();
            assertThat(!csum || (gd.hasFlag(GroupDescriptor.FLAG_INODE_UNINIT) == flags.contains("INODE_UNINIT")
                    && gd.hasFlag(GroupDescriptor.FLAG_BLOCK_UNINIT) == flags.contains("BLOCK_UNINIT")
                    && gd.hasFlag(GroupDescriptor.FLAG_ITABLE_ZEROED) == flags.contains("ITABLE_ZEROED")))
                    .as("group %d flags %s vs dumpe2fs %s", g, gd.flags(), flags).isTrue();
            assertThat(text).contains("Block bitmap at " + gd.blockBitmap() + " ");
            assertThat(text).contains("Inode bitmap at " + gd.inodeBitmap() + " ");
            assertThat(text).contains("Inode table at " + gd.inodeTable() + "-");
            assertThat(text).contains(gd.freeBlocksCount() + " free " + (sb.hasRoCompat(Features.RO_COMPAT_BIGALLOC) ? "clusters" : "blocks")
                    + ", " + gd.freeInodesCount() + " free inodes, " + gd.usedDirsCount() + " directories");
            if (sb.hasRoCompat(Features.RO_COMPAT_GDT_CSUM) || sb.hasMetadataCsum()) {
                assertThat(text).contains(gd.itableUnused() + " unused inodes");
            }
            if (sb.hasMetadataCsum()) {
                Matcher bb = Pattern.compile("Block bitmap at \\d+ \\([^)]*\\), csum 0x([0-9a-f]+)").matcher(text);
                Matcher ib = Pattern.compile("Inode bitmap at \\d+ \\([^)]*\\), csum 0x([0-9a-f]+)").matcher(text);
                assertThat(bb.find() && ib.find()).isTrue();
                assertThat(String.format("%08x", gd.blockBitmapChecksum())).endsWith(bb.group(1).substring(Math.max(0, bb.group(1).length() - 8)));
                assertThat(Integer.toUnsignedString(gd.blockBitmapChecksum(), 16)).isEqualTo(strip(bb.group(1)));
                assertThat(Integer.toUnsignedString(gd.inodeBitmapChecksum(), 16)).isEqualTo(strip(ib.group(1)));
                if (!gd.hasFlag(GroupDescriptor.FLAG_BLOCK_UNINIT)) {
                    byte[] bitmap = Ext4Images.block(img, sb, gd.blockBitmap());
                    int c = GroupDescriptor.bitmapChecksum(sb, bitmap, GroupDescriptor.blockBitmapChecksumBytes(sb));
                    assertThat(gd.blockBitmapChecksumMatches(c)).as("group %d block bitmap csum", g).isTrue();
                }
                if (!gd.hasFlag(GroupDescriptor.FLAG_INODE_UNINIT)) {
                    byte[] bitmap = Ext4Images.block(img, sb, gd.inodeBitmap());
                    int c = GroupDescriptor.bitmapChecksum(sb, bitmap, GroupDescriptor.inodeBitmapChecksumBytes(sb));
                    assertThat(gd.inodeBitmapChecksumMatches(c)).as("group %d inode bitmap csum", g).isTrue();
                }
            }
            // re-encode through the setters
            GroupDescriptor copy = GroupDescriptor.decode(gd.encode(), 0, gd.sizeBytes());
            copy.setBlockBitmap(gd.blockBitmap());
            copy.setInodeTable(gd.inodeTable());
            copy.setFreeBlocksCount(gd.freeBlocksCount());
            copy.setItableUnused(gd.itableUnused());
            copy.updateChecksum(sb, g);
            if (sb.hasMetadataCsum() || sb.hasRoCompat(Features.RO_COMPAT_GDT_CSUM)) {
                assertThat(copy.encode()).isEqualTo(gd.encode());
            }
        }
    }

    private static String strip(String hex) {
        String s = hex.replaceFirst("^0+", "");
        return s.isEmpty() ? "0" : s;
    }

    @Test
    void mutatedDescriptorAndSuperblockGiveClearErrors() throws Exception {
        Path img = Ext4Images.mkfs(dir.resolve("m.img"), 64L << 20, "-O", "^has_journal");
        DiskSuperblock sb = Ext4Images.superblock(img);
        GroupDescriptor gd = Ext4Images.descriptor(img, sb, 1);
        byte[] raw = gd.encode();
        raw[0x0C] ^= 1; // free blocks count
        GroupDescriptor bad = GroupDescriptor.decode(raw, 0, raw.length);
        assertThatThrownBy(() -> bad.verifyChecksum(sb, 1)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("block group 1");
        byte[] s = sb.encode();
        s[0x10] ^= 1;
        DiskSuperblock badSb = DiskSuperblock.decode(s, 0);
        assertThatThrownBy(badSb::validateExt4).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("superblock").hasMessageContaining("checksum");
        byte[] d = sb.encode();
        Le.put16(d, 0xFE, 48);
        assertThatThrownBy(() -> DiskSuperblock.decode(d, 0).validateExt4()).hasMessageContaining("s_desc_size 48");
    }

    @Test
    void verdictsNameTheFeature() throws Exception {
        Path j = Ext4Images.mkfs(dir.resolve("j.img"), 64L << 20, "-O", "has_journal");
        FeatureSupport.Verdict v = FeatureSupport.classify(Ext4Images.superblock(j));
        assertThat(v.access()).as("an internal journal is written through (ExtJournaling)")
                .isEqualTo(FeatureSupport.Access.READ_WRITE);
        assertThat(v.features()).isEmpty();

        Path q = Ext4Images.mkfs(dir.resolve("q.img"), 64L << 20, "-O", "^has_journal,quota");
        v = FeatureSupport.classify(Ext4Images.superblock(q));
        assertThat(v.access()).isEqualTo(FeatureSupport.Access.READ_ONLY);
        assertThat(v.features()).containsExactly("quota");

        for (String f : List.of("encrypt", "casefold", "mmp", "bigalloc", "verity", "meta_bg")) {
            Path r = Ext4Images.mkfs(dir.resolve(f + ".img"), 64L << 20, "-O", "^has_journal,^resize_inode," + f);
            v = FeatureSupport.classify(Ext4Images.superblock(r));
            assertThat(v.access()).as(f).isEqualTo(FeatureSupport.Access.REFUSE);
            assertThat(v.features()).as(f).contains(f);
            assertThat(v.message()).contains(f);
        }

        DiskSuperblock sb = Ext4Images.superblock(j);
        sb.setFeatureIncompat(sb.featureIncompat() | Features.INCOMPAT_RECOVER);
        v = FeatureSupport.classify(sb);
        assertThat(v.features()).as("an internal journal is replayed at mount").doesNotContain("needs_recovery");
        sb.setFeatureCompat(sb.featureCompat() & ~Features.COMPAT_HAS_JOURNAL);
        v = FeatureSupport.classify(sb);
        assertThat(v.access()).isEqualTo(FeatureSupport.Access.REFUSE);
        assertThat(v.message()).contains("needs_recovery").contains("journal");

        DiskSuperblock u = Ext4Images.superblock(q);
        u.setFeatureIncompat(u.featureIncompat() | 0x800);
        assertThat(FeatureSupport.classify(u).features()).containsExactly("FEATURE_I11");
        DiskSuperblock ro = Ext4Images.superblock(img64(dir));
        ro.setFeatureRoCompat(ro.featureRoCompat() | 0x40000);
        assertThat(FeatureSupport.classify(ro).access()).isEqualTo(FeatureSupport.Access.READ_ONLY);
        assertThat(FeatureSupport.classify(ro).features()).containsExactly("FEATURE_R18");
    }

    private static Path img64(Path dir) throws Exception {
        return Ext4Images.mkfs(dir.resolve("plain.img"), 64L << 20, "-O", "^has_journal");
    }

    @Test
    void featureNamesMatchDumpe2fsForEveryCompatAndRoCompatBit() throws Exception {
        Path img = Ext4Images.mkfs(dir.resolve("n.img"), 64L << 20, "-O", "^has_journal");
        Ext2Tools.run("debugfs", "-w", "-R", "ssv feature_compat 0xffffffff", img.toString()).ok();
        Ext2Tools.run("debugfs", "-w", "-R", "ssv feature_ro_compat 0xffffffff", img.toString()).ok();
        DiskSuperblock sb = Ext4Images.superblock(img);
        assertThat(String.join(" ", Features.allNames(sb))).isEqualTo(Ext4Images.dumpe2fsHeader(img).get("Filesystem features"));
    }

    private static String uuid(byte[] b) {
        String x = HexFormat.of().formatHex(b);
        return x.substring(0, 8) + "-" + x.substring(8, 12) + "-" + x.substring(12, 16) + "-" + x.substring(16, 20) + "-"
                + x.substring(20);
    }
}
