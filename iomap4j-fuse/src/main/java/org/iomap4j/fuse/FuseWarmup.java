package org.iomap4j.fuse;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.iomap4j.vfs.Vfs;

/**
 * Drives the request path of a mount — the opcode table, the node layer, the {@link Vfs} below it and the reply
 * writer — with synthetic requests against a scratch filesystem, so that the JIT compiles that path before the
 * real mount serves its first request. It exists because every {@code iomapfs mount} is a new JVM: without it the
 * first seconds of a mount run interpreted and profiling code while the C2 compiler thread takes a core (measured
 * on a 2-vCPU VM: 1.4 s of C2 CPU during a 10 s random-read job, hot methods compiled 3–5 s into it). With images on
 * tmpfs (no host-disk noise), a 1.5 s warm-up made a cold 512 MiB O_DIRECT read through the mount 25% faster and a
 * buffered sequential one up to 17% (docs/benchmarks.md); a 10 s random 4 KiB read job gained nothing.
 *
 * <p>The JIT does not settle within seconds on this workload (each round still triggers compilations, about 4 s of
 * compiler CPU in 4 s), so the budget, not the idle test below, usually ends the warm-up.
 *
 * <p>No kernel is involved: requests are built in memory and {@link FuseServer#dispatch dispatched} exactly as a
 * reader thread would, replies are written to /dev/null after being checked here. Every reply must succeed
 * (error 0), so a warm-up run is also a self-check of the request path; a failure throws.
 *
 * <p>The workload mirrors what mounts are used for: 1 MiB sequential writes, fsync, 1 MiB sequential and 4 KiB
 * random reads and writes, O_DIRECT (FOPEN_DIRECT_IO) reads and writes, and create / lookup / getattr /
 * readdirplus / rename / unlink of small files, in rounds until one passes with the JIT compiler threads idle or
 * the time budget runs out.
 *
 * <p>The scratch Vfs must be empty and writable and is left with no files; it should be small with a page cache
 * smaller than {@link #DATA_FILE_BYTES} so that fills and reclaim run too. Single-threaded; not thread-safe.
 */
public final class FuseWarmup {
    /** Size of the data file the warm-up writes and reads, in bytes. */
    public static final long DATA_FILE_BYTES = 24L << 20;
    private static final int MIB = 1 << 20;
    /** Bytes of one page: the random I/O size. */
    private static final int PAGE = 4096;
    private static final int FILES_PER_ROUND = 400;

    /**
     * What a warm-up did: rounds run, wall time and JIT compilation time spent (-1 if not reported).
     *
     * @param rounds workload rounds run
     * @param requests Vfs requests made over all rounds
     * @param elapsed wall time of the warm-up
     * @param compileMillis JIT compilation time spent meanwhile, in milliseconds (CompilationMXBean)
     */
    public record Result(int rounds, long requests, Duration elapsed, long compileMillis) {
    }

    private final Vfs vfs;
    private final FuseServer server;
    private final Channel channel;
    private final Random random = new Random(42);
    /** This host's open-flag values: the warm-up plays the kernel. */
    private final OpenFlagsAbi abi = OpenFlagsAbi.host();
    private long unique = 1;
    private long requests;

    private FuseWarmup(Vfs vfs, Channel channel) {
        this.vfs = vfs;
        this.server = new FuseServer(new NodeBridge(vfs, FuseOptions.builder().build()).opTable(), false);
        this.channel = channel;
    }

