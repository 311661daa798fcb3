package org.iomap4j.fuse;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Vfs;

/**
 * A {@link Vfs} mounted through the kernel's FUSE protocol, served by iomap4j itself (no libfuse): the handle
 * the CLI holds while a mount is up. It exists to own the mount's lifetime: mount(2), the reader threads,
 * unmount, and the final flush of the Vfs.
 *
 * <p>Lifetime: {@link #mount} returns once the kernel's INIT has been answered. The mount ends when anyone
 * unmounts it ({@link #unmount}, umount(8), fusermount3 -u): the readers see ENODEV, leftover handles and lookup
 * counts are dropped, {@link Vfs#sync()} runs, and {@link #whenUnmounted()} completes. The Vfs is NOT closed:
 * the owner closes it after {@link #awaitUnmounted()}. A plain {@code fuse} mount gets no DESTROY, so the
 * flush happens on ENODEV.
 *
 * <p>Two ways to mount: as root, mount(2) directly (flags {@code nosuid,nodev} unless {@link FuseOptions#suid()} /
 * {@link FuseOptions#dev()}); otherwise (or with {@link FuseOptions#fusermount()}) through the setuid helper
 * {@code fusermount3} ({@link Fusermount}), which hands back the /dev/fuse descriptor and, with
 * {@code auto_unmount}, stays alive to unmount if this process dies. Either way a {@link MountWatchdog} detaches
 * the mount if this process dies without unmounting (a killed server leaves no dead mount). With FUSE over io_uring
 * ({@link FuseOptions#ioUring()}, {@link FuseUring}) per-CPU queue workers serve requests besides the readers, which
 * still take INIT, FORGET and INTERRUPT ({@link #transport()} says which). Reader threads beyond the first use clones
 * of the descriptor (FUSE_DEV_IOC_CLONE), or duplicates of it where /dev/fuse cannot be opened by this user.
 * Thread-safe; {@link #unmount} is idempotent.
 *
 * <p>Lock order: {@code fdLock} (guards the fds against close while a notification is written) is a leaf;
 * {@code this} (unmount) may be held while taking nothing else.
 */
public final class FuseMount implements AutoCloseable {
    private static final Logger LOG = System.getLogger(FuseMount.class.getName());
    private static final Duration INIT_WAIT = Duration.ofSeconds(30);

    private final Vfs vfs;
    private final Path mountpoint;
    private final FuseOptions options;
    private final NodeBridge bridge;
    private final int[] fds;
    /** The fusermount3 session (auto_unmount helper), or null for a mount(2) mount. */
    private final Fusermount.Session helper;
    /** Unmounts a dead mount if this process dies without unmounting; null if it could not be started. */
    private volatile MountWatchdog watchdog;
    private volatile FuseServer server;
    /** The io_uring transport (its workers, or why /dev/fuse serves instead). */
    private volatile FuseUring uring;
    private final CompletableFuture<Void> unmounted = new CompletableFuture<>();
    private final ReentrantReadWriteLock fdLock = new ReentrantReadWriteLock();
    private boolean fdsClosed; // guarded by fdLock
    private volatile boolean stopped;

    private FuseMount(Vfs vfs, Path mountpoint, FuseOptions options, NodeBridge bridge, int[] fds,
            Fusermount.Session helper) {
        this.helper = helper;
        this.vfs = vfs;
        this.mountpoint = mountpoint;
        this.options = options;
        this.bridge = bridge;
        this.fds = fds;
    }

