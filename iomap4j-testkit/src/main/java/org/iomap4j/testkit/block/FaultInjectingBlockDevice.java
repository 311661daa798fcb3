package org.iomap4j.testkit.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.iomap4j.Errno;
import org.iomap4j.block.AbstractBlockDevice;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.DeviceIOException;
import org.iomap4j.block.MemoryBlockDevice;

/**
 * A test device wrapping another: fails chosen reads, writes or flushes with EIO, and models a power cut
 * (Lucene's MockDirectoryWrapper {@code crash()} for block devices).
 *
 * <ul>
 *   <li>Faults ({@link #failNth}, {@link #failRange}): the n-th next request of a kind, or every request of a
 *       kind touching a device range; one-shot or persistent. A failed request transfers nothing and completes
 *       with a {@link DeviceIOException} (EIO) naming its address. A {@link Bio} counts as one request.</li>
 *   <li>Power cut ({@link #powerCut}): every write not yet covered by a completed {@link #flush()} is undone,
 *       except a random subset (each kept with probability {@code keepFraction}) that is re-applied in its
 *       original order, modelling a disk cache that wrote some of them out, in any order, before power
 *       failed.</li>
 * </ul>
 * Counters ({@link #stats()}) count the requests that reached this device, failed ones included. Thread-safe;
 * writes are serialized so that the undo log is exact.
 */
public final class FaultInjectingBlockDevice extends AbstractBlockDevice {
    /** Kind of request a fault applies to. */
    public enum Op {
        /** {@link BlockDevice#read} requests. */
        READ,
        /** {@link BlockDevice#write} requests. */
        WRITE,
        /** {@link BlockDevice#flush} calls. */
        FLUSH
    }

    private final BlockDevice inner;
    private final List<Fault> faults = new CopyOnWriteArrayList<>();
    private final Object writeLock = new Object();
    /** Completed writes not yet covered by a completed flush, in completion order. Guarded by writeLock. */
    private final List<UnflushedWrite> unflushed = new ArrayList<>();
    private final AtomicLong injected = new AtomicLong();

    private record UnflushedWrite(long devAddrBytes, byte[] oldBytes, byte[] newBytes) {}

    /**
     * Wraps {@code inner}; the wrapper has its logical block size and capacity.
     *
     * @param inner the wrapped device
     */
    public FaultInjectingBlockDevice(BlockDevice inner) {
        super(inner.logicalBlockSize(), inner.isReadOnly());
        this.inner = inner;
    }

    /** {@return the wrapped device} */
    public BlockDevice inner() {
        return inner;
    }

    /** One armed fault; {@link #disarm()} removes it. */
    public final class Fault {
        private final Op op;
        private final long startBytes;
        private final long endBytes;
        private final boolean persistent;
        private long countdown;
        private int hits;

        private Fault(Op op, long countdown, long startBytes, long endBytes, boolean persistent) {
            this.op = op;
            this.countdown = countdown;
            this.startBytes = startBytes;
            this.endBytes = endBytes;
            this.persistent = persistent;
        }

        /**
         * How many requests this fault failed.
         *
         * @return the failure count
         */
        public synchronized int hits() {
            return hits;
        }

        /** Stops this fault: later requests pass. */
        public void disarm() {
            faults.remove(this);
        }

        /** True if this request must fail; updates the countdown and the one-shot state. */
        private synchronized boolean matches(Op reqOp, long addr, long len) {
            if (reqOp != op || !faults.contains(this)) {
                return false;
            }
            if (countdown > 0) {
                if (--countdown > 0) {
                    return false;
                }
            } else if (reqOp != Op.FLUSH && (addr >= endBytes || addr + Math.max(len, 1) <= startBytes)) {
                return false;
            }
            hits++;
            if (!persistent) {
                faults.remove(this);
            }
            return true;
        }
    }

    /**
     * Fails the {@code n}-th next request of kind {@code op} (1 = the very next); if {@code persistent}, that one
     * and every later one.
     *
     * @param op the request kind
     * @param n which request fails (1 = the next)
     * @param persistent true to fail every later matching request too
     * @return the fault (disarm it to stop)
     */
    public Fault failNth(Op op, long n, boolean persistent) {
        if (n < 1) {
            throw new IllegalArgumentException("n must be >= 1: " + n);
        }
        Fault f = new Fault(op, n, 0, Long.MAX_VALUE, persistent);
        faults.add(f);
        return f;
    }

    /**
     * Fails requests of kind {@code op} (READ or WRITE) that touch {@code [devAddrBytes, devAddrBytes +
     * lengthBytes)}: the next one only, or every one if {@code persistent}.
     *
     * @param op the request kind
     * @param devAddrBytes device byte address of the range
     * @param lengthBytes range length in bytes
     * @param persistent true to fail every matching request, false for the first only
     * @return the fault (disarm it to stop)
     */
    public Fault failRange(Op op, long devAddrBytes, long lengthBytes, boolean persistent) {
        if (op == Op.FLUSH) {
            throw new IllegalArgumentException("flushes have no range: use failNth");
        }
        Fault f = new Fault(op, 0, devAddrBytes, devAddrBytes + lengthBytes, persistent);
        faults.add(f);
        return f;
    }