    /**
     * Runs rounds of the workload on {@code scratch} until one round, after at least {@link #MIN_ROUNDS}, passes
     * without the JIT compiler threads using CPU (without /proc: {@link #MIN_ROUNDS} rounds), or until
     * {@code budget} has passed (checked between rounds, so a round may run over).
     *
     * @throws IOException if /dev/null cannot be opened, the scratch Vfs fails, or a request is answered with an
     *                     error (the message names the opcode, the file and the errno)
     * @param scratch a writable scratch filesystem the workload may fill and empty
     * @param budget the most wall time to spend
     * @return what the warm-up did
     */
    public static Result run(Vfs scratch, Duration budget) throws IOException {
        long start = System.nanoTime();
        long deadline = start + budget.toNanos();
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
        long compileStart = timed ? jit.getTotalCompilationTime() : -1;
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Native.newCapture(arena);
            fd = Native.open(capture, arena.allocateFrom("/dev/null"), 1 /* O_WRONLY */ | Native.O_CLOEXEC);
            if (fd < 0) {
                throw Native.failure("open /dev/null", Native.errno(capture));
            }
        }
        int rounds = 0;
        FuseWarmup w;
        try (Channel ch = new Channel(fd)) {
            w = new FuseWarmup(scratch, ch);
            w.init();
            // Rounds go on until one passes with the compiler threads idle throughout: the tiered policy promotes
            // a method (interpreter -> C1 -> C2) only as its counters keep overflowing, and a C2 compile of a large
            // method takes 100-300 ms on a busy 2-vCPU machine. Stopping earlier leaves those compiles to the
            // mount's first requests.
            long ticks = compilerCpuTicks();
            while (true) {
                w.round(rounds);
                rounds++;
                long now = compilerCpuTicks();
                boolean idle = now >= 0 && now == ticks;
                ticks = now;
                if ((rounds >= MIN_ROUNDS && (idle || now < 0)) || System.nanoTime() >= deadline) {
                    break;
                }
            }
        } finally {
            try (Arena arena = Arena.ofConfined()) {
                Native.close(Native.newCapture(arena), fd);
            }
        }
        return new Result(rounds, w.requests, Duration.ofNanos(System.nanoTime() - start),
                timed ? jit.getTotalCompilationTime() - compileStart : -1);
    }

    /** Rounds of the workload at least (unless the budget runs out): the first ones run in the interpreter. */
    static final int MIN_ROUNDS = 3;

    /**
     * CPU time in clock ticks (utime + stime, proc(5) /proc/PID/task/TID/stat fields 14 and 15) used so far by this
     * JVM's JIT compiler threads (HotSpot names them "C1 CompilerThreadN" / "C2 CompilerThreadN", truncated to 15
     * characters in comm); -1 if /proc cannot be read.
     */
    static long compilerCpuTicks() {
        Path tasks = Path.of("/proc/self/task");
        long total = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(tasks)) {
            for (Path t : ds) {
                String stat;
                try {
                    stat = Files.readString(t.resolve("stat"));
                } catch (IOException e) {
                    continue; // the thread exited
                }
                int open = stat.indexOf('(');
                int close = stat.lastIndexOf(')');
                if (open < 0 || close < open) {
                    continue;
                }
                String comm = stat.substring(open + 1, close);
                if (!comm.startsWith("C1 CompilerThre") && !comm.startsWith("C2 CompilerThre")) {
                    continue;
                }
                // After ") ": state(3) ppid(4) ... utime(14) stime(15): fields 3.. are space-separated.
                String[] f = stat.substring(close + 2).split(" ");
                if (f.length > 12) {
                    total += Long.parseLong(f[11]) + Long.parseLong(f[12]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return total;
    }

    // ------------------------------------------------------------------------------------------------------

    private void init() throws IOException {
        long offered = FuseAbi.FUSE_ASYNC_READ | FuseAbi.FUSE_BIG_WRITES | FuseAbi.FUSE_MAX_PAGES
                | FuseAbi.FUSE_PARALLEL_DIROPS | FuseAbi.FUSE_DO_READDIRPLUS | FuseAbi.FUSE_READDIRPLUS_AUTO
                | FuseAbi.FUSE_ATOMIC_O_TRUNC | FuseAbi.FUSE_ASYNC_DIO;
        int len = new FuseIn.InitIn(FuseAbi.KERNEL_VERSION, FuseAbi.MINOR_VERSION, 128 << 10, offered)
                .encode(payload());
        send(FuseAbi.INIT, FuseAbi.ROOT_ID, len, "INIT");
    }

    private void round(int round) throws IOException {
        dataWorkload("data" + round);
        metadataWorkload("dir" + round);
    }

    /** Sequential, random and O_DIRECT I/O on one file of {@link #DATA_FILE_BYTES}; the file is unlinked. */
    private void dataWorkload(String name) throws IOException {
        long[] created = create(FuseAbi.ROOT_ID, name, Vfs.O_RDWR | Vfs.O_CREAT);
        long nodeid = created[0];
        long fh = created[1];
        for (long pos = 0; pos < DATA_FILE_BYTES; pos += MIB) {
            write(fh, nodeid, pos, MIB);
        }
        fsync(fh, nodeid);
        for (long pos = 0; pos < DATA_FILE_BYTES; pos += MIB) {
            read(fh, nodeid, pos, MIB);
        }
        long pages = DATA_FILE_BYTES / PAGE;
        for (int i = 0; i < 6_000; i++) {
            read(fh, nodeid, random.nextLong(pages) * PAGE, PAGE);
        }
        for (int i = 0; i < 2_000; i++) {
            write(fh, nodeid, random.nextLong(pages) * PAGE, PAGE);
        }
        getattr(nodeid);
        flushAndRelease(fh, nodeid);
        long dfh = open(nodeid, Vfs.O_RDWR | Vfs.O_DIRECT);
        for (long pos = 0; pos < 8L * MIB; pos += MIB) {
            write(dfh, nodeid, pos, MIB);
        }
        for (long pos = 0; pos < 8L * MIB; pos += MIB) {
            read(dfh, nodeid, pos, MIB);
        }
        flushAndRelease(dfh, nodeid);
        unlink(FuseAbi.ROOT_ID, name);
        forget(nodeid, 1);
    }

    /** Creates, looks up, lists, renames and unlinks {@link #FILES_PER_ROUND} empty files in a new directory. */
    private void metadataWorkload(String dirName) throws IOException {
        int len = new FuseIn.MkdirIn(0755, 0, dirName).encode(payload());
        long dir = FuseAbi.entryNodeid(send(FuseAbi.MKDIR, FuseAbi.ROOT_ID, len, "MKDIR"), 0);
        List<Long> nodeids = new ArrayList<>();
        for (int i = 0; i < FILES_PER_ROUND; i++) {
            long[] c = create(dir, "f" + i, Vfs.O_WRONLY | Vfs.O_CREAT | Vfs.O_EXCL);
            nodeids.add(c[0]);
            flushAndRelease(c[1], c[0]);
        }
        for (int i = 0; i < FILES_PER_ROUND; i++) {
            long nid = FuseAbi.entryNodeid(send(FuseAbi.LOOKUP, dir, name("f" + i), "LOOKUP"), 0);
            nodeids.add(nid);
            getattr(nid);
        }
        readdirplus(dir, nodeids);
        for (int i = 0; i < FILES_PER_ROUND; i += 2) {
            send(FuseAbi.RENAME, dir, new FuseIn.RenameIn(dir, 0, "f" + i, "g" + i).encode(payload(), false),
                    "RENAME");
        }
        for (int i = 0; i < FILES_PER_ROUND; i++) {
            unlink(dir, (i % 2 == 0 ? "g" : "f") + i);
        }
        batchForget(nodeids);
        send(FuseAbi.RMDIR, FuseAbi.ROOT_ID, name(dirName), "RMDIR");
        forget(dir, 1);
        send(FuseAbi.STATFS, FuseAbi.ROOT_ID, 0, "STATFS");
    }

    private void readdirplus(long dir, List<Long> nodeids) throws IOException {
        send(FuseAbi.OPENDIR, dir, new FuseIn.OpenIn(Vfs.O_RDONLY, 0, 0).encode(payload(), abi), "OPENDIR");
        long[] offset = {0};
        while (true) {
            int len = new FuseIn.ReadIn(0, offset[0], 64 << 10, 0, 0, 0).encode(payload());
            MemorySegment body = send(FuseAbi.READDIRPLUS, dir, len, "READDIRPLUS");
            if (body.byteSize() == 0) {
                break;
            }
            FuseAbi.forEachDirentPlus(body, (nid, next, nameLen) -> {
                if (nid != 0) {
                    nodeids.add(nid);
                }
                offset[0] = next;
            });
        }
        send(FuseAbi.RELEASEDIR, dir, new FuseIn.ReleaseIn(0, 0, 0, 0).encode(payload()), "RELEASEDIR");
    }

    // ------------------------------------------------------------------------------------------------------
    // Requests, encoded by the wire layer's records (FuseIn); flags in this host's kernel values.

    /** CREATE; returns {nodeid, fh}. */
    private long[] create(long parent, String name, int vfsFlags) throws IOException {
        int len = new FuseIn.CreateIn(vfsFlags, 0100644, 0, 0, name).encode(payload(), abi);
        MemorySegment body = send(FuseAbi.CREATE, parent, len, "CREATE");
        return new long[] {FuseAbi.entryNodeid(body, 0), FuseAbi.openFh(body, FuseAbi.ENTRY_OUT_SIZE)};
    }

    /** OPEN; returns fh. */
    private long open(long nodeid, int vfsFlags) throws IOException {
        int len = new FuseIn.OpenIn(vfsFlags, 0, 0).encode(payload(), abi);
        return FuseAbi.openFh(send(FuseAbi.OPEN, nodeid, len, "OPEN"), 0);
    }

    /** WRITE of the bytes already in the payload after the struct, one of them changed. */
    private void write(long fh, long nodeid, long posBytes, int sizeBytes) throws IOException {
        MemorySegment p = payload();
        p.asSlice(FuseIn.WriteIn.SIZE).set(ValueLayout.JAVA_BYTE, random.nextInt(sizeBytes), (byte) random.nextInt());
        int len = new FuseIn.WriteIn(fh, posBytes, sizeBytes, 0, 0, 0, null).encode(p);
        int n = FuseAbi.writtenBytes(send(FuseAbi.WRITE, nodeid, len, "WRITE"));
        if (n != sizeBytes) {
            throw new IOException("warm-up: WRITE of " + sizeBytes + " bytes at " + posBytes + " wrote " + n);
        }
    }

    private void read(long fh, long nodeid, long posBytes, int sizeBytes) throws IOException {
        int len = new FuseIn.ReadIn(fh, posBytes, sizeBytes, 0, 0, 0).encode(payload());
        long got = send(FuseAbi.READ, nodeid, len, "READ").byteSize();
        if (got != sizeBytes) {
            throw new IOException("warm-up: READ of " + sizeBytes + " bytes at " + posBytes + " returned " + got);
        }
    }

    private void fsync(long fh, long nodeid) throws IOException {
        send(FuseAbi.FSYNC, nodeid, new FuseIn.FsyncIn(fh, 0).encode(payload()), "FSYNC");
    }

    private void flushAndRelease(long fh, long nodeid) throws IOException {
        send(FuseAbi.FLUSH, nodeid, new FuseIn.FlushIn(fh, 0).encode(payload()), "FLUSH");
        send(FuseAbi.RELEASE, nodeid, new FuseIn.ReleaseIn(fh, 0, 0, 0).encode(payload()), "RELEASE");
    }

    private void getattr(long nodeid) throws IOException {
        send(FuseAbi.GETATTR, nodeid, new FuseIn.GetattrIn(0, 0).encode(payload()), "GETATTR");
    }

    private void unlink(long parent, String name) throws IOException {
        send(FuseAbi.UNLINK, parent, name(name), "UNLINK");
    }

    /** FORGET has no reply. */
    private void forget(long nodeid, long n) throws IOException {
        sendNoReply(FuseAbi.FORGET, nodeid, new FuseIn.ForgetIn(n).encode(payload()));
    }

    /** BATCH_FORGET: one lookup per listed nodeid. */
    private void batchForget(List<Long> nodeids) throws IOException {
        long[] ids = nodeids.stream().mapToLong(Long::longValue).toArray();
        long[] ones = new long[ids.length];
        java.util.Arrays.fill(ones, 1);
        sendNoReply(FuseAbi.BATCH_FORGET, 0, new FuseIn.BatchForgetIn(ids, ones).encode(payload()));
    }

    /** A payload holding just {@code name} (LOOKUP, UNLINK, RMDIR); returns its length. */
    private int name(String name) {
        return new FuseIn.NameIn(name).encode(payload());
    }

    /** The payload area of the input buffer (after the in header). */
    private MemorySegment payload() {
        return channel.in.asSlice(FuseAbi.IN_HEADER_SIZE);
    }

    private void header(long u, int opcode, long nodeid, int payloadBytes) {
        FuseAbi.putInHeader(channel.in, FuseAbi.IN_HEADER_SIZE + payloadBytes, opcode, u, nodeid);
        requests++;
    }

    /** Dispatches one request and returns the reply body; throws if the reply is an error or is missing. */
    private MemorySegment send(int opcode, long nodeid, int payloadBytes, String what) throws IOException {
        long u = unique++;
        header(u, opcode, nodeid, payloadBytes);
        MemorySegment out = channel.out;
        FuseAbi.putOutHeader(out, 0, 0, 0); // so that a missing reply cannot pass for the previous one
        server.dispatch(channel, FuseAbi.IN_HEADER_SIZE + payloadBytes);
        int len = FuseAbi.outLen(out);
        int error = FuseAbi.outError(out);
        if (FuseAbi.outUnique(out) != u) {
            throw new IOException("warm-up: " + what + " on nodeid " + nodeid + " was not answered");
        }
        if (error != 0) {
            throw new IOException("warm-up: " + what + " on nodeid " + nodeid + " failed with errno " + -error
                    + " (scratch filesystem " + vfs + ")");
        }
        return out.asSlice(FuseAbi.OUT_HEADER_SIZE, len - FuseAbi.OUT_HEADER_SIZE);
    }

    private void sendNoReply(int opcode, long nodeid, int payloadBytes) {
        header(unique++, opcode, nodeid, payloadBytes);
        server.dispatch(channel, FuseAbi.IN_HEADER_SIZE + payloadBytes);
    }
}
