package org.iomap4j.testkit.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.ForwardingBlockDevice;

/**
 * A test device that forwards to another and appends every request to a shared event trace (so tests can
 * prove request order against filesystem callbacks, e.g. BOUNDARY early submission).
 */
public final class TracingBlockDevice extends ForwardingBlockDevice {
    private final List<String> trace;

    /**
     * Events are appended to {@code trace} as "READ addr+len" / "WRITE addr+len" / "FLUSH".
     *
     * @param inner the wrapped device
     * @param trace the list events are appended to
     */
    public TracingBlockDevice(BlockDevice inner, List<String> trace) {
        super(inner);
        this.trace = trace;
    }

    /**
     * Traces into a new list, read with {@link #trace()}.
     *
     * @param inner the wrapped device
     */
    public TracingBlockDevice(BlockDevice inner) {
        this(inner, new CopyOnWriteArrayList<>());
    }

    /** {@return the events so far (the live list)} */
    public List<String> trace() {
        return trace;
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> submit(Bio bio) {
        trace.add(bio.op() + " " + bio.devAddrBytes() + "+" + bio.lengthBytes());
        return inner.submit(bio);
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        trace.add("READ " + devAddrBytes + "+" + dst.remaining());
        inner.read(devAddrBytes, dst);
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        trace.add("WRITE " + devAddrBytes + "+" + src.remaining());
        inner.write(devAddrBytes, src);
    }

    @Override
    public void flush() throws IOException {
        trace.add("FLUSH");
        inner.flush();
    }

}
