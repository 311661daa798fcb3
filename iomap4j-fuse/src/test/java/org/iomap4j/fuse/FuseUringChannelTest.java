package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import org.iomap4j.FsException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link FuseUringChannel}'s layout, with the entry filled as fs/fuse/dev_uring.c fills it (fuse_in_header in
 * {@code in_out}, the op struct in {@code op_in}, the rest in the payload buffer, payload_sz and commit_id in
 * {@code ring_ent_in_out}): the request the decoder sees is the /dev/fuse byte stream, WRITE data is not copied,
 * and a reply becomes a fuse_out_header in {@code in_out}, payload_sz and a COMMIT_AND_FETCH SQE with the commit_id.
 */
final class FuseUringChannelTest {
    private IoUring ring;
    private FuseUringChannel ch;

    @BeforeEach
    void entry() {
        try {
            ring = IoUring.setup(2, IoUring.SETUP_SQE128);
        } catch (FsException e) {
            assumeTrue(false, "io_uring unavailable here: " + e.getMessage());
        }
        ch = FuseUringChannel.allocate(99, ring, false, 1, 1 << 20);
    }

    @AfterEach
    void close() {
        if (ring != null) {
            ring.close();
            ch.close();
        }
    }

    /** Fills the entry as the kernel does; returns the total length. */
    private int fill(int opcode, long unique, byte[] opIn, byte[] payload) {
        int len = FuseAbi.IN_HEADER_SIZE + opIn.length + payload.length;
        FuseAbi.putInHeader(ch.headers, len, opcode, unique, 7);
        MemorySegment.copy(opIn, 0, ch.headers, ValueLayout.JAVA_BYTE, FuseUringChannel.OP_IN_OFF, opIn.length);
        MemorySegment.copy(payload, 0, ch.payload, ValueLayout.JAVA_BYTE, 0, payload.length);
        ch.headers.set(FuseAbi.U64, FuseUringChannel.COMMIT_ID_OFF, unique);
        ch.headers.set(FuseAbi.U32, FuseUringChannel.PAYLOAD_SZ_OFF, payload.length);
        return len;
    }

    @Test
    void a_lookup_with_an_empty_op_struct_decodes_its_name() throws Exception {
        int len = fill(FuseAbi.LOOKUP, 41, new byte[0], "hello\0".getBytes(StandardCharsets.UTF_8));
        MemorySegment in = ch.requestIn();
        assertThat(in.byteSize()).isEqualTo(len);
        Request r = new Request(in, len);
        assertThat(r.opcode).isEqualTo(FuseAbi.LOOKUP);
        assertThat(r.unique).isEqualTo(41);
        assertThat(r.nodeid).isEqualTo(7);
        assertThat(FuseIn.NameIn.decode(r).name()).isEqualTo("hello");
    }

    @Test
    void write_data_is_read_where_the_kernel_put_it_and_the_reply_commits() throws Exception {
        byte[] writeIn = new byte[FuseIn.WriteIn.SIZE];
        MemorySegment w = MemorySegment.ofArray(writeIn);
        w.set(FuseAbi.U64, 0, 5); // fh
        w.set(FuseAbi.U64, 8, 8192); // offset
        w.set(FuseAbi.U32, 16, 4096); // size
        byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7);
        }
        int len = fill(FuseAbi.WRITE, 77, writeIn, data);
        Request r = new Request(ch.requestIn(), len);
        FuseIn.WriteIn in = FuseIn.WriteIn.decode(r);
        assertThat(in.fh()).isEqualTo(5);
        assertThat(in.offsetBytes()).isEqualTo(8192);
        assertThat(MemorySegment.ofBuffer(in.data()).address()).as("no copy").isEqualTo(ch.payload.address());
        byte[] got = new byte[4096];
        in.data().get(got);
        assertThat(got).isEqualTo(data);

        ch.beginRequest();
        new Reply(ch, r.unique).written(4096);
        assertThat(ch.committed()).isTrue();
        assertThat(ch.headers.get(FuseAbi.U32, 0)).as("out len").isEqualTo(16 + FuseAbi.WRITE_OUT_SIZE);
        assertThat(ch.headers.get(FuseAbi.U32, 4)).as("error").isZero();
        assertThat(ch.headers.get(FuseAbi.U64, 8)).as("unique").isEqualTo(77);
        assertThat(ch.headers.get(FuseAbi.U32, FuseUringChannel.PAYLOAD_SZ_OFF)).isEqualTo(FuseAbi.WRITE_OUT_SIZE);
        assertThat(ch.payload.get(FuseAbi.U32, 0)).as("fuse_write_out.size").isEqualTo(4096);
    }

    @Test
    void an_error_reply_has_no_payload() throws Exception {
        fill(FuseAbi.LOOKUP, 9, new byte[0], "x\0".getBytes(StandardCharsets.UTF_8));
        ch.beginRequest();
        new Reply(ch, 9).error(2);
        assertThat(ch.headers.get(FuseAbi.U32, 0)).isEqualTo(16);
        assertThat(ch.headers.get(FuseAbi.U32, 4)).isEqualTo(-2);
        assertThat(ch.headers.get(FuseAbi.U32, FuseUringChannel.PAYLOAD_SZ_OFF)).isZero();
    }

    @Test
    void an_op_struct_over_128_bytes_is_refused() {
        FuseAbi.putInHeader(ch.headers, 40 + 200, FuseAbi.LOOKUP, 3, 1);
        ch.headers.set(FuseAbi.U32, FuseUringChannel.PAYLOAD_SZ_OFF, 0);
        assertThatThrownBy(ch::requestIn).isInstanceOf(FsException.class).hasMessageContaining("at most 128");
        FuseAbi.putInHeader(ch.headers, 40, FuseAbi.LOOKUP, 3, 1);
        ch.headers.set(FuseAbi.U32, FuseUringChannel.PAYLOAD_SZ_OFF, 10); // payload longer than the request
        assertThatThrownBy(ch::requestIn).isInstanceOf(FsException.class);
    }
}
