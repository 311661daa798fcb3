package org.iomap4j.fuse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * One FUSE-over-io_uring ring entry seen as a {@link Channel}: the entry's header buffer (struct
 * fuse_uring_req_header) and payload buffer, laid out so that the existing request decoder and {@link Reply} work on
 * them without copying data. It exists so that the opcode table, {@link Request} and {@link Reply} serve both
 * transports unchanged.
 *
 * <p>Wire format (include/uapi/linux/fuse.h, fs/fuse/dev_uring.c fuse_uring_args_to_ring and fuse_uring_commit;
 * protocol 7.42+): the header buffer holds {@code in_out[128]} (fuse_in_header on fetch, fuse_out_header on commit) at
 * 0, {@code op_in[128]} (the op's first argument, its fixed struct) at 128, and {@code ring_ent_in_out} {flags
 * u64@256, commit_id u64@264, payload_sz u32@272, padding u32@276, reserved u64@280} (288 bytes in all); the payload
 * buffer holds the remaining arguments (names, WRITE data) on fetch and the reply body on commit, payload_sz bytes.
 *
 * <p>Layout: the payload buffer P is page aligned and preceded by one page of this channel's memory. A request of
 * header length {@code len} with {@code payload_sz} bytes of payload has an op struct of {@code k = len - 40 -
 * payload_sz} bytes; the fuse_in_header and the op struct are copied to {@code P - 40 - k}, so that {@code [P - 40 -
 * k, P + payload_sz)} is byte for byte what read(2) on /dev/fuse would have returned. The reply's out header goes to
 * {@code P - 16} and its body to P (so READ data lands page aligned in the buffer the kernel copies from); on commit
 * the 16 header bytes are copied into {@code in_out}. The reply header overlaps the request's copied header bytes:
 * this is safe because a reply is sent only after the handler is done with its request (every decoder copies its
 * names; WRITE consumes its data before answering).
 *
 * <p>Confined to the worker thread that owns the ring.
 */
final class FuseUringChannel extends Channel {
    /** sizeof(struct fuse_uring_req_header). */
    static final int HEADER_BYTES = 288;
    static final int OP_IN_OFF = 128;
    static final int OP_IN_MAX = 128;
    static final int COMMIT_ID_OFF = 264;
    static final int PAYLOAD_SZ_OFF = 272;
    /** Bytes of this channel's memory before the payload buffer. */
    private static final int LEAD_BYTES = 4096;

    private final IoUring ring;
    private final int devFd;
    private final boolean fixedFile;
    private final int qid;
    final MemorySegment headers;
    final MemorySegment payload;
    /** The two iovecs of a REGISTER: {headers, 288} and {payload, payloadBytes}. */
    private final MemorySegment iov;
    private boolean committed;
    private int lastCmd;
    private long lastCommitId;

    private FuseUringChannel(int devFd, Arena arena, MemorySegment headers, MemorySegment region, int payloadBytes,
            IoUring ring, boolean fixedFile, int qid) {
        super(devFd, arena, region, region.asSlice(LEAD_BYTES - FuseAbi.OUT_HEADER_SIZE,
                FuseAbi.OUT_HEADER_SIZE + (long) payloadBytes));
        this.devFd = devFd;
        this.ring = ring;
        this.fixedFile = fixedFile;
        this.qid = qid;
        this.headers = headers;
        this.payload = region.asSlice(LEAD_BYTES, payloadBytes);
        this.iov = arena.allocate(32, 8);
        iov.set(ValueLayout.JAVA_LONG, 0, headers.address());
        iov.set(ValueLayout.JAVA_LONG, 8, HEADER_BYTES);
        iov.set(ValueLayout.JAVA_LONG, 16, payload.address());
        iov.set(ValueLayout.JAVA_LONG, 24, payloadBytes);
    }

