package org.iomap4j.coretest.pagecache;

import org.iomap4j.iomap.Ioend;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.iomap.IomapType;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Proofs about writeback: no write amplification, merging, BOUNDARY, EOF clamping, errors reported once. */
class WritebackProofTest {
    private MemoryBlockDevice mem;
    private FaultInjectingBlockDevice dev;
    private PageCache cache;
    private TestFs fs;

    private void setUp(int blockSize, int maxFolio) {
        mem = new MemoryBlockDevice(64L << 20, 512);
        dev = new FaultInjectingBlockDevice(mem);
        cache = new PageCache(new PageCacheConfig(32L << 20, maxFolio, 16L << 20, 0));
        fs = new TestFs(dev, blockSize, cache);
    }

    @AfterEach
    void tearDown() throws IOException {
        if (cache != null) {
            cache.close();
        }
        if (dev != null) {
            dev.close();
        }
    }

    private static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private byte[] deviceBytes(long addr, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        mem.read(addr, b);
        return b.array();
    }

    @Test
    void onlyDirtyBlocksAreWritten_deviceBytesEqualDirtyBytes() throws IOException {
        setUp(4096, 2 << 20);
        TestInode f = fs.create(TestFs.Mode.NEW);
        Random rnd = new Random(42);
        fs.write(f, 0, ByteBuffer.wrap(bytes(rnd, 8 << 20)));
        fs.fsync(f, null);
        // Random 4 KiB overwrites (some unaligned, touching two blocks) into 2 MiB folios.
        for (int i = 0; i < 300; i++) {
            long pos = rnd.nextInt(8 << 20 - 8192);
            if (rnd.nextBoolean()) {
                pos &= ~4095L;
            }
            fs.write(f, pos, ByteBuffer.wrap(bytes(rnd, 4096)));
        }
        long dirty = f.mapping().dirtyBytes();
        assertThat(dirty).isPositive();
        assertThat(f.mapping().folioSizes()).contains(2 << 20);
        long before = dev.stats().bytesWritten();
        fs.fsync(f, null);
        long written = dev.stats().bytesWritten() - before;
        System.out.printf("random 4 KiB overwrites: dirty %d B, device wrote %d B, amplification %.2f%n", dirty,
                written, (double) written / dirty);
        assertThat(written).isEqualTo(dirty);
        assertThat(f.mapping().dirtyBytes()).isZero();
    }

    @Test
    void contiguousDirtyBlocksInConsecutiveFoliosBecomeOneRequest() throws IOException {
        setUp(1024, 4096);
        TestInode f = fs.create(TestFs.Mode.NEW);
        byte[] data = bytes(new Random(1), 256 << 10);
        fs.write(f, 0, ByteBuffer.wrap(data));
        assertThat(f.mapping().folioCount()).isEqualTo(64); // 4 KiB folios
        long reqs = dev.stats().writeRequests();
        fs.fsync(f, null);
        assertThat(dev.stats().writeRequests() - reqs).isEqualTo(1);
        long pblk0 = f.pblkOf(0);
        assertThat(deviceBytes(pblk0 * 1024, data.length)).isEqualTo(data);
    }

    @Test
    void boundaryStopsMerging() throws IOException {
        setUp(4096, 65536);
        fs.setBoundaryEvery(4);
        TestInode f = fs.create(TestFs.Mode.NEW);
        byte[] data = bytes(new Random(2), 16 * 4096);
        fs.write(f, 0, ByteBuffer.wrap(data));
        // The blocks are physically contiguous (bump allocator) ...
        for (int i = 1; i < 16; i++) {
            assertThat(f.pblkOf(i)).isEqualTo(f.pblkOf(0) + i);
        }
        List<Ioend> ioends = new CopyOnWriteArrayList<>();
        fs.onIoend(ioends::add);
        long reqs = dev.stats().writeRequests();
        fs.fsync(f, null);
        // ... but every 4 blocks the mapping is BOUNDARY: four requests, not one.
        assertThat(dev.stats().writeRequests() - reqs).isEqualTo(4);
        assertThat(ioends).extracting(Ioend::fileOffsetBytes).containsExactly(0L, 16384L, 32768L, 49152L);
        assertThat(ioends).allSatisfy(io -> assertThat(io.lengthBytes()).isEqualTo(16384));
    }

