package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Map;
import java.util.TreeMap;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.CrashPointBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * fsync of a new inode makes its NAME durable, not only its data (ext4_sync_parent; issue 13: twenty fsync'd
 * files all ended in lost+found). N files are created (in the root and in a new, never-fsync'd subdirectory),
 * written and fsync'd one by one; the device is power-cut right after the last fsync (every unflushed write
 * dropped, and again keeping a random part of them). {@code e2fsck -fy} must move nothing to lost+found, every
 * name must be there (debugfs ls) with its fsync'd bytes (debugfs dump), and a second {@code e2fsck -fn} is clean.
 * A second test crashes at every flush boundary (and random writes) of the same workload through the testkit's
 * {@link CrashPointBlockDevice}: every name whose fsync had returned is there, with its size, and nothing is in
 * lost+found.
 */
class FsyncNamesCrashTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(longs = {0x13L, 0x2026L})
    void fsyncedNewFiles_surviveACrashWithTheirNames(long seed) throws Exception {
        Random rnd = new Random(seed);
        System.out.println("FsyncNamesCrashTest seed " + seed);
        Path image = Ext2Tools.mke2fs(tmp.resolve("base.img"), 8L << 20, "-b", "1024", "-N", "256");
        byte[] base = Files.readAllBytes(image);
        MemoryBlockDevice mem = new MemoryBlockDevice(base.length, 512);
        mem.write(0, ByteBuffer.wrap(base));
        FaultInjectingBlockDevice dev = new FaultInjectingBlockDevice(mem);
        List<String> paths = new ArrayList<>();
        List<byte[]> contents = new ArrayList<>();
        MemoryBlockDevice[] crashed = new MemoryBlockDevice[2];
        try (ExtFileSystem fs = ExtFileSystem.mount(dev, new ExtMountOptions(false, 4L << 20, 64 << 10, 1L << 20))) {
            fs.sync(); // the mount's own superblock write is not what is tested
            long sub = fs.mkdir(fs.rootIno(), "sub", 0755, 0, 0).ino();
            long subsub = fs.mkdir(sub, "deeper", 0755, 0, 0).ino();
            int n = 20;
            for (int k = 0; k < n; k++) {
                long dir = k % 3 == 0 ? fs.rootIno() : k % 3 == 1 ? sub : subsub;
                String prefix = k % 3 == 0 ? "/" : k % 3 == 1 ? "/sub/" : "/sub/deeper/";
                String name = "file" + k;
                byte[] data = new byte[1 + rnd.nextInt(6000)];
                rnd.nextBytes(data);
                Vfs.Created c = fs.create(dir, name, 0644, Vfs.O_RDWR | Vfs.O_EXCL, 0, 0);
                ByteBuffer src = ByteBuffer.wrap(data);
                while (src.hasRemaining()) {
                    fs.write(c.handle(), src.position(), src);
                }
                fs.fsync(c.handle(), k % 2 == 0);
                fs.release(c.handle());
                fs.forget(c.attr().ino(), 1);
                paths.add(prefix + name);
                contents.add(data);
            }
            crashed[0] = dev.powerCut(new Random(seed), 0.0);
            crashed[1] = dev.powerCut(new Random(seed + 1), 0.5);
        }
        for (int v = 0; v < crashed.length; v++) {
            byte[] bytes = new byte[(int) crashed[v].sizeBytes()];
            crashed[v].read(0, ByteBuffer.wrap(bytes));
            Path img = tmp.resolve("crashed" + v + ".img");
            Files.write(img, bytes);
            Ext2Tools.Result fix = Ext2Tools.run("e2fsck", "-fy", img.toString());
            assertThat(fix.exitCode()).as("e2fsck -fy:\n%s", fix.stdout()).isLessThanOrEqualTo(1);
            assertThat(Ext2Tools.debugfsList(img, "/lost+found")).as("lost+found after e2fsck -fy:\n%s", fix.stdout())
                    .allMatch(e -> e.name().equals(".") || e.name().equals(".."));
            for (int k = 0; k < paths.size(); k++) {
                byte[] got = Ext2Tools.debugfsDump(img, paths.get(k), tmp);
                assertThat(got).as("crash %d: %s after e2fsck -fy:\n%s", v, paths.get(k), fix.stdout())
                        .isEqualTo(contents.get(k));
            }
            Ext2Tools.assertFsckClean(img);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {0x77L})
    void everyCrashPoint_namesOfFsyncedFilesSurvive(long seed) throws Exception {
        Random rnd = new Random(seed);
        System.out.println("FsyncNamesCrashTest crash points seed " + seed);
        Path image = Ext2Tools.mke2fs(tmp.resolve("base.img"), 4L << 20, "-b", "1024", "-N", "128");
        byte[] base = Files.readAllBytes(image);
        MemoryBlockDevice mem = new MemoryBlockDevice(base.length, 512);
        mem.write(0, ByteBuffer.wrap(base));
        FaultInjectingBlockDevice fid = new FaultInjectingBlockDevice(mem);
        // dir path -> (name -> size) of the files whose fsync returned
        Map<String, Map<String, Long>> promised = new java.util.concurrent.ConcurrentSkipListMap<>(); // read by checks on writeback threads
        CrashPointBlockDevice dev = new CrashPointBlockDevice(fid, new Random(seed ^ 0x9e3779b9L), 0.1, (bytes, ctx) -> {
            Path img = tmp.resolve("point.img");
            Files.write(img, bytes);
            Ext2Tools.Result fix = Ext2Tools.run("e2fsck", "-fy", img.toString());
            if (fix.exitCode() > 3) {
                return ctx + ": e2fsck -fy exited " + fix.exitCode() + "\n" + fix.stdout();
            }
            for (Map.Entry<String, Map<String, Long>> d : promised.entrySet()) {
                Map<String, Long> actual = new TreeMap<>();
                for (Ext2Tools.ListEntry e : Ext2Tools.debugfsList(img, d.getKey())) {
                    actual.put(e.name(), e.sizeBytes());
                }
                for (Map.Entry<String, Long> want : d.getValue().entrySet()) {
                    if (!want.getValue().equals(actual.get(want.getKey()))) {
                        return ctx + ": fsync'd " + d.getKey() + "/" + want.getKey() + " (" + want.getValue()
                                + " bytes) is " + actual.get(want.getKey()) + " after e2fsck -fy:\n" + fix.stdout();
                    }
                }
            }
            return null;
        });
        try (ExtFileSystem fs = ExtFileSystem.mount(dev, new ExtMountOptions(false, 4L << 20, 64 << 10, 1L << 20))) {
            dev.setArmed(true);
            long sub = fs.mkdir(fs.rootIno(), "sub", 0755, 0, 0).ino();
            for (int k = 0; k < 12; k++) {
                long dir = k % 2 == 0 ? fs.rootIno() : sub;
                String dirPath = k % 2 == 0 ? "/" : "/sub";
                String name = "file" + k;
                byte[] data = new byte[1 + rnd.nextInt(3000)];
                rnd.nextBytes(data);
                dev.setLastOp("create+write+fsync " + dirPath + "/" + name);
                Vfs.Created c = fs.create(dir, name, 0644, Vfs.O_RDWR | Vfs.O_EXCL, 0, 0);
                ByteBuffer src = ByteBuffer.wrap(data);
                while (src.hasRemaining()) {
                    fs.write(c.handle(), src.position(), src);
                }
                fs.fsync(c.handle(), false);
                promised.computeIfAbsent(dirPath, x -> new java.util.concurrent.ConcurrentSkipListMap<>()).put(name, (long) data.length);
                fs.release(c.handle());
                fs.forget(c.attr().ino(), 1);
            }
            dev.setArmed(false);
        }
        System.out.println("FsyncNamesCrashTest: " + dev.pointsTested() + " crash points, " + dev.pointsPassed() + " passed");
        assertThat(dev.failures()).isEmpty();
        assertThat(dev.pointsTested()).isGreaterThan(20);
    }
}
