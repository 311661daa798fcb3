package org.iomap4j.testkit.exercise;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * An fsx-style exerciser: seeded random operations on one file of an {@link ExerciseTarget}, every read (and
 * every size, seek result and, after a remount, the whole file) checked against an in-memory model of the
 * file's bytes. Exists to find data-path bugs no hand-written test thought of, and to reproduce them: the op
 * sequence is a function of the seed (and of the target's capabilities), and every op can be logged as a line and
 * replayed with {@link #replay}.
 *
 * <p>Model: {@code model[0, sizeBytes)} is the file; bytes at or past the size are kept zero, so truncate-up and
 * writes past EOF read zeroes in between. Not thread-safe.
 */
public final class Exerciser {
    private final ExerciseTarget target;
    private final ExerciseConfig cfg;
    private final byte[] model;
    private long sizeBytes;
    private final ArrayDeque<String> tail = new ArrayDeque<>();
    private final EnumMap<ExerciseConfig.Kind, Long> counts = new EnumMap<>(ExerciseConfig.Kind.class);
    private Consumer<String> logSink = line -> { };
    private long opIndex;
    private long bytesRead;
    private long bytesWritten;

    /**
     * What a run did.
     *
     * @param ops operations run
     * @param counts operations run per kind
     * @param bytesRead bytes read over all reads
     * @param bytesWritten bytes written over all writes
     * @param finalSizeBytes the file size at the end, in bytes
     */
    public record Result(long ops, Map<ExerciseConfig.Kind, Long> counts, long bytesRead, long bytesWritten,
            long finalSizeBytes) {
    }

    /**
     * An exerciser of {@code target} with {@code cfg}.
     *
     * @param target an unopened target; {@link #run()} opens it (the caller closes it)
     * @param cfg seed, op count, mix and size limits
     */
    public Exerciser(ExerciseTarget target, ExerciseConfig cfg) {
        if (cfg.maxSizeBytes() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the in-memory model holds at most 2 GiB: " + cfg.maxSizeBytes());
        }
        this.target = target;
        this.cfg = cfg;
        this.model = new byte[(int) cfg.maxSizeBytes()];
    }

    /**
     * Receives every op's log line before it runs (the replayable log).
     *
     * @param sink receives one line per op
     * @return this exerciser
     */
    public Exerciser logTo(Consumer<String> sink) {
        this.logSink = sink;
        return this;
    }

    /**
     * Opens the target and runs {@code cfg.ops()} random operations, then checks the whole file.
     *
     * @throws ExerciseFailure on the first disagreement with the model or failed operation
     * @return what the run did
     */
    public Result run() throws ExerciseFailure {
        openTarget();
        Random rnd = new Random(cfg.seed());
        List<ExerciseConfig.Kind> kinds = new ArrayList<>();
        List<Integer> weights = new ArrayList<>();
        int total = 0;
        for (ExerciseConfig.Kind k : ExerciseConfig.Kind.values()) {
            int w = cfg.mix().getOrDefault(k, 0);
            if (w > 0 && (k.needs == null || target.capabilities().contains(k.needs))) {
                kinds.add(k);
                weights.add(w);
                total += w;
            }
        }
        if (total == 0) {
            throw new IllegalArgumentException("the mix leaves no operation this target supports ("
                    + target.capabilities() + ")");
        }
        for (long n = 0; n < cfg.ops(); n++) {
            int pick = rnd.nextInt(total);
            int i = 0;
            while (pick >= weights.get(i)) {
                pick -= weights.get(i++);
            }
            step(generate(kinds.get(i), rnd));
        }
        verifyWholeFile("final check");
        return result();
    }

    /**
     * Opens the target and runs {@code ops} (a parsed log) in order, then checks the whole file.
     *
     * @throws ExerciseFailure as {@link #run()}
     * @param ops the ops to run, as {@link ExerciseOp#parse} gives them
     * @return what the run did
     */
    public Result replay(List<ExerciseOp> ops) throws ExerciseFailure {
        openTarget();
        for (ExerciseOp op : ops) {
            if (op.kind().needs != null && !target.capabilities().contains(op.kind().needs)) {
                throw new IllegalArgumentException("log op '" + op.format() + "' needs " + op.kind().needs
                        + " which " + target.describe() + " does not support");
            }
            step(op);
        }
        verifyWholeFile("final check");
        return result();
    }

    private Result result() {
        return new Result(opIndex, Map.copyOf(counts), bytesRead, bytesWritten, sizeBytes);
    }

    private void openTarget() throws ExerciseFailure {
        try {
            target.open();
        } catch (IOException | RuntimeException e) {
            throw failure("opening " + target.describe() + " failed: " + e, e);
        }
    }

    // ------------------------------------------------------------------------------------------ generation

    private ExerciseOp generate(ExerciseConfig.Kind kind, Random rnd) {
        long max = cfg.maxSizeBytes();
        int blk = target.blockSizeBytes();
        return switch (kind) {
            case READ -> {
                long pos = sizeBytes == 0 || rnd.nextInt(16) == 0 ? randLong(rnd, max) : randLong(rnd, sizeBytes);
                yield new ExerciseOp.Read(pos, 1 + rnd.nextInt(opLimit(pos)));
            }
            case WRITE -> {
                long pos = randLong(rnd, max);
                yield new ExerciseOp.Write(pos, 1 + rnd.nextInt(opLimit(pos)), rnd.nextInt(1 << 30));
            }
            case TRUNCATE -> new ExerciseOp.Truncate(rnd.nextInt(4) == 0 ? 0 : randLong(rnd, max + 1));
            case FSYNC -> new ExerciseOp.Fsync();
            case ZERO -> {
                long pos = randLong(rnd, max);
                yield new ExerciseOp.ZeroRange(pos, 1 + rnd.nextInt(opLimit(pos)), rnd.nextBoolean());
            }
            case FALLOCATE -> {
                long pos = randLong(rnd, max);
                yield new ExerciseOp.Allocate(pos, 1 + rnd.nextInt(opLimit(pos)), rnd.nextBoolean());
            }
            case PUNCH -> {
                long pos = randLong(rnd, max);
                yield new ExerciseOp.Punch(pos, 1 + rnd.nextInt(opLimit(pos)));
            }
            case DREAD -> {
                long blocks = Math.max(1, (sizeBytes + blk - 1) / blk);
                long pos = randLong(rnd, blocks) * blk;
                yield new ExerciseOp.DirectRead(pos, alignedLen(rnd, pos, blk));
            }
            case DWRITE -> {
                long pos = randLong(rnd, max / blk) * blk;
                yield new ExerciseOp.DirectWrite(pos, alignedLen(rnd, pos, blk), rnd.nextInt(1 << 30));
            }
            case SEEK_DATA -> new ExerciseOp.SeekData(randLong(rnd, sizeBytes + blk));
            case SEEK_HOLE -> new ExerciseOp.SeekHole(randLong(rnd, sizeBytes + blk));
            case DROP_CACHES -> new ExerciseOp.DropCaches();
            case REMOUNT -> new ExerciseOp.Remount();
            case FIEMAP -> new ExerciseOp.Fiemap();
        };
    }

    private int opLimit(long pos) {
        return (int) Math.max(1, Math.min(cfg.maxOpBytes(), cfg.maxSizeBytes() - pos));
    }

    private int alignedLen(Random rnd, long pos, int blk) {
        long maxBlocks = Math.max(1, Math.min(cfg.maxOpBytes(), cfg.maxSizeBytes() - pos) / blk);
        return (int) ((1 + randLong(rnd, maxBlocks)) * blk);
    }

    private static long randLong(Random rnd, long bound) {
        return bound <= 0 ? 0 : (long) (rnd.nextDouble() * bound) % bound;
    }

    // ------------------------------------------------------------------------------------------ execution

    private void step(ExerciseOp op) throws ExerciseFailure {
        String line = op.format();
        logSink.accept(line);
        tail.addLast(opIndex + ": " + line);
        while (tail.size() > cfg.logTail()) {
            tail.removeFirst();
        }
        counts.merge(op.kind(), 1L, Long::sum);
        try {
            execute(op);
            long actualSize = target.sizeBytes();
            if (actualSize != sizeBytes) {
                throw failure("size after '" + line + "' is " + actualSize + ", model says " + sizeBytes, null);
            }
        } catch (IOException | RuntimeException e) {
            throw failure("'" + line + "' failed: " + e, e);
        }
        opIndex++;
    }

    private void execute(ExerciseOp op) throws IOException, ExerciseFailure {
        switch (op) {
            case ExerciseOp.Read r -> {
                ByteBuffer dst = ByteBuffer.allocate(r.lengthBytes());
                int n = target.read(r.posBytes(), dst);
                check(r.format(), r.posBytes(), r.lengthBytes(), dst, n);
            }
            case ExerciseOp.Write w -> {
                byte[] data = pattern(w.tag(), w.posBytes(), w.lengthBytes());
                target.write(w.posBytes(), ByteBuffer.wrap(data));
                applyWrite(w.posBytes(), data);
            }
            case ExerciseOp.Truncate t -> {
                checkLimit(t.sizeBytes(), t.format());
                target.truncate(t.sizeBytes());
                if (t.sizeBytes() < sizeBytes) {
                    java.util.Arrays.fill(model, (int) t.sizeBytes(), (int) sizeBytes, (byte) 0);
                }
                sizeBytes = t.sizeBytes();
            }
            case ExerciseOp.Fsync f -> target.fsync();
            case ExerciseOp.ZeroRange z -> {
                checkLimit(z.posBytes() + z.lengthBytes(), z.format());
                target.zeroRange(z.posBytes(), z.lengthBytes(), z.keepSize());
                long end = z.posBytes() + z.lengthBytes();
                if (!z.keepSize() && end > sizeBytes) {
                    sizeBytes = end;
                }
                zeroModel(z.posBytes(), end);
            }
            case ExerciseOp.Allocate a -> {
                checkLimit(a.posBytes() + a.lengthBytes(), a.format());
                target.allocate(a.posBytes(), a.lengthBytes(), a.keepSize());
                long end = a.posBytes() + a.lengthBytes();
                if (!a.keepSize() && end > sizeBytes) {
                    sizeBytes = end; // the model's bytes beyond the old size are zero already
                }
            }
            case ExerciseOp.Punch p -> {
                checkLimit(p.posBytes() + p.lengthBytes(), p.format());
                target.punchHole(p.posBytes(), p.lengthBytes());
                zeroModel(p.posBytes(), p.posBytes() + p.lengthBytes());
            }
            case ExerciseOp.DirectRead r -> {
                ByteBuffer dst = ByteBuffer.allocate(r.lengthBytes());
                int n = target.directRead(r.posBytes(), dst);
                check(r.format(), r.posBytes(), r.lengthBytes(), dst, n);
            }
            case ExerciseOp.DirectWrite w -> {
                byte[] data = pattern(w.tag(), w.posBytes(), w.lengthBytes());
                target.directWrite(w.posBytes(), ByteBuffer.wrap(data));
                applyWrite(w.posBytes(), data);
            }
            case ExerciseOp.SeekData s -> checkSeekData(s, target.seekData(s.posBytes()));
            case ExerciseOp.SeekHole s -> checkSeekHole(s, target.seekHole(s.posBytes()));
            case ExerciseOp.Fiemap f -> checkFiemap(f, target.fiemap());
            case ExerciseOp.DropCaches d -> target.dropCaches();
            case ExerciseOp.Remount r -> {
                target.remount();
                verifyWholeFile("after remount");
            }
        }
    }

    private void checkLimit(long end, String line) {
        if (end > cfg.maxSizeBytes()) {
            throw new IllegalArgumentException("'" + line + "' goes past the model's size limit " + cfg.maxSizeBytes());
        }
    }

    private void applyWrite(long pos, byte[] data) {
        checkLimit(pos + data.length, "write at " + pos);
        System.arraycopy(data, 0, model, (int) pos, data.length);
        sizeBytes = Math.max(sizeBytes, pos + data.length);
        bytesWritten += data.length;
    }

    private void zeroModel(long start, long end) {
        long e = Math.min(end, sizeBytes);
        if (start < e) {
            java.util.Arrays.fill(model, (int) start, (int) e, (byte) 0);
        }
    }

    /** The bytes a write with {@code tag} puts at {@code [pos, pos + len)}. */
    static byte[] pattern(long tag, long pos, int len) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = ExerciseOp.dataByte(tag, pos + i);
        }
        return b;
    }

    private void check(String what, long pos, int len, ByteBuffer dst, int n) throws ExerciseFailure {
        int expectedN = (int) Math.max(0, Math.min(len, sizeBytes - pos));
        bytesRead += Math.max(n, 0);
        byte[] actual = new byte[Math.max(n, 0)];
        dst.get(0, actual, 0, actual.length);
        int firstDiff = -1;
        for (int i = 0; i < Math.min(n, expectedN); i++) {
            if (actual[i] != model[(int) pos + i]) {
                firstDiff = i;
                break;
            }
        }
        if (n != expectedN || firstDiff >= 0) {
            int at = firstDiff >= 0 ? firstDiff : Math.min(n, expectedN);
            throw failure("'" + what + "' returned " + n + " bytes (model: " + expectedN + ", file size "
                    + sizeBytes + "); first difference at file offset " + (pos + at) + " (+" + at + ")\n  expected: "
                    + hex(model, (int) pos + at, Math.min(32, expectedN - at)) + "\n  actual:   "
                    + hex(actual, at, Math.min(32, n - at)), null);
        }
    }

    private void checkSeekData(ExerciseOp.SeekData s, long r) throws ExerciseFailure {
        long off = s.posBytes();
        if (off >= sizeBytes) {
            if (r != -1) {
                throw failure("'" + s.format() + "' at/after EOF " + sizeBytes + " returned " + r + ", expected ENXIO", null);
            }
            return;
        }
        if (r == -1) {
            // ENXIO inside the file: only if everything from off to EOF reads as zeroes
            int nz = firstNonZero(off, sizeBytes);
            if (nz >= 0) {
                throw failure("'" + s.format() + "' returned ENXIO but the model has data at " + nz, null);
            }
            return;
        }
        if (r < off || r >= sizeBytes) {
            throw failure("'" + s.format() + "' returned " + r + " outside [" + off + ", " + sizeBytes + ")", null);
        }
        int nz = firstNonZero(off, r);
        if (nz >= 0) {
            throw failure("'" + s.format() + "' returned " + r + " but the model has data at " + nz
                    + " (skipped as a hole)", null);
        }
    }

    private void checkSeekHole(ExerciseOp.SeekHole s, long r) throws ExerciseFailure {
        long off = s.posBytes();
        if (off >= sizeBytes) {
            if (r != -1) {
                throw failure("'" + s.format() + "' at/after EOF " + sizeBytes + " returned " + r + ", expected ENXIO", null);
            }
            return;
        }
        if (r < off || r > sizeBytes) {
            throw failure("'" + s.format() + "' returned " + r + " outside [" + off + ", " + sizeBytes + "]", null);
        }
        if (r < sizeBytes) {
            long holeEnd = Math.min(sizeBytes, (r / target.blockSizeBytes() + 1) * target.blockSizeBytes());
            int nz = firstNonZero(r, holeEnd);
            if (nz >= 0) {
                throw failure("'" + s.format() + "' returned hole at " + r + " but the model has data at " + nz, null);
            }
        }
    }

    /**
     * Extents ascending, disjoint and non-empty, and every non-zero model byte inside one (extents may reach past
     * EOF: preallocation and whole mappings are reported as the filesystem returns them).
     */
    private void checkFiemap(ExerciseOp.Fiemap f, java.util.List<long[]> extents) throws ExerciseFailure {
        long covered = 0;
        for (long[] e : extents) {
            if (e[0] < covered || e[1] <= 0) {
                throw failure("'" + f.format() + "' returned extent [" + e[0] + ", +" + e[1]
                        + ") that is empty or overlaps the previous one (ending at " + covered + ")", null);
            }
            int nz = firstNonZero(covered, Math.min(e[0], sizeBytes));
            if (nz >= 0) {
                throw failure("'" + f.format() + "' reports no extent over " + nz + " but the model has data there", null);
            }
            covered = e[0] + e[1];
        }
        int nz = firstNonZero(Math.min(covered, sizeBytes), sizeBytes);
        if (nz >= 0) {
            throw failure("'" + f.format() + "' reports no extent over " + nz + " but the model has data there", null);
        }
    }

    private int firstNonZero(long start, long end) {
        for (long i = start; i < end; i++) {
            if (model[(int) i] != 0) {
                return (int) i;
            }
        }
        return -1;
    }

    private void verifyWholeFile(String why) throws ExerciseFailure {
        int chunk = 1 << 20;
        try {
            for (long pos = 0; pos < sizeBytes; pos += chunk) {
                int len = (int) Math.min(chunk, sizeBytes - pos);
                ByteBuffer dst = ByteBuffer.allocate(len);
                int n = target.read(pos, dst);
                check(why + ": read " + pos + " " + len, pos, len, dst, n);
            }
            long actualSize = target.sizeBytes();
            if (actualSize != sizeBytes) {
                throw failure(why + ": size is " + actualSize + ", model says " + sizeBytes, null);
            }
        } catch (IOException | RuntimeException e) {
            throw failure(why + " failed: " + e, e);
        }
    }

    private static String hex(byte[] b, int off, int len) {
        if (len <= 0) {
            return "(none)";
        }
        return HexFormat.ofDelimiter(" ").formatHex(b, off, off + len);
    }

    private ExerciseFailure failure(String what, Throwable cause) {
        StringBuilder sb = new StringBuilder();
        sb.append("exerciser mismatch on ").append(target.describe()).append(" at op ").append(opIndex)
                .append(" (seed ").append(cfg.seed()).append("): ").append(what).append('\n');
        sb.append("op log tail (last ").append(tail.size()).append(" ops):\n");
        for (String l : tail) {
            sb.append("  ").append(l).append('\n');
        }
        sb.append("reproduce: iomapfs exercise --seed ").append(cfg.seed()).append(" --ops ").append(opIndex + 1)
                .append(" --max-size ").append(cfg.maxSizeBytes());
        return new ExerciseFailure(sb.toString(), cfg.seed(), opIndex, cause);
    }
}
