package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Superblock state across mounts and the POSIX errors Linux's ext2 returns, checked against dumpe2fs/e2fsck. */
class Ext2SemanticsTest {
    @TempDir
    Path tmp;

    private static String field(Path img, String name) {
        return Ext2Tools.run("dumpe2fs", "-h", img.toString()).ok().stdout().lines()
                .filter(l -> l.startsWith(name + ":")).findFirst().orElseThrow().substring(name.length() + 1).trim();
    }

    private static Errno errno(Executable e) {
        try {
            e.execute();
        } catch (FsException ex) {
            return ex.errno();
        } catch (Throwable t) {
            throw new AssertionError("expected an FsException, got " + t, t);
        }
        throw new AssertionError("expected an error");
    }

    @Test
    void mountMarksNotCleanAndCountsUnmountRestoresCleanWithFreeCounts() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("s.img"), 32L << 20, "-b", "4096");
        assertThat(field(img, "Mount count")).isEqualTo("0");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(field(img, "Filesystem state")).isEqualTo("not clean");
            assertThat(field(img, "Mount count")).isEqualTo("1");
            Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR, 0, 0);
            fs.write(c.handle(), 0, ByteBuffer.wrap(new byte[100_000]));
            fs.release(c.handle());
        }
        assertThat(field(img, "Filesystem state")).isEqualTo("clean");
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            assertThat(fs.superblock().mountCount()).isEqualTo(1);
            assertThat(fs.superblock().freeBlocksCount()).isEqualTo(Long.parseLong(field(img, "Free blocks")));
            assertThat(fs.statfs().freeFiles()).isEqualTo(Long.parseLong(field(img, "Free inodes")));
        }
        assertThat(field(img, "Mount count")).as("read-only mount writes nothing").isEqualTo("1");
    }

    @Test
    void errnosAsLinux() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("e.img"), 32L << 20, "-b", "1024");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long root = fs.rootIno();
            long d = fs.mkdir(root, "d", 0755, 0, 0).ino();
            long e = fs.mkdir(d, "e", 0755, 0, 0).ino();
            long f = fs.mknod(root, "f", 0100644, 0, 0, 0).ino();
            fs.mknod(e, "inner", 0100644, 0, 0, 0);
            assertThat(errno(() -> fs.mknod(root, "n".repeat(256), 0100644, 0, 0, 0))).isEqualTo(Errno.ENAMETOOLONG);
            assertThat(fs.mknod(root, "n".repeat(255), 0100644, 0, 0, 0).ino()).isPositive();
            assertThat(errno(() -> fs.mkdir(root, "d", 0755, 0, 0))).isEqualTo(Errno.EEXIST);
            assertThat(errno(() -> fs.rmdir(root, "d"))).isEqualTo(Errno.ENOTEMPTY);
            assertThat(errno(() -> fs.rmdir(root, "f"))).isEqualTo(Errno.ENOTDIR);
            assertThat(errno(() -> fs.unlink(root, "d"))).isEqualTo(Errno.EISDIR);
            assertThat(errno(() -> fs.rename(root, "d", e, "moved", 0))).isEqualTo(Errno.EINVAL);
            assertThat(errno(() -> fs.rename(root, "f", d, "e", 0))).isEqualTo(Errno.EISDIR);
            assertThat(errno(() -> fs.rename(d, "e", root, "f", 0))).isEqualTo(Errno.ENOTDIR);
            fs.mknod(root, "g", 0100644, 0, 0, 0);
            assertThat(errno(() -> fs.rename(root, "f", root, "g", Vfs.RENAME_NOREPLACE))).isEqualTo(Errno.EEXIST);
            assertThat(errno(() -> fs.rename(root, "f", root, "h", Vfs.RENAME_EXCHANGE))).isEqualTo(Errno.EINVAL);
            assertThat(errno(() -> fs.link(d, root, "dl"))).isEqualTo(Errno.EPERM);
            assertThat(errno(() -> fs.setattr(d, org.iomap4j.vfs.SetAttr.size(0)))).isEqualTo(Errno.EISDIR);
            assertThat(errno(() -> fs.setattr(f, org.iomap4j.vfs.SetAttr.size(fs.maxFileSizeBytes() + 1))))
                    .isEqualTo(Errno.EFBIG);
            var fh = fs.open(f, Vfs.O_RDWR);
            assertThat(errno(() -> fs.write(fh, fs.maxFileSizeBytes(), ByteBuffer.wrap(new byte[1]))))
                    .isEqualTo(Errno.EFBIG);
            fs.release(fh);
            // rename a directory across parents: ".." and link counts follow.
            long e2 = fs.mkdir(root, "e2", 0755, 0, 0).ino();
            fs.rename(d, "e", e2, "e", 0);
            assertThat(fs.getattr(d).nlink()).isEqualTo(2);
            assertThat(fs.getattr(e2).nlink()).isEqualTo(3);
            assertThat(fs.lookup(e, "..").ino()).isEqualTo(e2);
            // rename over an empty directory
            fs.mkdir(root, "empty", 0755, 0, 0);
            fs.rename(root, "d", root, "empty", 0);
            assertThat(fs.getattr(root).nlink()).isEqualTo(2 + 1 /*lost+found*/ + 2 /*empty, e2*/);
            // EMLINK at 32000 links.
            long t = fs.mknod(root, "many", 0100644, 0, 0, 0).ino();
            ExtInode ti = fs.iget(t);
            ti.lock.lock();
            try {
                ti.disk.setLinksCount(ExtFileSystem.LINK_MAX);
            } finally {
                ti.lock.unlock();
            }
            assertThat(errno(() -> fs.link(t, root, "one-more"))).isEqualTo(Errno.EMLINK);
            ti.lock.lock();
            try {
                ti.disk.setLinksCount(1);
            } finally {
                ti.lock.unlock();
            }
        }
        Ext2Tools.assertFsckClean(img);
    }
}
