package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * relatime, as the kernel's ext2 does by default: a read or readdir updates atime only when atime is not later
 * than mtime/ctime or is a day old, never on a read-only mount; checked through getattr and, after unmount, with
 * debugfs's raw inode times and e2fsck.
 */
class Ext2AtimeTest {
    @TempDir
    Path tmp;

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    /** debugfs "stat" prints {@code atime: 0x<hex>:...}; with 128-byte inodes just {@code atime: 0x<hex> --}. */
    private static long debugfsAtime(Path img, String path) {
        String out = Ext2Tools.debugfs(img, "stat " + path).ok().stdout();
        Matcher m = Pattern.compile("atime: 0x([0-9a-f]+)").matcher(out);
        assertThat(m.find()).as("debugfs stat output has an atime:\n%s", out).isTrue();
        return Long.parseLong(m.group(1), 16);
    }

    @Test
    void readUpdatesAtimeUnderRelatimeOnlyAndReadOnlyOrNoatimeMountsNever() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("a.img"), 16L << 20, "-b", "4096");
        long day = 86_400;
        long start = now();
        long fileIno;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR, 0, 0);
            fileIno = c.attr().ino();
            FileHandle h = c.handle();
            fs.write(h, 0, ByteBuffer.wrap(new byte[8192]));

            // atime two days old (setattr also sets ctime = now): the read must set it to now.
            fs.setattr(fileIno, SetAttr.times(start - 2 * day, start - 3 * day));
            fs.read(h, 0, ByteBuffer.allocate(4096));
            long afterRead = fs.getattr(fileIno).atimeSec();
            assertThat(afterRead).as("atime after a read of a file with an old atime").isBetween(start, now());

            // atime later than mtime and ctime and less than a day old: a read leaves it alone.
            long future = now() + 3600;
            fs.setattr(fileIno, SetAttr.times(future, start - 3 * day));
            fs.read(h, 0, ByteBuffer.allocate(4096));
            assertThat(fs.getattr(fileIno).atimeSec()).as("relatime: no update").isEqualTo(future);

            // A directory listing is a read of the directory.
            fs.setattr(fs.rootIno(), SetAttr.times(start - 2 * day, start - 3 * day));
            fs.readdir(fs.rootIno(), 0, e -> true);
            assertThat(fs.getattr(fs.rootIno()).atimeSec()).as("root atime after readdir").isBetween(start, now());

            // Make the next read due again, then unmount: the on-disk atime must be the pre-read value on ro.
            fs.setattr(fileIno, SetAttr.times(start - 2 * day, start - 3 * day));
            fs.release(h);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(debugfsAtime(img, "/f")).isEqualTo(start - 2 * day);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            FileHandle h = fs.open(fileIno, Vfs.O_RDONLY);
            fs.read(h, 0, ByteBuffer.allocate(4096));
            assertThat(fs.getattr(fileIno).atimeSec()).as("read-only mount").isEqualTo(start - 2 * day);
            fs.release(h);
        }
        // noatime: a read-write mount that never updates atime.
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withNoatime(true))) {
            FileHandle h = fs.open(fileIno, Vfs.O_RDONLY);
            fs.read(h, 0, ByteBuffer.allocate(4096));
            fs.readdir(fs.rootIno(), 0, e -> true);
            assertThat(fs.getattr(fileIno).atimeSec()).as("noatime mount").isEqualTo(start - 2 * day);
            fs.release(h);
        }
        assertThat(debugfsAtime(img, "/f")).isEqualTo(start - 2 * day);
        // And a read-write read reaches the disk.
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            FileHandle h = fs.open(fileIno, Vfs.O_RDONLY);
            fs.read(h, 0, ByteBuffer.allocate(4096));
            fs.release(h);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(debugfsAtime(img, "/f")).as("atime written back").isBetween(start, now());
    }
}
