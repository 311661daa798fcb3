package org.iomap4j.fuse;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.internal.Libc;

/**
 * The libc system calls the FUSE server needs (open, close, read, write, ioctl, mount, umount2, poll, geteuid,
 * getegid), bound through core's one libc binding {@link Libc} (its linker, symbol lookup and errno capture) with
 * errno captured per call. It exists because FileChannel cannot serve /dev/fuse: its read and write share a
 * position lock and lose errno (see fuse-protocol.md).
 *
 * <p>Every call takes a capture segment ({@link #newCapture}) owned by the calling thread; on a
 * {@code -1} return, {@link #errno(MemorySegment)} reads the errno of that call. Blocking calls (read) are bound
 * without {@code Linker.Option.critical} so they may block a platform thread.
 */
final class Native {
    private Native() {}

    /** Linux errno values the server loop branches on (include/uapi/asm-generic/errno-base.h). */
    static final int ENOENT = 2;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int EBUSY = 16;
    static final int ENODEV = 19;
    static final int EINVAL = 22;
    /** io_uring and FUSE-over-io_uring results (include/uapi/asm-generic/errno.h). */
    static final int ETIME = 62;
    static final int EOPNOTSUPP = 95;
    static final int ECONNABORTED = 103;
    static final int ENOTCONN = 107;
    static final int ECANCELED = 125;

    /** x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
    static final long SYS_IO_URING_SETUP = 425;
    static final long SYS_IO_URING_ENTER = 426;
    static final long SYS_IO_URING_REGISTER = 427;

    /** mmap(2) flags for the io_uring rings (asm-generic/mman-common.h). */
    static final int MAP_SHARED = 0x01;
    static final int MAP_POPULATE = 0x8000;

    /** open(2) flags (x86-64). */
    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 02000000;

    /** mount(2) flags (include/uapi/linux/mount.h). */
    static final long MS_RDONLY = 1;
    static final long MS_NOSUID = 2;
    static final long MS_NODEV = 4;

    /** umount2(2) flags. */
    static final int MNT_DETACH = 2;

    /** FUSE_DEV_IOC_CLONE = _IOR(229, 0, uint32_t) (include/uapi/linux/fuse.h). */
    static final long FUSE_DEV_IOC_CLONE = 0x8004E500L;

    private static final MethodHandle OPEN = Libc.downcallWithErrno("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = Libc.downcallWithErrno("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle READ = Libc.downcallWithErrno("read",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle WRITE = Libc.downcallWithErrno("write",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle IOCTL = Libc.downcallWithErrno("ioctl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MOUNT = Libc.downcallWithErrno("mount",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    private static final MethodHandle UMOUNT2 = Libc.downcallWithErrno("umount2",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle POLL = Libc.downcallWithErrno("poll",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT));
    /** glibc's syscall(3): every argument passed as a long (the kernel truncates int parameters itself). */
    private static final MethodHandle SYSCALL = Libc.downcallWithErrno("syscall",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SCHED_SETAFFINITY = Libc.downcallWithErrno("sched_setaffinity",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                    ValueLayout.ADDRESS));
    private static final MethodHandle GETEUID = Libc.downcall("geteuid", FunctionDescriptor.of(ValueLayout.JAVA_INT));
    private static final MethodHandle GETEGID = Libc.downcall("getegid", FunctionDescriptor.of(ValueLayout.JAVA_INT));

    /** A capture segment for errno, to be used by one thread at a time. */
    static MemorySegment newCapture(Arena arena) {
        return Libc.allocateCallState(arena);
    }

    /** The errno captured by the last call that used {@code capture}. */
    static int errno(MemorySegment capture) {
        return Libc.errno(capture);
    }

    static int open(MemorySegment capture, MemorySegment path, int flags) {
        try {
            return (int) OPEN.invokeExact(capture, path, flags, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int close(MemorySegment capture, int fd) {
        try {
            return (int) CLOSE.invokeExact(capture, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** read(2); blocks the calling (platform) thread. Returns bytes read or -1 (see {@link #errno}). */
    static long read(MemorySegment capture, int fd, MemorySegment buf, long count) {
        try {
            return (long) READ.invokeExact(capture, fd, buf, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long write(MemorySegment capture, int fd, MemorySegment buf, long count) {
        try {
            return (long) WRITE.invokeExact(capture, fd, buf, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** struct pollfd {int fd; short events; short revents;}: 8 bytes. */
    static final short POLLIN = 1;

    /** poll(2) on one fd: {@code pollfd} is an 8-byte struct pollfd. Returns the number ready, 0 or -1. */
    static int poll(MemorySegment capture, MemorySegment pollfd, int timeoutMillis) {
        try {
            return (int) POLL.invokeExact(capture, pollfd, 1L, timeoutMillis);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int ioctl(MemorySegment capture, int fd, long request, MemorySegment arg) {
        try {
            return (int) IOCTL.invokeExact(capture, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int mount(MemorySegment capture, MemorySegment source, MemorySegment target, MemorySegment fsType,
            long flags, MemorySegment data) {
        try {
            return (int) MOUNT.invokeExact(capture, source, target, fsType, flags, data);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int umount2(MemorySegment capture, MemorySegment target, int flags) {
        try {
            return (int) UMOUNT2.invokeExact(capture, target, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * syscall(2) with six arguments (unused ones 0); blocks the calling (platform) thread for io_uring_enter. Returns
     * the call's result or -1 (see {@link #errno}).
     */
    static long syscall(MemorySegment capture, long number, long a1, long a2, long a3, long a4, long a5, long a6) {
        try {
            return (long) SYSCALL.invokeExact(capture, number, a1, a2, a3, a4, a5, a6);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** sched_setaffinity(0, maskBytes, mask): pins the calling thread. Returns 0 or -1 (see {@link #errno}). */
    static int schedSetaffinity(MemorySegment capture, MemorySegment mask) {
        try {
            return (int) SCHED_SETAFFINITY.invokeExact(capture, 0, mask.byteSize(), mask);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int geteuid() {
        try {
            return (int) GETEUID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getegid() {
        try {
            return (int) GETEGID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The {@link Errno} for a raw errno value, EIO for values the enum does not name. */
    static Errno toErrno(int errno) {
        for (Errno e : Errno.values()) {
            if (e.code() == errno) {
                return e;
            }
        }
        return Errno.EIO;
    }

    /** An FsException for a failed call: "{what}: {strerror} (errno N)". */
    static FsException failure(String what, int errno) {
        Errno e = toErrno(errno);
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
