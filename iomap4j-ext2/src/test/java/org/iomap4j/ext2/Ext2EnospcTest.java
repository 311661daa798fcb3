package org.iomap4j.ext2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
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
        try (Ext2FileSystem fs = Ext2FileSystem.mount(img, Ext2MountOptions.defaults())) {
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
        try (Ext2FileSystem fs = Ext2FileSystem.mount(img, Ext2MountOptions.defaults())) {
            long before = fs.statfs().freeBlocks();
            fs.unlink(fs.rootIno(), written.keySet().iterator().next());
            assertThat(fs.statfs().freeBlocks()).isGreaterThan(before);
            Vfs.Created c = fs.create(fs.rootIno(), "again", 0644, Vfs.O_RDWR, 0, 0);
            assertThat(fs.write(c.handle(), 0, ByteBuffer.wrap(new byte[4096]))).isEqualTo(4096);
            fs.release(c.handle());
        }
        Ext2Tools.assertFsckClean(img);
    }
}
