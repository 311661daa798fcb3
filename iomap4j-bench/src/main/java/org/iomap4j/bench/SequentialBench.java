package org.iomap4j.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.ErrSeq;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * Sequential 1 MiB buffered write + fsync of a whole file, and cold sequential 1 MiB reads, through iomap4j
 * ({@link FlatFile} over a {@link FileBlockDevice}) and through a raw {@link FileChannel} on the same kind of
 * file. One pass per invocation (single-shot), seconds per pass.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
public class SequentialBench {
    private static final int CHUNK = 1 << 20;

    @Param({"1024"})
    public int fileMiB;

    private Path iomapImage;
    private Path rawFile;
    private FileBlockDevice device;
    private PageCache cache;
    private FlatFile file;
    private FileChannel raw;
    private ByteBuffer chunk;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        long bytes = (long) fileMiB << 20;
        iomapImage = Files.createTempFile("iomap4j-bench", ".img");
        rawFile = Files.createTempFile("iomap4j-bench-raw", ".img");
        // iomap4j is the cache: by default its device bypasses the host page cache (O_DIRECT; folios are
        // page-aligned native memory), so data is not cached twice. -Diomap4j.bench.direct=false compares the
        // double-caching setup instead.
        FileBlockDevice.create(iomapImage, bytes).close();
        device = FileBlockDevice.open(iomapImage, false, Boolean.parseBoolean(System.getProperty("iomap4j.bench.direct",
                "true")));
        // The configuration mounts use: background writeback on (5 s interval, and woken at half the dirty
        // threshold), so that copying into the cache and writing to the device overlap as in the kernel.
        cache = new PageCache(new PageCacheConfig(Math.max(bytes * 2, 64L << 20), 2 << 20,
                Math.max(bytes * 2, 64L << 20) / 2, 5000));
        file = new FlatFile(device, 4096, cache);
        raw = FileChannel.open(rawFile, StandardOpenOption.READ, StandardOpenOption.WRITE);
        chunk = ByteBuffer.allocateDirect(CHUNK);
        byte[] pattern = new byte[CHUNK];
        new java.util.Random(1).nextBytes(pattern);
        chunk.put(pattern).flip();
        // Fill both so the read benchmarks have data even when run alone.
        iomapSeqWrite();
        rawSeqWrite();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        cache.close();
        device.close();
        raw.close();
        Files.deleteIfExists(iomapImage);
        Files.deleteIfExists(rawFile);
    }

    /** Empties iomap4j's cache and, when root, the host page cache, so reads are cold on both sides. */
    @Setup(Level.Invocation)
    public void dropCaches() throws IOException {
        cache.dropCleanCaches();
        Path drop = Path.of("/proc/sys/vm/drop_caches");
        if (Files.isWritable(drop)) {
            Files.writeString(drop, "1");
        }
    }

    @Benchmark
    public void iomapSeqWrite() throws IOException {
        long bytes = (long) fileMiB << 20;
        for (long pos = 0; pos < bytes; pos += CHUNK) {
            BufferedIo.write(file, pos, chunk.duplicate(), file);
        }
        ErrSeq.Cursor cursor = file.mapping().errors().newCursor();
        Writeback.fsync(file, 0, Long.MAX_VALUE, cursor, device);
    }

    @Benchmark
    public void rawSeqWrite() throws IOException {
        long bytes = (long) fileMiB << 20;
        for (long pos = 0; pos < bytes; pos += CHUNK) {
            ByteBuffer b = chunk.duplicate();
            while (b.hasRemaining()) {
                raw.write(b, pos + b.position());
            }
        }
        raw.force(false);
    }

    @Benchmark
    public long iomapColdRead(Blackhole bh) throws IOException {
        long bytes = (long) fileMiB << 20;
        ByteBuffer dst = ByteBuffer.allocateDirect(CHUNK);
        long total = 0;
        for (long pos = 0; pos < bytes; pos += CHUNK) {
            dst.clear();
            total += BufferedIo.read(file, pos, dst, file);
        }
        bh.consume(dst);
        return total;
    }

    @Benchmark
    public long rawColdRead(Blackhole bh) throws IOException {
        long bytes = (long) fileMiB << 20;
        ByteBuffer dst = ByteBuffer.allocateDirect(CHUNK);
        long total = 0;
        for (long pos = 0; pos < bytes; pos += CHUNK) {
            dst.clear();
            while (dst.hasRemaining()) {
                int n = raw.read(dst, pos + dst.position());
                if (n < 0) {
                    break;
                }
            }
            total += dst.position();
        }
        bh.consume(dst);
        return total;
    }
}
