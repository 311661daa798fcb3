package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fuse.WireHarness.Answer;
import org.iomap4j.fuse.testing.TrackedMemoryVfs;
import org.iomap4j.vfs.InodeAttr;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Dispatch without a mount: requests are built in memory, replies go to a non-blocking pipe and are read back.
 * Checks the exactly-once rule (EIO for a handler that throws or forgets to answer, nothing for FORGET), error
 * replies of exactly 16 bytes, and the node layer's lookup counting against {@link TrackedMemoryVfs}'s references.
 */
final class FuseServerDispatchTest {
    private final WireHarness h;

    FuseServerDispatchTest() throws Throwable {
        h = new WireHarness();
    }

    @AfterEach
    void close() {
        h.close();
    }

    private long send(FuseServer server, int opcode, long nodeid, byte[] payload) {
        return h.send(server, opcode, nodeid, payload);
    }

    private Answer answer() {
        return h.answer();
    }

    /** The header as "len error unique". */
    private static String head(Answer a) {
        return a.len() + " " + a.error() + " " + a.unique();
    }

    private static byte[] bytes(int size) {
        return new byte[size];
    }

    private static byte[] name(String s) {
        return (s + "\0").getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] u64s(long... v) {
        MemorySegment s = MemorySegment.ofArray(new byte[v.length * 8]);
        for (int i = 0; i < v.length; i++) {
            s.set(FuseAbi.U64, i * 8L, v[i]);
        }
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    private FuseServer server(Op<?>... ops) {
        Op<?>[] t = new Op<?>[FuseAbi.MAX_OPCODE];
        for (Op<?> op : ops) {
            t[op.opcode()] = op;
        }
        return new FuseServer(t, false);
    }

    @Test
    void the_reply_body_is_page_aligned_so_reads_can_land_in_it_with_o_direct() {
        Reply reply = h.reply();
        assertThat(reply.body().address() % 4096).isZero();
        assertThat(reply.maxBodyBytes()).isGreaterThanOrEqualTo(1 << 20);
        assertThat(h.channel.out.byteSize()).isEqualTo(Channel.BUFFER_BYTES);
    }

    @Test
    void every_request_is_answered_exactly_once_and_errors_are_16_bytes() {
        FuseServer s = server(
                new Op<>(1, "THROWS_RUNTIME", 0, false, r -> r, (req, in, reply) -> {
                    throw new IllegalStateException("bug");
                }),
                new Op<>(3, "THROWS_ERRNO", 0, false, r -> r, (req, in, reply) -> {
                    throw new FsException(Errno.ENOTEMPTY, "full");
                }),
                new Op<>(4, "SILENT", 0, false, r -> r, (req, in, reply) -> { }),
                new Op<>(5, "OK", 8, false, r -> r, (req, in, reply) -> {
                    reply.body().set(FuseAbi.U64, 0, in.u64(0) + 1);
                    reply.ok(8);
                }),
                new Op<>(6, "ANSWERS_THEN_THROWS", 0, false, r -> r, (req, in, reply) -> {
                    reply.ok(0);
                    throw new IOException("after the answer");
                }),
                new Op<>(2, "NO_REPLY", 0, true, r -> r, (req, in, reply) -> { }));
        long u = send(s, 1, 1, bytes(0));
        assertThat(head(answer())).isEqualTo(head(16, -Errno.EIO.code(), u));
        u = send(s, 3, 1, bytes(0));
        assertThat(head(answer())).isEqualTo(head(16, -Errno.ENOTEMPTY.code(), u));
        u = send(s, 4, 1, bytes(0));
        assertThat(head(answer())).isEqualTo(head(16, -Errno.EIO.code(), u));
        u = send(s, 5, 1, u64s(41));
        Answer ok = answer();
        assertThat(new long[] {ok.len(), ok.error(), ok.unique(), ok.body().getLong(0)})
                .containsExactly(24, 0, u, 42);
        u = send(s, 5, 1, bytes(4)); // payload shorter than the input struct
        assertThat(head(answer())).isEqualTo(head(16, -Errno.EINVAL.code(), u));
        u = send(s, 6, 1, bytes(0));
        assertThat(head(answer())).isEqualTo(head(16, 0, u));
        assertThat(answer()).as("no second answer").isNull();
        send(s, 2, 1, bytes(8));
        assertThat(answer()).as("FORGET-like ops are not answered").isNull();
        u = send(s, 60, 1, bytes(0));
        assertThat(head(answer())).isEqualTo(head(16, -Errno.ENOSYS.code(), u));
        assertThat(s.requestCounts()).as("requests counted by opcode (--stats), in opcode order, unknown last")
                .containsExactly(java.util.Map.entry("THROWS_RUNTIME", 1L), java.util.Map.entry("NO_REPLY", 1L),
                        java.util.Map.entry("THROWS_ERRNO", 1L), java.util.Map.entry("SILENT", 1L),
                        java.util.Map.entry("OK", 2L), java.util.Map.entry("ANSWERS_THEN_THROWS", 1L),
                        java.util.Map.entry("UNKNOWN", 1L));
    }

    private static String head(int len, int error, long u) { // expected header
        return len + " " + error + " " + u;
    }

    @Test
    void lookup_counts_follow_replies_and_forgets_reach_the_vfs() throws Exception {
        TrackedMemoryVfs vfs = TrackedMemoryVfs.create();
        InodeAttr dir = vfs.mkdir(vfs.rootIno(), "d", 0755, 0, 0);
        InodeAttr f = vfs.mknod(dir.ino(), "f", 0100644, 0, 0, 0);
        vfs.forget(dir.ino(), 1);
        vfs.forget(f.ino(), 1);
        NodeBridge bridge = new NodeBridge(vfs, FuseOptions.defaults());
        FuseServer s = new FuseServer(bridge.opTable(), false);

        send(s, FuseAbi.LOOKUP, 1, name("d"));
        Answer a = answer();
        assertThat(a.error()).isZero();
        assertThat(a.len()).isEqualTo(16 + 128);
        assertThat(a.body().getLong(0)).isEqualTo(dir.ino()); // nodeid
        send(s, FuseAbi.LOOKUP, 1, name("d"));
        answer();
        assertThat(bridge.lookupCount(dir.ino())).isEqualTo(2);
        assertThat(vfs.refs(dir.ino())).isEqualTo(2);

        // READDIRPLUS: one lookup for "f", none for "." and "..".
        byte[] readIn = new byte[40];
        MemorySegment.ofArray(readIn).set(FuseAbi.U32, 16, 4096);
        send(s, FuseAbi.READDIRPLUS, dir.ino(), readIn);
        Answer plus = answer();
        assertThat(plus.len()).isEqualTo(16 + 2 * FuseAbi.direntPlusSize(1) + FuseAbi.direntPlusSize(2));
        assertThat(bridge.lookupCount(f.ino())).isEqualTo(1);
        assertThat(vfs.refs(f.ino())).isEqualTo(1);
        // A READDIRPLUS too small for even one entry answers empty and takes nothing.
        MemorySegment.ofArray(readIn).set(FuseAbi.U32, 16, 100);
        send(s, FuseAbi.READDIRPLUS, dir.ino(), readIn);
        assertThat(answer().len()).isEqualTo(16);

        send(s, FuseAbi.FORGET, dir.ino(), u64s(1));
        assertThat(answer()).isNull();
        assertThat(vfs.refs(dir.ino())).isEqualTo(1);
        // BATCH_FORGET {count=2, dummy} {nodeid, nlookup}...
        byte[] batch = new byte[8 + 32];
        MemorySegment b = MemorySegment.ofArray(batch);
        b.set(FuseAbi.U32, 0, 2);
        b.set(FuseAbi.U64, 8, dir.ino());
        b.set(FuseAbi.U64, 16, 1);
        b.set(FuseAbi.U64, 24, f.ino());
        b.set(FuseAbi.U64, 32, 1);
        send(s, FuseAbi.BATCH_FORGET, 0, batch);
        assertThat(answer()).isNull();
        assertThat(vfs.refs(dir.ino())).isZero();
        assertThat(vfs.refs(f.ino())).isZero();
        assertThat(bridge.lookupCount(dir.ino())).isZero();

        // Unknown file handle: EBADF, not a crash.
        byte[] rd = new byte[40];
        MemorySegment.ofArray(rd).set(FuseAbi.U64, 0, 999);
        MemorySegment.ofArray(rd).set(FuseAbi.U32, 16, 10);
        long u = send(s, FuseAbi.READ, f.ino(), rd);
        assertThat(head(answer())).isEqualTo(head(16, -Errno.EBADF.code(), u));
        // LOOKUP of a missing name: a negative entry (nodeid 0) cached for the negative timeout.
        send(s, FuseAbi.LOOKUP, 1, name("nothere"));
        Answer neg = answer();
        assertThat(neg.error()).isZero();
        assertThat(neg.body().getLong(0)).isZero();
        assertThat(neg.body().getLong(16)).isEqualTo(1); // entry_valid 1 s
    }
}
