package org.iomap4j.fuse;

import java.io.IOException;

/**
 * One row of the opcode table: the opcode's name (for logs), the smallest input struct it needs, whether the
 * kernel expects an answer, and its handler. It exists so that dispatch is a table lookup, as in go-fuse's
 * opcode.go, and so that length checks happen before any handler reads the payload.
 *
 * @param opcode          FUSE opcode (include/uapi/linux/fuse.h enum fuse_opcode)
 * @param name            FUSE_* name without the prefix
 * @param minPayloadBytes bytes of input struct required after the header (names not counted)
 * @param noReply         true for FORGET, BATCH_FORGET and INTERRUPT, which are never answered
 * @param handler         decodes the payload and answers through the {@link Reply}
 */
record Op(int opcode, String name, int minPayloadBytes, boolean noReply, Handler handler) {

    /** Decodes one request and answers it exactly once (unless {@link Op#noReply}). */
    @FunctionalInterface
    interface Handler {
        void handle(Request req, Reply reply) throws IOException;
    }
}
