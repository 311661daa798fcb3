package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.CrashPointBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Unwritten extents never expose stale blocks across a crash. The device is first filled with a file of 0xEE
 * bytes, which is deleted (its blocks are free but still hold 0xEE). Then buffered and direct writes of 0x11,
 * fallocate (mode 0 and KEEP_SIZE) and fsyncs run on new extent files while the testkit's
 * {@link CrashPointBlockDevice} power-cuts the device before and after every flush and at random writes. Each
 * crashed image, repaired by {@code e2fsck -fy}, must hold files whose every byte (as debugfs dumps them) is 0x11
 * or zero: a 0xEE byte would be the deleted file's data exposed through an extent converted before its data
 * reached the disk.
 */
class ExtentCrashTest {
    @TempDir
    Path tmp;

    private static final byte STALE = (byte) 0xEE;
    private static final byte DATA = 0x11;

    String check(byte[] bytes, List<Long> inos, String ctx) throws IOException {
        Path img = tmp.resolve("crashed.img");
        Files.write(img, bytes);
        Ext2Tools.Result fix = Ext2Tools.run("e2fsck", "-fy", img.toString());
        if (fix.exitCode() > 3) {
            return ctx + ": e2fsck -fy exited " + fix.exitCode() + ":\n" + fix.stdout();
        }
        for (long ino : List.copyOf(inos)) {
            Path out = tmp.resolve("dump.bin");
            Files.deleteIfExists(out);
            Ext2Tools.run("debugfs", "-R", "dump <" + ino + "> " + out, img.toString());
            if (!Files.exists(out)) {
                continue; // not yet (or no longer) an inode after repair
            }
            byte[] d = Files.readAllBytes(out);
            for (int i = 0; i < d.length; i++) {
                if (d[i] != 0 && d[i] != DATA) {
                    return ctx + ": inode " + ino + " byte " + i + " is 0x" + Integer.toHexString(d[i] & 0xff)
                            + " (stale data exposed)";
                }
            }
        }
        return null;
    }

    @ParameterizedTest
    @ValueSource(longs = {0x6a09e667L, 0xbb67ae85L})
    void crashNeverExposesStaleBlocksThroughUnwrittenExtents(long seed) throws Exception {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
        System.out.println("ExtentCrashTest seed " + seed);
        Path image = Ext4TestImages.mkfsExt4(tmp.resolve("base.img"), 4L << 20, 1024, "-N", "64");
        // Fill the free space with a file of STALE bytes, then delete it: its blocks keep the bytes.
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults())) {
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "old", 0100644, Vfs.O_RDWR, 0, 0);
            byte[] stale = new byte[64 << 10];
            java.util.Arrays.fill(stale, STALE);
            long pos = 0;
            try {
                while (pos < (3L << 20)) {
                    ExtentTreeTest.writeFully(fs, c.handle(), pos, stale);
                    pos += stale.length;
                }
            } catch (org.iomap4j.FsException e) {
                // ENOSPC: full enough
            }
            fs.fsync(c.handle(), false);
            fs.release(c.handle());
            fs.unlink(ExtFileSystem.ROOT_INO, "old");
        }
        byte[] base = Files.readAllBytes(image);
        MemoryBlockDevice mem = new MemoryBlockDevice(base.length, 512);
        mem.write(0, ByteBuffer.wrap(base));
        FaultInjectingBlockDevice fid = new FaultInjectingBlockDevice(mem);
        List<Long> inos = new ArrayList<>();
        CrashPointBlockDevice dev = new CrashPointBlockDevice(fid, new Random(seed ^ 0x5bd1e995L), 0.2,
                (bytes, ctx) -> check(bytes, inos, ctx));
        Random r = new Random(seed);
        try (ExtFileSystem fs = ExtFileSystem.mount(dev, new ExtMountOptions(false, 1L << 20, 64 << 10, 256L << 10))) {
            dev.setArmed(true);
            List<FileHandle> hs = new ArrayList<>();
            List<FileHandle> dio = new ArrayList<>();
            for (int f = 0; f < 3; f++) {
                Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "n" + f, 0100644, Vfs.O_RDWR, 0, 0);
                inos.add(c.attr().ino());
                hs.add(c.handle());
                dio.add(fs.open(c.attr().ino(), Vfs.O_RDWR | Vfs.O_DIRECT));
            }
            for (int step = 0; step < 60; step++) {
                int f = r.nextInt(3);
                long off = r.nextInt(600 << 10);
                int len = 1 + r.nextInt(60 << 10);
                int op = r.nextInt(10);
                String what;
                if (op < 4) {
                    byte[] d = new byte[len];
                    java.util.Arrays.fill(d, DATA);
                    ExtentTreeTest.writeFully(fs, hs.get(f), off, d);
                    what = "write " + off + "+" + len;
                } else if (op < 6) {
                    long a = off / 1024 * 1024;
                    ByteBuffer d = ByteBuffer.allocateDirect(Math.max(1, len / 1024) * 1024);
                    while (d.hasRemaining()) {
                        d.put(DATA);
                    }
                    d.flip();
                    while (d.hasRemaining()) {
                        fs.write(dio.get(f), a + d.position(), d);
                    }
                    what = "direct write " + a;
                } else if (op < 8) {
                    boolean keep = r.nextBoolean();
                    fs.fallocate(hs.get(f), keep ? Vfs.FALLOC_FL_KEEP_SIZE : 0, off, len);
                    what = "fallocate " + off + "+" + len;
                } else {
                    fs.fsync(hs.get(f), false);
                    what = "fsync";
                }
                dev.setLastOp("step " + step + " file " + f + " " + what);
            }
            dev.setArmed(false);
            for (int f = 0; f < 3; f++) {
                fs.release(hs.get(f));
                fs.release(dio.get(f));
            }
        }
        System.out.println("extent crash seed " + seed + ": " + dev.pointsTested() + " crash points, "
                + dev.pointsPassed() + " passed");
        assertThat(dev.failures()).as("seed %d", seed).isEmpty();
        assertThat(dev.pointsTested()).isGreaterThan(20);
    }
}
