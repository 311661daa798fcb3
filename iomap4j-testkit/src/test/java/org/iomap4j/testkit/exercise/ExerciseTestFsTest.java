package org.iomap4j.testkit.exercise;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.iomap.DirectIo;
import org.iomap4j.iomap.Ioend;
import org.iomap4j.iomap.IomapDioOps;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapType;
import org.iomap4j.iomap.Seek;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The exerciser against the core's test-only filesystem in every mapping mode (NEW, UNWRITTEN, DELALLOC, COW,
 * INLINE): 50,000 seeded random ops per mode, every read checked against the in-memory model.
 */
class ExerciseTestFsTest {
    private static final int BS = 1024;
    /** 50,000 in mvn test; -Dexercise.ops=1000000 for the long run. */
    private static final long OPS = Long.getLong("exercise.ops", 50_000);

    /** ExerciseTarget over one TestFs inode; direct I/O through DirectIo, seek through Seek. */
    static class TestFsTarget implements ExerciseTarget {
        private final TestFs.Mode mode;
        private final MemoryBlockDevice dev = new MemoryBlockDevice(64L << 20, 512);
        private final PageCache cache = new PageCache(new PageCacheConfig(8L << 20, 64 << 10, 4L << 20, 0));
        private final TestFs fs = new TestFs(dev, BS, cache);
        private final Set<Capability> caps;
        private TestInode inode;
        private ErrSeq.Cursor cursor;

        TestFsTarget(TestFs.Mode mode) {
            this.mode = mode;
            this.caps = EnumSet.of(Capability.ZERO_RANGE, Capability.SEEK_DATA_HOLE, Capability.DROP_CACHES,
                    Capability.FIEMAP);
            // INLINE files are unpacked on their first write; punching one before that has nothing to free.
            if (mode != TestFs.Mode.INLINE) {
                caps.add(Capability.PUNCH_HOLE);
            }
            // DELALLOC inodes get real blocks for direct writes into holes (as XFS does); INLINE and COW have no
            // direct-I/O path in the test filesystem.
            if (mode == TestFs.Mode.NEW || mode == TestFs.Mode.UNWRITTEN || mode == TestFs.Mode.DELALLOC) {
                caps.add(Capability.DIRECT_IO);
            }
        }

        private final IomapDioOps dioOps = new IomapDioOps() {
            @Override
            public void endIo(IomapInode in, long posBytes, long sizeBytes, Throwable error, int flags) {
                if (error != null) {
                    return;
                }
                TestInode ti = (TestInode) in;
                if ((flags & DIO_UNWRITTEN) != 0) {
                    for (long l = posBytes / BS; l * BS < posBytes + sizeBytes; l++) {
                        long p = ti.pblkOf(l);
                        if (p >= 0) {
                            fs.ioendCompleted(ti, new Ioend(l * BS, BS, p * BS, IomapType.UNWRITTEN, 0), null);
                        }
                    }
                }
                if (posBytes + sizeBytes > in.sizeBytes()) {
                    in.setSizeBytes(posBytes + sizeBytes);
                }
            }
        };

        @Override
        public String describe() {
            return "TestFs " + mode;
        }

        @Override
        public int blockSizeBytes() {
            return BS;
        }

        @Override
        public void open() {
            inode = mode == TestFs.Mode.INLINE ? fs.createInline(new byte[0]) : fs.create(mode);
            cursor = inode.mapping().errors().newCursor();
        }

        @Override
        public Set<Capability> capabilities() {
            return caps;
        }

        @Override
        public long sizeBytes() {
            return inode.sizeBytes();
        }

        @Override
        public int read(long posBytes, ByteBuffer dst) throws IOException {
            int total = 0;
            while (dst.hasRemaining()) {
                int n = fs.read(inode, posBytes + total, dst);
                if (n <= 0) {
                    break;
                }
                total += n;
            }
            return total;
        }

        @Override
        public void write(long posBytes, ByteBuffer src) throws IOException {
            long pos = posBytes;
            while (src.hasRemaining()) {
                pos += fs.write(inode, pos, src);
            }
        }

        @Override
        public void truncate(long sizeBytes) throws IOException {
            fs.truncate(inode, sizeBytes);
        }

        @Override
        public void fsync() throws IOException {
            fs.fsync(inode, cursor);
        }

        @Override
        public void zeroRange(long posBytes, long lengthBytes, boolean keepSize) throws IOException {
            long end = posBytes + lengthBytes;
            if (!keepSize && end > inode.sizeBytes()) {
                fs.truncate(inode, end);
            }
            long clipped = Math.min(end, inode.sizeBytes());
            if (clipped > posBytes) {
                fs.zeroRange(inode, posBytes, clipped - posBytes);
            }
        }

        @Override
        public java.util.List<long[]> fiemap() throws IOException {
            long size = inode.sizeBytes();
            java.util.List<long[]> out = new java.util.ArrayList<>();
            if (size == 0) {
                return out;
            }
            for (org.iomap4j.iomap.FiemapExtent e : org.iomap4j.iomap.Fiemap.fiemap(inode, 0, size, 0, 0, fs)) {
                out.add(new long[] {e.logicalBytes(), e.lengthBytes()});
            }
            return out;
        }

