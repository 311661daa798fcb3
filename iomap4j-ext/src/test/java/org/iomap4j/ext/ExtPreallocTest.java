package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Per-inode preallocation ({@link ExtPrealloc} in {@link ExtBalloc}): files written in turn in 64 KiB chunks each
 * stay in few extents. Structural bound: the normalized requests of one file grow as its size doubles (16 KiB up
 * to 1 MiB, then 2/4/8 MiB chunks), so a file of S bytes needs at most {@code 3 + log2(S / 64 KiB) + S / 8 MiB}
 * allocations, hence physically contiguous runs (without preallocation the interleaving gives S / 64 KiB). Oracles:
 * our FIEMAP and the kernel's {@code filefrag} count runs, e2fsck -fn (no block leaked, counts right), the kernel
 * reads the same bytes.
 */
class ExtPreallocTest {
    @TempDir
    Path tmp;

    static final int CHUNK = 64 << 10;

    /** Physically contiguous runs of a file as our FIEMAP reports it (adjacent extents merged). */
    static int runs(ExtFileSystem fs, long ino) throws Exception {
        List<FiemapExtent> ex = fs.fiemap(ino, 0, Long.MAX_VALUE, 0);
        int runs = 0;
        long nextLogical = -1;
        long nextPhysical = -1;
        for (FiemapExtent e : ex) {
            if (e.logicalBytes() != nextLogical || e.physicalBytes() != nextPhysical) {
                runs++;
            }
            nextLogical = e.logicalBytes() + e.lengthBytes();
            nextPhysical = e.physicalBytes() + e.lengthBytes();
        }
        return runs;
    }

    static int bound(long sizeBytes) {
        return 3 + (63 - Long.numberOfLeadingZeros(sizeBytes / CHUNK)) + (int) (sizeBytes / (8 << 20));
    }

    @ParameterizedTest(name = "{0} files of {1} MiB, delalloc {2}")
    @CsvSource({"2, 8, false", "4, 6, false", "2, 8, true", "4, 6, true"})
    void interleavedWritersStayContiguous(int files, int mib, boolean delalloc) throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("p.img"), 256L << 20, "-O", "^has_journal");
        long size = (long) mib << 20;
        long seed = 1234 + files * 10L + mib;
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        byte[][] data = new byte[files][(int) size];
        for (byte[] d : data) {
            rnd.nextBytes(d);
        }
        long[] inos = new long[files];
        ExtMountOptions opts = ExtMountOptions.defaults().withDelalloc(delalloc);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, opts)) {
            FileHandle[] h = new FileHandle[files];
            for (int f = 0; f < files; f++) {
                Vfs.Created c = fs.create(fs.rootIno(), "f" + f, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                h[f] = c.handle();
                inos[f] = c.attr().ino();
            }
            for (long off = 0; off < size; off += CHUNK) {
                for (int f = 0; f < files; f++) {
                    fs.write(h[f], off, ByteBuffer.wrap(data[f], (int) off, CHUNK));
                }
                if (!delalloc && off == size / 2) {
                    fs.sync(); // writeback in the middle: windows survive it
                }
            }
            for (int f = 0; f < files; f++) {
                fs.fsync(h[f], false);
            }
            for (int f = 0; f < files; f++) {
                int r = runs(fs, inos[f]);
                System.out.println("f" + f + ": " + r + " runs (bound " + bound(size) + ")");
                assertThat(r).as("runs of f%d", f).isBetween(1, bound(size));
            }
            for (int f = 0; f < files; f++) {
                fs.release(h[f]);
            }
            assertThat(fs.balloc.preallocBlocks()).as("windows discarded at the last writer's close").isZero();
        }
        Ext2Tools.assertFsckClean(img);
        String why = Ext2Tools.loopMountUnavailableReason();
        if (why == null) {
            try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, true, "ext4")) {
                for (int f = 0; f < files; f++) {
                    Path p = m.root().resolve("f" + f);
                    assertThat(Files.readAllBytes(p)).as("f%d", f).isEqualTo(data[f]);
                    String out = Ext2Tools.run("filefrag", p.toString()).ok().stdout();
                    var mm = java.util.regex.Pattern.compile("(\\d+) extents? found").matcher(out);
                    assertThat(mm.find()).as(out).isTrue();
                    assertThat(Integer.parseInt(mm.group(1))).as("filefrag f%d", f).isBetween(1, bound(size));
                }
            }
        }
    }

    /**
     * Windows never hold the last free blocks: on a small image two files are written in turn until ENOSPC; then
     * every block is used (the windows were discarded rather than refusing writes) and e2fsck is clean.
     */
    @Test
    void windowsGiveWayAtEnospc() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("s.img"), 8L << 20, "-O", "^has_journal", "-m", "0");
        long written = 0;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withDelalloc(false))) {
            FileHandle[] h = new FileHandle[2];
            for (int f = 0; f < 2; f++) {
                h[f] = fs.create(fs.rootIno(), "f" + f, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0).handle();
            }
            byte[] chunk = new byte[16 << 10];
            new Random(3).nextBytes(chunk);
            long[] off = new long[2];
            boolean full = false;
            List<Long> freeAtEnd = new ArrayList<>();
            while (!full) {
                for (int f = 0; f < 2 && !full; f++) {
                    try {
                        fs.write(h[f], off[f], ByteBuffer.wrap(chunk));
                        off[f] += chunk.length;
                        written += chunk.length;
                    } catch (org.iomap4j.FsException e) {
                        assertThat(e.errno()).isEqualTo(org.iomap4j.Errno.ENOSPC);
                        full = true;
                    }
                }
            }
            fs.sync();
            freeAtEnd.add(fs.statfs().freeBlocks());
            assertThat(freeAtEnd.getFirst()).as("free blocks left at ENOSPC").isLessThan(4);
            for (FileHandle x : h) {
                fs.release(x);
            }
        }
        assertThat(written).isGreaterThan(4L << 20);
        Ext2Tools.assertFsckClean(img);
    }

    /** The normalization table (ext4_mb_normalize_request) for 4 KiB blocks. */
    @Test
    void normalization() {
        int bits = 12;
        assertThat(ExtPrealloc.normalizedEndLblk(0, 1, 0, bits)).isEqualTo(4); // 16 KiB
        assertThat(ExtPrealloc.normalizedEndLblk(0, 16, 0, bits)).isEqualTo(16); // 64 KiB exactly
        assertThat(ExtPrealloc.normalizedEndLblk(32, 16, 32, bits)).isEqualTo(64); // 192 KiB -> 256 KiB
        assertThat(ExtPrealloc.normalizedEndLblk(200, 16, 200, bits)).isEqualTo(256); // -> 1 MiB
        assertThat(ExtPrealloc.normalizedEndLblk(256, 16, 256, bits)).isEqualTo(512); // 2 MiB chunk
        assertThat(ExtPrealloc.normalizedEndLblk(600, 16, 600, bits)).isEqualTo(1024); // [2 MiB, 4 MiB)
        assertThat(ExtPrealloc.normalizedEndLblk(1024, 16, 1024, bits)).isEqualTo(2048); // 4 MiB chunk
        assertThat(ExtPrealloc.normalizedEndLblk(3000, 16, 3000, bits)).isEqualTo(4096); // 8 MiB chunk
        assertThat(ExtPrealloc.normalizedEndLblk(3000, 4096, 3000, bits)).isEqualTo(7096); // > 8 MiB: as asked
    }
}
