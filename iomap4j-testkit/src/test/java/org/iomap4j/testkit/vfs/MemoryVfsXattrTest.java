package org.iomap4j.testkit.vfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsXattr;
import org.junit.jupiter.api.Test;

/** MemoryVfs's {@link VfsXattr}: the errnos of fs/xattr.c, values kept across a remount, gone with the inode. */
class MemoryVfsXattrTest {

    private static Errno errno(ThrowingRunnable r) {
        try {
            r.run();
        } catch (FsException e) {
            return e.errno();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("no error");
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws IOException;
    }

    @Test
    void setGetListRemoveWithLinuxErrnosAndRemount() throws IOException {
        MemoryVfs vfs = new MemoryVfs(16L << 20, 100);
        VfsXattr x = vfs.capability(VfsXattr.class).orElseThrow();
        Vfs.Created c = vfs.create(vfs.rootIno(), "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        long ino = c.attr().ino();
        vfs.release(c.handle());
        x.setxattr(ino, "user.a", new byte[] {1, 2}, 0);
        x.setxattr(ino, "trusted.t", new byte[0], VfsXattr.XATTR_CREATE);
        assertThat(x.getxattr(ino, "user.a")).containsExactly(1, 2);
        assertThat(x.listxattr(ino)).containsExactlyInAnyOrder("user.a", "trusted.t");
        assertThat(errno(() -> x.setxattr(ino, "user.a", new byte[1], VfsXattr.XATTR_CREATE))).isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> x.setxattr(ino, "user.b", new byte[1], VfsXattr.XATTR_REPLACE)))
                .isEqualTo(Errno.ENODATA);
        assertThat(errno(() -> x.getxattr(ino, "user.missing"))).isEqualTo(Errno.ENODATA);
        assertThat(errno(() -> x.getxattr(ino, "system.posix_acl_access"))).isEqualTo(Errno.EOPNOTSUPP);
        assertThat(errno(() -> x.setxattr(ino, "noprefix", new byte[1], 0))).isEqualTo(Errno.EOPNOTSUPP);
        assertThat(errno(() -> x.setxattr(ino, "user." + "n".repeat(251), new byte[1], 0))).isEqualTo(Errno.ERANGE);
        assertThat(errno(() -> x.setxattr(ino, "user.big", new byte[65537], 0))).isEqualTo(Errno.ENOSPC);
        x.setxattr(ino, "user.a", new byte[] {9}, VfsXattr.XATTR_REPLACE);
        x.removexattr(ino, "trusted.t");
        assertThat(errno(() -> x.removexattr(ino, "trusted.t"))).isEqualTo(Errno.ENODATA);
        vfs.close();
        MemoryVfs again = vfs.remount();
        assertThat(again.listxattr(ino)).containsExactly("user.a");
        assertThat(again.getxattr(ino, "user.a")).containsExactly(9);
        again.unlink(again.rootIno(), "f");
        assertThat(errno(() -> again.getxattr(ino, "user.a"))).isEqualTo(Errno.ENOENT);
        again.close();
    }
}