    /**
     * Mounts {@code vfs} at {@code mountpoint} (an existing directory) and starts serving it.
     *
     * @throws FsException ENODEV if /dev/fuse is missing, ENOTDIR if the mountpoint is not a directory, ENOENT if
     *                     not root and fusermount3 is missing, the helper's refusal (one line), or the errno of
     *                     the failed open/mount/ioctl/INIT
     * @param vfs the filesystem to serve
     * @param mountpoint an existing directory
     * @param options mount flags, threads, timeouts and negotiated features
     * @return the live mount; close it to unmount
     */
    public static FuseMount mount(Vfs vfs, Path mountpoint, FuseOptions options) throws IOException {
        Path devFuse = Path.of("/dev/fuse");
        if (!Files.exists(devFuse)) {
            throw new FsException(Errno.ENODEV, "/dev/fuse is missing: load the fuse module (modprobe fuse)");
        }
        Path mnt = mountpoint.toAbsolutePath().normalize();
        if (!Files.isDirectory(mnt)) {
            throw new FsException(Errno.ENOTDIR, "mountpoint " + mnt + " is not a directory");
        }
        int rootMode = vfs.getattr(vfs.rootIno()).mode() & org.iomap4j.vfs.FileMode.S_IFMT;
        NodeBridge bridge = new NodeBridge(vfs, options);
        FuseUring uring = FuseUring.prepare(options.ioUring(), options.threads()); // before mount(2): see FuseUring
        if (uring.wanted()) {
            bridge.requestOverIoUring();
        }
        int[] fds = new int[options.threads()];
        java.util.Arrays.fill(fds, -1);
        boolean mounted = false;
        FuseMount m = null;
        Fusermount.Session session = null;
        boolean viaHelper = options.fusermount() || Fusermount.geteuid() != 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Native.newCapture(arena);
            if (viaHelper) {
                session = Fusermount.mount(mnt, options.fusermountOptions(), options.autoUnmount());
                fds[0] = session.devFd();
            } else {
                fds[0] = Native.open(capture, arena.allocateFrom("/dev/fuse"), Native.O_RDWR | Native.O_CLOEXEC);
                if (fds[0] < 0) {
                    throw Native.failure("open /dev/fuse", Native.errno(capture));
                }
                StringBuilder data = new StringBuilder()
                        .append("fd=").append(fds[0])
                        .append(",rootmode=").append(Integer.toOctalString(rootMode))
                        .append(",user_id=").append(Native.geteuid())
                        .append(",group_id=").append(Native.getegid());
                if (options.defaultPermissions()) {
                    data.append(",default_permissions");
                }
                if (options.allowOther()) {
                    data.append(",allow_other");
                }
                long flags = (options.suid() ? 0 : Native.MS_NOSUID) | (options.dev() ? 0 : Native.MS_NODEV)
                        | (options.readOnly() ? Native.MS_RDONLY : 0);
                int rc = Native.mount(capture, arena.allocateFrom(options.fsName()),
                        arena.allocateFrom(mnt.toString()), arena.allocateFrom("fuse." + options.subtype()), flags,
                        arena.allocateFrom(data.toString()));
                if (rc != 0) {
                    throw Native.failure("mount fuse at " + mnt + " (" + data + ")", Native.errno(capture));
                }
            }
            mounted = true;
            MemorySegment oldFd = arena.allocate(ValueLayout.JAVA_INT);
            oldFd.set(ValueLayout.JAVA_INT, 0, fds[0]);
            for (int i = 1; i < fds.length; i++) {
                fds[i] = Native.open(capture, arena.allocateFrom("/dev/fuse"), Native.O_RDWR | Native.O_CLOEXEC);
                if (fds[i] < 0) {
                    int errno = Native.errno(capture);
                    Errno denied = Native.toErrno(errno);
                    if (viaHelper && (denied == Errno.EACCES || denied == Errno.EPERM)) {
                        // /dev/fuse not open to this user (only the helper could): share the one descriptor.
                        fds[i] = Fusermount.dupCloexec(fds[0]);
                        continue;
                    }
                    throw Native.failure("open /dev/fuse (clone " + i + ")", errno);
                }
                if (Native.ioctl(capture, fds[i], Native.FUSE_DEV_IOC_CLONE, oldFd) != 0) {
                    throw Native.failure("ioctl FUSE_DEV_IOC_CLONE on fd " + fds[i], Native.errno(capture));
                }
            }
            m = new FuseMount(vfs, mnt, options, bridge, fds, session);
            m.uring = uring;
            FuseMount mm = m;
            bridge.attrInvalidator(nodeid -> mm.notifyInvalInode(nodeid, -1, 0));
            FuseServer server = new FuseServer(bridge.opTable(), options.debug(), options.spinAfterReply().toNanos());
            m.server = server;
            server.start(fds, "fuse-" + mnt.getFileName(), m::onServerStopped);
            try {
                if (!bridge.initDone().await(INIT_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new FsException(Errno.EIO, "kernel sent no FUSE INIT within " + INIT_WAIT + " on " + mnt);
                }
                if (bridge.initFailure() != null) {
                    throw bridge.initFailure();
                }
                uring.start(server, fds[0], bridge.negotiatedFlags64(), bridge.maxWriteBytes(),
                        "fuse-" + mnt.getFileName());
            } finally {
                server.releaseStartHold();
            }
            bridge.mounted(mnt);
            m.watchdog = MountWatchdog.start(mnt, session != null);
            if (m.stopped && m.watchdog != null) {
                m.watchdog.stop(); // unmounted already, before the watchdog was in place
            }
            LOG.log(Level.INFO, "mounted " + options.fsName() + " at " + mnt + " (max_write " + bridge.maxWriteBytes()
                    + ", flags " + Long.toHexString(bridge.negotiatedFlags64()) + ", " + uring.describe() + ")");
            return m;
        } catch (IOException | RuntimeException | InterruptedException e) {
            uring.close(); // rings not handed to workers
            if (m != null) {
                // Server started: unmounting makes the readers stop, close the fds and complete.
                try {
                    m.unmount();
                } catch (IOException ue) {
                    e.addSuppressed(ue);
                }
            } else {
                if (mounted) {
                    if (session != null) {
                        helperDetach(mnt, e);
                    } else {
                        detach(mnt, e);
                    }
                }
                closeFds(fds, e);
                if (session != null) {
                    session.close();
                }
            }
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
                throw new FsException(Errno.EINTR, "interrupted while mounting " + mnt, e);
            }
            if (e instanceof IOException io) {
                throw io;
            }
            throw (RuntimeException) e;
        }
    }

    private static void detach(Path mnt, Exception e) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Native.newCapture(arena);
            if (Native.umount2(capture, arena.allocateFrom(mnt.toString()), Native.MNT_DETACH) != 0) {
                e.addSuppressed(Native.failure("umount2 " + mnt, Native.errno(capture)));
            }
        }
    }

    private static void helperDetach(Path mnt, Exception e) {
        try {
            Fusermount.unmount(mnt, true);
        } catch (IOException ue) {
            e.addSuppressed(ue);
        }
    }

    private static void closeFds(int[] fds, Exception e) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Native.newCapture(arena);
            for (int fd : fds) {
                if (fd >= 0 && Native.close(capture, fd) != 0 && e != null) {
                    e.addSuppressed(Native.failure("close fd " + fd, Native.errno(capture)));
                }
            }
        }
    }

    /** Runs once on the last reader to stop: close fds, drop kernel leftovers, sync, complete. */
    private void onServerStopped(Throwable readerFailure) {
        stopped = true;
        MountWatchdog w = watchdog;
        if (w != null) {
            w.stop();
        }
        fdLock.writeLock().lock();
        try {
            fdsClosed = true;
            // Closing the last fd aborts the connection if the kernel still has it (reader failure case).
            closeFds(fds, null);
        } finally {
            fdLock.writeLock().unlock();
        }
        Throwable failure = readerFailure;
        if (readerFailure != null) {
            // The readers died with the mount still attached: detach it so nothing hangs on a dead mount.
            IOException e = new IOException("fuse server at " + mountpoint + " stopped", readerFailure);
            if (helper != null) {
                helperDetach(mountpoint, e);
            } else {
                detach(mountpoint, e);
            }
        }
        if (helper != null) {
            helper.close(); // the auto_unmount helper finds nothing mounted and exits; reaped here
        }
        IOException leftovers = bridge.releaseAll();
        try {
            vfs.sync();
        } catch (IOException | RuntimeException e) {
            failure = chain(failure, e);
        }
        if (leftovers != null) {
            failure = chain(failure, leftovers);
        }
        if (failure == null) {
            LOG.log(Level.INFO, "unmounted " + mountpoint);
            unmounted.complete(null);
        } else {
            LOG.log(Level.ERROR, "fuse mount at " + mountpoint + " ended with an error", failure);
            unmounted.completeExceptionally(failure);
        }
    }

    /** {@code first} with {@code e} added as suppressed, or {@code e} if there was no first failure. */
    static <T extends Throwable> T chain(T first, T e) {
        if (first == null) {
            return e;
        }
        first.addSuppressed(e);
        return first;
    }

    /**
     * Requests served so far, by FUSE opcode name (e.g. {@code LOOKUP}, {@code WRITE}), in opcode order; for
     * counting round trips ({@code iomapfs mount --stats}).
     *
     * @return counts by opcode name
     */
    public java.util.Map<String, Long> requestCounts() {
        FuseServer s = server;
        return s == null ? java.util.Map.of() : s.requestCounts();
    }

    /**
     * Which transport serves this mount: {@code "io_uring (Q queues x W workers)"}, or {@code "/dev/fuse (io_uring:
     * <why not>)"} (FUSE over io_uring off, unavailable, or its registration refused). INIT, FORGET and INTERRUPT
     * use /dev/fuse either way.
     *
     * @return a one-line description
     */
    public String transport() {
        FuseUring u = uring;
        return u == null ? "/dev/fuse" : u.describe();
    }

    /**
     * Requests served so far by transport: {@code "io_uring"} and {@code "/dev/fuse"} (every request counted in
     * {@link #requestCounts()} is in exactly one of them).
     *
     * @return counts by transport name, io_uring first
     */
    public java.util.Map<String, Long> transportCounts() {
        long total = requestCounts().values().stream().mapToLong(Long::longValue).sum();
        FuseUring u = uring;
        long ring = u == null ? 0 : u.servedRequests();
        java.util.Map<String, Long> m = new java.util.LinkedHashMap<>();
        m.put("io_uring", ring);
        m.put("/dev/fuse", Math.max(0, total - ring)); // a ring request is counted there just before dispatch
        return m;
    }

    /**
     * The mountpoint (absolute).
     *
     * @return the absolute mountpoint
     */
    public Path mountpoint() {
        return mountpoint;
    }

    /** {@return the options the mount was made with} */
    public FuseOptions options() {
        return options;
    }

    /**
     * Whether this mount was made through fusermount3 (and is unmounted through it).
     *
     * @return true if mounted through fusermount3
     */
    public boolean viaFusermount() {
        return helper != null;
    }

    /**
     * True until the kernel connection has ended (unmounted by anyone) and the server stopped.
     *
     * @return true while mounted
     */
    public boolean isMounted() {
        return !stopped;
    }

    /**
     * Completes when the mount has ended and the Vfs has been synced; exceptionally if serving or the final
     * sync failed. The owner's hook for "the kernel unmounted us" (e.g. {@code umount} from a shell).
     *
     * @return the future of the mount's end
     */
    public CompletableFuture<Void> whenUnmounted() {
        return unmounted.copy();
    }

    /**
     * Blocks until {@link #whenUnmounted()} completes. @throws IOException if serving or the final sync failed
     *
     * @throws IOException if serving or the final sync failed
     * @throws InterruptedException if the wait is interrupted
     */
    public void awaitUnmounted() throws IOException, InterruptedException {
        try {
            unmounted.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw asIo(e.getCause());
        }
    }

    /**
     * Like {@link #awaitUnmounted()}, giving up after {@code timeout}; returns whether it ended.
     *
     * @param timeout the longest wait
     * @return true if the mount ended within {@code timeout}
     * @throws IOException if serving or the final sync failed
     * @throws InterruptedException if the wait is interrupted
     */
    public boolean awaitUnmounted(Duration timeout) throws IOException, InterruptedException {
        try {
            unmounted.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            throw asIo(e.getCause());
        }
    }

    private static IOException asIo(Throwable t) {
        return t instanceof IOException io ? io : new IOException(t);
    }

    /**
     * Asks the kernel to unmount: umount2(mnt, 0); if busy, a lazy MNT_DETACH (the mount ends at the last close);
     * if not permitted, {@code fusermount3 -u -z}. A mount made through fusermount3 is unmounted with
     * {@code fusermount3 -u} (then {@code -u -z} if busy). Idempotent and thread-safe; returns without waiting for the
     * server to stop (use {@link #awaitUnmounted()}).
     *
     * @throws FsException with the errno of the last attempt if every way failed
     */
    public synchronized void unmount() throws IOException {
        if (stopped) {
            return;
        }
        if (helper != null) {
            // A fusermount3 mount: only the helper may unmount it for a user. Lazily if busy, as umount2 below.
            try {
                Fusermount.unmount(mountpoint, false);
            } catch (FsException e) {
                if (stopped || e.errno() == Errno.EINVAL) {
                    return; // already unmounted (by the user, or meanwhile): the server stops on ENODEV
                }
                if (e.errno() != Errno.EBUSY) {
                    throw e;
                }
                Fusermount.unmount(mountpoint, true);
            }
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Native.newCapture(arena);
            MemorySegment target = arena.allocateFrom(mountpoint.toString());
            if (Native.umount2(capture, target, 0) == 0) {
                return;
            }
            int errno = Native.errno(capture);
            if (errno == Native.EINVAL && stopped) {
                return; // someone else unmounted it meanwhile
            }
            if (errno == Native.EBUSY || errno == Native.EINVAL) {
                if (Native.umount2(capture, target, Native.MNT_DETACH) == 0) {
                    return;
                }
                errno = Native.errno(capture);
                if (errno == Native.EINVAL) {
                    // Not a mount point any more: already gone.
                    return;
                }
            }
            FsException umountFailure = Native.failure("umount2 " + mountpoint, errno);
            fusermountFallback(umountFailure);
        }
    }

    private void fusermountFallback(FsException umountFailure) throws FsException {
        try {
            Process p = new ProcessBuilder("fusermount3", "-u", "-z", mountpoint.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() == 0) {
                return;
            }
            umountFailure.addSuppressed(new IOException("fusermount3 -u -z: " + out.trim()));
        } catch (IOException e) {
            umountFailure.addSuppressed(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            umountFailure.addSuppressed(e);
        }
        throw umountFailure;
    }

    /** Unmounts and waits for the server to stop and the Vfs to be synced. */
    @Override
    public void close() throws IOException {
        unmount();
        try {
            awaitUnmounted();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FsException(Errno.EINTR, "interrupted while unmounting " + mountpoint, e);
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Notifications (unique 0). Never call these from inside a Vfs method the server is running: the kernel
    // may wait for a page lock held by a request that needs a reader thread (deadlock with few readers).

    /**
     * Tells the kernel that data in {@code [offBytes, offBytes + lenBytes)} of inode {@code ino} (a Vfs inode
     * number) changed behind its back: it drops those cached pages and the cached attributes. {@code lenBytes}
     * 0 means to EOF; {@code offBytes} negative invalidates attributes only. A not-cached inode is no error.
     *
     * @param ino the inode number
     * @param offBytes file byte offset of the changed range (negative: attributes only)
     * @param lenBytes its length in bytes (0: to EOF)
     * @throws IOException if writing the notification to /dev/fuse fails
     */
    public void invalidateInode(long ino, long offBytes, long lenBytes) throws IOException {
        notifyInvalInode(bridge.nodeId(ino), offBytes, lenBytes);
    }

    /**
     * Tells the kernel that name {@code name} in directory {@code parentIno} changed behind its back (drops the
     * dentry). A not-cached entry is no error.
     *
     * @param parentIno inode number of the directory
     * @param name the entry name
     * @throws IOException if writing the notification to /dev/fuse fails
     */
    public void invalidateEntry(long parentIno, String name) throws IOException {
        byte[] nb = name.getBytes(StandardCharsets.UTF_8);
        int len = FuseAbi.OUT_HEADER_SIZE + FuseAbi.NOTIFY_INVAL_ENTRY_SIZE + nb.length + 1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(len);
            FuseAbi.putOutHeader(msg, len, FuseAbi.NOTIFY_INVAL_ENTRY, 0);
            msg.set(FuseAbi.U64, 16, bridge.nodeId(parentIno));
            msg.set(FuseAbi.U32, 24, nb.length);
            msg.set(FuseAbi.U32, 28, 0);
            MemorySegment.copy(nb, 0, msg, ValueLayout.JAVA_BYTE, 32, nb.length);
            msg.set(ValueLayout.JAVA_BYTE, 32 + nb.length, (byte) 0);
            sendNotification(arena, msg, len, "INVAL_ENTRY " + parentIno + "/" + name);
        }
    }

    private void notifyInvalInode(long nodeid, long offBytes, long lenBytes) throws IOException {
        int len = FuseAbi.OUT_HEADER_SIZE + FuseAbi.NOTIFY_INVAL_INODE_SIZE;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(len);
            FuseAbi.putOutHeader(msg, len, FuseAbi.NOTIFY_INVAL_INODE, 0);
            msg.set(FuseAbi.U64, 16, nodeid);
            msg.set(FuseAbi.U64, 24, offBytes);
            msg.set(FuseAbi.U64, 32, lenBytes);
            sendNotification(arena, msg, len, "INVAL_INODE nodeid " + nodeid);
        }
    }

    private void sendNotification(Arena arena, MemorySegment msg, int len, String what) throws IOException {
        MemorySegment capture = Native.newCapture(arena);
        fdLock.readLock().lock();
        try {
            if (fdsClosed) {
                return; // unmounted: nothing is cached any more
            }
            long n = Native.write(capture, fds[0], msg, len);
            if (n == len) {
                return;
            }
            int errno = Native.errno(capture);
            if (errno == Native.ENOENT) {
                return; // the kernel has no such inode/entry cached
            }
            throw Native.failure("fuse notify " + what + " on " + mountpoint, errno);
        } finally {
            fdLock.readLock().unlock();
        }
    }

    /** The node layer (tests inspect lookup counts and open handles). */
    NodeBridge bridge() {
        return bridge;
    }
}
