package org.iomap4j.fuse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

import org.iomap4j.FsException;
import org.iomap4j.internal.Libc;

/**
 * One io_uring instance driven through the raw system calls (io_uring_setup 425, io_uring_enter 426,
 * io_uring_register 427) and its mmap'ed rings: what the FUSE server needs to send IORING_OP_URING_CMD commands to
 * /dev/fuse, and nothing else. It exists because Debian's liburing2 (2.3) has no FFI-friendly entry points (its
 * queue helpers are static inline functions).
 *
 * <p>Layouts (include/uapi/linux/io_uring.h, checked on kernel 6.18 with a C probe against the installed header):
 * io_uring_params 120 bytes {sq_entries@0, cq_entries@4, flags@8, features@20, sq_off@40, cq_off@80};
 * io_sqring_offsets {head@0, tail@4, ring_mask@8, ring_entries@12, flags@16, dropped@20, array@24};
 * io_cqring_offsets {head@0, tail@4, ring_mask@8, ring_entries@12, overflow@16, cqes@20} (each an offset into the
 * mapped ring, not a value; the entry counts are powers of two, so the masks are entries - 1); an SQE is 64 bytes, 128
 * with IORING_SETUP_SQE128 (opcode u8@0, flags u8@1, fd s32@4, cmd_op u32@8, addr u64@16, len u32@24, user_data
 * u64@32, cmd[80]@48); a CQE is 16 bytes {user_data u64@0, res s32@8, flags u32@12}.
 *
 * <p>Memory ordering as liburing: the CQ tail and SQ head are read with acquire, the SQ tail and CQ head written with
 * release. Confined to one thread (the one that submits: io_uring runs a command's task work in its submitter's
 * context, see fs/fuse/dev_uring.c fuse_uring_send_in_task). {@link #close()} unmaps and closes the ring; the kernel
 * then cancels whatever is still queued.
 */
final class IoUring implements AutoCloseable {
    /** io_uring_setup flags. */
    static final int SETUP_SQE128 = 1 << 10;
    /** io_uring_params.features bits. */
    static final int FEAT_SINGLE_MMAP = 1;
    static final int FEAT_EXT_ARG = 1 << 8;
    /** io_uring_enter flags. */
    static final int ENTER_GETEVENTS = 1;
    static final int ENTER_EXT_ARG = 1 << 3;
    /** SQE opcodes and flags. */
    static final int OP_URING_CMD = 46;
    static final int SQE_FIXED_FILE = 1;
    /** io_uring_register opcodes. */
    static final int REGISTER_FILES = 2;
    /** mmap offsets of the rings. */
    private static final long OFF_SQ_RING = 0L;
    private static final long OFF_CQ_RING = 0x8000000L;
    private static final long OFF_SQES = 0x10000000L;
    static final int CQE_BYTES = 16;

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final int ringFd;
    private final int sqeBytes;
    private final int features;
    private final Arena arena;
    private final MemorySegment capture;
    /** io_uring_getevents_arg (24 bytes) followed by a __kernel_timespec (16 bytes). */
    private final MemorySegment waitArg;
    private final MemorySegment sqRing;
    private final MemorySegment cqRing;
    private final MemorySegment sqes;
    private final long sqRingBytes;
    private final long cqRingBytes;
    private final long sqesBytes;
    private final int sqHeadOff, sqTailOff, sqArrayOff, sqMask, sqEntries;
    private final int cqHeadOff, cqTailOff, cqesOff, cqMask;
    /** SQEs filled but not yet submitted. */
    private int pending;
    private int sqTail;

