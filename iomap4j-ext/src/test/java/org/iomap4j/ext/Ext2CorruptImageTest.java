package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input: each damaged image fails with a clear, typed error (EUCLEAN naming the inode or block, or EINVAL
 * naming an unsupported feature), never a hang, a raw runtime exception or an allocation sized from disk.
 */
class Ext2CorruptImageTest {
    private static final Duration NO_HANG = Duration.ofSeconds(60);
    @TempDir
    Path tmp;

    private Path fresh(String name) throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve(name), 16L << 20, "-b", "1024");
        Files.write(tmp.resolve("twenty"), new byte[20 * 1024]);
        Ext2Tools.debugfsScript(img, List.of("mkdir a", "mkdir a/b", "write " + tmp.resolve("twenty") + " f",
                "write /dev/null g"), tmp);
        return img;
    }

    private static void patch(Path img, long offset, byte... bytes) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(offset);
            f.write(bytes);
        }
    }

    private static FsException fails(Executable e) {
        Throwable[] out = new Throwable[1];
        assertTimeoutPreemptively(NO_HANG, () -> {
            try {
                e.execute();
            } catch (Throwable t) {
                out[0] = t;
            }
        });
        assertThat(out[0]).as("an error").isNotNull();
        assertThat(out[0]).as("typed error, not " + out[0]).isInstanceOf(FsException.class);
        return (FsException) out[0];
    }

    private static void expectCorrupt(Executable e, String... fragments) {
        FsException ex = fails(e);
        assertThat(ex).isInstanceOf(CorruptFilesystemException.class);
        assertThat(ex.errno()).isEqualTo(Errno.EUCLEAN);
        for (String f : fragments) {
            assertThat(ex.getMessage()).contains(f);
        }
    }

    private static ExtFileSystem mount(Path img) throws Exception {
        return ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true));
    }

    @Test
    void truncatedImage() throws Exception {
        Path img = fresh("t.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(8L << 20);
        }
        expectCorrupt(() -> mount(img).close(), "truncated");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(1500);
        }
        expectCorrupt(() -> mount(img).close(), "too small");
    }

    @Test
    void badMagic() throws Exception {
        Path img = fresh("m.img");
        patch(img, 1024 + 56, (byte) 0x34, (byte) 0x12);
        expectCorrupt(() -> mount(img).close(), "magic 0x1234");
    }

    @Test
    void unsupportedIncompatFeatureRefusesTheMountNamingIt() throws Exception {
        Path img = fresh("i.img");
        patch(img, 1024 + 96, (byte) 0x02, (byte) 0, (byte) 0x01, (byte) 0); // filetype | encrypt (extent is served)
        FsException e = fails(() -> mount(img).close());
        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
        assertThat(e.getMessage()).contains("encrypt");
        patch(img, 1024 + 96, (byte) 0x06, (byte) 0, (byte) 0, (byte) 0); // filetype | needs_recovery
        assertThat(fails(() -> mount(img).close()).getMessage()).contains("recovery");
    }

    @Test
    void unsupportedRoCompatFeatureMountsReadOnlySayingWhy() throws Exception {
        Path img = fresh("r.img");
        patch(img, 1024 + 100, (byte) 0x0b, (byte) 0, (byte) 0, (byte) 0); // sparse_super|large_file|huge_file
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.isReadOnly()).isTrue();
            assertThat(fs.readOnlyReason()).contains("huge_file");
            assertThat(fails(() -> fs.mkdir(fs.rootIno(), "x", 0755, 0, 0)).errno()).isEqualTo(Errno.EROFS);
            assertThat(fs.lookupPath("/a/b").isDirectory()).isTrue();
        }
    }

    private long rootDirBlock(Path img) {
        return Ext2Tools.debugfsDataRuns(img, "/").getFirst().pblk();
    }

    @Test
    void directoryEntryWithRecLenZero() throws Exception {
        Path img = fresh("z.img");
        patch(img, rootDirBlock(img) * 1024 + 12 + 4, (byte) 0, (byte) 0); // ".." rec_len = 0
        try (ExtFileSystem fs = mount(img)) {
            expectCorrupt(() -> fs.readdir(fs.rootIno(), 0, e -> true), "directory inode 2", "rec_len 0");
            expectCorrupt(() -> fs.lookup(fs.rootIno(), "a"), "directory inode 2");
        }
    }

    @Test
    void directoryEntryCrossingTheBlockEnd() throws Exception {
        Path img = fresh("x.img");
        patch(img, rootDirBlock(img) * 1024 + 12 + 4, (byte) 0x00, (byte) 0x08); // ".." rec_len = 2048
        try (ExtFileSystem fs = mount(img)) {
            expectCorrupt(() -> fs.readdir(fs.rootIno(), 0, e -> true), "directory inode 2", "crosses the end");
        }
    }

    @Test
    void indirectPointerBeyondTheDevice() throws Exception {
        Path img = fresh("p.img");
        Ext2Tools.debugfsWrite(img, "sif /f block[IND] 99999999");
        try (ExtFileSystem fs = mount(img)) {
            long ino = fs.lookupPath("/f").ino();
            FileHandle fh = fs.open(ino, Vfs.O_RDONLY);
            try {
                assertThat(fs.read(fh, 0, ByteBuffer.allocate(1024))).isEqualTo(1024); // direct blocks fine
                expectCorrupt(() -> fs.read(fh, 12 * 1024, ByteBuffer.allocate(1024)), "inode " + ino, "99999999");
            } finally {
                fs.release(fh);
            }
            expectCorrupt(() -> fs.mapExtents(ino), "inode " + ino, "99999999");
        }
    }

    @Test
    void inodeTableOutsideTheDevice() throws Exception {
        Path img = fresh("g.img");
        Ext2Tools.debugfsWrite(img, "set_bg 0 inode_table 99999999");
        expectCorrupt(() -> mount(img).close(), "group descriptor 0", "inode table");
    }

    @Test
    void loopInTheDirectoryTree() throws Exception {
        Path img = fresh("l.img");
        Ext2Tools.debugfsWrite(img, "ln / a/b/up");
        try (ExtFileSystem fs = mount(img)) {
            assertThat(fs.lookupPath("/a/b/up/a/b/up/a").isDirectory()).isTrue(); // finite walks still work
            expectCorrupt(() -> fs.walkTree("/", (p, a) -> { }), "directory inode 2", "loop");
        }
    }

    @Test
    void iSizeOfTwoToTheSixtyThree() throws Exception {
        Path img = fresh("s.img");
        Ext2Tools.debugfsWrite(img, "sif /g size 0x8000000000000000");
        try (ExtFileSystem fs = mount(img)) {
            expectCorrupt(() -> fs.lookupPath("/g"), "i_size 9223372036854775808");
            assertThat(fs.lookupPath("/f").sizeBytes()).isEqualTo(20 * 1024);
        }
    }
}
