package org.iomap4j.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs the core benchmarks in one go and prints ratios against raw FileChannel access on the same kind of
 * file (targets: &ge; 0.9x raw for sequential buffered I/O), then measures write amplification of random 4 KiB
 * overwrites cached in 2 MiB folios (target 1.00: device bytes written / dirty bytes).
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -jar iomap4j-bench/target/benchmarks.jar} runs JMH
 * directly; {@code java -cp iomap4j-bench/target/benchmarks.jar org.iomap4j.bench.BenchMain [fileMiB] [iterations]}
 * prints the summary ({@code bench/core.sh} wraps it; docs/benchmarks.md).
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) throws Exception {
        String fileMiB = args.length > 0 ? args[0] : "1024";
        int iterations = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        Options opt = new OptionsBuilder().include(SequentialBench.class.getName())
                .param("fileMiB", fileMiB).forks(1).warmupIterations(2).measurementIterations(iterations)
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "-Xmx8g").build();
        Collection<RunResult> results = new Runner(opt).run();
        Map<String, Double> secs = new HashMap<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            secs.put(name.substring(name.lastIndexOf('.') + 1), r.getPrimaryResult().getScore());
        }
        double mib = Double.parseDouble(fileMiB);
        System.out.println();
        System.out.println("== iomap4j vs raw FileChannel (" + fileMiB + " MiB file, mean of " + iterations
                + " single-shot passes; ratio = iomap4j throughput / raw, target >= 0.90)");
        row("sequential 1 MiB write + fsync", secs.get("iomapSeqWrite"), secs.get("rawSeqWrite"), mib);
        row("cold sequential 1 MiB read", secs.get("iomapColdRead"), secs.get("rawColdRead"), mib);
        System.out.println();
        writeAmplification();
    }

    private static void row(String what, Double iomapSec, Double rawSec, double mib) {
        if (iomapSec == null || rawSec == null) {
            System.out.println(what + ": missing result");
            return;
        }
        System.out.printf("%-32s iomap4j %8.1f MiB/s   raw %8.1f MiB/s   ratio %.2fx%n", what, mib / iomapSec,
                mib / rawSec, rawSec / iomapSec);
    }

    /** Random 4 KiB overwrites of a file cached in 2 MiB folios: device bytes written per dirty byte. */
    static void writeAmplification() throws IOException {
        Path img = Files.createTempFile("iomap4j-wa", ".img");
        long fileBytes = 256L << 20;
        try (FileBlockDevice dev = FileBlockDevice.create(img, fileBytes);
                PageCache cache = new PageCache(PageCacheConfig.of(512L << 20, 2 << 20))) {
            FlatFile f = new FlatFile(dev, 4096, cache);
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20);
            for (long pos = 0; pos < fileBytes; pos += chunk.capacity()) {
                chunk.clear();
                BufferedIo.write(f, pos, chunk, f);
            }
            Writeback.writeAndWait(f.mapping(), 0, Long.MAX_VALUE);
            dev.stats().reset();
            Random rnd = new Random(42);
            java.util.BitSet dirtyBlocks = new java.util.BitSet();
            ByteBuffer b = ByteBuffer.allocate(4096);
            for (int i = 0; i < 20_000; i++) {
                long blk = rnd.nextLong(fileBytes / 4096);
                dirtyBlocks.set((int) blk);
                b.clear();
                rnd.nextBytes(b.array());
                BufferedIo.write(f, blk * 4096, b, f);
            }
            Writeback.writeAndWait(f.mapping(), 0, Long.MAX_VALUE);
            long dirtyBytes = dirtyBlocks.cardinality() * 4096L;
            System.out.printf("random 4 KiB overwrite in 2 MiB folios: dirty %d bytes, device wrote %d bytes in %d requests"
                    + " -> write amplification %.2f%n", dirtyBytes, dev.stats().bytesWritten(),
                    dev.stats().writeRequests(), (double) dev.stats().bytesWritten() / dirtyBytes);
        } finally {
            Files.deleteIfExists(img);
        }
    }
}
