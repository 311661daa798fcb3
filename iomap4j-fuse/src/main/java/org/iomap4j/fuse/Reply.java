package org.iomap4j.fuse;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.StatFs;


/**
 * The answer to one request, written into the reader thread's output buffer and sent with one write(2) on the
 * fd the request came from (or committed through the io_uring entry it came from, {@link FuseUringChannel}). It exists to enforce "answered exactly once": a second answer is a bug and throws;
 * the server answers EIO for a handler that returns without answering (see {@link FuseServer}).
 *
 * <p>Typed replies ({@link #entry}, {@link #attr}, {@link #open}, {@link #written}, {@link #statfs},
 * {@link #lseek}, {@link #dirents}, {@link #init}...) encode their {@code fuse_*_out} struct into the reader's
 * output buffer (after the 16-byte fuse_out_header) and send it: the node layer uses these and never an offset.
 * READ's data goes straight into the buffer through {@link #dataBuffer} (no copy). Each typed reply returns what
 * {@link #ok} returns: false when the kernel refused it (the request was interrupted).
 */
final class Reply {
    private static final Logger LOG = System.getLogger(Reply.class.getName());

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
        long n = channel.send(lenBytes);
        if (n == lenBytes) {
            return true;
        }
        int errno = n < 0 ? Native.errno(channel.capture) : 0;
        if (errno == Native.ENOENT) {
            LOG.log(Level.DEBUG, () -> "fuse reply to " + unique + " dropped: request was interrupted");
        } else if (errno == Native.ENODEV) {
            LOG.log(Level.DEBUG, () -> "fuse reply to " + unique + " dropped: filesystem unmounted");
        } else {
            LOG.log(Level.WARNING, "fuse reply to " + unique + " (" + lenBytes + " bytes) failed: write returned " + n
                    + " errno " + errno);
        }
        return false;
    }

    // ------------------------------------------------------------------------------------------------------
    // Typed replies (layouts: include/uapi/linux/fuse.h, encoders in FuseAbi).

    /** An empty success reply (UNLINK, RMDIR, RENAME, RELEASE, FSYNC, FLUSH, FALLOCATE, ACCESS...). */
    boolean empty() {
        return ok(0);
    }

    /** fuse_entry_out for a node the kernel now holds one more lookup of. */
    boolean entry(long nodeid, InodeAttr attr, long entryTimeoutNanos, long attrTimeoutNanos) {
        FuseAbi.putEntryOut(body(), 0, nodeid, attr, entryTimeoutNanos, attrTimeoutNanos);
        return ok(FuseAbi.ENTRY_OUT_SIZE);
    }

    /** A negative entry: nodeid 0, cached for {@code timeoutNanos} (LOOKUP of a missing name). */
    boolean negativeEntry(long timeoutNanos) {
        FuseAbi.putEntryOut(body(), 0, 0, null, timeoutNanos, 0);
        return ok(FuseAbi.ENTRY_OUT_SIZE);
    }

    /** CREATE: fuse_entry_out followed by fuse_open_out. */
    boolean created(long nodeid, InodeAttr attr, long entryTimeoutNanos, long attrTimeoutNanos, long fh,
            int fopenFlags) {
        FuseAbi.putEntryOut(body(), 0, nodeid, attr, entryTimeoutNanos, attrTimeoutNanos);
        FuseAbi.putOpenOut(body(), FuseAbi.ENTRY_OUT_SIZE, fh, fopenFlags);
        return ok(FuseAbi.ENTRY_OUT_SIZE + FuseAbi.OPEN_OUT_SIZE);
    }

    /** fuse_attr_out (GETATTR, SETATTR). */
    boolean attr(InodeAttr attr, long attrTimeoutNanos) {
        FuseAbi.putAttrOut(body(), 0, attr, attrTimeoutNanos);
        return ok(FuseAbi.ATTR_OUT_SIZE);
    }

    /** fuse_open_out (OPEN, OPENDIR); {@code fopenFlags} are FOPEN_*. */
    boolean open(long fh, int fopenFlags) {
        FuseAbi.putOpenOut(body(), 0, fh, fopenFlags);
        return ok(FuseAbi.OPEN_OUT_SIZE);
    }

    /** fuse_write_out {size u32@0, padding@4}. */
    boolean written(int bytes) {
        MemorySegment b = body();
        b.set(FuseAbi.U32, 0, bytes);
        b.set(FuseAbi.U32, 4, 0);
        return ok(FuseAbi.WRITE_OUT_SIZE);
    }

    /** fuse_statfs_out (a fuse_kstatfs). */
    boolean statfs(StatFs s) {
        FuseAbi.putKstatfs(body(), 0, s);
        return ok(FuseAbi.KSTATFS_SIZE);
    }

    /** fuse_lseek_out {offset u64@0}. */
    boolean lseek(long offsetBytes) {
        body().set(FuseAbi.U64, 0, offsetBytes);
        return ok(FuseAbi.LSEEK_OUT_SIZE);
    }

    /** fuse_getxattr_out {size u32@0, padding@4}: the answer to a size-0 GETXATTR/LISTXATTR probe. */
    boolean xattrSize(int bytes) {
        MemorySegment b = body();
        b.set(FuseAbi.U32, 0, bytes);
        b.set(FuseAbi.U32, 4, 0);
        return ok(FuseAbi.GETXATTR_OUT_SIZE);
    }

    /**
     * Sends {@code bytes} as the whole body (READLINK's target, a GETXATTR value, a LISTXATTR list).
     *
     * @throws IllegalArgumentException if they exceed {@link #maxBodyBytes()} (callers check and answer an errno)
     */
    boolean bytes(byte[] bytes) {
        if (bytes.length > maxBodyBytes()) {
            throw new IllegalArgumentException(bytes.length + " bytes exceed the reply buffer");
        }
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, body(), 0, bytes.length);
        return ok(bytes.length);
    }

    /**
     * READ: a buffer over the body for at most {@code sizeBytes} (capped by the buffer), page aligned, into which
     * the data is read; answer with {@link #data} and the count read.
     */
    ByteBuffer dataBuffer(int sizeBytes) {
        return body().asSlice(0, Math.min(sizeBytes, maxBodyBytes())).asByteBuffer();
    }

    /** Sends the first {@code bytes} of the {@link #dataBuffer} (short only at EOF). */
    boolean data(int bytes) {
        return ok(bytes);
    }

    /** A READDIR/READDIRPLUS body of at most {@code sizeBytes} (capped by the buffer). */
    DirentWriter dirents(int sizeBytes) {
        return new DirentWriter(this, body(), Math.min(sizeBytes, maxBodyBytes()));
    }

    /** fuse_init_out (64 bytes). */
    boolean init(FuseInit.InitOut out) {
        FuseInit.putInitOut(body(), out);
        return ok(FuseAbi.INIT_OUT_SIZE);
    }
}
