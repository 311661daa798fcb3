package org.iomap4j.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A test device that forwards to another and appends every request to a shared event trace (so tests can
 * prove request order against filesystem callbacks, e.g. BOUNDARY early submission).
 */
public final class TracingBlockDevice extends AbstractBlockDevice {
    private final BlockDevice inner;
    private final List<String> trace;

    /** Events are appended to {@code trace} as "READ addr+len" / "WRITE addr+len" / "FLUSH". */
    public TracingBlockDevice(BlockDevice inner, List<String> trace) {
        super(inner.logicalBlockSize(), inner.isReadOnly());
        this.inner = inner;
        this.trace = trace;
    }

    public TracingBlockDevice(BlockDevice inner) {
        this(inner, new CopyOnWriteArrayList<>());
    }

    public List<String> trace() {
        return trace;
    }

    @Override
    public long sizeBytes() {
        return inner.sizeBytes();
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> submit(Bio bio) {
        trace.add(bio.op() + " " + bio.devAddrBytes() + "+" + bio.lengthBytes());
        return super.submit(bio);
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        trace.add("READ " + devAddrBytes + "+" + dst.remaining());
        super.read(devAddrBytes, dst);
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        trace.add("WRITE " + devAddrBytes + "+" + src.remaining());
        super.write(devAddrBytes, src);
    }

    @Override
    protected void readAt(long devAddrBytes, ByteBuffer dst) throws IOException {
        inner.read(devAddrBytes, dst);
    }

    @Override
    protected void writeAt(long devAddrBytes, ByteBuffer src) throws IOException {
        inner.write(devAddrBytes, src);
    }

    @Override
    public void flush() throws IOException {
        trace.add("FLUSH");
        inner.flush();
        stats.countFlush();
    }

    @Override
    public void discard(long devAddrBytes, long lengthBytes) throws IOException {
        inner.discard(devAddrBytes, lengthBytes);
        stats.countDiscard();
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}
