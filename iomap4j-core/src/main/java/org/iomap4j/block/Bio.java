package org.iomap4j.block;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;

/**
 * One device request: a contiguous device range {@code [devAddrBytes, devAddrBytes + lengthBytes())} filled
 * from (write) or into (read) {@code buffers} in order, each buffer's {@code remaining()} bytes. Named after the
 * kernel's {@code struct bio}.
 *
 * @param op           READ or WRITE
 * @param devAddrBytes device byte address of the first byte
 * @param buffers      the memory, in device order; positions advance as the request completes
 */
public record Bio(Op op, long devAddrBytes, List<ByteBuffer> buffers) {

    /** Direction of a request. */
    public enum Op {
        /** Device to memory. */
        READ,
        /** Memory to device. */
        WRITE
    }

    /**
     * Validates and copies the buffer list (the list is immutable; the buffers are shared).
     * @throws IllegalArgumentException if {@code devAddrBytes} is negative
     */
    public Bio {
        Objects.requireNonNull(op);
        buffers = List.copyOf(buffers);
        if (devAddrBytes < 0) {
            throw new IllegalArgumentException("negative device address " + devAddrBytes);
        }
    }

    /**
     * Total bytes over all buffers.
     * @return the request length in bytes: the sum of the buffers' {@code remaining()}
     */
    public long lengthBytes() {
        long n = 0;
        for (ByteBuffer b : buffers) {
            n += b.remaining();
        }
        return n;
    }

    /**
     * A read of {@code buffers} from {@code devAddrBytes}.
     * @param devAddrBytes device byte address of the first byte
     * @param buffers the memory to fill, in device order
     * @return the request
     */
    public static Bio read(long devAddrBytes, ByteBuffer... buffers) {
        return new Bio(Op.READ, devAddrBytes, List.of(buffers));
    }

    /**
     * A write of {@code buffers} at {@code devAddrBytes}.
     * @param devAddrBytes device byte address of the first byte
     * @param buffers the bytes to write, in device order
     * @return the request
     */
    public static Bio write(long devAddrBytes, ByteBuffer... buffers) {
        return new Bio(Op.WRITE, devAddrBytes, List.of(buffers));
    }
}
