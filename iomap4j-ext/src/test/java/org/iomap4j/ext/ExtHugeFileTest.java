package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ro_compat huge_file: i_blocks as 48 bits (i_blocks_lo with l_i_blocks_high) and, with EXT4_HUGE_FILE_FL, in
 * fs-block units (fs/ext4/inode.c ext4_inode_blocks / ext4_inode_blocks_set). Oracles: the encodings checked
 * byte by byte, e2fsck -fn and debugfs on debugfs-made inodes carrying HUGE_FILE_FL, the kernel's st_blocks.
 */
class ExtHugeFileTest {
    @TempDir
    Path tmp;

    private static ByteBuffer raw(DiskInode d) {
        byte[] b = new byte[256];
        d.encodeInto(b, 0);
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Each range of the encoder, read back, and the raw words it writes. */
    @Test
    void encodings() {
        DiskInode d = DiskInode.blank(256);
        d.setFlags(DiskInode.FL_EXTENTS);
        d.useBlocksEncoding(true, 4096);
        d.setBlocks512(80);
        assertThat(raw(d).getInt(28)).isEqualTo(80);
        assertThat(raw(d).getShort(0x74)).isZero();
        long big = (1L << 32) + 8;
        d.setBlocks512(big);
        assertThat(d.blocks512()).isEqualTo(big);
        assertThat(raw(d).getInt(28)).isEqualTo(8);
        assertThat(raw(d).getShort(0x74)).isEqualTo((short) 1);
        assertThat(d.flags() & DiskInode.FL_HUGE_FILE).isZero();
        long huge = (1L << 50) + 8 * 3;
        d.setBlocks512(huge);
        assertThat(d.flags() & DiskInode.FL_HUGE_FILE).as("past 48 bits: fs-block units").isNotZero();
        assertThat(d.flags() & DiskInode.FL_EXTENTS).isNotZero();
        assertThat(d.blocks512()).isEqualTo(huge);
        long units = huge / 8;
        assertThat(Integer.toUnsignedLong(raw(d).getInt(28)) | (long) (raw(d).getShort(0x74) & 0xffff) << 32).isEqualTo(units);
        d.setBlocks512(16);
        assertThat(d.flags() & DiskInode.FL_HUGE_FILE).as("back under 2^32: sectors, flag cleared").isZero();
        assertThat(raw(d).getShort(0x74)).isZero();
        assertThat(d.blocks512()).isEqualTo(16);

        DiskInode n = DiskInode.blank(256);
        n.useBlocksEncoding(false, 4096);
        assertThatThrownBy(() -> n.setBlocks512(1L << 32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("huge_file");
        n.setBlocks512(0xffff_ffffL);
        assertThat(n.blocks512()).isEqualTo(0xffff_ffffL);
        // without the feature l_i_blocks_high and the flag are not read (ext4_inode_blocks)
        n.setFlags(DiskInode.FL_HUGE_FILE);
        byte[] b = new byte[256];
        n.encodeInto(b, 0);
        b[0x74] = 5;
        DiskInode back = DiskInode.decode(b, 0, 256);
        back.useBlocksEncoding(false, 4096);
        assertThat(back.blocks512()).isEqualTo(0xffff_ffffL);
        back.useBlocksEncoding(true, 4096);
        assertThat(back.blocks512()).isEqualTo(((5L << 32) | 0xffff_ffffL) * 8);
    }

    private static long statBlocks(Path img, String name) {
        String out = Ext2Tools.debugfs(img, "stat " + name).ok().stdout();
        var m = java.util.regex.Pattern.compile("Blockcount: (\\d+)").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static long flags(Path img, String name) {
        String out = Ext2Tools.debugfs(img, "stat " + name).ok().stdout();
        var m = java.util.regex.Pattern.compile("Flags: 0x([0-9a-f]+)").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        return Long.parseLong(m.group(1), 16);
    }

    /**
     * debugfs gives a 10-block file HUGE_FILE_FL with i_blocks = 10 (fs blocks): e2fsck accepts it, we report
     * st_blocks in sectors, and our append and truncate rewrite i_blocks in sectors with the flag cleared (as
     * ext4_inode_blocks_set); e2fsck stays clean and the kernel's st_blocks equals ours.
     */
    @ParameterizedTest
    @ValueSource(ints = {4096, 1024})
    void hugeFileFlagIsReadAndRewritten(int bs) throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("h.img"), 64L << 20, "-O", "^has_journal", "-b", String.valueOf(bs));
        int per = bs / 512;
        byte[] data = new byte[10 * bs];
        new Random(5).nextBytes(data);
        Files.write(tmp.resolve("src"), data);
        Ext2Tools.debugfsWrite(img, "write " + tmp.resolve("src") + " f");
        long flags = flags(img, "/f");
        assertThat(statBlocks(img, "/f")).isEqualTo(10L * per);
        Ext2Tools.debugfsScript(img, java.util.List.of("sif /f flags 0x" + Long.toHexString(flags | DiskInode.FL_HUGE_FILE),
                "sif /f blocks 10"), tmp);
        Ext2Tools.assertFsckClean(img); // e2fsck reads 10 as fs blocks
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long ino = fs.lookupPath("/f").ino();
            assertThat(fs.getattr(ino).blocks512()).isEqualTo(10L * per);
            var h = fs.open(ino, Vfs.O_RDWR);
            fs.write(h, data.length, ByteBuffer.wrap(new byte[5 * bs]));
            fs.fsync(h, false);
            fs.release(h);
            assertThat(fs.getattr(ino).blocks512()).isEqualTo(15L * per);
        }
        assertThat(flags(img, "/f") & DiskInode.FL_HUGE_FILE).as("rewritten in sectors").isZero();
        assertThat(statBlocks(img, "/f")).isEqualTo(15L * per);
        Ext2Tools.assertFsckClean(img);

        // flag again, then a shrinking truncate through us
        Ext2Tools.debugfsScript(img, java.util.List.of("sif /f flags 0x" + Long.toHexString(flags(img, "/f") | DiskInode.FL_HUGE_FILE),
                "sif /f blocks 15"), tmp);
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long ino = fs.lookupPath("/f").ino();
            fs.setattr(ino, SetAttr.size(3L * bs));
            assertThat(fs.getattr(ino).blocks512()).isEqualTo(3L * per);
        }
        assertThat(statBlocks(img, "/f")).isEqualTo(3L * per);
        Ext2Tools.assertFsckClean(img);

        String why = Ext2Tools.loopMountUnavailableReason();
        if (why == null) {
            try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, true, "ext4")) {
                String st = Ext2Tools.run("stat", "-c", "%b", m.root().resolve("f").toString()).ok().stdout().trim();
                assertThat(Long.parseLong(st)).isEqualTo(3L * per);
            }
        }
    }

    /** l_i_blocks_high making i_blocks larger than the filesystem: a clear error naming the inode (e2fsck agrees). */
    @Test
    void impossibleBlocksHighIsNamed() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("b.img"), 32L << 20, "-O", "^has_journal");
        Files.write(tmp.resolve("src"), new byte[8192]);
        Ext2Tools.debugfsWrite(img, "write " + tmp.resolve("src") + " f");
        long ino = Long.parseLong(Ext2Tools.debugfs(img, "ls -l /").ok().stdout().lines()
                .filter(l -> l.trim().endsWith(" f")).findFirst().orElseThrow().trim().split("\\s+")[0]);
        Ext2Tools.debugfsWrite(img, "sif /f blocks_hi 1");
        assertThat(Ext2Tools.e2fsck(img).exitCode()).isNotZero();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThatThrownBy(() -> fs.getattr(fs.lookupPath("/f").ino()))
                    .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("inode " + ino)
                    .hasMessageContaining("i_blocks");
        }
    }
}
