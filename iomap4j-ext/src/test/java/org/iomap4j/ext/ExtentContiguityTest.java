package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.iomap4j.ext.disk.ExtentLeaf;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Allocation contiguity: a file written sequentially in 1 MiB writes lands in as few extents as the block groups
 * allow — each extent as long as the format permits (32768 blocks) or as the free run in its group, the next one
 * starting where the previous ended (the per-inode allocation goal). 128 MiB in the suite;
 * {@code -Dextent.seqMiB=1024} for the 1 GiB measurement (prints the extent count).
 */
class ExtentContiguityTest {
    private static final long MIB = Long.getLong("extent.seqMiB", 128);
    @TempDir
    Path tmp;

    /** Runs of physically contiguous blocks (what filefrag counts as fragments). */
    static int physicalRuns(List<ExtentLeaf> tree) {
        int runs = 0;
        long next = -1;
        for (ExtentLeaf e : tree) {
            if (e.pblk() != next) {
                runs++;
            }
            next = e.pblk() + e.lenBlocks();
        }
        return runs;
    }

    @Test
    void sequentialWriteLandsInFewMaximalExtents() throws IOException {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
        long imageBytes = Math.max(512L << 20, 2 * (MIB << 20));
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("seq.img"), imageBytes, 4096);
        List<ExtentLeaf> tree;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            Vfs.Created c = fs.create(ExtFileSystem.ROOT_INO, "seq", 0100644, Vfs.O_RDWR, 0, 0);
            FileHandle h = c.handle();
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20);
            for (int i = 0; i < chunk.capacity(); i += 4096) {
                chunk.put(i, (byte) (i >>> 12 | 1));
            }
            for (long m = 0; m < MIB; m++) {
                chunk.clear();
                while (chunk.hasRemaining()) {
                    fs.write(h, (m << 20) + chunk.position(), chunk);
                }
            }
            fs.fsync(h, false);
            fs.release(h);
            tree = ExtentTreeTest.treeOf(fs, c.attr().ino());
        }
        long blocks = (MIB << 20) / 4096;
        int groups = (int) Math.ceilDiv(blocks, 32768) + 1; // the file may straddle one more group boundary
        System.out.println("sequential " + MIB + " MiB: " + tree.size() + " extents, " + physicalRuns(tree)
                + " physically contiguous runs; tree " + tree);
        assertThat(tree.stream().mapToLong(ExtentLeaf::lenBlocks).sum()).isEqualTo(blocks);
        assertThat(tree).noneMatch(ExtentLeaf::unwritten);
        // Without flex_bg every group starts with its bitmaps and inode table: at most one run per group touched,
        // and one extent per run unless a run is longer than 32768 blocks.
        assertThat(physicalRuns(tree)).isLessThanOrEqualTo(groups);
        assertThat(tree.size()).isLessThanOrEqualTo(groups + (int) Math.ceilDiv(blocks, 32768));
        Ext2Tools.assertFsckClean(img);
    }
}