        @Override
        public void punchHole(long posBytes, long lengthBytes) throws IOException {
            fs.punchHole(inode, posBytes, lengthBytes);
        }

        private static ByteBuffer aligned(int bytes) {
            // alignedSlice also rounds the end down: allocate whole pages plus one
            int rounded = (bytes + 4095) / 4096 * 4096;
            return ByteBuffer.allocateDirect(rounded + 4096).alignedSlice(4096).limit(bytes).slice();
        }

        @Override
        public int directRead(long posBytes, ByteBuffer dst) throws IOException {
            ByteBuffer a = aligned(dst.remaining());
            long n = DirectIo.read(inode, posBytes, a, fs, dioOps, 0); // single-threaded: no rwsem needed
            a.flip();
            dst.put(a);
            return (int) n;
        }

        @Override
        public void directWrite(long posBytes, ByteBuffer src) throws IOException {
            ByteBuffer a = aligned(src.remaining());
            a.put(src).flip();
            int len = a.remaining();
            long n = DirectIo.write(inode, posBytes, a, fs, dioOps, 0);
            if (n != len) {
                throw new IOException("short direct write: " + n + " of " + len + " bytes at " + posBytes);
            }
        }

        @Override
        public long seekData(long posBytes) throws IOException {
            return seek(posBytes, true);
        }

        @Override
        public long seekHole(long posBytes) throws IOException {
            return seek(posBytes, false);
        }

        private long seek(long posBytes, boolean data) throws IOException {
            try {
                return data ? Seek.seekData(inode, posBytes, fs) : Seek.seekHole(inode, posBytes, fs);
            } catch (org.iomap4j.FsException e) {
                if (e.errno() == org.iomap4j.Errno.ENXIO) {
                    return -1;
                }
                throw e;
            }
        }

        @Override
        public void dropCaches() throws IOException {
            Writeback.writeAndWait(inode.mapping(), 0, Long.MAX_VALUE);
            inode.mapping().dropClean();
        }

        @Override
        public void close() {
            cache.close();
            dev.close();
        }
    }

    @ParameterizedTest
    @EnumSource(TestFs.Mode.class)
    void fiftyThousandOps_matchModel(TestFs.Mode mode) throws Exception {
        long seed = 0x6a09e667L + mode.ordinal();
        ExerciseConfig cfg = ExerciseConfig.of(seed, OPS).withMaxSize(mode == TestFs.Mode.INLINE ? 64 << 10 : 192 << 10);
        try (TestFsTarget t = new TestFsTarget(mode)) {
            Exerciser.Result r = new Exerciser(t, cfg).run();
            System.out.println("exercise TestFs " + mode + " seed " + seed + ": " + r);
            assertThat(r.ops()).isEqualTo(OPS);
            assertThat(r.counts()).containsKeys(ExerciseConfig.Kind.READ, ExerciseConfig.Kind.WRITE,
                    ExerciseConfig.Kind.TRUNCATE, ExerciseConfig.Kind.ZERO, ExerciseConfig.Kind.SEEK_HOLE,
                    ExerciseConfig.Kind.DROP_CACHES);
        }
    }

    @Test
    void logReplay_reproducesTheSameRun() throws Exception {
        ExerciseConfig cfg = ExerciseConfig.of(42, 2_000).withMaxSize(64 << 10);
        List<String> log = new ArrayList<>();
        Exerciser.Result first;
        try (TestFsTarget t = new TestFsTarget(TestFs.Mode.UNWRITTEN)) {
            first = new Exerciser(t, cfg).logTo(log::add).run();
        }
        assertThat(log).hasSize(2_000);
        List<ExerciseOp> ops = log.stream().map(ExerciseOp::parse).toList();
        assertThat(ops.stream().map(ExerciseOp::format).toList()).isEqualTo(log);
        try (TestFsTarget t = new TestFsTarget(TestFs.Mode.UNWRITTEN)) {
            Exerciser.Result again = new Exerciser(t, cfg).replay(ops);
            assertThat(again).isEqualTo(first);
        }
    }

    @Test
    void aBrokenTarget_isCaughtWithSeedOffsetAndLogTail() throws Exception {
        // A target that corrupts one byte of every read past 10 KiB: the exerciser must notice and say where.
        ExerciseConfig cfg = ExerciseConfig.of(7, 5_000).withMaxSize(64 << 10);
        try (TestFsTarget t = new TestFsTarget(TestFs.Mode.NEW) {
            @Override
            public int read(long posBytes, ByteBuffer dst) throws IOException {
                int start = dst.position();
                int n = super.read(posBytes, dst);
                if (posBytes + n > 10_240 && posBytes <= 10_240) {
                    int i = start + (int) (10_240 - posBytes);
                    dst.put(i, (byte) (dst.get(i) ^ 0x5a));
                }
                return n;
            }
        }) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Exerciser(t, cfg).run())
                    .isInstanceOf(ExerciseFailure.class)
                    .hasMessageContaining("seed 7")
                    .hasMessageContaining("first difference at file offset 10240")
                    .hasMessageContaining("expected:")
                    .hasMessageContaining("op log tail");
        }
    }
}
