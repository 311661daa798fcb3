package org.iomap4j.coretest.pagecache;

import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.iomap.IomapFlags;
import org.iomap4j.iomap.IomapType;
import org.iomap4j.iomap.Seek;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.testkit.block.TracingBlockDevice;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Proofs about buffered read and write: zero-fill without I/O, merging, BOUNDARY early submit, revalidation. */
class BufferedIoProofTest {
    private MemoryBlockDevice mem;
    private final List<String> trace = new CopyOnWriteArrayList<>();
    private TracingBlockDevice tracer;
    private FaultInjectingBlockDevice dev;
    private PageCache cache;
    private TestFs fs;

    private void setUp(int blockSize, int maxFolio) {
        mem = new MemoryBlockDevice(64L << 20, 512);
        tracer = new TracingBlockDevice(mem, trace);
        dev = new FaultInjectingBlockDevice(tracer);
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

    private static byte[] bytes(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private byte[] read(TestInode f, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        int n = fs.read(f, pos, b);
        return Arrays.copyOf(b.array(), n);
    }

    private TestInode fileOnDisk(TestFs.Mode mode, byte[] data) throws IOException {
        TestInode f = fs.create(mode);
        fs.write(f, 0, ByteBuffer.wrap(data));
        fs.fsync(f, null);
        cache.dropCleanCaches();
        return f;
    }

    @Test
    void holesUnwrittenAndPostEofReadAsZeroWithoutDeviceIo() throws IOException {
        setUp(4096, 4096); // 4 KiB folios: a fill never drags in a neighbouring mapped block
        TestInode hole = fs.create(TestFs.Mode.NEW);
        fs.truncate(hole, 100_000); // all hole
        TestInode unwritten = fs.create(TestFs.Mode.UNWRITTEN);
        fs.write(unwritten, 0, ByteBuffer.wrap(new byte[1]));
        fs.write(unwritten, 50_000, ByteBuffer.wrap(new byte[1]));
        cache.syncAll();
        fs.truncate(unwritten, 90_000);
        cache.dropCleanCaches();
        long reads = dev.stats().readRequests();
        assertThat(read(hole, 0, 200_000)).hasSize(100_000).containsOnly(0);
        // Blocks 1..11 of 'unwritten' were never written: a hole in this fs; block 0 and 12 are mapped.
        assertThat(read(unwritten, 4096, 40_000)).containsOnly(0);
        assertThat(dev.stats().readRequests() - reads).isZero();
        assertThat(read(hole, 100_000, 10)).isEmpty();
    }

    @Test
    void newAndUnwrittenMappingsAreZeroFilledNotReadFromDisk() throws IOException {
        setUp(4096, 4096);
        // Put garbage on the device where the allocator will hand out blocks.
        mem.write(0, ByteBuffer.wrap(bytes(9, 1 << 20)));
        TestInode f = fs.create(TestFs.Mode.UNWRITTEN);
        fs.write(f, 100, ByteBuffer.wrap(new byte[] {7}));
        // Block 0 is UNWRITTEN and dirty in the cache: the partial write zeroed the rest of the block.
        byte[] got = read(f, 0, 101);
        assertThat(Arrays.copyOf(got, 100)).containsOnly(0);
        assertThat(got[100]).isEqualTo((byte) 7);
        TestInode g = fs.create(TestFs.Mode.NEW);
        fs.write(g, 5000, ByteBuffer.wrap(new byte[] {9}));
        assertThat(Arrays.copyOf(read(g, 4096, 904), 904)).containsOnly(0);
        cache.syncAll();
        cache.dropCleanCaches();
        assertThat(read(f, 0, 100)).containsOnly(0);
        assertThat(read(g, 4096, 904)).containsOnly(0);
    }

    @Test
    void coldSequentialReadUsesLargeFoliesAndFewRequests() throws IOException {
        setUp(4096, 2 << 20);
        byte[] data = bytes(10, 8 << 20);
        TestInode f = fileOnDisk(TestFs.Mode.NEW, data);
        long reads = dev.stats().readRequests();
        ByteBuffer dst = ByteBuffer.allocate(64 << 10);
        byte[] back = new byte[data.length];
        for (long pos = 0; pos < data.length; pos += dst.capacity()) {
            dst.clear();
            assertThat(fs.read(f, pos, dst)).isEqualTo(dst.capacity());
            System.arraycopy(dst.array(), 0, back, (int) pos, dst.capacity());
        }
        assertThat(back).isEqualTo(data);
        long reqs = dev.stats().readRequests() - reads;
        System.out.println("cold sequential 8 MiB in 64 KiB reads: " + reqs + " device requests, folios "
                + f.mapping().folioSizes());
        // Readahead grows 128 KiB -> 2 MiB: a handful of requests, far fewer than the 128 reads.
        assertThat(reqs).isLessThanOrEqualTo(12);
        assertThat(f.mapping().folioSizes()).contains(2 << 20);
    }

    @Test
    void mappedRunAcrossFoliosIsOneReadRequest() throws IOException {
        setUp(1024, 4096);
        byte[] data = bytes(11, 64 << 10);
        TestInode f = fileOnDisk(TestFs.Mode.NEW, data);
        long reads = dev.stats().readRequests();
        // A random (non-sequential) read: no readahead, 16 folios of 4 KiB, one physically contiguous run.
        assertThat(read(f, 0, 64 << 10)).isEqualTo(data);
        assertThat(dev.stats().readRequests() - reads).isEqualTo(1);
    }

    @Test
    void boundaryMappingSubmitsPendingReadBeforeNextBegin() throws IOException {
        setUp(4096, 65536);
        byte[] data = bytes(12, 16 * 4096);
        TestInode f = fileOnDisk(TestFs.Mode.NEW, data);
        fs.setBoundaryEvery(4);
        fs.onBegin((ino, m) -> trace.add("BEGIN " + m.offsetBytes() + (m.hasFlag(IomapFlags.BOUNDARY) ? " B" : "")));
        trace.clear();
        assertThat(read(f, 0, data.length)).isEqualTo(data);
        long base = f.pblkOf(0) * 4096;
        assertThat(trace).containsExactly(
                "BEGIN 0 B", "READ " + base + "+16384",
                "BEGIN 16384 B", "READ " + (base + 16384) + "+16384",
                "BEGIN 32768 B", "READ " + (base + 32768) + "+16384",
                "BEGIN 49152 B", "READ " + (base + 49152) + "+16384");
        // Without BOUNDARY the physically contiguous blocks are one request.
        fs.setBoundaryEvery(0);
        cache.dropCleanCaches();
        trace.clear();
        assertThat(read(f, 0, data.length)).isEqualTo(data);
        assertThat(trace).containsExactly("BEGIN 0", "READ " + base + "+65536");
    }

    @Test
    void readErrorLeavesBlocksNotUptodateAndRetrySucceeds() throws IOException {
        setUp(4096, 65536);
        byte[] data = bytes(13, 64 << 10);
        TestInode f = fileOnDisk(TestFs.Mode.NEW, data);
        long addr = f.pblkOf(0) * 4096;
        FaultInjectingBlockDevice.Fault fault = dev.failRange(FaultInjectingBlockDevice.Op.READ, addr, 4096, false);
        assertThatThrownBy(() -> read(f, 0, 8192)).isInstanceOf(FsException.class)
                .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.EIO));
        assertThat(fault.hits()).isEqualTo(1);
        assertThat(f.mapping().nextCachedData(0, 64 << 10)).as("no block became uptodate").isEqualTo(-1);
        assertThat(read(f, 0, 8192)).isEqualTo(Arrays.copyOf(data, 8192));
    }