    @Test
    void ioendIsClampedToEofAndPostEofTailIsZeroedOnDisk() throws IOException {
        setUp(4096, 65536);
        TestInode f = fs.create(TestFs.Mode.NEW);
        byte[] data = bytes(new Random(3), 10000);
        fs.write(f, 0, ByteBuffer.wrap(data));
        List<Ioend> ioends = new CopyOnWriteArrayList<>();
        fs.onIoend(ioends::add);
        fs.fsync(f, null);
        assertThat(ioends).hasSize(1);
        assertThat(ioends.getFirst().lengthBytes()).isEqualTo(10000);
        byte[] onDisk = deviceBytes(f.pblkOf(0) * 4096, 12288);
        for (int i = 0; i < 10000; i++) {
            assertThat(onDisk[i]).isEqualTo(data[i]);
        }
        for (int i = 10000; i < 12288; i++) {
            assertThat(onDisk[i]).as("post-EOF byte %d", i).isZero();
        }
    }

    @Test
    void unwrittenExtentsAreConvertedAtIoendCompletion() throws IOException {
        setUp(4096, 65536);
        TestInode f = fs.create(TestFs.Mode.UNWRITTEN);
        byte[] data = bytes(new Random(4), 20000);
        fs.write(f, 0, ByteBuffer.wrap(data));
        List<Ioend> ioends = new CopyOnWriteArrayList<>();
        fs.onIoend(ioends::add);
        fs.fsync(f, null);
        assertThat(ioends).extracting(Ioend::type).containsOnly(IomapType.UNWRITTEN);
        cache.dropCleanCaches();
        ByteBuffer back = ByteBuffer.allocate(20000);
        assertThat(fs.read(f, 0, back)).isEqualTo(20000);
        assertThat(back.array()).isEqualTo(data);
    }

    @Test
    void delallocIsAllocatedByWriteback() throws IOException {
        setUp(1024, 65536);
        TestInode f = fs.create(TestFs.Mode.DELALLOC);
        byte[] data = bytes(new Random(5), 50000);
        fs.write(f, 0, ByteBuffer.wrap(data));
        assertThat(f.pblkOf(0)).isEqualTo(-1); // reserved, not allocated
        fs.fsync(f, null);
        assertThat(f.pblkOf(0)).isNotNegative();
        assertThat(deviceBytes(f.pblkOf(0) * 1024, 50000)).isEqualTo(data);
    }

