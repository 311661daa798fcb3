package org.iomap4j.bench;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.MappedBlockDevice;
import org.iomap4j.iomap.Dax;
import org.iomap4j.iomap.DirectIo;
import org.iomap4j.iomap.IomapDioOps;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * Direct I/O through iomap4j ({@link DirectIo} over {@link FlatFile} on an O_DIRECT {@link FileBlockDevice}) vs a
 * raw O_DIRECT {@link FileChannel} on the same file: sequential 1 MiB reads and writes at queue depth 1 and 16
 * (16 threads, each its own stream), random 4 KiB reads at depth 16; and DAX ({@link Dax} over a
 * {@link MappedBlockDevice}) vs {@link MemorySegment#copy} on the same mapping, sequential 1 MiB. Throughput in
 * operations per second; the ratio iomap4j/raw is the figure of merit (issue 5 target: &ge; 0.95 for direct I/O).
 *
 * <p>The files live in {@code -Diomap4j.bench.dir} (default java.io.tmpdir), which must support O_DIRECT (not
 * tmpfs). Not a test: run with {@code java -jar iomap4j-bench/target/benchmarks.jar DirectDaxBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class DirectDaxBench {
    private static final int MIB = 1 << 20;

    @Param({"512"})
    public int fileMiB;

    private long fileBytes;
    private Path dioImage;
    private Path daxImage;
    private FileBlockDevice dioDevice;
    private PageCache cache;
    private FlatFile dioFile;
    private FileChannel raw;
    private MappedBlockDevice daxDevice;
    private FlatFile daxFile;
    private final AtomicLong nextChunk = new AtomicLong();

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        fileBytes = (long) fileMiB << 20;
        Path dir = Path.of(System.getProperty("iomap4j.bench.dir", System.getProperty("java.io.tmpdir")));
        dioImage = Files.createTempFile(dir, "iomap4j-dio", ".img");
        daxImage = Files.createTempFile(dir, "iomap4j-dax", ".img");
        byte[] chunk = new byte[MIB];
        ThreadLocalRandom.current().nextBytes(chunk);
        try (var out = Files.newOutputStream(dioImage); var out2 = Files.newOutputStream(daxImage)) {
            for (long p = 0; p < fileBytes; p += MIB) {
                out.write(chunk);
                out2.write(chunk);
            }
        }
        dioDevice = FileBlockDevice.open(dioImage, false, true);
        cache = new PageCache(PageCacheConfig.of(64L << 20, 2 << 20));
        dioFile = new FlatFile(dioDevice, 4096, cache);
        dioFile.setSizeBytes(fileBytes);
        raw = FileChannel.open(dioImage, StandardOpenOption.READ, StandardOpenOption.WRITE,
                com.sun.nio.file.ExtendedOpenOption.DIRECT);
        daxDevice = MappedBlockDevice.open(daxImage, false);
        daxFile = new FlatFile(daxDevice, 4096, cache);
        daxFile.setSizeBytes(fileBytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        raw.close();
        dioDevice.close();
        daxDevice.close();
        cache.close();
        Files.deleteIfExists(dioImage);
        Files.deleteIfExists(daxImage);
    }

    /** Per-thread aligned buffers. */
    @State(Scope.Thread)
    public static class Buffers {
        final ByteBuffer mib = ByteBuffer.allocateDirect(MIB + 4096).alignedSlice(4096);
        final ByteBuffer page = ByteBuffer.allocateDirect(2 * 4096).alignedSlice(4096);
        final MemorySegment heapMib = MemorySegment.ofArray(new byte[MIB]);
    }

    private long nextSeqPos() {
        return (nextChunk.getAndIncrement() % (fileBytes / MIB)) * MIB;
    }

    private long randomPage() {
        return ThreadLocalRandom.current().nextLong(fileBytes / 4096) * 4096;
    }

    // ---------------------------------------------------------------- sequential 1 MiB, depth 1 and 16

    @Benchmark
    public long iomapDioSeqRead1M(Buffers b) throws IOException {
        return DirectIo.read(dioFile, nextSeqPos(), b.mib.clear(), dioFile, IomapDioOps.NONE, 0);
    }

    @Benchmark
    public long rawDioSeqRead1M(Buffers b) throws IOException {
        return raw.read(b.mib.clear(), nextSeqPos());
    }

    @Benchmark
    public long iomapDioSeqWrite1M(Buffers b) throws IOException {
        return DirectIo.write(dioFile, nextSeqPos(), b.mib.clear(), dioFile, IomapDioOps.NONE, 0);
    }

    @Benchmark
    public long rawDioSeqWrite1M(Buffers b) throws IOException {
        return raw.write(b.mib.clear(), nextSeqPos());
    }

    @Benchmark
    @Threads(16)
    public long iomapDioSeqRead1MDepth16(Buffers b) throws IOException {
        return iomapDioSeqRead1M(b);
    }

    @Benchmark
    @Threads(16)
    public long rawDioSeqRead1MDepth16(Buffers b) throws IOException {
        return rawDioSeqRead1M(b);
    }

    @Benchmark
    @Threads(16)
    public long iomapDioSeqWrite1MDepth16(Buffers b) throws IOException {
        return iomapDioSeqWrite1M(b);
    }

    @Benchmark
    @Threads(16)
    public long rawDioSeqWrite1MDepth16(Buffers b) throws IOException {
        return rawDioSeqWrite1M(b);
    }

    // ---------------------------------------------------------------- random 4 KiB, depth 16

    @Benchmark
    @Threads(16)
    public long iomapDioRandRead4KDepth16(Buffers b) throws IOException {
        return DirectIo.read(dioFile, randomPage(), b.page.clear().limit(4096), dioFile, IomapDioOps.NONE, 0);
    }

    @Benchmark
    @Threads(16)
    public long rawDioRandRead4KDepth16(Buffers b) throws IOException {
        return raw.read(b.page.clear().limit(4096), randomPage());
    }

    // ---------------------------------------------------------------- DAX, sequential 1 MiB

    @Benchmark
    public long daxSeqRead1M(Buffers b) throws IOException {
        return Dax.read(daxFile, nextSeqPos(), b.mib.clear(), daxFile);
    }

    @Benchmark
    public long segmentCopySeqRead1M(Buffers b) {
        MemorySegment.copy(daxDevice.segment(), nextSeqPos(), MemorySegment.ofBuffer(b.mib.clear()), 0, MIB);
        return MIB;
    }

    @Benchmark
    public long daxSeqWrite1M(Buffers b) throws IOException {
        return Dax.write(daxFile, nextSeqPos(), b.mib.clear(), daxFile);
    }

    @Benchmark
    public long segmentCopySeqWrite1M(Buffers b) {
        MemorySegment.copy(MemorySegment.ofBuffer(b.mib.clear()), 0, daxDevice.segment(), nextSeqPos(), MIB);
        return MIB;
    }
}
