package org.iomap4j.fuse;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import org.iomap4j.FsException;
import org.iomap4j.vfs.Caller;

/**
 * The wire layer's server loop: N platform threads, each blocking in read(2) on its own /dev/fuse fd and
 * dispatching every request through the opcode table (plus, with FUSE over io_uring, the queue workers that
 * {@link FuseUring} starts through {@link #startExtra}, dispatching through the same table). It exists to guarantee the protocol's liveness rules:
 * every request is answered exactly once (EIO when a handler fails to), an aborted request (ENOENT on read)
 * is skipped, and ENODEV (unmounted) ends the loop.
 *
 * <p>INTERRUPT is not acted on: the interrupted request finishes normally and is answered with its result
 * (allowed by the protocol; our handlers do not wait on anything the caller could cancel).
 *
 * <p>Platform threads, not virtual ones: a blocking downcall pins a virtual thread's carrier.
 */
final class FuseServer {
    private static final Logger LOG = System.getLogger(FuseServer.class.getName());

    private final Op<?>[] table;
    private final boolean debug;
    private final List<Thread> threads = new ArrayList<>();
    private final long spinNanos;
    /** Set while one reader polls for the next request (only one spins at a time). */
    private final AtomicBoolean spinning = new AtomicBoolean();
    private final AtomicInteger running = new AtomicInteger();
    /** /dev/fuse readers still running; {@link #readersStopped} once they all saw the end. */
    private final AtomicInteger readers = new AtomicInteger();
    private volatile boolean readersStopped;
    /** Held from {@link #start} until {@link #releaseStartHold}: transport threads may still join. */
    private final AtomicBoolean startHold = new AtomicBoolean();
    private volatile Consumer<Throwable> onStopped;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    /** Requests served, by opcode (index = opcode; the last slot counts unknown opcodes). */
    private final LongAdder[] counts;

    FuseServer(Op<?>[] table, boolean debug) {
        this(table, debug, 0);
    }