    @Test
    void readErrorAfterSomeProgressIsAShortRead() throws IOException {
        setUp(4096, 4096);
        byte[] data = bytes(14, 64 << 10);
        TestInode f = fileOnDisk(TestFs.Mode.NEW, data);
        fs.setBoundaryEvery(4); // separate requests per 4 blocks
        dev.failRange(FaultInjectingBlockDevice.Op.READ, f.pblkOf(8) * 4096, 4096, true);
        byte[] got = read(f, 0, 64 << 10);
        assertThat(got).isEqualTo(Arrays.copyOf(data, 8 * 4096));
        assertThatThrownBy(() -> read(f, 8 * 4096, 4096)).isInstanceOf(FsException.class);
        dev.clearFaults();
        assertThat(read(f, 0, 64 << 10)).isEqualTo(data);
    }

    @Test
    void wholeBlockWriteReadsNothingAndPartialWriteReadsOnlyEdgeBlocks() throws IOException {
        setUp(4096, 65536);
        byte[] data = bytes(15, 64 << 10);
        TestInode f = fileOnDisk(TestFs.Mode.NEW, data);
        long reads = dev.stats().readRequests();
        long readBytes = dev.stats().bytesRead();
        fs.write(f, 4096, ByteBuffer.wrap(new byte[8192])); // whole blocks 1-2
        assertThat(dev.stats().readRequests()).isEqualTo(reads);
        fs.write(f, 20000, ByteBuffer.wrap(new byte[10000])); // partial blocks 4 and 7
        assertThat(dev.stats().readRequests() - reads).isEqualTo(2);
        assertThat(dev.stats().bytesRead() - readBytes).isEqualTo(8192);
        byte[] expect = data.clone();
        Arrays.fill(expect, 4096, 12288, (byte) 0);
        Arrays.fill(expect, 20000, 30000, (byte) 0);
        assertThat(read(f, 0, 64 << 10)).isEqualTo(expect);
    }

