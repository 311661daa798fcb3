package org.iomap4j.fuse;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
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

    /** What a warm-up did: rounds run, wall time and JIT compilation time spent (-1 if not reported). */
    public record Result(int rounds, long requests, Duration elapsed, long compileMillis) {
    }

    private final Vfs vfs;
    private final FuseServer server;
    private final Channel channel;
    private final Random random = new Random(42);
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
        MemorySegment p = payload(64);
        p.set(FuseAbi.U32, 0, FuseAbi.KERNEL_VERSION);
        p.set(FuseAbi.U32, 4, FuseAbi.MINOR_VERSION);
        p.set(FuseAbi.U32, 8, 128 << 10);
        p.set(FuseAbi.U32, 12, FuseAbi.FUSE_ASYNC_READ | FuseAbi.FUSE_BIG_WRITES | FuseAbi.FUSE_MAX_PAGES
                | FuseAbi.FUSE_PARALLEL_DIROPS | FuseAbi.FUSE_DO_READDIRPLUS | FuseAbi.FUSE_READDIRPLUS_AUTO
                | FuseAbi.FUSE_ATOMIC_O_TRUNC | FuseAbi.FUSE_ASYNC_DIO);
        send(FuseAbi.INIT, FuseAbi.ROOT_ID, 64, "INIT");
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
        MemorySegment p = payload(8);
        p.set(FuseAbi.U32, 0, 0755);
        long dir = entryNodeid(send(FuseAbi.MKDIR, FuseAbi.ROOT_ID, 8 + putName(p, 8, dirName), "MKDIR"));
        List<Long> nodeids = new ArrayList<>();
        for (int i = 0; i < FILES_PER_ROUND; i++) {
            long[] c = create(dir, "f" + i, Vfs.O_WRONLY | Vfs.O_CREAT | Vfs.O_EXCL);
            nodeids.add(c[0]);
            flushAndRelease(c[1], c[0]);
        }
        for (int i = 0; i < FILES_PER_ROUND; i++) {
            long nid = entryNodeid(send(FuseAbi.LOOKUP, dir, putName(payload(0), 0, "f" + i), "LOOKUP"));
            nodeids.add(nid);
            getattr(nid);
        }
        readdirplus(dir, nodeids);
        for (int i = 0; i < FILES_PER_ROUND; i += 2) {
            MemorySegment r = payload(8);
            r.set(FuseAbi.U64, 0, dir);
            int len = 8 + putName(r, 8, "f" + i);
            len += putName(r, len, "g" + i);
            send(FuseAbi.RENAME, dir, len, "RENAME");
        }
        for (int i = 0; i < FILES_PER_ROUND; i++) {
            unlink(dir, (i % 2 == 0 ? "g" : "f") + i);
        }
        batchForget(nodeids);
        send(FuseAbi.RMDIR, FuseAbi.ROOT_ID, putName(payload(0), 0, dirName), "RMDIR");
        forget(dir, 1);
        send(FuseAbi.STATFS, FuseAbi.ROOT_ID, 0, "STATFS");
    }

    private void readdirplus(long dir, List<Long> nodeids) throws IOException {
        MemorySegment p = payload(8);
        p.set(FuseAbi.U32, 0, 0);
        send(FuseAbi.OPENDIR, dir, 8, "OPENDIR");
        long offset = 0;
        while (true) {
            MemorySegment r = payload(40);
            r.set(FuseAbi.U64, 8, offset);
            r.set(FuseAbi.U32, 16, 64 << 10);
            MemorySegment body = send(FuseAbi.READDIRPLUS, dir, 40, "READDIRPLUS");
            if (body.byteSize() == 0) {
                break;
            }
            // Each direntplus: entry_out (nodeid@0) then fuse_dirent {ino@0 off@8 namelen@16 type@20 name}.
            long at = 0;
            while (at < body.byteSize()) {
                long nid = body.get(FuseAbi.U64, at);
                if (nid != 0) {
                    nodeids.add(nid);
                }
                long dirent = at + FuseAbi.ENTRY_OUT_SIZE;
                offset = body.get(FuseAbi.U64, dirent + 8);
                int nameLen = body.get(FuseAbi.U32, dirent + 16);
                at += FuseAbi.direntPlusSize(nameLen);
            }
        }
        payload(24);
        send(FuseAbi.RELEASEDIR, dir, 24, "RELEASEDIR");
    }

    // ------------------------------------------------------------------------------------------------------
    // Requests. Payload offsets follow the fuse_*_in structs (see NodeBridge).

    /** CREATE: {flags@0 mode@4 umask@8 open_flags@12} name; returns {nodeid, fh}. */
    private long[] create(long parent, String name, int flags) throws IOException {
        MemorySegment p = payload(16);
        p.set(FuseAbi.U32, 0, flags);
        p.set(FuseAbi.U32, 4, 0100644);
        MemorySegment body = send(FuseAbi.CREATE, parent, 16 + putName(p, 16, name), "CREATE");
        return new long[] {entryNodeid(body), body.get(FuseAbi.U64, FuseAbi.ENTRY_OUT_SIZE)};
    }

    /** OPEN: {flags@0 open_flags@4}; returns fh. */
    private long open(long nodeid, int flags) throws IOException {
        payload(8).set(FuseAbi.U32, 0, flags);
        return send(FuseAbi.OPEN, nodeid, 8, "OPEN").get(FuseAbi.U64, 0);
    }

    /** WRITE: {fh@0 offset@8 size@16 write_flags@20 lock_owner@24 flags@32 pad@36} data (left as it is). */
    private void write(long fh, long nodeid, long posBytes, int sizeBytes) throws IOException {
        MemorySegment p = payload(40);
        p.set(FuseAbi.U64, 0, fh);
        p.set(FuseAbi.U64, 8, posBytes);
        p.set(FuseAbi.U32, 16, sizeBytes);
        p.set(ValueLayout.JAVA_BYTE, 40 + random.nextInt(sizeBytes), (byte) random.nextInt());
        int n = send(FuseAbi.WRITE, nodeid, 40 + sizeBytes, "WRITE").get(FuseAbi.U32, 0);
        if (n != sizeBytes) {
            throw new IOException("warm-up: WRITE of " + sizeBytes + " bytes at " + posBytes + " wrote " + n);
        }
    }

    /** READ: {fh@0 offset@8 size@16 read_flags@20 lock_owner@24 flags@32 pad@36}. */
    private void read(long fh, long nodeid, long posBytes, int sizeBytes) throws IOException {
        MemorySegment p = payload(40);
        p.set(FuseAbi.U64, 0, fh);
        p.set(FuseAbi.U64, 8, posBytes);
        p.set(FuseAbi.U32, 16, sizeBytes);
        long got = send(FuseAbi.READ, nodeid, 40, "READ").byteSize();
        if (got != sizeBytes) {
            throw new IOException("warm-up: READ of " + sizeBytes + " bytes at " + posBytes + " returned " + got);
        }
    }

    private void fsync(long fh, long nodeid) throws IOException {
        payload(16).set(FuseAbi.U64, 0, fh);
        send(FuseAbi.FSYNC, nodeid, 16, "FSYNC");
    }

    private void flushAndRelease(long fh, long nodeid) throws IOException {
        payload(24).set(FuseAbi.U64, 0, fh);
        send(FuseAbi.FLUSH, nodeid, 24, "FLUSH");
        payload(24).set(FuseAbi.U64, 0, fh);
        send(FuseAbi.RELEASE, nodeid, 24, "RELEASE");
    }

    private void getattr(long nodeid) throws IOException {
        payload(16);
        send(FuseAbi.GETATTR, nodeid, 16, "GETATTR");
    }

    private void unlink(long parent, String name) throws IOException {
        send(FuseAbi.UNLINK, parent, putName(payload(0), 0, name), "UNLINK");
    }

    /** FORGET has no reply. */
    private void forget(long nodeid, long n) throws IOException {
        payload(8).set(FuseAbi.U64, 0, n);
        sendNoReply(FuseAbi.FORGET, nodeid, 8);
    }

    /** BATCH_FORGET {count@0 dummy@4} then {nodeid, nlookup} pairs, one per lookup taken. */
    private void batchForget(List<Long> nodeids) throws IOException {
        MemorySegment p = payload(8 + 16 * nodeids.size());
        p.set(FuseAbi.U32, 0, nodeids.size());
        for (int i = 0; i < nodeids.size(); i++) {
            p.set(FuseAbi.U64, 8 + 16L * i, nodeids.get(i));
            p.set(FuseAbi.U64, 16 + 16L * i, 1);
        }
        sendNoReply(FuseAbi.BATCH_FORGET, 0, 8 + 16 * nodeids.size());
    }

    private static long entryNodeid(MemorySegment entryOut) {
        return entryOut.get(FuseAbi.U64, 0);
    }

    /** The payload area of the input buffer with its first {@code zeroBytes} cleared. */
    private MemorySegment payload(int zeroBytes) {
        MemorySegment p = channel.in.asSlice(FuseAbi.IN_HEADER_SIZE);
        p.asSlice(0, zeroBytes).fill((byte) 0);
        return p;
    }

    /** Writes {@code name} NUL-terminated at {@code off}; returns the bytes written. */
    private static int putName(MemorySegment p, int off, String name) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        MemorySegment.copy(b, 0, p, ValueLayout.JAVA_BYTE, off, b.length);
        p.set(ValueLayout.JAVA_BYTE, off + b.length, (byte) 0);
        return b.length + 1;
    }

    private void header(long u, int opcode, long nodeid, int payloadBytes) {
        MemorySegment in = channel.in;
        in.asSlice(0, FuseAbi.IN_HEADER_SIZE).fill((byte) 0);
        in.set(FuseAbi.U32, FuseAbi.IN_LEN, FuseAbi.IN_HEADER_SIZE + payloadBytes);
        in.set(FuseAbi.U32, FuseAbi.IN_OPCODE, opcode);
        in.set(FuseAbi.U64, FuseAbi.IN_UNIQUE, u);
        in.set(FuseAbi.U64, FuseAbi.IN_NODEID, nodeid);
        requests++;
    }

    /** Dispatches one request and returns the reply body; throws if the reply is an error or is missing. */
    private MemorySegment send(int opcode, long nodeid, int payloadBytes, String what) throws IOException {
        long u = unique++;
        header(u, opcode, nodeid, payloadBytes);
        MemorySegment out = channel.out;
        out.set(FuseAbi.U64, 8, 0); // so that a missing reply cannot pass for the previous one
        server.dispatch(channel, FuseAbi.IN_HEADER_SIZE + payloadBytes);
        int len = out.get(FuseAbi.U32, 0);
        int error = out.get(FuseAbi.U32, 4);
        if (out.get(FuseAbi.U64, 8) != u) {
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
