package org.iomap4j.fuse;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * The FUSE-over-io_uring transport of one mount: decides whether to use it, creates the rings, starts the per-CPU
 * queue workers after INIT and reports which transport served. It exists so that {@link FuseMount} needs only two
 * hooks ({@link #prepare} before mount(2), {@link #start} after INIT) and the /dev/fuse read loop stays as it was.
 *
 * <p>Protocol (fs/fuse/dev_uring.c, Linux 6.14+): the kernel offers FUSE_OVER_IO_URING in INIT when the fuse module's
 * {@code enable_uring} parameter is on; when the server grants it, the kernel holds new requests back until every
 * queue (one per possible CPU, qid = CPU number; a request goes to the queue of the CPU its caller runs on) has a
 * registered entry, or until a REGISTER fails, which turns io_uring off for the connection so that requests flow
 * through /dev/fuse. INIT, FORGET, INTERRUPT and notifications always use /dev/fuse, so its readers keep running.
 *
 * <p>Order, so that no request can be held back forever: the rings are created before mount(2) (an io_uring that
 * cannot be set up means FUSE_OVER_IO_URING is not asked for); a worker that cannot serve after INIT sends a
 * REGISTER the kernel refuses. Queues × workers: {@code ceil(threads / queues)} workers per queue (at least one),
 * each with its own ring and one entry, so that a slow request holds up one worker and not its whole queue.
 *
 * <p>Fixed resources: /dev/fuse is registered as each ring's fixed file (IORING_REGISTER_FILES). Fixed buffers are
 * not used: FUSE 7.45 (Linux 6.18) takes the entry's buffers as plain user addresses (import_ubuf on every copy)
 * and does not accept IORING_URING_CMD_FIXED; kernel-managed buffer rings come with protocol 7.46.
 *
 * <p>Thread-safe: {@link #registered} and {@link #served} are called by the workers.
 */
final class FuseUring implements AutoCloseable {
    private static final Logger LOG = System.getLogger(FuseUring.class.getName());
    private static final long REGISTER_WAIT_SECONDS = 20;
    /** Test hook: workers send a REGISTER the kernel refuses, as a worker that cannot serve does. */
    static volatile boolean declineForTest;

    private final FuseOptions.IoUringMode mode;
    private final int queues;
    private final int workersPerQueue;
    private final List<IoUring> rings = new ArrayList<>();
    private final LongAdder servedRequests = new LongAdder();
    private volatile String unavailable;
    private volatile boolean active;
    private int[] registeredPerQueue;
    private final List<String> refusals = new ArrayList<>();
    private CountDownLatch registrations;

    private FuseUring(FuseOptions.IoUringMode mode, int queues, int workersPerQueue) {
        this.mode = mode;
        this.queues = queues;
        this.workersPerQueue = workersPerQueue;
    }

    /**
     * Before mount(2): checks that this kernel can serve FUSE over io_uring and creates the rings.
     *
     * @param threads the mount's request threads ({@link FuseOptions#threads()}), spread over the queues
     * @throws FsException EOPNOTSUPP in mode ON when io_uring is unavailable (the message says why)
     */
    static FuseUring prepare(FuseOptions.IoUringMode mode, int threads) throws FsException {
        int queues = possibleCpus();
        FuseUring u = new FuseUring(mode, queues, Math.max(1, (threads + queues - 1) / queues));
        if (mode == FuseOptions.IoUringMode.OFF) {
            u.unavailable = "--io-uring off";
            return u;
        }
        String why = kernelSupport();
        if (why == null) {
            try {
                for (int i = 0; i < queues * u.workersPerQueue; i++) {
                    u.rings.add(IoUring.setup(2, IoUring.SETUP_SQE128));
                }
            } catch (FsException e) {
                u.close();
                why = e.getMessage();
            }
        }
        if (why != null) {
            u.unavailable = why;
            if (mode == FuseOptions.IoUringMode.ON) {
                throw new FsException(Errno.EOPNOTSUPP, "FUSE over io_uring unavailable: " + why);
            }
        }
        return u;
    }

    /** Why this kernel cannot serve FUSE over io_uring, or null if it can (as far as can be seen before INIT). */
    static String kernelSupport() {
        Path param = Path.of(FuseUringAbi.ENABLE_URING_PARAM);
        try {
            if (!Files.exists(param)) {
                return "this kernel's fuse module has no io_uring support (no " + param
                        + "; needs Linux 6.14+ built with CONFIG_FUSE_IO_URING)";
            }
            String v = Files.readAllLines(param).stream().findFirst().orElse("").trim();
            if (!v.equals("Y") && !v.equals("1")) {
                return "the fuse module's enable_uring parameter is " + v + " (as root: echo Y > " + param + ")";
            }
        } catch (IOException e) {
            return "cannot read " + param + ": " + e.getMessage();
        }
        return null;
    }

    /** The kernel's queue count: num_possible_cpus() (/sys/devices/system/cpu/possible, e.g. "0-1"). */
    static int possibleCpus() {
        try {
            String s = Files.readAllLines(Path.of("/sys/devices/system/cpu/possible")).get(0).trim();
            int n = 0;
            for (String range : s.split(",")) {
                String[] ab = range.split("-");
                int a = Integer.parseInt(ab[0]);
                int b = ab.length > 1 ? Integer.parseInt(ab[1]) : a;
                n += b - a + 1;
            }
            return Math.max(1, n);
        } catch (IOException | RuntimeException e) {
            return Runtime.getRuntime().availableProcessors();
        }
    }

    /** Whether to ask for FUSE_OVER_IO_URING in INIT. */
    boolean wanted() {
        return unavailable == null;
    }

    /**
     * After INIT was answered: starts the workers if FUSE_OVER_IO_URING was granted and waits until each has
     * registered its entry or been refused. Logs one line when falling back to /dev/fuse.
     *
     * @param grantedFlags the INIT flags the server answered (64 bits)
     * @param maxWriteBytes the negotiated max_write (the payload buffers hold max(8192, max_write))
     * @throws FsException EOPNOTSUPP in mode ON when the rings do not serve the mount
     * @throws InterruptedException if interrupted while waiting for the registrations
     */
    void start(FuseServer server, int devFd, long grantedFlags, int maxWriteBytes, String name)
            throws FsException, InterruptedException {
        if (unavailable == null && (grantedFlags & FuseUringAbi.FUSE_OVER_IO_URING) == 0) {
            unavailable = "the kernel did not offer FUSE_OVER_IO_URING in INIT";
        }
        if (unavailable != null) {
            close();
            if (mode != FuseOptions.IoUringMode.OFF) {
                LOG.log(Level.INFO, "fuse: serving through /dev/fuse: FUSE over io_uring unavailable: " + unavailable);
            }
            if (mode == FuseOptions.IoUringMode.ON) {
                throw new FsException(Errno.EOPNOTSUPP, "FUSE over io_uring unavailable: " + unavailable);
            }
            return;
        }
        int payloadBytes = Math.max(8192, maxWriteBytes);
        synchronized (this) {
            registeredPerQueue = new int[queues];
            registrations = new CountDownLatch(rings.size());
        }
        boolean decline = declineForTest;
        List<IoUring> handed = new ArrayList<>(rings);
        rings.clear();
        for (int i = 0; i < handed.size(); i++) {
            IoUring ring = handed.get(i);
            int qid = i % queues;
            boolean fixed = true;
            try {
                ring.registerFile(devFd);
            } catch (FsException e) {
                fixed = false;
                LOG.log(Level.DEBUG, () -> "fuse io_uring: no fixed file: " + e.getMessage());
            }
            server.startExtra(name + "-uring-q" + qid + "-" + (i / queues),
                    new FuseUringWorker(server, this, ring, devFd, fixed, qid, payloadBytes, decline));
        }
        boolean all = registrations.await(REGISTER_WAIT_SECONDS, TimeUnit.SECONDS);
        String why;
        synchronized (this) {
            boolean ready = true;
            for (int n : registeredPerQueue) {
                ready &= n > 0;
            }
            active = ready;
            why = ready ? null : !refusals.isEmpty() ? refusals.get(0)
                    : all ? "no queue registered" : "registration did not finish in " + REGISTER_WAIT_SECONDS + " s";
        }
        if (why != null) {
            unavailable = why;
            LOG.log(Level.INFO, "fuse: serving through /dev/fuse: FUSE over io_uring unavailable: " + why);
            if (mode == FuseOptions.IoUringMode.ON) {
                throw new FsException(Errno.EOPNOTSUPP, "FUSE over io_uring unavailable: " + why);
            }
        } else {
            LOG.log(Level.DEBUG, () -> "fuse: serving through io_uring: " + describe());
        }
    }

    /** A worker's registration outcome: {@code refused} null if its entry is registered. */
    synchronized void registered(int qid, String refused) {
        if (refused == null) {
            registeredPerQueue[qid]++;
        } else {
            refusals.add("queue " + qid + ": " + refused);
        }
        registrations.countDown();
    }

    /** Counts one request served through a ring. */
    void served() {
        servedRequests.increment();
    }

    /** Requests served through the rings so far. */
    long servedRequests() {
        return servedRequests.sum();
    }

    /** Whether every queue registered: the kernel sends requests through the rings. */
    boolean active() {
        return active;
    }

    /** Why the rings do not serve this mount, or null when they do. */
    String unavailableReason() {
        return unavailable;
    }

    /** "io_uring (2 queues × 2 workers)" or "/dev/fuse (io_uring unavailable: ...)". */
    String describe() {
        return active ? "io_uring (" + queues + " queues x " + workersPerQueue + " workers)"
                : "/dev/fuse (io_uring: " + unavailable + ")";
    }

    /** Closes the rings not handed to workers (workers close their own). */
    @Override
    public void close() {
        for (IoUring r : rings) {
            r.close();
        }
        rings.clear();
    }
}
