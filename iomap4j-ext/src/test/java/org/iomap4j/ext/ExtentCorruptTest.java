package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged extent tree blocks (fs/ext4/extents.c __ext4_ext_check): each corruption of a leaf block of a depth-1
 * tree is refused with a {@link CorruptFilesystemException} naming the inode and the block and what is wrong —
 * never a raw exception, a hang or a wrong read — and e2fsck agrees that the image is damaged.
 */
class ExtentCorruptTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void tools() {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "bad magic, 0, 2, 0x1234, bad magic, true",
        "depth not as the parent says, 6, 2, 1, where the parent expects 0, false",
        "eh_max beyond the block, 4, 2, 400, eh_max, true",
        "entries beyond eh_max, 2, 2, 900, eh_entries, true",
        "extents out of order, 24, 4, 0, overlaps or is out of order, true",
        "physical block outside, 32, 4, 0x7fffffff, outside the filesystem, true",
        "zero length, 28, 2, 0, length 0, true",
    })
    void corruptLeafBlockIsRefusedNamingInodeAndBlock(String what, int offset, int width, String value,
            String message, boolean fsckSees) throws IOException {
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("c.img"), 16L << 20, 1024);
        long ino;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "f", 0100644, Vfs.O_RDWR, 0, 0);
            ino = c.attr().ino();
            for (int k = 0; k < 8; k++) { // 8 separate extents: the root overflows into a leaf block
                ExtentTreeTest.writeFully(fs, c.handle(), 2L * k * 1024, new byte[] {1, 2, 3});
            }
            fs.fsync(c.handle(), false);
            fs.release(c.handle());
            assertThat(ExtentTreeTest.depthOf(fs, ino)).isEqualTo(1);
        }
        Ext2Tools.assertFsckClean(img);
        List<Ext4TestImages.ExLine> ex = Ext4TestImages.debugfsEx(img, "/f");
        String idx = Ext2Tools.debugfs(img, "ex /f").ok().stdout().lines().filter(l -> l.matches("^\\s*0/\\s*1.*"))
                .findFirst().orElseThrow();
        java.util.regex.Matcher im = java.util.regex.Pattern.compile("-\\s*\\d+\\s+(\\d+)").matcher(idx);
        assertThat(im.find()).as(idx).isTrue();
        long leaf = Long.parseLong(im.group(1));
        assertThat(ex).hasSize(8);
        long v = Long.decode(value);
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(width).order(ByteOrder.LITTLE_ENDIAN);
            if (width == 2) {
                b.putShort(0, (short) v);
            } else {
                b.putInt(0, (int) v);
            }
            ch.write(b, leaf * 1024 + offset);
        }
        if (fsckSees) { // e2fsck 1.47 follows the path's level, not a leaf's eh_depth
            assertThat(Ext2Tools.e2fsck(img).exitCode()).as("e2fsck sees the damage").isNotZero();
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            FileHandle h = fs.open(ino, Vfs.O_RDONLY);
            assertThatThrownBy(() -> ExtentTreeTest.readAll(fs, h, 64 << 10))
                    .isInstanceOf(CorruptFilesystemException.class)
                    .hasMessageContaining("inode " + ino).hasMessageContaining("extent block " + leaf)
                    .hasMessageContaining(message);
            fs.release(h);
        }
        assertThat(Files.size(img)).isEqualTo(16L << 20);
    }
}