    /** @param spinNanos how long one reader that just answered polls for the next request before blocking */
    FuseServer(Op<?>[] table, boolean debug, long spinNanos) {
        this.table = table.clone();
        this.debug = debug;
        this.spinNanos = spinNanos;
        this.counts = new LongAdder[this.table.length + 1];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    /**
     * Requests served so far by opcode name (FUSE_* without the prefix; "UNKNOWN" for opcodes without a row), in
     * opcode order, zero counts left out. Counted as they are dispatched (a LongAdder each: no shared cache line).
     */
    Map<String, Long> requestCounts() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < counts.length; i++) {
            long n = counts[i].sum();
            if (n > 0) {
                m.merge(i < table.length && table[i] != null ? table[i].name() : "UNKNOWN", n, Long::sum);
            }
        }
        return m;
    }

    /**
     * Starts one reader thread per fd. {@code onStopped} runs once, on the last thread to stop (readers and
     * {@link #startExtra} threads, and not before {@link #releaseStartHold}), with null when every reader saw ENODEV
     * (a clean unmount) or the first unexpected failure.
     */
    void start(int[] fds, String name, Consumer<Throwable> onStopped) {
        this.onStopped = onStopped;
        startHold.set(true);
        running.set(fds.length + 1);
        readers.set(fds.length);
        for (int i = 0; i < fds.length; i++) {
            int fd = fds[i];
            Thread t = Thread.ofPlatform().daemon(true).name(name + "-" + i).unstarted(() -> {
                try {
                    serve(fd);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    LOG.log(Level.ERROR, "fuse reader on fd " + fd + " died", e);
                } finally {
                    if (readers.decrementAndGet() == 0) {
                        readersStopped = true;
                    }
                    stopOne();
                }
            });
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    /**
     * Starts a transport thread (an io_uring queue worker) that counts as running: the server stops only after it
     * ends. Call between {@link #start} and {@link #releaseStartHold}.
     */
    void startExtra(String name, Runnable body) {
        running.incrementAndGet();
        Thread t = Thread.ofPlatform().daemon(true).name(name).unstarted(() -> {
            try {
                body.run();
            } finally {
                stopOne();
            }
        });
        synchronized (threads) {
            threads.add(t);
        }
        t.start();
    }

    /** Ends the start phase: from now on the server stops when its last thread does. Idempotent. */
    void releaseStartHold() {
        if (startHold.compareAndSet(true, false)) {
            stopOne();
        }
    }

    /** True once every /dev/fuse reader has stopped (the connection ended or a reader failed). */
    boolean readersStopped() {
        return readersStopped;
    }

    /** Records a failure of a transport thread (reported by onStopped unless an earlier one was). */
    void fail(Throwable e) {
        failure.compareAndSet(null, e);
    }

    private void stopOne() {
        if (running.decrementAndGet() == 0) {
            onStopped.accept(failure.get());
        }
    }

    /**
     * Serves one fd. After answering a request, the reader polls the fd (poll(2) with timeout 0) for up to
     * {@link #spinNanos} before it blocks in read(2), so that a caller issuing its next request right away (queue
     * depth 1) finds a running reader instead of waking a blocked one; at most one reader spins at a time, the
     * others block at once (see {@link FuseOptions#spinAfterReply()}).
     */
    private void serve(int fd) {
        try (Channel ch = new Channel(fd)) {
            MemorySegment pollfd = ch.arena.allocate(8, 4); // struct pollfd {int fd; short events; short revents}
            pollfd.set(ValueLayout.JAVA_INT, 0, fd);
            pollfd.set(ValueLayout.JAVA_SHORT, 4, Native.POLLIN);
            boolean answered = false;
            while (true) {
                if (answered && spinNanos > 0 && spinning.compareAndSet(false, true)) {
                    try {
                        long deadline = System.nanoTime() + spinNanos;
                        while (System.nanoTime() < deadline && Native.poll(ch.capture, pollfd, 0) == 0) {
                            Thread.onSpinWait();
                        }
                    } finally {
                        spinning.set(false);
                    }
                }
                long n = Native.read(ch.capture, ch.fd, ch.in, Channel.BUFFER_BYTES);
                answered = n > 0;
                if (n > 0) {
                    dispatch(ch, (int) n);
                    continue;
                }
                int errno = n < 0 ? Native.errno(ch.capture) : Native.ENODEV;
                switch (errno) {
                    case Native.ENOENT, Native.EINTR, Native.EAGAIN -> {
                        // ENOENT: the request was aborted (interrupted) before we read it; read again.
                    }
                    case Native.ENODEV -> {
                        return;
                    }
                    default -> {
                        throw Native.failure("read /dev/fuse fd " + fd, errno);
                    }
                }
            }
        } catch (FsException e) {
            failure.compareAndSet(null, e);
            LOG.log(Level.ERROR, "fuse reader on fd " + fd + " stopped: " + e.getMessage());
        }
    }

    /** Decodes and answers one request read into {@code ch.in}; never throws. */
    void dispatch(Channel ch, int lengthBytes) {
        dispatch(ch, ch.in, lengthBytes);
    }

    /**
     * Decodes and answers one request laid out (fuse_in_header, then its arguments) at the start of {@code in}, and
     * answers through {@code ch}; never throws. The io_uring transport passes a slice of its entry's buffer here.
     */
    void dispatch(Channel ch, MemorySegment in, int lengthBytes) {
        Request req;
        try {
            req = new Request(in, lengthBytes);
        } catch (FsException e) {
            LOG.log(Level.WARNING, "malformed fuse request: " + e.getMessage());
            if (lengthBytes >= 16) {
                new Reply(ch, in.get(FuseAbi.U64, FuseAbi.IN_UNIQUE)).error(e.errno().code());
            }
            return;
        }
        Op<?> op = req.opcode >= 0 && req.opcode < table.length ? table[req.opcode] : null;
        counts[op == null ? table.length : req.opcode].increment();
        Reply reply = new Reply(ch, req.unique);
        if (op == null) {
            if (debug) {
                LOG.log(Level.INFO, "fuse " + req.unique + " opcode " + req.opcode + " nodeid " + req.nodeid + " -> ENOSYS");
            }
            reply.error(org.iomap4j.Errno.ENOSYS.code());
            return;
        }
        int errno = 0;
        try {
            if (req.payloadBytes() < op.minPayloadBytes()) {
                throw new FsException(org.iomap4j.Errno.EINVAL, "fuse " + op.name() + ": payload of "
                        + req.payloadBytes() + " bytes, need " + op.minPayloadBytes());
            }
            if (req.uid == 0) {
                op.run(req, reply); // unbound Caller means root: nothing to bind on the common path
            } else {
                ScopedValue.where(Caller.CURRENT, new Caller(req.uid, req.gid)).call(() -> {
                    op.run(req, reply);
                    return null;
                });
            }
        } catch (FsException e) {
            errno = e.errno().code();
            if (debug) {
                LOG.log(Level.INFO, "fuse " + req.unique + " " + op.name() + " nodeid " + req.nodeid + ": " + e.getMessage());
            }
        } catch (Throwable e) {
            // Anything but an FsException is a bug or an I/O failure without an errno: answer EIO so the
            // kernel request never hangs, and keep serving.
            errno = org.iomap4j.Errno.EIO.code();
            LOG.log(Level.ERROR, "fuse " + req.unique + " " + op.name() + " nodeid " + req.nodeid + " failed", e);
        }
        if (!op.noReply() && !reply.answered()) {
            if (errno == 0) {
                LOG.log(Level.ERROR, "fuse " + req.unique + " " + op.name() + " nodeid " + req.nodeid
                        + ": handler returned without answering");
                errno = org.iomap4j.Errno.EIO.code();
            }
            reply.error(errno);
        }
        if (debug) {
            LOG.log(Level.INFO, "fuse " + req.unique + " " + op.name() + " nodeid " + req.nodeid + " uid " + req.uid
                    + " -> " + (errno == 0 ? "ok" : "-" + errno));
        }
    }

    /** The reader and transport threads (for joins). */
    List<Thread> threads() {
        synchronized (threads) {
            return List.copyOf(threads);
        }
    }
}
