package org.iomap4j.ext;

import org.iomap4j.testkit.block.RecordingBlockDevice;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapFlags;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOpFlags;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.IomapType;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The iomap operations called directly and checked against debugfs: whole contiguous runs that stop at pointer
 * block ends with BOUNDARY, whole holes, allocation on WRITE (NEW, goal-based, indirect blocks in line), the
 * sequence-counter cookie, and BOUNDARY's effect on the order of device requests of a buffered read.
 */
class Ext2MappingTest {
    private static final int BS = 1024;
    @TempDir
    Path tmp;

    private Path imageWithFiles() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("m.img"), 64L << 20, "-b", "1024");
        byte[] dense = new byte[300 * BS];
        new Random(42).nextBytes(dense);
        Files.write(tmp.resolve("dense"), dense);
        try (var f = new java.io.RandomAccessFile(tmp.resolve("sparse").toFile(), "rw")) {
            f.setLength(400L * BS);
            f.seek(2L * BS);
            f.write(new byte[] {1, 2, 3});
            f.seek(300L * BS);
            f.write(new byte[] {4, 5, 6});
        }
        Ext2Tools.debugfsScript(img, List.of("write " + tmp.resolve("dense") + " dense",
                "write " + tmp.resolve("sparse") + " sparse"), tmp);
        return img;
    }

    @Test
    void readMappingsAreWholeRunsMatchingDebugfsAndStopAtIndirectBoundaries() throws Exception {
        Path img = imageWithFiles();
        List<Ext2Tools.BlockRun> runs = Ext2Tools.debugfsDataRuns(img, "/dense");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            ExtInode inode = fs.iget(fs.lookupPath("/dense").ino());
            Iomap m0 = fs.iomapOps.iomapBegin(inode, 0, 300L * BS, 0);
            assertThat(m0.type()).isEqualTo(IomapType.MAPPED);
            assertThat(m0.lengthBytes()).isEqualTo(12L * BS);
            assertThat(m0.hasFlag(IomapFlags.BOUNDARY)).isTrue();
            assertThat(m0.hasFlag(IomapFlags.MERGED)).isTrue();
            assertThat(m0.addrBytes()).isEqualTo(runs.getFirst().pblk() * BS);
            // Walk the whole file: every block's address equals debugfs's, no mapping crosses lblk 12 or 268.
            long pos = 0;
            int mappings = 0;
            while (pos < 300L * BS) {
                Iomap m = fs.iomapOps.iomapBegin(inode, pos, 300L * BS - pos, 0);
                assertThat(m.offsetBytes()).isEqualTo(pos);
                long first = pos / BS;
                long last = m.endBytes() / BS - 1;
                assertThat(first < 12 && last >= 12).as("crosses the direct/IND boundary: " + m).isFalse();
                assertThat(first < 268 && last >= 268).as("crosses the IND/DIND boundary: " + m).isFalse();
                for (long l = first; l <= last && l < 300; l++) {
                    assertThat(m.addrOf(l * BS) / BS).as("lblk " + l).isEqualTo(pblkOf(runs, l));
                }
                assertThat(m.hasFlag(IomapFlags.BOUNDARY)).isEqualTo(last == 11 || last == 267 || last == 12 + 256 + 256 - 1);
                pos = m.endBytes();
                mappings++;
            }
            assertThat(mappings).isLessThanOrEqualTo(runs.size() + 2);

            ExtInode sparse = fs.iget(fs.lookupPath("/sparse").ino());
            Iomap h = fs.iomapOps.iomapBegin(sparse, 3L * BS, 400L * BS, 0);
            assertThat(h.type()).isEqualTo(IomapType.HOLE);
            assertThat(h.offsetBytes()).isEqualTo(3L * BS);
            assertThat(h.lengthBytes()).as("whole hole in the direct blocks").isEqualTo(9L * BS);
            Iomap h2 = fs.iomapOps.iomapBegin(sparse, 12L * BS, 400L * BS, 0);
            assertThat(h2.type()).isEqualTo(IomapType.HOLE);
            assertThat(h2.lengthBytes()).as("missing IND block: its whole subtree").isEqualTo(256L * BS);
            Iomap h3 = fs.iomapOps.iomapBegin(sparse, 268L * BS, 400L * BS, 0);
            assertThat(h3.type()).isEqualTo(IomapType.HOLE);
            assertThat(h3.lengthBytes()).as("hole up to the mapped block 300").isEqualTo(32L * BS);
        }
    }

    private static long pblkOf(List<Ext2Tools.BlockRun> runs, long lblk) {
        for (Ext2Tools.BlockRun r : runs) {
            if (lblk >= r.lblk() && lblk < r.lblk() + r.nrBlocks()) {
                return r.pblk() + (lblk - r.lblk());
            }
        }
        return 0;
    }

    @Test
    void writeAllocatesNewContiguousRunsAndBumpsTheCookie() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("w.img"), 64L << 20, "-b", "1024");
        long ino;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR, 0, 0);
            ino = c.attr().ino();
            ExtInode inode = fs.iget(ino);
            Iomap old = fs.iomapOps.iomapBegin(inode, 0, BS, 0);
            assertThat(old.type()).isEqualTo(IomapType.HOLE);
            Iomap w = fs.iomapOps.iomapBegin(inode, 0, 20L * BS, IomapOpFlags.WRITE);
            assertThat(w.type()).isEqualTo(IomapType.MAPPED);
            assertThat(w.hasFlag(IomapFlags.NEW)).isTrue();
            assertThat(w.lengthBytes()).isEqualTo(12L * BS);
            assertThat(w.hasFlag(IomapFlags.BOUNDARY)).isTrue();
            assertThat(fs.iomapOps.iomapValid(inode, old)).as("allocation invalidates older mappings").isFalse();
            assertThat(fs.iomapOps.iomapValid(inode, w)).isTrue();
            Iomap w2 = fs.iomapOps.iomapBegin(inode, 12L * BS, 8L * BS, IomapOpFlags.WRITE);
            assertThat(w2.lengthBytes()).isEqualTo(8L * BS);
            // The IND block sits right after the 12 direct blocks, the data right after it (goal-based).
            assertThat(w2.addrBytes()).isEqualTo(w.addrBytes() + 13L * BS);
            Iomap again = fs.iomapOps.iomapBegin(inode, 0, 20L * BS, IomapOpFlags.WRITE);
            assertThat(again.hasFlag(IomapFlags.NEW)).as("already allocated: no NEW").isFalse();
            // Sequential buffered writes of 2 MiB land contiguously (only indirect blocks in between).
            byte[] data = new byte[2 << 20];
            new Random(7).nextBytes(data);
            FileHandle fh = c.handle();
            fs.write(fh, 0, ByteBuffer.wrap(data));
            fs.fsync(fh, false);
            fs.release(fh);
        }
        Ext2Tools.assertFsckClean(img);
        List<Ext2Tools.BlockRun> runs = Ext2ReadCompatTest.merge(Ext2Tools.debugfsDataRuns(img, "/f"));
        // 2048 blocks: direct(12) | IND | 256 | DIND IND | 256 | IND | 256 ... every gap is exactly the indirect blocks.
        for (int i = 1; i < runs.size(); i++) {
            long gap = runs.get(i).pblk() - (runs.get(i - 1).pblk() + runs.get(i - 1).nrBlocks());
            assertThat(gap).as("gap before run " + i + " " + runs).isBetween(1L, 2L);
        }
        assertThat(Ext2Tools.debugfsDump(img, "/f", tmp)).hasSize(2 << 20);
    }

    /** Strips BOUNDARY so that the test can show what the flag changes. */
    private record NoBoundary(IomapOps inner) implements IomapOps {
        @Override
        public Iomap iomapBegin(IomapInode inode, long pos, long len, int flags) throws java.io.IOException {
            Iomap m = inner.iomapBegin(inode, pos, len, flags);
            if (m.type() != IomapType.MAPPED || !m.hasFlag(IomapFlags.BOUNDARY)) {
                return m;
            }
            return Iomap.mapped(m.offsetBytes(), m.lengthBytes(), m.device(), m.addrBytes(),
                    m.flags() & ~IomapFlags.BOUNDARY & IomapFlags.FS_MASK, m.validityCookie());
        }
    }

    @Test
    void boundarySubmitsTheDataRequestBeforeTheIndirectBlockRead() throws Exception {
        Path img = imageWithFiles();
        List<Ext2Tools.BlockRun> runs = Ext2Tools.debugfsDataRuns(img, "/dense");
        long firstData = runs.getFirst().pblk() * BS;
        long indBlock = (runs.getFirst().pblk() + 12) * BS; // debugfs puts the IND block after the 12 direct blocks
        assertThat(pblkOf(runs, 12)).isEqualTo(runs.getFirst().pblk() + 13);
        int[] withFlag = traceOrder(img, false, firstData, indBlock);
        int[] without = traceOrder(img, true, firstData, indBlock);
        System.out.println("with BOUNDARY: data request #" + withFlag[0] + ", IND read #" + withFlag[1]
                + "; without: data request #" + without[0] + ", IND read #" + without[1]);
        assertThat(withFlag[0]).as("with BOUNDARY the direct-block request goes out first").isLessThan(withFlag[1]);
        assertThat(without[0]).as("without it the IND block is read first").isGreaterThan(without[1]);
    }

    /** Index in the device trace of the read starting at firstData and of the read of the IND block. */
    private int[] traceOrder(Path img, boolean strip, long firstData, long indBlock) throws Exception {
        try (FileBlockDevice file = FileBlockDevice.open(img, true)) {
            RecordingBlockDevice dev = new RecordingBlockDevice(file);
            try (ExtFileSystem fs = ExtFileSystem.mount(dev, ExtMountOptions.defaults().withReadOnly(true))) {
                ExtInode inode = fs.iget(fs.lookupPath("/dense").ino());
                dev.clear();
                IomapOps ops = strip ? new NoBoundary(fs.iomapOps) : fs.iomapOps;
                ByteBuffer dst = ByteBuffer.allocate(300 * BS);
                while (dst.hasRemaining() && BufferedIo.read(inode, dst.position(), dst, ops) > 0) {
                    // read all
                }
                List<RecordingBlockDevice.Request> t = dev.trace();
                int data = -1;
                int ind = -1;
                for (int i = 0; i < t.size(); i++) {
                    if (!t.get(i).write() && t.get(i).devAddrBytes() == firstData && data < 0) {
                        data = i;
                    }
                    if (!t.get(i).write() && t.get(i).devAddrBytes() == indBlock && ind < 0) {
                        ind = i;
                    }
                }
                assertThat(data).as("trace " + t).isNotNegative();
                assertThat(ind).as("trace " + t).isNotNegative();
                return new int[] {data, ind};
            }
        }
    }
}
