package org.iomap4j.fuse;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * One FUSE-over-io_uring worker: a platform thread pinned to the CPU of its queue, owning one io_uring with one ring
 * entry. It registers the entry (FUSE_IO_URING_CMD_REGISTER), then loops: wait for the CQE that says the kernel put a
 * request in the entry, dispatch it through the server's opcode table, and send the reply with
 * FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which also fetches the next request, in the same io_uring_enter that waits for
 * it (one system call per request, against a read(2) and a write(2) on /dev/fuse).
 *
 * <p>It ends when its entry ends: a CQE with ENOTCONN, ECANCELED or ECONNABORTED (the kernel tore the ring down at
 * unmount or abort: fs/fuse/dev_uring.c fuse_uring_entry_teardown, fuse_uring_cancel, fuse_uring_cmd), or, when the
 * /dev/fuse readers have stopped and no CQE came for one wait of {@link #WAIT_NANOS}. A COMMIT whose request the
 * kernel no longer knows (ENOENT) registers the entry again. The ring is closed before the entry's buffers are freed,
 * so the kernel can never copy into freed memory (task work of a closed ring runs with IO_URING_F_TASK_DEAD).
 */
final class FuseUringWorker implements Runnable {
    private static final Logger LOG = System.getLogger(FuseUringWorker.class.getName());
    /** The longest a worker sleeps in io_uring_enter before it looks at {@link FuseServer#readersStopped()}. */
    static final long WAIT_NANOS = 1_000_000_000L;
    private static final int MAX_AGAIN = 250;
    /** Pin each worker to its queue's CPU (system property {@code iomap4j.fuse.uring.pin}, default true). */
    static final boolean PIN = Boolean.parseBoolean(System.getProperty("iomap4j.fuse.uring.pin", "true"));

    private final FuseServer server;
    private final FuseUring owner;
    private final IoUring ring;
    private final int devFd;
    private final boolean fixedFile;
    private final int qid;
    private final int payloadBytes;
    private final boolean decline;

    /**
     * @param ring         this worker's ring (it closes it when it ends)
     * @param fixedFile    whether {@code devFd} is registered as the ring's fixed file 0
     * @param payloadBytes the entry's payload buffer
     * @param decline      send a REGISTER the kernel refuses (fallback to /dev/fuse) instead of registering
     */
    FuseUringWorker(FuseServer server, FuseUring owner, IoUring ring, int devFd, boolean fixedFile, int qid,
            int payloadBytes, boolean decline) {
        this.server = server;
        this.owner = owner;
        this.ring = ring;
        this.devFd = devFd;
        this.fixedFile = fixedFile;
        this.qid = qid;
        this.payloadBytes = payloadBytes;
        this.decline = decline;
    }

    @Override
    public void run() {
        FuseUringChannel ch = null;
        boolean reported = false;
        try {
            if (PIN) {
                pinToCpu();
            }
            ch = FuseUringChannel.allocate(devFd, ring, fixedFile, qid, payloadBytes);
            String refused = register(ch, decline);
            owner.registered(qid, refused);
            reported = true;
            if (refused == null) {
                serve(ch);
            }
        } catch (RuntimeException | Error e) {
            if (!reported) {
                owner.registered(qid, "worker failed: " + e);
            }
            server.fail(e);
            LOG.log(Level.ERROR, "fuse io_uring worker of queue " + qid + " died", e);
        } finally {
            ring.close(); // first: no task work may copy into the entry's buffers after they are freed
            if (ch != null) {
                ch.close();
            }
        }
    }

    /**
     * Submits a REGISTER (or a refused one) and returns null if the kernel took it, else why not. A REGISTER that
     * the kernel takes stays queued (no CQE) until a request arrives; a refused one completes at once with its
     * errno (an inline uring_cmd failure is posted before io_uring_enter returns). EAGAIN (INIT not processed yet)
     * is retried.
     */
    private String register(FuseUringChannel ch, boolean declineIt) {
        for (int attempt = 0; ; attempt++) {
            if (declineIt) {
                ch.prepDecline();
            } else {
                ch.prepRegister();
            }
            int err = ring.submitAndWait(0, 0);
            if (err != 0) {
                return "io_uring_enter failed: " + Native.toErrno(err).description() + " (errno " + err + ")";
            }
            if (ring.cqReady() == 0) {
                return declineIt ? "declined" : null;
            }
            MemorySegment cqe = ring.cqe(0);
            int res = IoUring.res(cqe);
            if (res >= 0) {
                return null; // a request arrived already: the entry is live; serve() reaps this CQE
            }
            ring.cqAdvance(1);
            if (-res == Native.EAGAIN && attempt < MAX_AGAIN && !declineIt) {
                sleepMillis(10);
                continue;
            }
            return "FUSE_IO_URING_CMD_REGISTER failed: " + Native.toErrno(-res).description() + " (errno " + -res + ")";
        }
    }

    private void serve(FuseUringChannel ch) {
        while (true) {
            int err = ring.submitAndWait(1, WAIT_NANOS);
            if (err != 0 && ring.cqReady() == 0) {
                switch (err) {
                    case Native.ETIME, Native.EINTR, Native.EAGAIN, Native.EBUSY -> {
                        if (server.readersStopped()) {
                            LOG.log(Level.DEBUG, () -> "fuse io_uring queue " + qid + ": readers stopped, no teardown CQE");
                            return;
                        }
                        continue;
                    }
                    default -> throw new IllegalStateException("fuse io_uring queue " + qid + ": io_uring_enter: "
                            + Native.toErrno(err).description() + " (errno " + err + ")");
                }
            }
            while (ring.cqReady() > 0) {
                int res = IoUring.res(ring.cqe(0));
                ring.cqAdvance(1);
                if (res >= 0) {
                    handleGuarded(ch); // queues the COMMIT_AND_FETCH, submitted by the next io_uring_enter
                } else if (!onError(ch, -res)) {
                    return;
                }
            }
        }
    }

    /** Handles an error CQE; false when the entry is gone for good (teardown). */
    private boolean onError(FuseUringChannel ch, int errno) {
        switch (errno) {
            case Native.ENOTCONN, Native.ECANCELED, Native.ECONNABORTED, Native.ENODEV -> {
                LOG.log(Level.DEBUG, () -> "fuse io_uring queue " + qid + ": entry torn down (errno " + errno + ")");
                return false;
            }
            case Native.EAGAIN, Native.EINTR -> {
                ch.prepAgain();
                return true;
            }
            case Native.ENOENT -> {
                // The kernel no longer knew the request we committed (aborted): the entry stays with it, so
                // register the buffers as a new entry.
                LOG.log(Level.WARNING, "fuse io_uring queue " + qid + ": commit refused (request gone); re-registering");
                ch.prepRegister();
                return true;
            }
            default -> {
                LOG.log(Level.ERROR, "fuse io_uring queue " + qid + ": command failed: "
                        + Native.toErrno(errno).description() + " (errno " + errno + "); worker stops");
                server.fail(new FsException(Native.toErrno(errno), "fuse io_uring queue " + qid + " failed"));
                return false;
            }
        }
    }

    /**
     * {@link #handle}, and should anything in it throw (a bug: dispatch itself answers every failure), answers EIO
     * so that the entry comes back to the kernel instead of holding its request and leaving the queue short.
     */
    private void handleGuarded(FuseUringChannel ch) {
        try {
            handle(ch);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "fuse io_uring queue " + qid + ": request " + ch.unique() + " failed", e);
            if (!ch.committed()) {
                new Reply(ch, ch.unique()).error(Errno.EIO.code());
            }
        }
    }

    private void handle(FuseUringChannel ch) {
        ch.beginRequest();
        MemorySegment in;
        try {
            in = ch.requestIn();
        } catch (FsException e) {
            LOG.log(Level.WARNING, e.getMessage());
            new Reply(ch, ch.unique()).error(Errno.EIO.code());
            return;
        }
        owner.served();
        server.dispatch(ch, in, (int) in.byteSize());
        if (!ch.committed()) {
            // An op without a reply (FORGET, INTERRUPT) is never sent through the ring; should one be, the entry
            // must still come back: answer EIO.
            LOG.log(Level.WARNING, "fuse io_uring queue " + qid + ": request " + ch.unique() + " left unanswered");
            new Reply(ch, ch.unique()).error(Errno.EIO.code());
        }
    }

    /** Pins this thread to CPU {@code qid} (the kernel queues a request on the queue of the caller's CPU). */
    private void pinToCpu() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mask = a.allocate(128, 8); // cpu_set_t: 1024 bits
            mask.set(ValueLayout.JAVA_BYTE, qid / 8, (byte) (1 << (qid % 8)));
            MemorySegment capture = Native.newCapture(a);
            if (Native.schedSetaffinity(capture, mask) != 0) {
                int errno = Native.errno(capture);
                LOG.log(Level.DEBUG, () -> "fuse io_uring queue " + qid + ": not pinned (errno " + errno + ")");
            }
        }
    }

    private static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