    @Test
    void mappingChangedBetweenBeginAndFolioLockIsDetectedAndRemapped() throws IOException {
        // Known bug 1 (the XFS corruption): block 0 is UNWRITTEN with dirty data in the cache. A partial write
        // gets an UNWRITTEN mapping; before it locks the folio, writeback converts the extent and reclaim drops
        // the clean folio. Used as is, the stale UNWRITTEN mapping would zero the edge of block 0 and lose the
        // data; revalidation after the folio lock sees the changed cookie, remaps (MAPPED) and reads it.
        setUp(4096, 4096);
        TestInode f = fs.create(TestFs.Mode.UNWRITTEN);
        byte[] data = bytes(16, 4096);
        fs.write(f, 0, ByteBuffer.wrap(data));
        AtomicBoolean raced = new AtomicBoolean();
        List<IomapType> begun = new ArrayList<>();
        fs.onBegin((ino, m) -> {
            begun.add(m.type());
            if (raced.compareAndSet(false, true)) {
                try {
                    Writeback.writeAndWait(ino.mapping(), 0, Long.MAX_VALUE);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                ino.mapping().dropClean();
            }
        });
        fs.write(f, 100, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertThat(begun).containsExactly(IomapType.UNWRITTEN, IomapType.MAPPED);
        byte[] expect = data.clone();
        expect[100] = 1;
        expect[101] = 2;
        expect[102] = 3;
        assertThat(read(f, 0, 4096)).isEqualTo(expect);
        cache.syncAll();
        cache.dropCleanCaches();
        assertThat(read(f, 0, 4096)).isEqualTo(expect);
    }

    @Test
    void copyOnWriteReadsEdgesFromSrcmapAndWritesNewBlocks() throws IOException {
        setUp(4096, 65536);
        byte[] data = bytes(17, 16384);
        TestInode f = fileOnDisk(TestFs.Mode.COW, data);
        long oldPblk1 = f.pblkOf(1);
        fs.write(f, 5000, ByteBuffer.wrap(new byte[] {42}));
        assertThat(f.pblkOf(1)).as("the data fork changes only at write-back completion").isEqualTo(oldPblk1);
        cache.syncAll();
        assertThat(f.pblkOf(1)).as("block 1 was copied on write").isNotEqualTo(oldPblk1);
        cache.dropCleanCaches();
        byte[] expect = data.clone();
        expect[5000] = 42;
        assertThat(read(f, 0, 16384)).isEqualTo(expect);
        ByteBuffer old = ByteBuffer.allocate(4096);
        mem.read(oldPblk1 * 4096, old);
        assertThat(old.array()).as("the shared source block is untouched")
                .isEqualTo(Arrays.copyOfRange(data, 4096, 8192));
    }

    @Test
    void inlineDataIsReadFromTheMappingAndUnpackedOnWrite() throws IOException {
        setUp(4096, 4096);
        byte[] data = bytes(18, 300);
        TestInode f = fs.createInline(data);
        long reads = dev.stats().readRequests();
        assertThat(read(f, 0, 1000)).isEqualTo(data);
        assertThat(dev.stats().readRequests()).isEqualTo(reads);
        cache.dropCleanCaches();
        fs.write(f, 10, ByteBuffer.wrap(new byte[] {5})); // edge comes from the INLINE srcmap
        byte[] expect = data.clone();
        expect[10] = 5;
        assertThat(read(f, 0, 1000)).isEqualTo(expect);
        cache.syncAll();
        cache.dropCleanCaches();
        assertThat(read(f, 0, 1000)).isEqualTo(expect);
    }

    @Test
    void zeroRangeSkipsCleanHolesAndFlushesDirtyUnwritten() throws IOException {
        setUp(4096, 4096);
        TestInode f = fs.create(TestFs.Mode.UNWRITTEN);
        byte[] data = bytes(19, 16384);
        fs.write(f, 0, ByteBuffer.wrap(data));
        // Dirty cache over UNWRITTEN: zeroRange must write it back first, then zero through the cache.
        fs.zeroRange(f, 1000, 2000);
        byte[] expect = data.clone();
        Arrays.fill(expect, 1000, 3000, (byte) 0);
        assertThat(read(f, 0, 16384)).isEqualTo(expect);
        cache.syncAll();
        cache.dropCleanCaches();
        assertThat(read(f, 0, 16384)).isEqualTo(expect);
        // A clean hole is skipped without creating folios.
        TestInode h = fs.create(TestFs.Mode.NEW);
        fs.truncate(h, 1 << 20);
        fs.zeroRange(h, 0, 1 << 20);
        assertThat(h.mapping().folioCount()).isZero();
    }

    @Test
    void zeroRangeWhoseUnwrittenMappingWasConvertedBeforeTheDirtyCheck_remapsAndZeroes() throws IOException {
        // Issue 13 (ExerciseExtentTest's flake): zeroRange maps UNWRITTEN, then asks the cache whether the range is
        // dirty. That question waits for folios under writeback, whose ioend converts the extent meanwhile; the
        // answer "not dirty" then comes with a stale UNWRITTEN mapping over data that is now written. Here the
        // whole writeback runs between iomapBegin and the question; skipping on the stale mapping would keep the
        // data. The cookie check after the question remaps (MAPPED) and zeroes through the cache.
        setUp(4096, 4096);
        TestInode f = fs.create(TestFs.Mode.UNWRITTEN);
        byte[] data = bytes(21, 16384);
        fs.write(f, 0, ByteBuffer.wrap(data));
        AtomicBoolean raced = new AtomicBoolean();
        List<IomapType> begun = new ArrayList<>();
        fs.onBegin((ino, m) -> {
            begun.add(m.type());
            if (raced.compareAndSet(false, true)) {
                try {
                    Writeback.writeAndWait(ino.mapping(), 0, Long.MAX_VALUE);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        });
        fs.zeroRange(f, 1000, 2000);
        assertThat(begun).containsExactly(IomapType.UNWRITTEN, IomapType.MAPPED);
        byte[] expect = data.clone();
        Arrays.fill(expect, 1000, 3000, (byte) 0);
        assertThat(Arrays.mismatch(read(f, 0, 16384), expect)).as("first wrong byte (-1: none)").isEqualTo(-1);
        cache.syncAll();
        cache.dropCleanCaches();
        assertThat(Arrays.mismatch(read(f, 0, 16384), expect)).as("after writeback and drop").isEqualTo(-1);
    }

    @Test
    void seekInAnUnwrittenExtentConvertedAndDroppedBeforeTheCacheLookup_remapsAndFindsTheData() throws IOException {
        // SEEK_DATA/SEEK_HOLE map UNWRITTEN and then let the cache decide; writeback converting the extent and
        // reclaim dropping the clean folio in between would make written data look like a hole.
        setUp(4096, 4096);
        TestInode f = fs.create(TestFs.Mode.UNWRITTEN);
        fs.write(f, 0, ByteBuffer.wrap(bytes(22, 8192)));
        AtomicBoolean raced = new AtomicBoolean();
        fs.onBegin((ino, m) -> {
            if (m.type() == IomapType.UNWRITTEN && raced.compareAndSet(false, true)) {
                try {
                    Writeback.writeAndWait(ino.mapping(), 0, Long.MAX_VALUE);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                ino.mapping().dropClean();
            }
        });
        assertThat(Seek.seekData(f, 0, fs)).isZero();
        assertThat(raced).isTrue();
        raced.set(false);
        fs.write(f, 8192, ByteBuffer.wrap(bytes(23, 4096))); // UNWRITTEN and dirty again, then the same race
        assertThat(Seek.seekHole(f, 8192, fs)).isEqualTo(12288);
        assertThat(raced).isTrue();
    }

    @Test
    void readaheadOfAHoleBlockJustAllocatedForAWrite_neverLeavesStaleBytesAroundTheWrite() throws IOException {
        // A filesystem that allocates real blocks at iomapBegin (MAPPED|NEW: ext2, ext4 nodelalloc without
        // unwritten) makes them visible to readers before the write has locked its folio. Readahead (which holds no
        // rwsem) filling that folio in between maps the new block as MAPPED and reads whatever the device held
        // there (a freed block of another file); the write then finds the block uptodate and copies only its own
        // bytes. The rest of a NEW block must read as zeroes: the write zeroes a clean uptodate NEW edge block.
        setUp(4096, 4096);
        fs.setReuseFreedFirst(true);
        TestInode old = fs.create(TestFs.Mode.NEW);
        byte[] garbage = bytes(24, 8192);
        fs.write(old, 0, ByteBuffer.wrap(garbage));
        fs.fsync(old, null);
        fs.truncate(old, 0); // its blocks are free, their old bytes still on the device
        TestInode f = fs.create(TestFs.Mode.NEW);
        fs.truncate(f, 16384); // a hole
        AtomicBoolean raced = new AtomicBoolean();
        fs.onBegin((ino, m) -> {
            if (ino == f && m.hasFlag(IomapFlags.NEW) && raced.compareAndSet(false, true)) {
                // Readahead between the allocation and the write's folio lock (same thread: the writer's rwsem
                // is reentrant for reading; the real readahead thread takes none).
                try {
                    fs.read(f, 0, ByteBuffer.allocate(16384));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        });
        fs.write(f, 100, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertThat(raced).isTrue();
        byte[] expect = new byte[16384];
        expect[100] = 1;
        expect[101] = 2;
        expect[102] = 3;
        assertThat(Arrays.mismatch(read(f, 0, 16384), expect)).as("first wrong byte (-1: none)").isEqualTo(-1);
        cache.syncAll();
        cache.dropCleanCaches();
        assertThat(Arrays.mismatch(read(f, 0, 16384), expect)).as("after writeback and drop").isEqualTo(-1);
    }

    @Test
    void failedWriteWithNoProgressDropsCacheBeyondEof() throws IOException {
        setUp(4096, 65536);
        TestInode f = fs.create(TestFs.Mode.NEW);
        fs.write(f, 0, ByteBuffer.wrap(new byte[100]));
        cache.syncAll();
        cache.dropCleanCaches();
        // A partial write into block 0 must read it; make that read fail.
        dev.failRange(FaultInjectingBlockDevice.Op.READ, f.pblkOf(0) * 4096, 4096, false);
        assertThatThrownBy(() -> fs.write(f, 50, ByteBuffer.wrap(new byte[10000]))).isInstanceOf(FsException.class);
        assertThat(f.sizeBytes()).isEqualTo(100);
        assertThat(f.mapping().dirtyBytes()).isZero();
        assertThat(f.pblkOf(1)).as("iomapEnd released blocks the write did not reach").isEqualTo(-1);
        assertThat(read(f, 0, 200)).hasSize(100);
    }

    @Test
    void staleMappingThatNeverSettlesFailsWithEio() throws IOException {
        setUp(4096, 4096);
        TestInode f = fs.create(TestFs.Mode.NEW);
        fs.write(f, 0, ByteBuffer.wrap(new byte[4096]));
        fs.onBegin((ino, m) -> fs.bumpSeq(ino));
        assertThatThrownBy(() -> fs.write(f, 10, ByteBuffer.wrap(new byte[10])))
                .isInstanceOf(FsException.class).hasMessageContaining("stale");
    }
}