    /** Disarms every fault. */
    public void clearFaults() {
        faults.clear();
    }

    /**
     * Requests failed by injection so far.
     *
     * @return the count
     */
    public long injectedFailures() {
        return injected.get();
    }

    private void check(Op op, long addr, long len) throws DeviceIOException {
        for (Fault f : faults) {
            if (f.matches(op, addr, len)) {
                injected.incrementAndGet();
                throw new DeviceIOException(Errno.EIO, addr, "injected " + op + " failure", null);
            }
        }
    }

    @Override
    public long sizeBytes() {
        return inner.sizeBytes();
    }

    @Override
    public boolean requiresAlignment() {
        return inner.requiresAlignment();
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        checkRange(devAddrBytes, n);
        stats.countRead(n);
        check(Op.READ, devAddrBytes, n);
        readAt(devAddrBytes, dst);
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        int n = src.remaining();
        checkWritable(devAddrBytes);
        checkRange(devAddrBytes, n);
        stats.countWrite(n);
        check(Op.WRITE, devAddrBytes, n);
        writeAt(devAddrBytes, src);
    }

    @Override
    public CompletableFuture<Void> submit(Bio bio) {
        long len = bio.lengthBytes();
        Op op = bio.op() == Bio.Op.READ ? Op.READ : Op.WRITE;
        try {
            check(op, bio.devAddrBytes(), len);
        } catch (DeviceIOException e) {
            if (op == Op.READ) {
                stats.countRead(len);
            } else {
                stats.countWrite(len);
            }
            return CompletableFuture.failedFuture(e);
        }
        return super.submit(bio);
    }

    @Override
    protected void readAt(long devAddrBytes, ByteBuffer dst) throws IOException {
        inner.read(devAddrBytes, dst);
    }

    @Override
    protected void writeAt(long devAddrBytes, ByteBuffer src) throws IOException {
        int n = src.remaining();
        byte[] newBytes = new byte[n];
        src.get(src.position(), newBytes);
        synchronized (writeLock) {
            byte[] old = new byte[n];
            inner.read(devAddrBytes, ByteBuffer.wrap(old));
            inner.write(devAddrBytes, src);
            unflushed.add(new UnflushedWrite(devAddrBytes, old, newBytes));
        }
    }

    @Override
    public void flush() throws IOException {
        int covered;
        synchronized (writeLock) {
            covered = unflushed.size();
        }
        stats.countFlush();
        check(Op.FLUSH, 0, 0);
        inner.flush();
        synchronized (writeLock) {
            unflushed.subList(0, covered).clear();
        }
    }

    @Override
    public void discard(long devAddrBytes, long lengthBytes) throws IOException {
        checkWritable(devAddrBytes);
        checkRange(devAddrBytes, lengthBytes);
        check(Op.WRITE, devAddrBytes, lengthBytes);
        if (lengthBytes > Integer.MAX_VALUE) {
            throw new DeviceIOException(devAddrBytes, "discard of " + lengthBytes + " bytes too large for the undo log");
        }
        // Modelled as a write of zeroes so that a power cut can undo it.
        writeAt(devAddrBytes, ByteBuffer.allocate((int) lengthBytes));
        stats.countDiscard();
    }

    /**
     * Completed writes not yet made durable by a flush.
     *
     * @return the count
     */
    public int unflushedWrites() {
        synchronized (writeLock) {
            return unflushed.size();
        }
    }

    /**
     * The device contents after a power cut now: the durable state plus a random subset of the unflushed writes
     * (each kept with probability {@code keepFraction}), applied in their original order. This device is not
     * changed.
     *
     * @param keepFraction 0 drops every unflushed write, 1 keeps them all
     * @return a new memory device with the crashed contents (the caller closes it)
     * @param rnd chooses which unflushed writes survive (seeded by the test)
     * @throws IOException if reading the inner device fails
     */
    public MemoryBlockDevice powerCut(Random rnd, double keepFraction) throws IOException {
        if (inner.sizeBytes() > (1L << 34)) {
            throw new IOException("power cut of a device above 16 GiB is not supported in memory");
        }
        MemoryBlockDevice out = new MemoryBlockDevice(inner.sizeBytes(), inner.logicalBlockSize());
        synchronized (writeLock) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            for (long a = 0; a < inner.sizeBytes(); a += buf.capacity()) {
                buf.clear().limit((int) Math.min(buf.capacity(), inner.sizeBytes() - a));
                inner.read(a, buf);
                buf.flip();
                out.write(a, buf);
            }
            for (int i = unflushed.size() - 1; i >= 0; i--) {
                UnflushedWrite w = unflushed.get(i);
                out.write(w.devAddrBytes, ByteBuffer.wrap(w.oldBytes));
            }
            for (UnflushedWrite w : unflushed) {
                if (rnd.nextDouble() < keepFraction) {
                    out.write(w.devAddrBytes, ByteBuffer.wrap(w.newBytes));
                }
            }
        }
        out.stats().reset();
        return out;
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }

    @Override
    public String toString() {
        return "FaultInjectingBlockDevice[" + inner + ", " + faults.size() + " faults armed]";
    }
}
