package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Caller;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Filling the filesystem: write and create fail with ENOSPC, nothing written before is lost, e2fsck is clean. */
class Ext2EnospcTest {
    @TempDir
    Path tmp;

    @Test
    void fillingBlocksThenInodesFailsWithEnospcAndKeepsEverythingWritten() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("full.img"), 4L << 20, "-b", "1024", "-N", "64");
        Map<String, ByteArrayOutputStream> written = new LinkedHashMap<>();
        Random rnd = new Random(99);
        boolean blocksFull = false;
        boolean inodesFull = false;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            for (int f = 0; f < 1000 && !(blocksFull && inodesFull); f++) {
                String name = "f" + f;
                Vfs.Created c;
                try {
                    c = fs.create(fs.rootIno(), name, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
                } catch (FsException e) {
                    assertThat(e.errno()).as(e.toString()).isEqualTo(Errno.ENOSPC);
                    inodesFull = true;
                    continue;
                }
                ByteArrayOutputStream model = new ByteArrayOutputStream();
                written.put(name, model);
                FileHandle fh = c.handle();
                try {
                    for (int k = 0; k < 3; k++) {
                        byte[] chunk = new byte[1 + rnd.nextInt(200_000)];
                        rnd.nextBytes(chunk);
                        ByteBuffer b = ByteBuffer.wrap(chunk);
                        try {
                            while (b.hasRemaining()) {
                                int n = fs.write(fh, model.size(), b);
                                model.write(chunk, b.position() - n, n);
                            }
                        } catch (FsException e) {
                            assertThat(e.errno()).as(e.toString()).isEqualTo(Errno.ENOSPC);
                            blocksFull = true;
                            break;
                        }
                    }
                } finally {
                    fs.release(fh);
                    fs.forget(c.attr().ino(), 1);
                }
            }
            assertThat(blocksFull).as("some write hit ENOSPC").isTrue();
            assertThat(inodesFull).as("some create hit ENOSPC").isTrue();
            assertThat(fs.statfs().freeBlocks()).isLessThan(20);
            // Everything written so far reads back before the unmount, too.
            for (var e : written.entrySet()) {
                long ino = fs.lookupPath("/" + e.getKey()).ino();
                assertThat(TreeModel.readAll(fs, ino, e.getValue().size())).isEqualTo(e.getValue().toByteArray());
            }
        }
        Ext2Tools.assertFsckClean(img);
        for (var e : written.entrySet()) {
            assertThat(Ext2Tools.debugfsDump(img, "/" + e.getKey(), tmp)).as(e.getKey())
                    .isEqualTo(e.getValue().toByteArray());
        }
        // Freeing space makes room again.
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long before = fs.statfs().freeBlocks();
            fs.unlink(fs.rootIno(), written.keySet().iterator().next());
            assertThat(fs.statfs().freeBlocks()).isGreaterThan(before);
            Vfs.Created c = fs.create(fs.rootIno(), "again", 0644, Vfs.O_RDWR, 0, 0);
            assertThat(fs.write(c.handle(), 0, ByteBuffer.wrap(new byte[4096]))).isEqualTo(4096);
            fs.release(c.handle());
        }
        Ext2Tools.assertFsckClean(img);
    }

    /** Writes 64 KiB chunks to a new file {@code name} until ENOSPC; returns the ENOSPC and the bytes written. */
    private static FsException fillAs(ExtFileSystem fs, Caller caller, String name, long[] writtenBytes)
            throws Exception {
        return ScopedValue.where(Caller.CURRENT, caller).call(() -> {
            Vfs.Created c = fs.create(fs.rootIno(), name, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL,
                    caller.uid(), caller.gid());
            byte[] chunk = new byte[64 << 10];
            Arrays.fill(chunk, (byte) 'r');
            try {
                while (true) {
                    ByteBuffer b = ByteBuffer.wrap(chunk);
                    while (b.hasRemaining()) {
                        writtenBytes[0] += fs.write(c.handle(), writtenBytes[0], b);
                    }
                }
            } catch (FsException e) {
                return e;
            } finally {
                fs.release(c.handle());
                fs.forget(c.attr().ino(), 1);
            }
        });
    }

    /**
     * The root reserve (s_r_blocks_count, mke2fs -m): a FUSE caller other than root, resuid or resgid gets ENOSPC
     * when only reserved blocks are left (fs/ext2/balloc.c ext2_has_free_blocks); root then still writes; with
     * {@code tune2fs -u} naming the user, the same user may use the reserve. Nothing written is lost.
     */
    @Test
    void theRootReserveIsRefusedToOtherUsers_butNotToRootOrResuid() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("reserve.img"), 8L << 20, "-b", "1024", "-m", "10");
        Caller user = new Caller(1000, 1000);
        long[] userBytes = {0};
        long[] rootBytes = {0};
        long reserved;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            reserved = fs.statfs().freeBlocks() - fs.statfs().availBlocks();
            assertThat(reserved).as("mke2fs -m 10 of 8 MiB").isBetween(800L, 820L);
            FsException e = fillAs(fs, user, "user", userBytes);
            assertThat(e.errno()).isEqualTo(Errno.ENOSPC);
            assertThat(e.getMessage()).contains("reserved for root");
            long free = fs.statfs().freeBlocks();
            assertThat(free).as("the user stopped at the reserve").isBetween(reserved, reserved + 8);
            assertThat(fs.statfs().availBlocks()).isLessThanOrEqualTo(8);
            FsException rootFull = fillAs(fs, Caller.ROOT, "root", rootBytes);
            assertThat(rootFull.errno()).isEqualTo(Errno.ENOSPC);
            assertThat(rootBytes[0]).as("root wrote into the reserve").isGreaterThan((reserved - 64) * 1024);
            assertThat(fs.statfs().freeBlocks()).isLessThan(16);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDump(img, "/user", tmp).length).isEqualTo((int) userBytes[0]);
        assertThat(Ext2Tools.debugfsDump(img, "/root", tmp).length).isEqualTo((int) rootBytes[0]);

        // resuid: after freeing root's file, the user named by tune2fs -u may use the reserve too.
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            fs.unlink(fs.rootIno(), "root");
        }
        Ext2Tools.run("tune2fs", "-u", "1000", img.toString()).ok();
        long[] againBytes = {0};
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fillAs(fs, user, "resuid", againBytes).getMessage()).doesNotContain("reserved for root");
            assertThat(againBytes[0]).isGreaterThan((reserved - 64) * 1024);
        }
        Ext2Tools.assertFsckClean(img);
    }
}
