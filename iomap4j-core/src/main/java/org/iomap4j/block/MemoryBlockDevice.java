package org.iomap4j.block;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;

/**
 * A block device in memory (off-heap, zero-filled), for tests and as a scratch device. {@link #flush()} counts
 * but has nothing to make durable. Capacity up to the machine's memory; contents die with the object.
 */
public final class MemoryBlockDevice extends AbstractBlockDevice {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment memory;
    private volatile boolean closed;

    /**
     * A zero-filled device of {@code sizeBytes} (a multiple of {@code logicalBlockSize}).
     * @param sizeBytes device size in bytes
     * @param logicalBlockSize smallest addressable unit in bytes (a power of two)
     */
    public MemoryBlockDevice(long sizeBytes, int logicalBlockSize) {
        super(logicalBlockSize, false);
        if (sizeBytes <= 0 || sizeBytes % logicalBlockSize != 0) {
            throw new IllegalArgumentException("size " + sizeBytes + " not a positive multiple of " + logicalBlockSize);
        }
        this.memory = arena.allocate(sizeBytes, 4096);
    }

    /**
     * A zero-filled device of {@code sizeBytes} with 512-byte logical blocks.
     * @param sizeBytes device size in bytes (a multiple of 512)
     */
    public MemoryBlockDevice(long sizeBytes) {
        this(sizeBytes, 512);
    }

    @Override
    public long sizeBytes() {
        return memory.byteSize();
    }

    /**
     * The whole device as a segment (for byte-addressable/DAX access and tests).
     * @return a segment over the device's memory (writes through it bypass the request counters)
     */
    public MemorySegment segment() {
        return memory;
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new DeviceIOException(0, "memory device closed");
        }
    }

    @Override
    protected void readAt(long devAddrBytes, ByteBuffer dst) throws IOException {
        checkOpen();
        int n = dst.remaining();
        MemorySegment.copy(memory, devAddrBytes, MemorySegment.ofBuffer(dst), 0, n);
        dst.position(dst.position() + n);
    }

    @Override
    protected void writeAt(long devAddrBytes, ByteBuffer src) throws IOException {
        checkOpen();
        int n = src.remaining();
        MemorySegment.copy(MemorySegment.ofBuffer(src), 0, memory, devAddrBytes, n);
        src.position(src.position() + n);
    }

    @Override
    public void flush() throws IOException {
        checkOpen();
        stats.countFlush();
    }

    @Override
    public void discard(long devAddrBytes, long lengthBytes) throws IOException {
        checkOpen();
        checkWritable(devAddrBytes);
        checkRange(devAddrBytes, lengthBytes);
        memory.asSlice(devAddrBytes, lengthBytes).fill((byte) 0);
        stats.countDiscard();
    }

    /**
     * Copies the whole device to a byte array (tests).
     * @return a copy of the device contents, {@code sizeBytes()} bytes
     */
    public byte[] toByteArray() {
        return memory.toArray(ValueLayout.JAVA_BYTE);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }
}
