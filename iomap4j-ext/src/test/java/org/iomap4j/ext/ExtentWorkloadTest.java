package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.iomap4j.ext.disk.ExtentLeaf;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded random workloads on extent files — buffered and O_DIRECT writes at random offsets, truncate both ways,
 * PUNCH_HOLE, ZERO_RANGE, fallocate mode 0 and KEEP_SIZE (unwritten extents), fsync, remount — against a model
 * of the file contents. Oracles after the run: the model (read back through iomap4j), {@code e2fsck -fn},
 * {@code debugfs ex} equal to iomap4j's tree, {@code debugfs dump} equal to the model, FIEMAP's unwritten
 * extents equal to the tree's. A failure names the seed.
 */
class ExtentWorkloadTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void tools() {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
    }

    @ParameterizedTest(name = "seed {0}, {1}-byte blocks")
    @CsvSource({"1, 1024", "2, 4096", "3, 1024", "4, 2048"})
    void randomWorkloadMatchesModelFsckAndDebugfs(long seed, int bs) throws IOException {
        System.out.println("ExtentWorkloadTest seed " + seed + " block size " + bs);
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("w.img"), 96L << 20, bs);
        Random r = new Random(seed);
        int nFiles = 3;
        int maxSize = 3 << 20;
        byte[][] model = new byte[nFiles][];
        long[] ino = new long[nFiles];
        ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults());
        try {
            FileHandle[] h = new FileHandle[nFiles];
            FileHandle[] dio = new FileHandle[nFiles];
            for (int f = 0; f < nFiles; f++) {
                Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "f" + f, 0100644, Vfs.O_RDWR, 0, 0);
                ino[f] = c.attr().ino();
                h[f] = c.handle();
                dio[f] = fs.open(ino[f], Vfs.O_RDWR | Vfs.O_DIRECT);
                model[f] = new byte[0];
            }
            for (int step = 0; step < 400; step++) {
                int f = r.nextInt(nFiles);
                String what = "";
                try {
                    int op = r.nextInt(100);
                    long off = r.nextInt(maxSize);
                    int len = 1 + r.nextInt(op < 10 ? 400_000 : 40_000);
                    if (op < 35) {
                        what = "write " + off + "+" + len;
                        byte[] d = new byte[len];
                        r.nextBytes(d);
                        ExtentTreeTest.writeFully(fs, h[f], off, d);
                        model[f] = apply(model[f], off, d);
                    } else if (op < 45) {
                        long aoff = off / bs * bs;
                        int alen = Math.max(1, len / bs) * bs;
                        what = "direct write " + aoff + "+" + alen;
                        ByteBuffer d = ByteBuffer.allocateDirect(alen);
                        byte[] src = new byte[alen];
                        r.nextBytes(src);
                        d.put(src).flip();
                        while (d.hasRemaining()) {
                            fs.write(dio[f], aoff + d.position(), d);
                        }
                        model[f] = apply(model[f], aoff, src);
                    } else if (op < 53) {
                        long ns = r.nextInt(maxSize);
                        what = "truncate " + ns;
                        fs.setattr(ino[f], SetAttr.size(ns));
                        model[f] = Arrays.copyOf(model[f], (int) ns);
                    } else if (op < 63) {
                        what = "punch " + off + "+" + len;
                        fs.fallocate(h[f], Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, off, len);
                        zero(model[f], off, len);
                    } else if (op < 71) {
                        boolean keep = r.nextBoolean();
                        what = "zero range " + off + "+" + len + (keep ? " keep" : "");
                        fs.fallocate(h[f], Vfs.FALLOC_FL_ZERO_RANGE | (keep ? Vfs.FALLOC_FL_KEEP_SIZE : 0), off, len);
                        if (!keep && off + len > model[f].length) {
                            model[f] = Arrays.copyOf(model[f], (int) (off + len));
                        }
                        zero(model[f], off, len);
                    } else if (op < 85) {
                        boolean keep = r.nextBoolean();
                        what = "fallocate " + off + "+" + len + (keep ? " keep" : "");
                        fs.fallocate(h[f], keep ? Vfs.FALLOC_FL_KEEP_SIZE : 0, off, len);
                        if (!keep && off + len > model[f].length) {
                            model[f] = Arrays.copyOf(model[f], (int) (off + len));
                        }
                    } else if (op < 95) {
                        what = "fsync";
                        fs.fsync(h[f], false);
                    } else {
                        what = "remount";
                        for (int g = 0; g < nFiles; g++) {
                            fs.release(h[g]);
                            fs.release(dio[g]);
                        }
                        fs.close();
                        fs = ExtFileSystem.mount(img, ExtMountOptions.defaults());
                        for (int g = 0; g < nFiles; g++) {
                            h[g] = fs.open(ino[g], Vfs.O_RDWR);
                            dio[g] = fs.open(ino[g], Vfs.O_RDWR | Vfs.O_DIRECT);
                        }
                    }
                    if (step % 25 == 0) {
                        assertThat(ExtentTreeTest.readAll(fs, h[f], model[f].length + 10)).as("file %d", f)
                                .isEqualTo(model[f]);
                    }
                } catch (IOException | RuntimeException | AssertionError e) {
                    throw new AssertionError("seed " + seed + " step " + step + " file " + f + " " + what, e);
                }
            }
            for (int f = 0; f < nFiles; f++) {
                assertThat(ExtentTreeTest.readAll(fs, h[f], model[f].length + 10)).as("seed %d file %d", seed, f)
                        .isEqualTo(model[f]);
                fs.release(h[f]);
                fs.release(dio[f]);
            }
        } finally {
            fs.close();
        }
        Ext2Tools.Result fsck = Ext2Tools.e2fsck(img);
        assertThat(fsck.exitCode()).as("seed %d e2fsck:\n%s", seed, fsck.stdout()).isZero();
        int unwrittenSeen = 0;
        int extentsSeen = 0;
        try (ExtFileSystem fs2 = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            for (int f = 0; f < nFiles; f++) {
                List<ExtentLeaf> ours = ExtentTreeTest.treeOf(fs2, ino[f]);
                unwrittenSeen += (int) ours.stream().filter(ExtentLeaf::unwritten).count();
                extentsSeen += ours.size();
                System.out.println("seed " + seed + " file " + f + ": " + ours.size() + " extents, depth "
                        + ExtentTreeTest.depthOf(fs2, ino[f]));
                assertThat(ours).as("seed %d file %d: debugfs ex", seed, f)
                        .isEqualTo(Ext4TestImages.debugfsLeaves(img, "/f" + f));
                byte[] dumped = Ext2Tools.debugfsDump(img, "/f" + f, tmp);
                assertThat(Arrays.equals(dumped, model[f])).as("seed %d file %d: debugfs dump", seed, f).isTrue();
                long sizeRounded = roundUp(model[f].length, bs);
                long fiemapUnwritten = fs2.fiemap(ino[f], 0, Long.MAX_VALUE, 0).stream()
                        .filter(e -> (e.flags() & FiemapExtent.UNWRITTEN) != 0).mapToLong(FiemapExtent::lengthBytes)
                        .sum();
                long inSizeUnwritten = ours.stream().filter(ExtentLeaf::unwritten)
                        .mapToLong(e -> Math.max(0, Math.min(e.endLblk() * bs, sizeRounded)
                                - e.lblk() * bs)).sum();
                assertThat(fiemapUnwritten).as("seed %d file %d: FIEMAP unwritten bytes within i_size", seed, f)
                        .isEqualTo(inSizeUnwritten);
            }
        }
        // The workload must have exercised what it claims to: unwritten extents and trees beyond the root.
        assertThat(unwrittenSeen).as("unwritten extents left by the workload").isPositive();
        assertThat(extentsSeen).as("extents left by the workload").isGreaterThan(4);
    }

    private static long roundUp(long v, int bs) {
        return (v + bs - 1) / bs * bs;
    }

    private static byte[] apply(byte[] m, long off, byte[] d) {
        byte[] out = off + d.length > m.length ? Arrays.copyOf(m, (int) (off + d.length)) : m;
        System.arraycopy(d, 0, out, (int) off, d.length);
        return out;
    }

    private static void zero(byte[] m, long off, long len) {
        if (off < m.length) {
            Arrays.fill(m, (int) off, (int) Math.min(m.length, off + len), (byte) 0);
        }
    }
}
