package org.iomap4j.testkit.vfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;

/**
 * What {@link MemoryVfs} documents beyond the shared {@code VfsContract}: its limits (ENOSPC for pages and inodes,
 * EFBIG, EMLINK), handle modes (EBADF), mknod types, and the mount lifecycle (EIO after close, remount only
 * after close).
 */
class MemoryVfsLimitsTest {

    private interface Call {
        void run() throws Exception;
    }

    private static Errno errno(Call c) {
        try {
            c.run();
        } catch (FsException e) {
            return e.errno();
        } catch (Exception e) {
            throw new AssertionError("expected an FsException, got " + e, e);
        }
        throw new AssertionError("expected an error");
    }

    @Test
    void spaceAndInodesRunOutWithEnospcAndNothingHalfDone() throws Exception {
        try (MemoryVfs fs = new MemoryVfs(16 * 4096, 3)) {
            Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR, 0, 0);
            assertThat(fs.write(c.handle(), 0, ByteBuffer.allocate(12 * 4096))).isEqualTo(12 * 4096);
            assertThat(errno(() -> fs.write(c.handle(), 12 * 4096, ByteBuffer.allocate(5 * 4096))))
                    .isEqualTo(Errno.ENOSPC);
            assertThat(fs.getattr(c.attr().ino()).sizeBytes()).as("the refused write changed nothing")
                    .isEqualTo(12 * 4096);
            assertThat(fs.statfs().freeBlocks()).isEqualTo(4);
            fs.mkdir(fs.rootIno(), "d", 0755, 0, 0);
            assertThat(errno(() -> fs.mkdir(fs.rootIno(), "e", 0755, 0, 0))).as("3 inodes").isEqualTo(Errno.ENOSPC);
            assertThat(errno(() -> fs.write(c.handle(), MemoryVfs.MAX_FILE_BYTES - 1, ByteBuffer.allocate(2))))
                    .isEqualTo(Errno.EFBIG);
            assertThat(errno(() -> fs.setattr(c.attr().ino(), SetAttr.size(MemoryVfs.MAX_FILE_BYTES + 1))))
                    .isEqualTo(Errno.EFBIG);
            fs.release(c.handle());
        }
    }

    @Test
    void handlesRefuseTheDirectionTheyWereNotOpenedFor() throws Exception {
        try (MemoryVfs fs = new MemoryVfs()) {
            Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR, 0, 0);
            fs.release(c.handle());
            FileHandle ro = fs.open(c.attr().ino(), Vfs.O_RDONLY);
            FileHandle wo = fs.open(c.attr().ino(), Vfs.O_WRONLY);
            assertThat(errno(() -> fs.write(ro, 0, ByteBuffer.allocate(1)))).isEqualTo(Errno.EBADF);
            assertThat(errno(() -> fs.fallocate(ro, 0, 0, 10))).isEqualTo(Errno.EBADF);
            assertThat(errno(() -> fs.read(wo, 0, ByteBuffer.allocate(1)))).isEqualTo(Errno.EBADF);
            fs.release(ro);
            assertThat(errno(() -> fs.read(ro, 0, ByteBuffer.allocate(1)))).as("released").isEqualTo(Errno.EBADF);
            fs.release(wo);
        }
    }

    @Test
    void linkCountStopsAtLinkMax() throws Exception {
        try (MemoryVfs fs = new MemoryVfs(1 << 20, 10)) {
            long ino = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR, 0, 0).attr().ino();
            for (int i = 1; i < MemoryVfs.LINK_MAX; i++) {
                fs.link(ino, fs.rootIno(), "l" + i);
            }
            assertThat(fs.getattr(ino).nlink()).isEqualTo(MemoryVfs.LINK_MAX);
            assertThat(errno(() -> fs.link(ino, fs.rootIno(), "one-more"))).isEqualTo(Errno.EMLINK);
        }
    }

    @Test
    void mknodMakesTheTypeItIsGivenButNoDirectories() throws Exception {
        try (MemoryVfs fs = new MemoryVfs()) {
            assertThat(fs.mknod(fs.rootIno(), "fifo", FileMode.S_IFIFO | 0600, 0, 0, 0).mode())
                    .isEqualTo(FileMode.S_IFIFO | 0600);
            assertThat(fs.mknod(fs.rootIno(), "chr", FileMode.S_IFCHR | 0600, 0x0501, 0, 0).rdev()).isEqualTo(0x0501);
            assertThat(errno(() -> fs.open(fs.lookup(fs.rootIno(), "fifo").ino(), Vfs.O_RDONLY)))
                    .isEqualTo(Errno.ENXIO);
            assertThat(errno(() -> fs.mknod(fs.rootIno(), "d", FileMode.S_IFDIR | 0755, 0, 0, 0)))
                    .isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void aClosedMountRefusesCallsAndRemountsOnlyAfterClose() throws Exception {
        MemoryVfs fs = new MemoryVfs();
        long d = fs.mkdir(fs.rootIno(), "d", 0755, 0, 0).ino();
        assertThat(errno(fs::remount)).isEqualTo(Errno.EINVAL);
        fs.close();
        assertThat(errno(() -> fs.getattr(d))).isEqualTo(Errno.EIO);
        try (MemoryVfs again = fs.remount()) {
            assertThat(again.lookup(again.rootIno(), "d").ino()).isEqualTo(d);
        }
    }
}
