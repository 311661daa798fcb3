package org.iomap4j.block;

import java.util.concurrent.atomic.LongAdder;

/**
 * Per-device counters. Tests use them to prove merging (requests) and the absence of write amplification
 * (bytes written equal to dirty bytes); benchmarks print them. A synchronous read/write and a submitted
 * {@link Bio} each count as one request.
 */
public final class DeviceStats {
    private final LongAdder readRequests = new LongAdder();
    private final LongAdder writeRequests = new LongAdder();
    private final LongAdder bytesRead = new LongAdder();
    private final LongAdder bytesWritten = new LongAdder();
    private final LongAdder flushes = new LongAdder();
    private final LongAdder discards = new LongAdder();

    /** Counters at zero (each device owns one). */
    public DeviceStats() {
    }

    /**
     * Counts one read request.
     * @param bytes its length in bytes
     */
    public void countRead(long bytes) {
        readRequests.increment();
        bytesRead.add(bytes);
    }

    /**
     * Counts one write request.
     * @param bytes its length in bytes
     */
    public void countWrite(long bytes) {
        writeRequests.increment();
        bytesWritten.add(bytes);
    }

    /** Counts one flush (durability barrier). */
    public void countFlush() {
        flushes.increment();
    }

    /** Counts one discard request. */
    public void countDiscard() {
        discards.increment();
    }

    /** {@return read requests counted} */
    public long readRequests() {
        return readRequests.sum();
    }

    /** {@return write requests counted} */
    public long writeRequests() {
        return writeRequests.sum();
    }

    /** {@return bytes read over all read requests} */
    public long bytesRead() {
        return bytesRead.sum();
    }

    /** {@return bytes written over all write requests} */
    public long bytesWritten() {
        return bytesWritten.sum();
    }

    /** {@return flushes counted} */
    public long flushes() {
        return flushes.sum();
    }

    /** {@return discard requests counted} */
    public long discards() {
        return discards.sum();
    }

    /** Sets every counter to zero. */
    public void reset() {
        readRequests.reset();
        writeRequests.reset();
        bytesRead.reset();
        bytesWritten.reset();
        flushes.reset();
        discards.reset();
    }

    @Override
    public String toString() {
        return "reads=" + readRequests() + " (" + bytesRead() + " B), writes=" + writeRequests() + " ("
                + bytesWritten() + " B), flushes=" + flushes() + ", discards=" + discards();
    }
}
