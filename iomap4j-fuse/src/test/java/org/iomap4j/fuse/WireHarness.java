package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A fake kernel end for wire tests: requests are laid out by hand in the channel's input buffer (header offsets
 * from include/uapi/linux/fuse.h, written here independently of FuseAbi), replies go to a non-blocking pipe and are
 * read back.
 */
final class WireHarness implements AutoCloseable {
    private static final MethodHandle PIPE2;

    static {
        Linker l = Linker.nativeLinker();
        PIPE2 = l.downcallHandle(l.defaultLookup().find("pipe2").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    /** A reply read back: header fields and body. */
    record Answer(int len, int error, long unique, ByteBuffer body) {
    }

    final Arena arena = Arena.ofConfined();
    final Channel channel;
    private final int readFd;
    private final MemorySegment capture;
    private long unique = 100;

    WireHarness() throws Throwable {
        MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
        int rc = (int) PIPE2.invokeExact(fds, 04000 /* O_NONBLOCK */);
        assertThat(rc).isZero();
        readFd = fds.getAtIndex(ValueLayout.JAVA_INT, 0);
        channel = new Channel(fds.getAtIndex(ValueLayout.JAVA_INT, 1));
        capture = Native.newCapture(arena);
    }

    /** A little-endian struct of {@code size} zero bytes. */
    static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** {@code struct} followed by NUL-terminated {@code names}. */
    static byte[] withNames(ByteBuffer struct, String... names) {
        ByteBuffer b = le(struct.capacity() + java.util.Arrays.stream(names).mapToInt(n -> n.length() + 1).sum());
        b.put(struct.array());
        for (String n : names) {
            b.put(n.getBytes(java.nio.charset.StandardCharsets.UTF_8)).put((byte) 0);
        }
        return b.array();
    }

    /**
     * Lays out a request: fuse_in_header {len u32@0, opcode@4, unique u64@8, nodeid u64@16, uid u32@24, gid@28,
     * pid@32, total_extlen u16@36, padding@38} and the payload.
     */
    int layOut(int opcode, long nodeid, int uid, byte[] payload) {
        int len = 40 + payload.length;
        ByteBuffer h = le(40);
        h.putInt(0, len).putInt(4, opcode).putLong(8, unique++).putLong(16, nodeid).putInt(24, uid).putInt(28, uid)
                .putInt(32, 4242);
        MemorySegment.copy(h.array(), 0, channel.in, ValueLayout.JAVA_BYTE, 0, 40);
        MemorySegment.copy(payload, 0, channel.in, ValueLayout.JAVA_BYTE, 40, payload.length);
        return len;
    }

    /** The request as the server parses it. */
    Request request(int opcode, byte[] payload) throws Exception {
        return new Request(channel.in, layOut(opcode, 7, 0, payload));
    }

    /** Dispatches a request through {@code server}; returns its unique. */
    long send(FuseServer server, int opcode, long nodeid, int uid, byte[] payload) {
        int len = layOut(opcode, nodeid, uid, payload);
        server.dispatch(channel, len);
        return unique - 1;
    }

    long send(FuseServer server, int opcode, long nodeid, byte[] payload) {
        return send(server, opcode, nodeid, 0, payload);
    }

    /** A reply object for hand-driven encoding tests. */
    Reply reply() {
        return new Reply(channel, unique++);
    }

    /** The next reply on the pipe, or null if none was written. */
    Answer answer() {
        MemorySegment buf = arena.allocate(Channel.BUFFER_BYTES);
        long n = Native.read(capture, readFd, buf, buf.byteSize());
        if (n < 0) {
            assertThat(Native.errno(capture)).isEqualTo(Native.EAGAIN);
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE)).order(ByteOrder.LITTLE_ENDIAN);
        int len = b.getInt(0);
        assertThat(len).as("one write of exactly len bytes").isEqualTo((int) n);
        return new Answer(len, b.getInt(4), b.getLong(8), b.slice(16, (int) n - 16).order(ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public void close() {
        Native.close(capture, readFd);
        Native.close(capture, channel.fd);
        channel.close();
        arena.close();
    }
}
