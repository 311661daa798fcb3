package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** First end-to-end round trip: mkfs, mount, namespace ops and file I/O, unmount, then the oracles. */
class Ext2SmokeTest {
    @TempDir
    Path tmp;

    @Test
    void createWriteReadUnmountIsFsckCleanAndDebugfsAgrees() throws Exception {
        Path img = Ext2Tools.sparseImage(tmp.resolve("s.img"), 64 << 20);
        try (FileBlockDevice dev = FileBlockDevice.open(img, false)) {
            ExtFormat.format(dev, ExtFormatOptions.defaults().withBlockSize(1024));
        }
        byte[] data = new byte[300_000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31 + 7);
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long d = fs.mkdir(fs.rootIno(), "dir", 0755, 0, 0).ino();
            Vfs.Created c = fs.create(d, "file", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 1000, 1000);
            FileHandle fh = c.handle();
            assertThat(fs.write(fh, 0, ByteBuffer.wrap(data))).isEqualTo(data.length);
            ByteBuffer back = ByteBuffer.allocate(data.length);
            assertThat(fs.read(fh, 0, back)).isEqualTo(data.length);
            assertThat(back.array()).isEqualTo(data);
            fs.release(fh);
            fs.symlink(d, "short", "file", 0, 0);
            fs.symlink(d, "long", "x".repeat(100), 0, 0);
            assertThat(fs.readlink(fs.lookup(d, "long").ino())).isEqualTo("x".repeat(100));
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDump(img, "/dir/file", tmp)).isEqualTo(data);
        String ls = Ext2Tools.debugfs(img, "ls -l /dir").ok().stdout();
        assertThat(ls).contains("file").contains("short").contains("long");
        assertThat(Ext2Tools.debugfs(img, "stat /dir/short").ok().stdout()).contains("Fast link dest: \"file\"");
        assertThat(new String(Ext2Tools.debugfsDump(img, "/dir/long", tmp), StandardCharsets.UTF_8))
                .isEqualTo("x".repeat(100));
    }
}
