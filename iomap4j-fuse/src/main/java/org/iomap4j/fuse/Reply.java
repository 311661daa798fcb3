package org.iomap4j.fuse;

import java.lang.foreign.MemorySegment;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The answer to one request, written into the reader thread's output buffer and sent with one write(2) on the
 * fd the request came from. It exists to enforce "answered exactly once": a second answer is a bug and throws;
 * the server answers EIO for a handler that returns without answering (see {@link FuseServer}).
 *
 * <p>The body is written by the handler into {@link #body()} (after the 16-byte fuse_out_header).
 */
final class Reply {
    private static final Logger LOG = LoggerFactory.getLogger(Reply.class);

    private final Channel channel;
    private final long unique;
    private boolean answered;

    Reply(Channel channel, long unique) {
        this.channel = channel;
        this.unique = unique;
    }

    /** Where the reply body goes: the output buffer after the out header (capacity {@link #maxBodyBytes()}). */
    MemorySegment body() {
        return channel.out.asSlice(FuseAbi.OUT_HEADER_SIZE);
    }

    int maxBodyBytes() {
        return (int) channel.out.byteSize() - FuseAbi.OUT_HEADER_SIZE;
    }

    boolean answered() {
        return answered;
    }

    /**
     * Sends a success reply with the first {@code bodyBytes} of {@link #body()}. Returns false when the kernel
     * refused it with ENOENT (the request was interrupted and is gone), so callers can undo lookup counts.
     */
    boolean ok(int bodyBytes) {
        return send(FuseAbi.OUT_HEADER_SIZE + bodyBytes, 0);
    }

    /** Sends an error reply: exactly the 16-byte header with error = -errno. */
    boolean error(int errno) {
        if (errno <= 0) {
            throw new IllegalArgumentException("errno must be positive: " + errno);
        }
        return send(FuseAbi.OUT_HEADER_SIZE, -errno);
    }

    private boolean send(int lenBytes, int negErrno) {
        if (answered) {
            throw new IllegalStateException("fuse request " + unique + " answered twice");
        }
        answered = true;
        FuseAbi.putOutHeader(channel.out, lenBytes, negErrno, unique);
        long n = Native.write(channel.capture, channel.fd, channel.out, lenBytes);
        if (n == lenBytes) {
            return true;
        }
        int errno = n < 0 ? Native.errno(channel.capture) : 0;
        if (errno == Native.ENOENT) {
            LOG.debug("fuse reply to {} dropped: request was interrupted", unique);
        } else if (errno == Native.ENODEV) {
            LOG.debug("fuse reply to {} dropped: filesystem unmounted", unique);
        } else {
            LOG.warn("fuse reply to {} ({} bytes) failed: write returned {} errno {}", unique, lenBytes, n, errno);
        }
        return false;
    }
}
