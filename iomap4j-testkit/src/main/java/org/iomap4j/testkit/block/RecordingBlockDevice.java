package org.iomap4j.testkit.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.ForwardingBlockDevice;

/** A block device wrapper that records every read and write request (address, length) in submission order. */
public final class RecordingBlockDevice extends ForwardingBlockDevice {
    /**
     * One device request.
     *
     * @param write true for a write, false for a read
     * @param devAddrBytes device byte address of the request
     * @param lengthBytes request length in bytes
     */
    public record Request(boolean write, long devAddrBytes, long lengthBytes) {
    }

    private final List<Request> trace = new ArrayList<>();

    /**
     * Records every read and write request made on {@code inner}.
     *
     * @param inner the wrapped device
     */
    public RecordingBlockDevice(BlockDevice inner) {
        super(inner);
    }

    /**
     * A copy of the requests so far.
     *
     * @return the requests in submission order
     */
    public synchronized List<Request> trace() {
        return new ArrayList<>(trace);
    }

    /** Forgets the requests recorded so far. */
    public synchronized void clear() {
        trace.clear();
    }

    private synchronized void record(boolean write, long addr, long len) {
        trace.add(new Request(write, addr, len));
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        record(false, devAddrBytes, dst.remaining());
        inner.read(devAddrBytes, dst);
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        record(true, devAddrBytes, src.remaining());
        inner.write(devAddrBytes, src);
    }

    @Override
    public CompletableFuture<Void> submit(Bio bio) {
        record(bio.op() == Bio.Op.WRITE, bio.devAddrBytes(), bio.lengthBytes());
        return inner.submit(bio);
    }
}
