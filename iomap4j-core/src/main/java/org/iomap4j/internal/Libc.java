package org.iomap4j.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * The one binding of the C library for iomap4j (FFM, JEP 454): the linker, symbol lookup and errno capture every
 * native call shares, plus typed wrappers for the calls the core and the testkit make (mmap/munmap/madvise for
 * folio slabs; open/close/fallocate/lseek/ftruncate for the exerciser). Other modules build their own downcalls
 * with {@link #downcall} and {@link #downcallWithErrno} (the FUSE server's read/write/ioctl/mount).
 *
 * <p>Internal: exported only to iomap4j's own modules. Linux x86-64/aarch64 only; constants from the kernel's
 * uapi headers (asm-generic/mman-common.h, linux/falloc.h, linux/fs.h, asm-generic/fcntl.h). A missing symbol is
 * an {@link UnsupportedOperationException} at the first use of this class's handle for it. Needs native access
 * ({@code --enable-native-access=org.iomap4j.core}, or {@code ALL-UNNAMED} on the class path). Thread-safe.
 */
public final class Libc {
    /** mmap prot: PROT_READ | PROT_WRITE (asm-generic/mman-common.h). */
    public static final int PROT_READ_WRITE = 0x1 | 0x2;
    /** mmap flags: MAP_PRIVATE | MAP_ANONYMOUS (asm-generic/mman-common.h, linux/mman.h). */
    public static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    /** madvise advice MADV_POPULATE_WRITE (Linux 5.14+, asm-generic/mman-common.h). */
    public static final int MADV_POPULATE_WRITE = 23;
    /** mmap's failure return, (void *) -1. */
    public static final long MAP_FAILED = -1L;
    /** open flag O_RDWR (asm-generic/fcntl.h). */
    public static final int O_RDWR = 2;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LOOKUP = LINKER.defaultLookup();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final FunctionDescriptor MMAP_FD = FunctionDescriptor.of(ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG);

    private Libc() {
    }

    /** A failed libc call: the call as text and its errno (Linux numbering, asm-generic/errno-base.h). */
    public static final class ErrnoException extends IOException {
        /** The C errno value. */
        private final int errno;

        /**
         * A failure of {@code call} with {@code errno}.
         *
         * @param call the call as text, e.g. {@code "open(/tmp/x)"}
         * @param errno the C errno value
         */
        public ErrnoException(String call, int errno) {
            super(call + " failed: errno " + errno);
            this.errno = errno;
        }

        /**
         * The C errno value.
         *
         * @return the errno
         */
        public int errno() {
            return errno;
        }
    }

    /**
     * A downcall handle for libc function {@code symbol} with C signature {@code descriptor} and linker
     * {@code options} (e.g. {@code Linker.Option.firstVariadicArg} for open/ioctl/fcntl).
     *
     * @throws UnsupportedOperationException if the C library has no such symbol
     * @param symbol the C function name
     * @param descriptor its C signature
     * @param options linker options
     * @return the downcall handle
     */
    public static MethodHandle downcall(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        return LINKER.downcallHandle(find(symbol), descriptor, options);
    }

    /**
     * As {@link #downcall}, with errno captured: the handle takes a call-state segment (from
     * {@link #allocateCallState}) as its first argument; read it with {@link #errno(MemorySegment)}.
     *
     * @param symbol the C function name
     * @param descriptor its C signature (without the call-state argument)
     * @param options linker options
     * @return the downcall handle, taking the call-state segment first
     */
    public static MethodHandle downcallWithErrno(String symbol, FunctionDescriptor descriptor,
            Linker.Option... options) {
        Linker.Option[] all = java.util.Arrays.copyOf(options, options.length + 1);
        all[options.length] = CAPTURE_ERRNO;
        return LINKER.downcallHandle(find(symbol), descriptor, all);
    }

    /**
     * A call-state segment for one errno-capturing call, allocated in {@code arena}.
     *
     * @param arena the arena owning the segment
     * @return the call-state segment
     */
    public static MemorySegment allocateCallState(Arena arena) {
        return arena.allocate(CALL_STATE);
    }

    /**
     * The errno an errno-capturing call left in {@code callState}.
     *
     * @param callState the segment passed to the call
     * @return the errno value
     */
    public static int errno(MemorySegment callState) {
        return (int) ERRNO.get(callState, 0L);
    }

    private static MemorySegment find(String symbol) {
        return LOOKUP.find(symbol).orElseThrow(() -> new UnsupportedOperationException("libc has no " + symbol));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Memory (folio slabs)

    private static final class Mem {
        static final MethodHandle MMAP = downcall("mmap", MMAP_FD);
        static final MethodHandle MUNMAP = downcall("munmap",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        static final MethodHandle MADVISE = downcall("madvise", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }

    /**
     * Checks that the memory calls link (mmap, munmap, madvise).
     *
     * @throws UnsupportedOperationException or another {@link Error}/{@link RuntimeException} if they do not
     */
    public static void linkMemoryCalls() {
        java.util.Objects.requireNonNull(Mem.MMAP);
    }

    /**
     * mmap(2) with address hint {@code addr} (0: none); returns the address or {@link #MAP_FAILED}.
     *
     * @param addr address hint, 0 for none
     * @param lengthBytes mapping length in bytes
     * @param prot PROT_* bits
     * @param flags MAP_* bits
     * @param fd the file descriptor mapped (-1 for anonymous memory)
     * @param offsetBytes file byte offset of the mapping (page aligned)
     * @return the mapping's address, or {@link #MAP_FAILED}
     */
    public static long mmap(long addr, long lengthBytes, int prot, int flags, int fd, long offsetBytes) {
        try {
            return (long) Mem.MMAP.invokeExact(addr, lengthBytes, prot, flags, fd, offsetBytes);
        } catch (Throwable t) {
            throw rethrow("mmap", t);
        }
    }

    /**
     * munmap(2); returns 0 or -1.
     *
     * @param addr the mapping's address
     * @param lengthBytes its length in bytes
     * @return 0, or -1 on failure
     */
    public static int munmap(long addr, long lengthBytes) {
        try {
            return (int) Mem.MUNMAP.invokeExact(addr, lengthBytes);
        } catch (Throwable t) {
            throw rethrow("munmap", t);
        }
    }

    /**
     * madvise(2); returns 0 or -1.
     *
     * @param addr the range's address (page aligned)
     * @param lengthBytes its length in bytes
     * @param advice an MADV_* value
     * @return 0, or -1 on failure
     */
    public static int madvise(long addr, long lengthBytes, int advice) {
        try {
            return (int) Mem.MADVISE.invokeExact(addr, lengthBytes, advice);
        } catch (Throwable t) {
            throw rethrow("madvise", t);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Files (the calls FileChannel lacks)

    private static final class Files {
        static final MethodHandle OPEN = downcallWithErrno("open",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        static final MethodHandle CLOSE = downcallWithErrno("close",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        static final MethodHandle FALLOCATE = downcallWithErrno("fallocate", FunctionDescriptor.of(
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_LONG));
        static final MethodHandle LSEEK = downcallWithErrno("lseek", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        static final MethodHandle FTRUNCATE = downcallWithErrno("ftruncate",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    }

    /**
     * open(2) of {@code path} with {@code flags} (e.g. {@link #O_RDWR}); returns the file descriptor.
     *
     * @throws ErrnoException with the call's errno
     * @param path the file
     * @param flags open(2) flags
     * @return the new file descriptor
     */
    public static int open(Path path, int flags) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = allocateCallState(a);
            int r = (int) Files.OPEN.invokeExact(st, a.allocateFrom(path.toString()), flags);
            if (r < 0) {
                throw new ErrnoException("open(" + path + ")", errno(st));
            }
            return r;
        } catch (Throwable t) {
            throw rethrowIo("open", t);
        }
    }

    /**
     * close(2).
     *
     * @param fd the file descriptor
     * @throws IOException ({@link ErrnoException}) with the call's errno
     */
    public static void close(int fd) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = allocateCallState(a);
            if ((int) Files.CLOSE.invokeExact(st, fd) < 0) {
                throw new ErrnoException("close(" + fd + ")", errno(st));
            }
        } catch (Throwable t) {
            throw rethrowIo("close", t);
        }
    }

    /**
     * fallocate(2) of file bytes {@code [offsetBytes, offsetBytes + lengthBytes)} with {@code mode}
     * (FALLOC_FL_* of linux/falloc.h).
     *
     * @throws ErrnoException with the call's errno (EOPNOTSUPP 95 where the filesystem lacks the mode)
     * @param fd the file descriptor
     * @param mode FALLOC_FL_* bits, or 0
     * @param offsetBytes file byte offset of the range
     * @param lengthBytes range length in bytes
     */
    public static void fallocate(int fd, int mode, long offsetBytes, long lengthBytes) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = allocateCallState(a);
            if ((int) Files.FALLOCATE.invokeExact(st, fd, mode, offsetBytes, lengthBytes) < 0) {
                throw new ErrnoException("fallocate(mode " + mode + ", " + offsetBytes + ", " + lengthBytes + ")",
                        errno(st));
            }
        } catch (Throwable t) {
            throw rethrowIo("fallocate", t);
        }
    }

    /**
     * lseek(2) to {@code offsetBytes} with {@code whence} (SEEK_SET 0 .. SEEK_DATA 3, SEEK_HOLE 4); returns the new
     * file offset in bytes.
     *
     * @throws ErrnoException with the call's errno (ENXIO 6 past the last data/hole)
     * @param fd the file descriptor
     * @param offsetBytes the offset in bytes
     * @param whence SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA or SEEK_HOLE
     * @return the new file offset in bytes
     */
    public static long lseek(int fd, long offsetBytes, int whence) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = allocateCallState(a);
            long r = (long) Files.LSEEK.invokeExact(st, fd, offsetBytes, whence);
            if (r < 0) {
                throw new ErrnoException("lseek(" + offsetBytes + ", " + whence + ")", errno(st));
            }
            return r;
        } catch (Throwable t) {
            throw rethrowIo("lseek", t);
        }
    }

    /**
     * ftruncate(2) to {@code sizeBytes}.
     *
     * @param fd the file descriptor
     * @param sizeBytes the new size in bytes
     * @throws IOException ({@link ErrnoException}) with the call's errno
     */
    public static void ftruncate(int fd, long sizeBytes) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = allocateCallState(a);
            if ((int) Files.FTRUNCATE.invokeExact(st, fd, sizeBytes) < 0) {
                throw new ErrnoException("ftruncate(" + sizeBytes + ")", errno(st));
            }
        } catch (Throwable t) {
            throw rethrowIo("ftruncate", t);
        }
    }

    private static RuntimeException rethrow(String call, Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(call + " downcall failed", t);
    }

    private static IOException rethrowIo(String call, Throwable t) throws IOException {
        if (t instanceof IOException io) {
            throw io;
        }
        throw rethrow(call, t);
    }
}
