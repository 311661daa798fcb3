package org.iomap4j.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link BlockDevice} that passes every call to another one: the base of wrappers that change one thing (a request
 * queue, a request trace, a gate in a test) and forward the rest. Subclasses override what they change.
 */
public abstract class ForwardingBlockDevice implements BlockDevice {
    /** The device every call is forwarded to. */
    protected final BlockDevice inner;

    /**
     * A device that forwards every call to {@code inner}; subclasses override what they change.
     * @param inner the wrapped device (closed with this one)
     */
    protected ForwardingBlockDevice(BlockDevice inner) {
        this.inner = inner;
    }

    /**
     * The wrapped device.
     * @return the wrapped device
     */
    public BlockDevice inner() {
        return inner;
    }

    @Override
    public int logicalBlockSize() {
        return inner.logicalBlockSize();
    }

    @Override
    public long sizeBytes() {
        return inner.sizeBytes();
    }

    @Override
    public boolean isReadOnly() {
        return inner.isReadOnly();
    }

    @Override
    public boolean requiresAlignment() {
        return inner.requiresAlignment();
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        inner.read(devAddrBytes, dst);
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        inner.write(devAddrBytes, src);
    }

    @Override
    public void read(long devAddrBytes, MemorySegment dst) throws IOException {
        inner.read(devAddrBytes, dst);
    }

    @Override
    public void write(long devAddrBytes, MemorySegment src) throws IOException {
        inner.write(devAddrBytes, src);
    }

    @Override
    public void flush() throws IOException {
        inner.flush();
    }

    @Override
    public void discard(long devAddrBytes, long lengthBytes) throws IOException {
        inner.discard(devAddrBytes, lengthBytes);
    }

    @Override
    public CompletableFuture<Void> submit(Bio bio) {
        return inner.submit(bio);
    }

    @Override
    public DeviceStats stats() {
        return inner.stats();
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + inner + "]";
    }
}
