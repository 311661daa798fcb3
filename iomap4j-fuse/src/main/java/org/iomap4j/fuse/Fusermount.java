package org.iomap4j.fuse;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.internal.Libc;

/**
 * Mounting without root through {@code fusermount3}, the fuse3 package's setuid-root helper. The protocol (libfuse
 * {@code lib/mount.c}, {@code fuse_mount_fusermount} and {@code receive_fd}; {@code util/fusermount.c}): the server
 * makes a {@code socketpair(AF_UNIX, SOCK_STREAM)}, runs {@code fusermount3 -o OPTIONS -- MOUNTPOINT} with the
 * environment variable {@code _FUSE_COMMFD} naming the child's end; the helper opens /dev/fuse, mounts with the
 * options it allows an ordinary user (always {@code nosuid,nodev}; {@code allow_other} only with
 * {@code user_allow_other} in /etc/fuse.conf), sends the /dev/fuse descriptor back as an {@code SCM_RIGHTS}
 * control message with one data byte, and exits; or prints why not on stderr and exits non-zero, closing the
 * socket (EOF). With {@code auto_unmount} the helper instead stays alive, blocked reading its end of the socket;
 * when the server's end closes (the server exited or was killed), it unmounts the mountpoint lazily, so a killed
 * server leaves no dead mount.
 *
 * <p>The helper is started with {@code posix_spawnp(3)} through the FFM API because {@link ProcessBuilder} closes
 * every inherited descriptor but 0..2 in the child. The child gets the socket as fd 3, /dev/null as stdin and a
 * pipe as stdout and stderr (its messages become the exception text); every other descriptor is closed
 * ({@code posix_spawn_file_actions_addclosefrom_np}, glibc 2.34+) or close-on-exec.
 *
 * <p>Unmounting ({@link #unmount}) runs {@code fusermount3 -u [-z] -- MOUNTPOINT}, which lets the user who mounted
 * (or root) unmount. Thread-safe: no shared state; each call owns its descriptors.
 */
public final class Fusermount {
    /** The helper's name, looked up on {@code PATH} as posix_spawnp does. */
    public static final String PROGRAM = "fusermount3";
    /** Where fusermount3 reads {@code user_allow_other} (util/fusermount.c, FUSE_CONF). */
    static final Path FUSE_CONF = Path.of("/etc/fuse.conf");

    private static final String COMMFD_ENV = "_FUSE_COMMFD";
    /** The descriptor number the child's socket end gets. */
    private static final int CHILD_COMMFD = 3;
    /** Descriptors handed to the child are first moved at or above this, clear of 0..3. */
    private static final int HIGH_FD = 10;

    // Linux x86-64 / glibc values: include/linux/socket.h, include/uapi/asm-generic/fcntl.h, bits/spawn.h.
    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int O_CLOEXEC = 02000000;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int EINTR = 4;
    private static final int WNOHANG = 1;
    private static final short POSIX_SPAWN_SETSIGMASK = 0x08;
    /** glibc's posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128: room to spare. */
    private static final long SPAWN_STRUCT_BYTES = 512;
    private static final long SIGSET_BYTES = 128;
    /** struct msghdr (x86-64): name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad). */
    private static final long MSGHDR_BYTES = 56;
    /** CMSG_SPACE(sizeof(int)) = 16-byte cmsghdr + 4 rounded to 8. */
    private static final long CMSG_SPACE_INT = 24;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final java.lang.foreign.AddressLayout PTR = ValueLayout.ADDRESS;

