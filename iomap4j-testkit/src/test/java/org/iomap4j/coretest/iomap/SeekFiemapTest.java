package org.iomap4j.coretest.iomap;

import org.iomap4j.iomap.Fiemap;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.iomap.Seek;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SEEK_DATA/SEEK_HOLE and FIEMAP checked against an independent computation from a model of which blocks were
 * written, for each mapping mode of the test filesystem, before and after writeback (UNWRITTEN extents with
 * cached data count as data; DELALLOC is data).
 */
class SeekFiemapTest {
    private static final int BS = 4096;
    private final MemoryBlockDevice dev = new MemoryBlockDevice(64L << 20, 512);
    private final PageCache cache = new PageCache(new PageCacheConfig(32L << 20, 64 << 10, 16L << 20, 0));
    private final TestFs fs = new TestFs(dev, BS, cache);

    @AfterEach
    void tearDown() {
        cache.close();
        dev.close();
    }

    @ParameterizedTest
    @EnumSource(value = TestFs.Mode.class, names = {"NEW", "UNWRITTEN", "DELALLOC"})
    void seekAndFiemap_matchTheModel(TestFs.Mode mode) throws IOException {
        for (long seed = 1; seed <= 20; seed++) {
            Random rnd = new Random(seed * 31 + mode.ordinal());
            TestInode f = fs.create(mode);
            int nblocks = 64;
            BitSet data = new BitSet();
            for (int i = 0; i < 12; i++) {
                int blk = rnd.nextInt(nblocks);
                int len = 1 + rnd.nextInt(Math.min(6, nblocks - blk));
                byte[] b = new byte[len * BS];
                rnd.nextBytes(b);
                fs.write(f, (long) blk * BS, ByteBuffer.wrap(b));
                data.set(blk, blk + len);
            }
            long size = (long) nblocks * BS - rnd.nextInt(BS);
            if (f.sizeBytes() < size) {
                f.setSizeBytes(size);
            }
            size = f.sizeBytes();
            String ctx = mode + " seed " + seed;
            check(f, data, size, ctx + " (cached)");
            Writeback.writeAndWait(f.mapping(), 0, Long.MAX_VALUE);
            cache.dropCleanCaches();
            check(f, data, size, ctx + " (written back, cache dropped)");
            fs.evict(f);
        }
    }

    private void check(TestInode f, BitSet data, long size, String ctx) throws IOException {
        for (long off = 0; off < size; off += 1 + (off % 1777)) {
            long blk = off / BS;
            int nextData = data.nextSetBit((int) blk);
            long expData = nextData < 0 || (long) nextData * BS >= size ? -1 : Math.max(off, (long) nextData * BS);
            if (expData < 0) {
                long o = off;
                assertThatThrownBy(() -> Seek.seekData(f, o, fs)).as(ctx + " SEEK_DATA " + o)
                        .extracting(e -> ((FsException) e).errno()).isEqualTo(Errno.ENXIO);
            } else {
                assertThat(Seek.seekData(f, off, fs)).as(ctx + " SEEK_DATA " + off).isEqualTo(expData);
            }
            int nextHole = data.nextClearBit((int) blk);
            long expHole = Math.min(size, Math.max(off, (long) nextHole * BS));
            assertThat(Seek.seekHole(f, off, fs)).as(ctx + " SEEK_HOLE " + off).isEqualTo(expHole);
        }
        assertThatThrownBy(() -> Seek.seekData(f, size, fs)).extracting(e -> ((FsException) e).errno())
                .isEqualTo(Errno.ENXIO);
        assertThatThrownBy(() -> Seek.seekHole(f, -1, fs)).extracting(e -> ((FsException) e).errno())
                .isEqualTo(Errno.ENXIO);

        List<FiemapExtent> ext = Fiemap.fiemap(f, 0, size, 0, 0, fs);
        BitSet mapped = new BitSet();
        for (int i = 0; i < ext.size(); i++) {
            FiemapExtent e = ext.get(i);
            assertThat((e.flags() & FiemapExtent.LAST) != 0).as(ctx + " LAST only on the final extent " + e)
                    .isEqualTo(i == ext.size() - 1);
            mapped.set((int) (e.logicalBytes() / BS), (int) ((e.logicalBytes() + e.lengthBytes()) / BS));
            if (f.mode() == TestFs.Mode.DELALLOC && (e.flags() & FiemapExtent.DELALLOC) != 0) {
                assertThat(e.flags() & FiemapExtent.UNKNOWN).isNotZero();
                continue;
            }
            long l = e.logicalBytes() / BS;
            assertThat(e.physicalBytes()).as(ctx + " physical of " + e).isEqualTo(f.pblkOf(l) * BS);
        }
        BitSet expected = (BitSet) data.clone();
        expected.clear((int) ((size + BS - 1) / BS), Integer.MAX_VALUE);
        assertThat(mapped).as(ctx + " fiemap covers exactly the written blocks").isEqualTo(expected);
        if (!ext.isEmpty()) {
            List<FiemapExtent> two = Fiemap.fiemap(f, 0, size, 0, 1, fs);
            assertThat(two).hasSize(1);
            assertThat(two.getFirst().flags() & FiemapExtent.LAST).as("truncated report has no LAST").isZero();
        }
        if (data.nextSetBit(0) >= 0) {
            long lblk = data.nextSetBit(0);
            long pblk = Fiemap.bmap(f, lblk, fs);
            assertThat(pblk).as(ctx + " bmap").isEqualTo(f.pblkOf(lblk));
        }
    }
}