    private IoUring(int ringFd, int sqeBytes, MemorySegment params, Arena arena, MemorySegment capture)
            throws FsException {
        this.ringFd = ringFd;
        this.sqeBytes = sqeBytes;
        this.arena = arena;
        this.capture = capture;
        this.waitArg = arena.allocate(40, 8);
        this.features = params.get(ValueLayout.JAVA_INT, 20);
        this.sqEntries = params.get(ValueLayout.JAVA_INT, 0);
        int cqEntries = params.get(ValueLayout.JAVA_INT, 4);
        sqHeadOff = params.get(ValueLayout.JAVA_INT, 40);
        sqTailOff = params.get(ValueLayout.JAVA_INT, 44);
        sqMask = sqEntries - 1; // the *_off.ring_mask fields are offsets of the mask in the ring; entries are 2^n
        sqArrayOff = params.get(ValueLayout.JAVA_INT, 64);
        cqHeadOff = params.get(ValueLayout.JAVA_INT, 80);
        cqTailOff = params.get(ValueLayout.JAVA_INT, 84);
        cqMask = cqEntries - 1;
        cqesOff = params.get(ValueLayout.JAVA_INT, 100);
        long sqBytes = sqArrayOff + 4L * sqEntries;
        long cqBytes = cqesOff + (long) CQE_BYTES * cqEntries;
        boolean single = (features & FEAT_SINGLE_MMAP) != 0;
        if (single) {
            sqBytes = cqBytes = Math.max(sqBytes, cqBytes);
        }
        sqRingBytes = sqBytes;
        cqRingBytes = single ? 0 : cqBytes;
        sqesBytes = (long) sqeBytes * sqEntries;
        sqRing = map(sqBytes, OFF_SQ_RING, "SQ ring");
        MemorySegment cq = sqRing;
        MemorySegment sq = MemorySegment.NULL;
        try {
            if (!single) {
                cq = map(cqBytes, OFF_CQ_RING, "CQ ring");
            }
            sq = map(sqesBytes, OFF_SQES, "SQEs");
        } catch (FsException e) {
            Libc.munmap(sqRing.address(), sqBytes);
            if (cq != sqRing) {
                Libc.munmap(cq.address(), cqBytes);
            }
            throw e;
        }
        cqRing = cq;
        sqes = sq;
        sqTail = (int) INT.getAcquire(sqRing, (long) sqTailOff);
    }

