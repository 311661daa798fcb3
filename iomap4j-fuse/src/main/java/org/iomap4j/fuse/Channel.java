package org.iomap4j.fuse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One reader's connection to the kernel: a /dev/fuse fd (the mount's own or a clone), its input and output
 * buffers and its errno capture segment. It exists because replies must go out on the fd the request was read
 * from, and each reader thread must own its buffers.
 *
 * <p>Confined to one reader thread; the arena is closed by that thread when it stops.
 */
final class Channel implements AutoCloseable {
    /** 1 MiB of payload (max_write with MAX_PAGES = 256) plus room for headers: >= max(8192, 80 + max_write). */
    static final int BUFFER_BYTES = (1 << 20) + 4096;

    final int fd;
    final Arena arena;
    final MemorySegment in;
    final MemorySegment out;
    final MemorySegment capture;

    Channel(int fd) {
        this.fd = fd;
        this.arena = Arena.ofConfined();
        this.in = arena.allocate(BUFFER_BYTES, 4096);
        // The reply body (after the 16-byte out header) starts on a 4096-byte boundary, so a READ can be answered by
        // an O_DIRECT read of the image straight into it.
        this.out = arena.allocate(BUFFER_BYTES + 4096, 4096).asSlice(4096 - FuseAbi.OUT_HEADER_SIZE, BUFFER_BYTES);
        this.capture = Native.newCapture(arena);
    }

    @Override
    public void close() {
        arena.close();
    }
}
