package org.iomap4j.fuse;

import java.io.IOException;

import org.iomap4j.FsException;

/**
 * One row of the opcode table: the opcode's name (for logs), the smallest input struct it needs, whether the
 * kernel expects an answer, the wire decoder that turns the payload into its typed record ({@link FuseIn}) and the
 * handler that answers it. It exists so that dispatch is a table lookup, as in go-fuse's opcode.go, so that length
 * checks happen before any decoder reads the payload, and so that handlers see typed inputs only.
 *
 * @param opcode          FUSE opcode (include/uapi/linux/fuse.h enum fuse_opcode)
 * @param name            FUSE_* name without the prefix
 * @param minPayloadBytes bytes of input struct required after the header (names not counted)
 * @param noReply         true for FORGET, BATCH_FORGET and INTERRUPT, which are never answered
 * @param decoder         reads the typed input from the request payload
 * @param handler         answers through the {@link Reply}
 * @param <T>             the typed input record
 */
record Op<T>(int opcode, String name, int minPayloadBytes, boolean noReply, Decoder<T> decoder, Handler<T> handler) {

    /** Decodes the typed input of one request (wire layer); EINVAL for a malformed payload. */
    @FunctionalInterface
    interface Decoder<T> {
        T decode(Request req) throws FsException;
    }

    /**
     * Answers one request exactly once (unless {@link Op#noReply}). {@code req} is passed for its header fields
     * (nodeid, uid, gid, unique); the payload is already decoded into {@code in}.
     */
    @FunctionalInterface
    interface Handler<T> {
        void handle(Request req, T in, Reply reply) throws IOException;
    }

    /** Decodes and handles one request. */
    void run(Request req, Reply reply) throws IOException {
        handler.handle(req, decoder.decode(req), reply);
    }

    /** An op whose answer is always the error {@code errno} (an absent capability, an unsupported opcode). */
    static Op<FuseIn.Empty> refuse(int opcode, String name, int errno) {
        return new Op<>(opcode, name, 0, false, FuseIn.Empty::decode, (req, in, reply) -> reply.error(errno));
    }
}