    /**
     * Creates a ring of {@code entries} SQEs (the kernel rounds up to a power of two; CQ twice that).
     *
     * @param flags IORING_SETUP_* ({@link #SETUP_SQE128} for uring_cmd)
     * @throws FsException the errno of io_uring_setup (ENOSYS: no io_uring; EPERM: disabled by
     *     /proc/sys/kernel/io_uring_disabled or a seccomp filter; ENOMEM) or of an mmap
     */
    static IoUring setup(int entries, int flags) throws FsException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment capture = Native.newCapture(arena);
            MemorySegment params = arena.allocate(120, 8);
            params.set(ValueLayout.JAVA_INT, 8, flags);
            long fd = Native.syscall(capture, Native.SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0);
            if (fd < 0) {
                throw Native.failure("io_uring_setup(" + entries + ", flags 0x" + Integer.toHexString(flags) + ")",
                        Native.errno(capture));
            }
            try {
                return new IoUring((int) fd, (flags & SETUP_SQE128) != 0 ? 128 : 64, params, arena, capture);
            } catch (FsException | RuntimeException e) {
                Native.close(capture, (int) fd);
                throw e;
            }
        } catch (FsException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private MemorySegment map(long bytes, long offset, String what) throws FsException {
        long addr = Libc.mmap(0, bytes, Libc.PROT_READ_WRITE, Native.MAP_SHARED | Native.MAP_POPULATE, ringFd, offset);
        if (addr == Libc.MAP_FAILED) {
            throw new FsException(org.iomap4j.Errno.ENOMEM, "mmap of the io_uring " + what + " (" + bytes
                    + " bytes) failed");
        }
        return MemorySegment.ofAddress(addr).reinterpret(bytes);
    }

    /** True if io_uring_enter takes a timeout (IORING_FEAT_EXT_ARG, kernel 5.11+). */
    boolean hasExtArg() {
        return (features & FEAT_EXT_ARG) != 0;
    }

    /**
     * Registers {@code fd} as fixed file 0 (IORING_REGISTER_FILES): SQEs then name it with {@link #SQE_FIXED_FILE}
     * and fd 0, sparing the kernel a file lookup per command.
     *
     * @throws FsException the errno of io_uring_register
     */
    void registerFile(int fd) throws FsException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(ValueLayout.JAVA_INT);
            fds.set(ValueLayout.JAVA_INT, 0, fd);
            long rc = Native.syscall(capture, Native.SYS_IO_URING_REGISTER, ringFd, REGISTER_FILES, fds.address(), 1,
                    0, 0);
            if (rc < 0) {
                throw Native.failure("io_uring_register(REGISTER_FILES)", Native.errno(capture));
            }
        }
    }

    /**
     * The next free SQE, zeroed ({@link #sqeBytes} long), or null if the SQ ring is full. It is submitted by the
     * next {@link #submitAndWait}.
     */
    MemorySegment nextSqe() {
        int head = (int) INT.getAcquire(sqRing, (long) sqHeadOff);
        if (sqTail - head >= sqEntries) {
            return null;
        }
        int index = sqTail & sqMask;
        MemorySegment sqe = sqes.asSlice((long) index * sqeBytes, sqeBytes);
        sqe.fill((byte) 0);
        sqRing.set(ValueLayout.JAVA_INT, sqArrayOff + 4L * index, index);
        sqTail++; // published to the kernel (release) by submitAndWait, once the caller has filled the SQE
        pending++;
        return sqe;
    }

    /**
     * Submits the pending SQEs and waits until at least {@code minComplete} CQEs are ready or {@code timeoutNanos}
     * passes (0: no timeout; needs {@link #hasExtArg()}).
     *
     * @return 0, or the positive errno of io_uring_enter: ETIME (timed out), EINTR (a signal or task work), EBUSY or
     *     EAGAIN (completions must be reaped first); the SQEs stay pending on error
     */
    int submitAndWait(int minComplete, long timeoutNanos) {
        INT.setRelease(sqRing, (long) sqTailOff, sqTail);
        int flags = minComplete > 0 ? ENTER_GETEVENTS : 0;
        long arg = 0;
        long argBytes = 0;
        if (minComplete > 0 && timeoutNanos > 0 && hasExtArg()) {
            waitArg.fill((byte) 0);
            waitArg.set(ValueLayout.JAVA_LONG, 16, waitArg.address() + 24); // ts -> the timespec after the arg
            waitArg.set(ValueLayout.JAVA_LONG, 24, timeoutNanos / 1_000_000_000L);
            waitArg.set(ValueLayout.JAVA_LONG, 32, timeoutNanos % 1_000_000_000L);
            flags |= ENTER_EXT_ARG;
            arg = waitArg.address();
            argBytes = 24;
        }
        long rc = Native.syscall(capture, Native.SYS_IO_URING_ENTER, ringFd, pending, minComplete, flags, arg,
                argBytes);
        if (rc < 0) {
            return Native.errno(capture);
        }
        pending -= (int) Math.min(pending, rc);
        return 0;
    }

    /** CQEs ready to be reaped. */
    int cqReady() {
        int tail = (int) INT.getAcquire(cqRing, (long) cqTailOff);
        int head = cqRing.get(ValueLayout.JAVA_INT, cqHeadOff);
        return tail - head;
    }

    /** The {@code i}-th ready CQE (0 = oldest), valid until {@link #cqAdvance}. */
    MemorySegment cqe(int i) {
        int head = cqRing.get(ValueLayout.JAVA_INT, cqHeadOff);
        return cqRing.asSlice(cqesOff + (long) ((head + i) & cqMask) * CQE_BYTES, CQE_BYTES);
    }

    /** Marks {@code n} CQEs as reaped. */
    void cqAdvance(int n) {
        int head = cqRing.get(ValueLayout.JAVA_INT, cqHeadOff);
        INT.setRelease(cqRing, (long) cqHeadOff, head + n);
    }

    /** user_data of a CQE. */
    static long userData(MemorySegment cqe) {
        return cqe.get(ValueLayout.JAVA_LONG, 0);
    }

    /** res of a CQE: the command's result, a negative errno on failure. */
    static int res(MemorySegment cqe) {
        return cqe.get(ValueLayout.JAVA_INT, 8);
    }

    /** Unmaps the rings and closes the ring fd; the kernel cancels commands still queued. Idempotent. */
    @Override
    public void close() {
        if (!arena.scope().isAlive()) {
            return;
        }
        Libc.munmap(sqes.address(), sqesBytes);
        if (cqRingBytes > 0) {
            Libc.munmap(cqRing.address(), cqRingBytes);
        }
        Libc.munmap(sqRing.address(), sqRingBytes);
        Native.close(capture, ringFd);
        arena.close();
    }
}
