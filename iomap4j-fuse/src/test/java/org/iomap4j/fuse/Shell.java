package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

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
import java.util.concurrent.TimeUnit;

/**
 * Test helpers: runs shell commands (the independent oracle: coreutils talking to the kernel) and a few
 * syscalls Java lacks (lseek SEEK_DATA/SEEK_HOLE) through FFM. Fails with a clear message when the test host
 * lacks what the tests need (root, /dev/fuse, a tool).
 */
final class Shell {
    private Shell() {}

    /** Result of one command. */
    record Result(int exit, String out, String err) {
    }

    /** Fails unless we are root with /dev/fuse (the FUSE integration tests need both). */
    static void requireRootAndFuse() {
        if (!Files.exists(Path.of("/dev/fuse"))) {
            fail("/dev/fuse is missing: the FUSE integration tests need the fuse module (modprobe fuse)");
        }
        if (!"0".equals(uid())) {
            fail("the FUSE integration tests mount with mount(2) and need root (uid is " + uid() + ")");
        }
    }

    private static String uid() {
        try {
            return run(Path.of("/"), "id -u").out().trim();
        } catch (IOException e) {
            throw new AssertionError("cannot run id -u", e);
        }
    }

    /** Runs {@code bash -c script} in {@code cwd}; returns its result whatever the exit code. */
    static Result run(Path cwd, String script) throws IOException {
        Process p = new ProcessBuilder("bash", "-c", script).directory(cwd.toFile()).start();
        // Drain stderr on another thread so a chatty command cannot block on a full pipe.
        byte[][] err = new byte[1][];
        Thread errReader = Thread.ofPlatform().start(() -> {
            try {
                err[0] = p.getErrorStream().readAllBytes();
            } catch (IOException e) {
                err[0] = ("<stderr unreadable: " + e + ">").getBytes(StandardCharsets.UTF_8);
            }
        });
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("command did not finish in 120 s: " + script);
            }
            errReader.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running " + script, e);
        }
        return new Result(p.exitValue(), out, new String(err[0], StandardCharsets.UTF_8));
    }

    /** Runs {@code script} in {@code cwd}, failing the test (with stderr) unless it exits 0; returns stdout. */
    static String sh(Path cwd, String script) throws IOException {
        Result r = run(cwd, script);
        assertThat(r.exit()).as("exit code of `%s`; stderr: %s", script, r.err()).isZero();
        return r.out();
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle OPEN = LINKER.downcallHandle(LINKER.defaultLookup().find("open").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle LSEEK = LINKER.downcallHandle(
            LINKER.defaultLookup().find("lseek").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(LINKER.defaultLookup().find("close").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private static final MethodHandle RENAMEAT2 = LINKER.downcallHandle(
            LINKER.defaultLookup().find("renameat2").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));

    /** renameat2(AT_FDCWD, from, AT_FDCWD, to, flags): 0 or -errno. */
    static int renameat2(Path from, Path to, int flags) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(Linker.Option.captureStateLayout());
            int atFdCwd = -100;
            int r = (int) RENAMEAT2.invokeExact(capture, atFdCwd, arena.allocateFrom(from.toString()), atFdCwd,
                    arena.allocateFrom(to.toString()), flags);
            if (r < 0) {
                return -(int) Linker.Option.captureStateLayout()
                        .varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno")).get(capture, 0L);
            }
            return r;
        }
    }

    /** lseek(open(path), offset, whence) as the kernel answers it: the offset, or -errno. */
    static long lseek(Path path, long offset, int whence) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) OPEN.invokeExact(arena.allocateFrom(path.toString()), 0, 0);
            assertThat(fd).as("open %s", path).isGreaterThanOrEqualTo(0);
            try {
                MemorySegment capture = arena.allocate(Linker.Option.captureStateLayout());
                long r = (long) LSEEK.invokeExact(capture, fd, offset, whence);
                if (r < 0) {
                    return -(int) Linker.Option.captureStateLayout()
                            .varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"))
                            .get(capture, 0L);
                }
                return r;
            } finally {
                int rc = (int) CLOSE.invokeExact(fd);
                assertThat(rc).isZero();
            }
        }
    }
}
