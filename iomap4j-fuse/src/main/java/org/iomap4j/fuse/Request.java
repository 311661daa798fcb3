package org.iomap4j.fuse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * One request read from /dev/fuse: the fuse_in_header fields and bounds-checked accessors for the op's input
 * struct and NUL-terminated names that follow it. It exists so that no handler indexes the raw buffer
 * unchecked: a short or malformed message fails the request with EINVAL instead of reading garbage.
 *
 * <p>Valid only until the reader thread reads its next request (the segment is that thread's buffer).
 * Payload offsets are bytes from the end of the 40-byte header.
 */
final class Request {
    final int opcode;
    final long unique;
    final long nodeid;
    final int uid;
    final int gid;
    final int pid;
    private final MemorySegment payload;

    Request(MemorySegment in, int lengthBytes) throws FsException {
        if (lengthBytes < FuseAbi.IN_HEADER_SIZE) {
            throw new FsException(Errno.EINVAL, "fuse request of " + lengthBytes + " bytes is shorter than its header");
        }
        int declared = in.get(FuseAbi.U32, FuseAbi.IN_LEN);
        if (declared != lengthBytes) {
            throw new FsException(Errno.EINVAL, "fuse request len " + declared + " but read " + lengthBytes);
        }
        this.opcode = in.get(FuseAbi.U32, FuseAbi.IN_OPCODE);
        this.unique = in.get(FuseAbi.U64, FuseAbi.IN_UNIQUE);
        this.nodeid = in.get(FuseAbi.U64, FuseAbi.IN_NODEID);
        this.uid = in.get(FuseAbi.U32, FuseAbi.IN_UID);
        this.gid = in.get(FuseAbi.U32, FuseAbi.IN_GID);
        this.pid = in.get(FuseAbi.U32, FuseAbi.IN_PID);
        // Header extensions (total_extlen, in 8-byte units) trail the arguments; we negotiate none of the
        // features that send them (SECURITY_CTX, CREATE_SUPP_GROUP), so the payload runs to the end.
        int extBytes = (in.get(FuseAbi.U16, FuseAbi.IN_TOTAL_EXTLEN) & 0xffff) * 8;
        int payloadLen = Math.max(0, lengthBytes - FuseAbi.IN_HEADER_SIZE - extBytes);
        this.payload = in.asSlice(FuseAbi.IN_HEADER_SIZE, payloadLen);
    }

    /** Payload length in bytes. */
    int payloadBytes() {
        return (int) payload.byteSize();
    }

    /** EINVAL unless the payload holds at least {@code structBytes} (an op's fixed input struct). */
    void require(int structBytes) throws FsException {
        check(0, structBytes);
    }

    int u32(int off) throws FsException {
        check(off, 4);
        return payload.get(FuseAbi.U32, off);
    }

    long u64(int off) throws FsException {
        check(off, 8);
        return payload.get(FuseAbi.U64, off);
    }

    /** The NUL-terminated name starting at payload offset {@code off} (UTF-8). */
    String name(int off) throws FsException {
        int end = nameEnd(off);
        byte[] bytes = new byte[end - off];
        MemorySegment.copy(payload, ValueLayout.JAVA_BYTE, off, bytes, 0, bytes.length);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The offset of the NUL ending the name at {@code off}; EINVAL if the payload has none. */
    int nameEnd(int off) throws FsException {
        long size = payload.byteSize();
        for (long i = off; i < size; i++) {
            if (payload.get(ValueLayout.JAVA_BYTE, i) == 0) {
                return (int) i;
            }
        }
        throw new FsException(Errno.EINVAL, "fuse " + opcode + ": name at " + off + " not NUL-terminated");
    }

    /** A ByteBuffer over {@code [off, off + lengthBytes)} of the payload (zero copy; valid like the request). */
    ByteBuffer bytes(int off, int lengthBytes) throws FsException {
        check(off, lengthBytes);
        return payload.asSlice(off, lengthBytes).asByteBuffer();
    }

    private void check(int off, int len) throws FsException {
        if (off < 0 || len < 0 || (long) off + len > payload.byteSize()) {
            throw new FsException(Errno.EINVAL, "fuse opcode " + opcode + ": payload of " + payload.byteSize()
                    + " bytes too short for [" + off + ", " + ((long) off + len) + ")");
        }
    }
}
