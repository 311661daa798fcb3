package org.iomap4j.fuse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One reader's connection to the kernel: a /dev/fuse fd (the mount's own or a clone), its input and output
 * buffers and its errno capture segment. It exists because replies must go out on the fd the request was read
 * from, and each reader thread must own its buffers. {@link #send} is the transport hook: a write(2) here, a
 * FUSE_IO_URING_CMD_COMMIT_AND_FETCH in {@link FuseUringChannel}.
 *
 * <p>Confined to one reader thread; the arena is closed by that thread when it stops.
 */
class Channel implements AutoCloseable {
    /** 1 MiB of payload (max_write with MAX_PAGES = 256) plus room for headers: >= max(8192, 80 + max_write). */
    static final int BUFFER_BYTES = (1 << 20) + 4096;

    final int fd;
    final Arena arena;
    final MemorySegment in;
    final MemorySegment out;
    final MemorySegment capture;

    Channel(int fd) {
        this(fd, Arena.ofConfined());
    }

    private Channel(int fd, Arena arena) {
        // The reply body (after the 16-byte out header) starts on a 4096-byte boundary, so a READ can be answered by
        // an O_DIRECT read of the image straight into it.
        this(fd, arena, arena.allocate(BUFFER_BYTES, 4096),
                arena.allocate(BUFFER_BYTES + 4096, 4096).asSlice(4096 - FuseAbi.OUT_HEADER_SIZE, BUFFER_BYTES));
    }

    /** A channel over buffers the caller laid out in {@code arena} (which this channel then owns and closes). */
    Channel(int fd, Arena arena, MemorySegment in, MemorySegment out) {
        this.fd = fd;
        this.arena = arena;
        this.in = in;
        this.out = out;
        this.capture = Native.newCapture(arena);
    }

    /**
     * Sends the reply of {@code lenBytes} that {@link Reply} laid out at the start of {@link #out} (header and
     * body): one write(2) on {@link #fd}.
     *
     * @return the bytes the kernel took, or -1 with errno in {@link #capture} (ENOENT: the request was interrupted;
     *     ENODEV: unmounted)
     */
    long send(int lenBytes) {
        return Native.write(capture, fd, out, lenBytes);
    }

    @Override
    public void close() {
        arena.close();
    }
}