    /**
     * Allocates an entry's buffers (a confined arena: call on the worker thread).
     *
     * @param payloadBytes the payload buffer, at least the kernel's max(8192, max_write, max_pages × 4 KiB)
     * @param fixedFile    whether /dev/fuse is the ring's fixed file 0
     */
    static FuseUringChannel allocate(int devFd, IoUring ring, boolean fixedFile, int qid, int payloadBytes) {
        Arena arena = Arena.ofConfined();
        try {
            MemorySegment headers = arena.allocate(4096, 4096).asSlice(0, HEADER_BYTES);
            MemorySegment region = arena.allocate(LEAD_BYTES + (long) payloadBytes, 4096);
            return new FuseUringChannel(devFd, arena, headers, region, payloadBytes, ring, fixedFile, qid);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** The request the kernel put in this entry: its total length (fuse_in_header.len). */
    int requestBytes() {
        return headers.get(FuseAbi.U32, FuseAbi.IN_LEN);
    }

    /** The request's unique (from the fuse_in_header in in_out). */
    long unique() {
        return headers.get(FuseAbi.U64, FuseAbi.IN_UNIQUE);
    }

    /**
     * Lays the request out contiguously (see the class comment) and returns it: {@link #requestBytes()} bytes,
     * starting with the fuse_in_header.
     *
     * @throws FsException EIO if the header's len and payload_sz do not leave 0..128 bytes for the op struct
     */
    MemorySegment requestIn() throws FsException {
        long len = Integer.toUnsignedLong(requestBytes());
        long payloadSz = Integer.toUnsignedLong(headers.get(FuseAbi.U32, PAYLOAD_SZ_OFF));
        long opBytes = len - FuseAbi.IN_HEADER_SIZE - payloadSz;
        if (len < FuseAbi.IN_HEADER_SIZE || payloadSz > payload.byteSize() || opBytes < 0 || opBytes > OP_IN_MAX) {
            throw new FsException(Errno.EIO, "fuse io_uring queue " + qid + ": request " + unique() + " has len " + len
                    + " and payload_sz " + payloadSz + " (op struct of " + opBytes + " bytes, at most " + OP_IN_MAX + ")");
        }
        long start = LEAD_BYTES - FuseAbi.IN_HEADER_SIZE - opBytes;
        MemorySegment.copy(headers, 0, in, start, FuseAbi.IN_HEADER_SIZE);
        MemorySegment.copy(headers, OP_IN_OFF, in, start + FuseAbi.IN_HEADER_SIZE, opBytes);
        return in.asSlice(start, len);
    }

    /** Clears the committed mark before a request is dispatched. */
    void beginRequest() {
        committed = false;
    }

    /** Whether the request being served was answered (a COMMIT_AND_FETCH is queued). */
    boolean committed() {
        return committed;
    }

    /**
     * Commits the reply {@link Reply} laid out at {@link #out}: copies its fuse_out_header into in_out, sets
     * payload_sz to the body length and queues FUSE_IO_URING_CMD_COMMIT_AND_FETCH with the request's commit_id (sent
     * by the worker's next io_uring_enter, which also waits for the next request).
     *
     * @return {@code lenBytes}: the kernel's verdict arrives as a CQE (an error CQE ends or re-registers the entry)
     */
    @Override
    long send(int lenBytes) {
        MemorySegment.copy(out, 0, headers, 0, FuseAbi.OUT_HEADER_SIZE);
        headers.set(FuseAbi.U32, PAYLOAD_SZ_OFF, lenBytes - FuseAbi.OUT_HEADER_SIZE);
        prep(FuseUringAbi.CMD_COMMIT_AND_FETCH, headers.get(FuseAbi.U64, COMMIT_ID_OFF));
        committed = true;
        return lenBytes;
    }

    /** Queues FUSE_IO_URING_CMD_REGISTER of this entry's buffers on queue {@code qid}. */
    void prepRegister() {
        prep(FuseUringAbi.CMD_REGISTER, 0);
    }

    /**
     * Queues a REGISTER the kernel must refuse (no iovecs: EINVAL from fuse_uring_get_iovec_from_sqe), which makes it
     * drop io_uring for this connection (fc->io_uring = 0) and serve through /dev/fuse: how a worker that cannot
     * serve releases requests the kernel holds back until the ring is ready.
     */
    void prepDecline() {
        MemorySegment sqe = prep(FuseUringAbi.CMD_REGISTER, 0);
        sqe.set(ValueLayout.JAVA_LONG, 16, 0L);
        sqe.set(ValueLayout.JAVA_INT, 24, 0);
    }

    /** Queues the last command again (after an EAGAIN or EINTR CQE). */
    void prepAgain() {
        prep(lastCmd, lastCommitId);
    }

    private MemorySegment prep(int cmd, long commitId) {
        MemorySegment sqe = ring.nextSqe();
        if (sqe == null) {
            throw new IllegalStateException("fuse io_uring queue " + qid + ": SQ ring full (one entry per ring)");
        }
        lastCmd = cmd;
        lastCommitId = commitId;
        sqe.set(ValueLayout.JAVA_BYTE, 0, (byte) IoUring.OP_URING_CMD);
        sqe.set(ValueLayout.JAVA_BYTE, 1, (byte) (fixedFile ? IoUring.SQE_FIXED_FILE : 0));
        sqe.set(ValueLayout.JAVA_INT, 4, fixedFile ? 0 : devFd);
        sqe.set(ValueLayout.JAVA_INT, 8, cmd); // cmd_op
        if (cmd == FuseUringAbi.CMD_REGISTER) {
            sqe.set(ValueLayout.JAVA_LONG, 16, iov.address()); // addr: the iovec pair
            sqe.set(ValueLayout.JAVA_INT, 24, 2); // len: FUSE_URING_IOV_SEGS
        }
        sqe.set(ValueLayout.JAVA_LONG, 32, cmd); // user_data
        // struct fuse_uring_cmd_req in the SQE128 command area: flags u64@48, commit_id u64@56, qid u16@64.
        sqe.set(ValueLayout.JAVA_LONG, 56, commitId);
        sqe.set(ValueLayout.JAVA_SHORT, 64, (short) qid);
        return sqe;
    }
}