    private static final MethodHandle SOCKETPAIR = Libc.downcallWithErrno("socketpair",
            FunctionDescriptor.of(INT, INT, INT, INT, PTR));
    private static final MethodHandle PIPE2 = Libc.downcallWithErrno("pipe2", FunctionDescriptor.of(INT, PTR, INT));
    private static final MethodHandle FCNTL = Libc.downcallWithErrno("fcntl", FunctionDescriptor.of(INT, INT, INT, INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = Libc.downcallWithErrno("close", FunctionDescriptor.of(INT, INT));
    private static final MethodHandle READ = Libc.downcallWithErrno("read",
            FunctionDescriptor.of(LONG, INT, PTR, LONG));
    private static final MethodHandle RECVMSG = Libc.downcallWithErrno("recvmsg",
            FunctionDescriptor.of(LONG, INT, PTR, INT));
    private static final MethodHandle WAITPID = Libc.downcallWithErrno("waitpid",
            FunctionDescriptor.of(INT, INT, PTR, INT));
    private static final MethodHandle GETEUID = Libc.downcall("geteuid", FunctionDescriptor.of(INT));
    private static final MethodHandle SPAWNP = Libc.downcall("posix_spawnp",
            FunctionDescriptor.of(INT, PTR, PTR, PTR, PTR, PTR, PTR));
    private static final MethodHandle FA_INIT = Libc.downcall("posix_spawn_file_actions_init",
            FunctionDescriptor.of(INT, PTR));
    private static final MethodHandle FA_DESTROY = Libc.downcall("posix_spawn_file_actions_destroy",
            FunctionDescriptor.of(INT, PTR));
    private static final MethodHandle FA_DUP2 = Libc.downcall("posix_spawn_file_actions_adddup2",
            FunctionDescriptor.of(INT, PTR, INT, INT));
    private static final MethodHandle FA_OPEN = Libc.downcall("posix_spawn_file_actions_addopen",
            FunctionDescriptor.of(INT, PTR, INT, PTR, INT, INT));
    private static final Optional<MethodHandle> FA_CLOSEFROM = optionalDowncall(
            "posix_spawn_file_actions_addclosefrom_np", FunctionDescriptor.of(INT, PTR, INT));
    private static final MethodHandle ATTR_INIT = Libc.downcall("posix_spawnattr_init",
            FunctionDescriptor.of(INT, PTR));
    private static final MethodHandle ATTR_DESTROY = Libc.downcall("posix_spawnattr_destroy",
            FunctionDescriptor.of(INT, PTR));
    private static final MethodHandle ATTR_SETFLAGS = Libc.downcall("posix_spawnattr_setflags",
            FunctionDescriptor.of(INT, PTR, ValueLayout.JAVA_SHORT));
    private static final MethodHandle ATTR_SETSIGMASK = Libc.downcall("posix_spawnattr_setsigmask",
            FunctionDescriptor.of(INT, PTR, PTR));

    private Fusermount() {}

    /** A downcall for a libc function glibc may lack (posix_spawn_file_actions_addclosefrom_np: 2.34+). */
    private static Optional<MethodHandle> optionalDowncall(String name, FunctionDescriptor fd) {
        try {
            return Optional.of(Libc.downcall(name, fd));
        } catch (UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    /**
     * A mount made by the helper: the /dev/fuse descriptor, and with {@code auto_unmount} the server's end of the
     * socket and the helper's pid (it lives until {@link #close()} closes the socket, then unmounts if still
     * mounted and exits). Without auto_unmount {@code commFd} and {@code helperPid} are -1.
     */
    record Session(int devFd, int commFd, int helperPid) implements AutoCloseable {
        /**
         * Closes the socket (the helper then lazily unmounts what is still mounted and exits) and reaps the
         * helper, waiting at most about 5 s for it. Idempotence is the caller's business (called once).
         */
        @Override
        public void close() {
            if (commFd >= 0) {
                closeQuietly(commFd);
            }
            if (helperPid > 0) {
                reap(helperPid, 5_000);
            }
        }
    }

    /**
     * The effective uid of this process (geteuid(2)).
     *
     * @return the effective uid
     */
    public static int geteuid() {
        try {
            return (int) GETEUID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Where {@code fusermount3} is: the first executable {@code fusermount3} in a directory of {@code PATH}.
     *
     * @throws FsException ENOENT, one line saying how to get it, if there is none
     * @return the absolute path of fusermount3
     */
    public static Path locate() throws FsException {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (dir.isEmpty()) {
                    continue;
                }
                Path p = Path.of(dir, PROGRAM);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        throw new FsException(Errno.ENOENT, PROGRAM + " not found on PATH: mounting without root needs it "
                + "(install the fuse3 package, e.g. apt-get install fuse3)");
    }

    /**
     * Whether /etc/fuse.conf has a line {@code user_allow_other} (comments after '#' and surrounding blanks
     * ignored), the condition fusermount3 sets for {@code allow_other} by users other than root
     * (util/fusermount.c, read_conf/parse_line).
     *
     * @return true if user_allow_other is set
     */
    public static boolean userAllowOther() {
        return userAllowOther(FUSE_CONF);
    }

    static boolean userAllowOther(Path conf) {
        try {
            for (String line : Files.readAllLines(conf, StandardCharsets.UTF_8)) {
                int hash = line.indexOf('#');
                String l = (hash >= 0 ? line.substring(0, hash) : line).strip();
                if (l.equals("user_allow_other")) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false; // missing or unreadable: fusermount3 treats it the same way (no user_allow_other)
        }
        return false;
    }

    /**
     * Mounts through {@code fusermount3 -o options -- mountpoint} and returns the /dev/fuse descriptor
     * (close-on-exec). The kernel waits for the server's INIT reply on that descriptor.
     *
     * @param mountpoint absolute path of an existing directory the caller may write
     * @param options    fusermount3's {@code -o} list, e.g. {@code rw,nosuid,nodev,default_permissions,fsname=X}
     * @param autoUnmount whether {@code options} contains {@code auto_unmount} (the helper then stays alive)
     * @throws FsException ENOENT if fusermount3 is missing; otherwise the helper's own message (one line) with
     *                     an errno guessed from it (EPERM if it names none)
     */
    static Session mount(Path mountpoint, String options, boolean autoUnmount) throws IOException {
        Path helper = locate();
        List<String> argv = List.of(helper.toString(), "-o", options, "--", mountpoint.toString());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Libc.allocateCallState(arena);
            MemorySegment pair = arena.allocate(INT, 2);
            if (socketpair(capture, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
                throw failure("socketpair(AF_UNIX)", errno(capture));
            }
            int ours = pair.getAtIndex(INT, 0);
            int theirs = -1;
            int pipeRead = -1;
            int pipeWrite = -1;
            int pid = -1;
            boolean ok = false;
            try {
                theirs = moveHigh(capture, pair.getAtIndex(INT, 1));
                MemorySegment pipe = arena.allocate(INT, 2);
                if (pipe2(capture, pipe, O_CLOEXEC) != 0) {
                    throw failure("pipe2", errno(capture));
                }
                pipeRead = pipe.getAtIndex(INT, 0);
                pipeWrite = moveHigh(capture, pipe.getAtIndex(INT, 1));
                pid = spawn(arena, argv, theirs, pipeWrite);
                closeQuietly(theirs);
                theirs = -1;
                closeQuietly(pipeWrite);
                pipeWrite = -1;
                int devFd = receiveFd(arena, capture, ours);
                if (devFd < 0) {
                    reap(pid, 30_000);
                    String said = drain(arena, capture, pipeRead).strip().replace('\n', ';');
                    throw helperFailure(mountpoint, said);
                }
                ok = true;
                if (autoUnmount) {
                    return new Session(devFd, ours, pid);
                }
                closeQuietly(ours);
                reap(pid, 30_000);
                return new Session(devFd, -1, -1);
            } finally {
                closeQuietly(pipeRead);
                closeQuietly(pipeWrite);
                closeQuietly(theirs);
                if (!ok) {
                    closeQuietly(ours);
                }
            }
        }
    }

    /**
     * Unmounts {@code mountpoint} with {@code fusermount3 -u} ({@code -z}: lazily, the mount goes away when the
     * last user leaves it).
     *
     * @throws FsException ENOENT if fusermount3 is missing, EBUSY/EPERM/EINVAL with the helper's message if it
     *                     refused
     * @param mountpoint the mountpoint
     * @param lazy true for {@code -z} (lazy unmount)
     */
    public static void unmount(Path mountpoint, boolean lazy) throws IOException {
        Path helper = locate();
        List<String> cmd = new ArrayList<>(List.of(helper.toString(), "-u"));
        if (lazy) {
            cmd.add("-z");
        }
        cmd.add("--");
        cmd.add(mountpoint.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
                Path.of("/dev/null").toFile())).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        int status;
        try {
            status = p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroy();
            throw new FsException(Errno.EINTR, "interrupted while unmounting " + mountpoint, e);
        }
        if (status != 0) {
            throw new FsException(guessErrno(out), out.isEmpty() ? PROGRAM + " -u " + mountpoint + " failed (exit "
                    + status + ")" : out.replace('\n', ';'));
        }
    }

    /** An FsException for what the helper printed: its errno guessed from the strerror text in it. */
    private static FsException helperFailure(Path mountpoint, String said) {
        if (said.isEmpty()) {
            return new FsException(Errno.EPERM, PROGRAM + " could not mount " + mountpoint + " (it printed nothing)");
        }
        String msg = said.startsWith(PROGRAM) ? said : PROGRAM + ": " + said;
        return new FsException(guessErrno(said), msg);
    }

    static Errno guessErrno(String text) {
        String t = text.toLowerCase(java.util.Locale.ROOT);
        for (Errno e : List.of(Errno.EACCES, Errno.EPERM, Errno.ENOENT, Errno.ENOTDIR, Errno.EBUSY, Errno.EINVAL, Errno.ENODEV)) {
            if (t.contains(e.description().toLowerCase(java.util.Locale.ROOT))) {
                return e;
            }
        }
        if (t.contains("not mounted") || t.contains("not found in")) {
            return Errno.EINVAL;
        }
        return Errno.EPERM;
    }

    private static int spawn(Arena arena, List<String> argv, int commFd, int outFd) throws FsException {
        MemorySegment actions = arena.allocate(SPAWN_STRUCT_BYTES, 16);
        MemorySegment attr = arena.allocate(SPAWN_STRUCT_BYTES, 16);
        check(call(FA_INIT, actions), "posix_spawn_file_actions_init");
        try {
            check(call(ATTR_INIT, attr), "posix_spawnattr_init");
            try {
                // An empty signal mask: the helper must not inherit a JVM thread's blocked signals.
                MemorySegment emptyMask = arena.allocate(SIGSET_BYTES, 8);
                check(callAttrFlags(attr, POSIX_SPAWN_SETSIGMASK), "posix_spawnattr_setflags");
                check(call(ATTR_SETSIGMASK, attr, emptyMask), "posix_spawnattr_setsigmask");
                check(callOpen(actions, 0, arena.allocateFrom("/dev/null")), "posix_spawn_file_actions_addopen");
                check(callDup2(actions, commFd, CHILD_COMMFD), "posix_spawn_file_actions_adddup2");
                check(callDup2(actions, outFd, 1), "posix_spawn_file_actions_adddup2");
                check(callDup2(actions, outFd, 2), "posix_spawn_file_actions_adddup2");
                if (FA_CLOSEFROM.isPresent()) {
                    check(callInt(FA_CLOSEFROM.get(), actions, CHILD_COMMFD + 1),
                            "posix_spawn_file_actions_addclosefrom_np");
                }
                MemorySegment argvSeg = cStrings(arena, argv);
                MemorySegment envSeg = cStrings(arena, environment());
                MemorySegment pidOut = arena.allocate(INT);
                int rc;
                try {
                    rc = (int) SPAWNP.invokeExact(pidOut, arena.allocateFrom(PROGRAM), actions, attr, argvSeg, envSeg);
                } catch (Throwable t) {
                    throw rethrow(t);
                }
                if (rc != 0) {
                    throw failure("posix_spawnp " + PROGRAM, rc);
                }
                return pidOut.get(INT, 0);
            } finally {
                call(ATTR_DESTROY, attr);
            }
        } finally {
            call(FA_DESTROY, actions);
        }
    }

    /** This process's environment with {@code _FUSE_COMMFD=3} (any inherited value replaced). */
    private static List<String> environment() {
        List<String> env = new ArrayList<>();
        env.add(COMMFD_ENV + "=" + CHILD_COMMFD);
        for (Map.Entry<String, String> e : System.getenv().entrySet()) {
            if (!e.getKey().equals(COMMFD_ENV)) {
                env.add(e.getKey() + "=" + e.getValue());
            }
        }
        return env;
    }

    /** A NULL-terminated char*[] of the strings. */
    private static MemorySegment cStrings(Arena arena, List<String> strings) {
        MemorySegment arr = arena.allocate(PTR, strings.size() + 1L);
        for (int i = 0; i < strings.size(); i++) {
            arr.setAtIndex(PTR, i, arena.allocateFrom(strings.get(i)));
        }
        arr.setAtIndex(PTR, strings.size(), MemorySegment.NULL);
        return arr;
    }

    /**
     * Receives the descriptor the helper sends: recvmsg with a 1-byte iovec and room for one SCM_RIGHTS int.
     * Returns -1 on EOF (the helper failed and said why on stderr).
     */
    private static int receiveFd(Arena arena, MemorySegment capture, int sock) throws FsException {
        MemorySegment data = arena.allocate(1);
        MemorySegment iov = arena.allocate(16, 8);
        iov.set(PTR, 0, data);
        iov.set(LONG, 8, 1L);
        MemorySegment control = arena.allocate(CMSG_SPACE_INT, 8);
        MemorySegment msg = arena.allocate(MSGHDR_BYTES, 8);
        while (true) {
            msg.fill((byte) 0);
            control.fill((byte) 0);
            msg.set(PTR, 16, iov);
            msg.set(LONG, 24, 1L);
            msg.set(PTR, 32, control);
            msg.set(LONG, 40, CMSG_SPACE_INT);
            long n;
            try {
                n = (long) RECVMSG.invokeExact(capture, sock, msg, MSG_CMSG_CLOEXEC);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (n < 0) {
                int errno = errno(capture);
                if (errno == EINTR) {
                    continue;
                }
                throw failure("recvmsg from " + PROGRAM, errno);
            }
            if (n == 0) {
                return -1;
            }
            long controlLen = msg.get(LONG, 40);
            long cmsgLen = control.get(LONG, 0);
            int level = control.get(INT, 8);
            int type = control.get(INT, 12);
            if (controlLen < 16 + 4 || cmsgLen < 16 + 4 || level != SOL_SOCKET || type != SCM_RIGHTS) {
                throw new FsException(Errno.EIO, PROGRAM + " sent no /dev/fuse descriptor (control message level "
                        + level + " type " + type + ", " + controlLen + " bytes)");
            }
            return control.get(INT, 16);
        }
    }

    /** Reads {@code fd} to EOF (at most 64 KiB kept). */
    private static String drain(Arena arena, MemorySegment capture, int fd) {
        MemorySegment buf = arena.allocate(4096);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        while (out.size() < 65536) {
            long n;
            try {
                n = (long) READ.invokeExact(capture, fd, buf, 4096L);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (n < 0 && errno(capture) == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            out.write(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), 0, (int) n);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /**
     * Waits for child {@code pid} to exit, polling with WNOHANG for at most {@code maxMillis}; returns whether it
     * was reaped. A helper that does not exit is left (it exits when this process does).
     */
    static boolean reap(int pid, long maxMillis) {
        long deadline = System.nanoTime() + maxMillis * 1_000_000L;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Libc.allocateCallState(arena);
            MemorySegment status = arena.allocate(INT);
            long sleepMillis = 1;
            while (true) {
                int r;
                try {
                    r = (int) WAITPID.invokeExact(capture, pid, status, WNOHANG);
                } catch (Throwable t) {
                    throw rethrow(t);
                }
                if (r == pid || (r < 0 && errno(capture) != EINTR)) {
                    return r == pid;
                }
                if (System.nanoTime() > deadline) {
                    return false;
                }
                try {
                    Thread.sleep(sleepMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
                sleepMillis = Math.min(50, sleepMillis * 2);
            }
        }
    }

    /** A close-on-exec duplicate of {@code fd} (fcntl F_DUPFD_CLOEXEC), sharing its open file description. */
    static int dupCloexec(int fd) throws FsException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Libc.allocateCallState(arena);
            int d = fcntl(capture, fd, F_DUPFD_CLOEXEC, 0);
            if (d < 0) {
                throw failure("dup of fd " + fd, errno(capture));
            }
            return d;
        }
    }

    /** Moves {@code fd} to a close-on-exec descriptor >= 10 (closing the old one), so dup2 to 1..3 cannot clash. */
    private static int moveHigh(MemorySegment capture, int fd) throws FsException {
        int high = fcntl(capture, fd, F_DUPFD_CLOEXEC, HIGH_FD);
        if (high < 0) {
            int errno = errno(capture);
            closeQuietly(fd);
            throw failure("fcntl(F_DUPFD_CLOEXEC)", errno);
        }
        closeQuietly(fd);
        return high;
    }

    static void closeQuietly(int fd) {
        if (fd < 0) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Libc.allocateCallState(arena);
            int r = (int) CLOSE.invokeExact(capture, fd);
            assert r == 0 || r == -1;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int socketpair(MemorySegment capture, int domain, int type, int protocol, MemorySegment sv) {
        try {
            return (int) SOCKETPAIR.invokeExact(capture, domain, type, protocol, sv);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int pipe2(MemorySegment capture, MemorySegment fds, int flags) {
        try {
            return (int) PIPE2.invokeExact(capture, fds, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int fcntl(MemorySegment capture, int fd, int cmd, int arg) {
        try {
            return (int) FCNTL.invokeExact(capture, fd, cmd, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int call(MethodHandle h, MemorySegment a) {
        try {
            return (int) h.invokeExact(a);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int call(MethodHandle h, MemorySegment a, MemorySegment b) {
        try {
            return (int) h.invokeExact(a, b);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int callInt(MethodHandle h, MemorySegment a, int b) {
        try {
            return (int) h.invokeExact(a, b);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int callAttrFlags(MemorySegment attr, short flags) {
        try {
            return (int) ATTR_SETFLAGS.invokeExact(attr, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int callDup2(MemorySegment actions, int fd, int newFd) {
        try {
            return (int) FA_DUP2.invokeExact(actions, fd, newFd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int callOpen(MemorySegment actions, int fd, MemorySegment path) {
        try {
            return (int) FA_OPEN.invokeExact(actions, fd, path, 0, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** posix_spawn* functions return an error number (0: success) instead of setting errno. */
    private static void check(int rc, String what) throws FsException {
        if (rc != 0) {
            throw failure(what, rc);
        }
    }

    private static int errno(MemorySegment capture) {
        return Libc.errno(capture);
    }

    /** "{what}: {strerror} (errno N)", the format {@link Native#failure} uses. */
    private static FsException failure(String what, int errno) {
        Errno e = Errno.EIO;
        for (Errno x : Errno.values()) {
            if (x.code() == errno) {
                e = x;
                break;
            }
        }
        return new FsException(e, what + ": " + e.description() + " (errno " + errno + ")");
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error err) {
            throw err;
        }
        return new IllegalStateException("native call failed", t);
    }
}