    @Test
    void writebackErrorIsReportedOncePerHandleAndOtherFoliosSurvive() throws IOException {
        setUp(4096, 4096);
        TestInode f = fs.create(TestFs.Mode.NEW);
        Random rnd = new Random(6);
        ErrSeq.Cursor h1 = f.mapping().errors().newCursor();
        ErrSeq.Cursor h2 = f.mapping().errors().newCursor();
        byte[] a = bytes(rnd, 4096);
        byte[] b = bytes(rnd, 4096);
        fs.write(f, 0, ByteBuffer.wrap(a));
        fs.write(f, 65536, ByteBuffer.wrap(b));
        long addrA = f.pblkOf(0) * 4096;
        long addrB = f.pblkOf(16) * 4096;
        FaultInjectingBlockDevice.Fault fault = dev.failRange(FaultInjectingBlockDevice.Op.WRITE, addrA, 4096, false);

        assertThatThrownBy(() -> fs.fsync(f, h1)).isInstanceOf(FsException.class)
                .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.EIO));
        assertThat(fault.hits()).isEqualTo(1);
        fs.fsync(f, h1); // reported once to this handle
        assertThatThrownBy(() -> fs.fsync(f, h2)).isInstanceOf(FsException.class);
        fs.fsync(f, h2);
        ErrSeq.Cursor h3 = f.mapping().errors().newCursor(); // opened after the error
        fs.fsync(f, h3);

        assertThat(deviceBytes(addrB, 4096)).as("data in the other folio reached the disk").isEqualTo(b);
        assertThat(f.mapping().lookup(0).hasError()).isTrue();
        assertThat(f.mapping().lookup(65536).hasError()).isFalse();
    }

    @Test
    void writebackOfInlineMappingFailsWithEio() throws IOException {
        setUp(4096, 4096);
        TestInode f = fs.create(TestFs.Mode.NEW);
        fs.write(f, 0, ByteBuffer.wrap(new byte[100]));
        fs.setReturnInlineForWriteback(true);
        assertThatThrownBy(() -> Writeback.writeAndWait(f.mapping(), 0, Long.MAX_VALUE))
                .isInstanceOf(FsException.class).hasMessageContaining("INLINE");
        assertThat(f.mapping().errors().hasError()).isTrue();
    }

    @Test
    void cachedWritebackMappingIsRevalidated_freedBlockReusedElsewhereIsNotOverwritten() throws IOException {
        // Known bug 2: writeback maps blocks 0-1 of f in one mapping; before it reaches folio 1, f's block 1 is
        // freed and reallocated (as truncate + re-extend does), g gets the freed block and syncs its data there.
        // The cached mapping's cookie no longer holds, so folio 1 is mapped again and lands in f's new block.
        setUp(4096, 4096);
        fs.setReuseFreedFirst(true);
        TestInode f = fs.create(TestFs.Mode.NEW);
        TestInode g = fs.create(TestFs.Mode.NEW);
        Random rnd = new Random(7);
        fs.write(f, 0, ByteBuffer.wrap(bytes(rnd, 8192)));
        fs.fsync(f, null);
        long oldPblk1 = f.pblkOf(1);
        byte[] newF = bytes(rnd, 8192);
        fs.write(f, 0, ByteBuffer.wrap(newF));
        byte[] gData = bytes(rnd, 4096);
        boolean[] raced = {false};
        long[] newPblk1 = {-1};
        fs.onMapBlocks((ino, m) -> {
            if (ino != f || raced[0]) {
                return;
            }
            raced[0] = true;
            assertThat(m.endBytes()).as("first mapping covers both blocks").isGreaterThanOrEqualTo(8192);
            try {
                newPblk1[0] = fs.relocate(f, 1);
                fs.write(g, 0, ByteBuffer.wrap(gData));
                fs.fsync(g, null);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        fs.fsync(f, null);
        fs.onMapBlocks(null);
        assertThat(raced[0]).isTrue();
        assertThat(g.pblkOf(0)).as("g reused f's freed block").isEqualTo(oldPblk1);
        assertThat(f.mapping().dirtyBytes()).isZero();
        assertThat(deviceBytes(oldPblk1 * 4096, 4096)).as("g's block keeps g's data").isEqualTo(gData);
        assertThat(deviceBytes(newPblk1[0] * 4096, 4096)).as("f's new block 1")
                .isEqualTo(java.util.Arrays.copyOfRange(newF, 4096, 8192));
    }

    @Test
    void cachedMappingReusedOnlyWhileValid() throws IOException {
        setUp(4096, 4096);
        TestInode f = fs.create(TestFs.Mode.NEW);
        fs.write(f, 0, ByteBuffer.wrap(new byte[64 << 10]));
        fs.fsync(f, null);
        // Overwrite all 16 folios: one mapBlocks call serves all of them while the cookie holds.
        fs.write(f, 0, ByteBuffer.wrap(new byte[64 << 10]));
        long calls = fs.mapBlocksCalls();
        fs.fsync(f, null);
        assertThat(fs.mapBlocksCalls() - calls).isEqualTo(1);
        // A block-map change right after each mapBlocks makes the cached mapping stale for the next folio.
        fs.write(f, 0, ByteBuffer.wrap(new byte[64 << 10]));
        fs.onMapBlocks((ino, m) -> fs.bumpSeq(ino));
        calls = fs.mapBlocksCalls();
        fs.fsync(f, null);
        assertThat(fs.mapBlocksCalls() - calls).isEqualTo(16);
    }
}
