package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.iomap4j.FsException;
import org.junit.jupiter.api.Test;

/**
 * {@link IoUring} against the kernel: NOPs (IORING_OP_NOP, opcode 0) round the SQ and CQ rings many times, so ring
 * offsets, masks, wrap-around and the head/tail protocol are checked by the kernel itself (each CQE must carry the
 * user_data of its SQE, in order); and a wait with nothing queued times out with ETIME instead of hanging.
 */
final class IoUringTest {
    private static IoUring ringOrSkip(int flags) {
        try {
            return IoUring.setup(2, flags);
        } catch (FsException e) {
            assumeTrue(false, "io_uring unavailable here: " + e.getMessage());
            throw new AssertionError(e);
        }
    }

    @Test
    void nops_wrap_both_rings_and_come_back_in_order() {
        for (int flags : new int[] {0, IoUring.SETUP_SQE128}) {
            try (IoUring ring = ringOrSkip(flags)) {
                long next = 1;
                for (int round = 0; round < 100; round++) {
                    int batch = 1 + round % 2; // one or two: the SQ ring holds two
                    for (int i = 0; i < batch; i++) {
                        MemorySegment sqe = ring.nextSqe();
                        assertThat(sqe).as("free SQE in round %d", round).isNotNull();
                        sqe.set(ValueLayout.JAVA_LONG, 32, next + i); // user_data; opcode 0 = NOP
                    }
                    if (batch == 2) {
                        assertThat(ring.nextSqe()).as("SQ ring of two is full").isNull();
                    }
                    assertThat(ring.submitAndWait(batch, 0)).isZero();
                    assertThat(ring.cqReady()).isEqualTo(batch);
                    for (int i = 0; i < batch; i++) {
                        MemorySegment cqe = ring.cqe(i);
                        assertThat(IoUring.res(cqe)).isZero();
                        assertThat(IoUring.userData(cqe)).isEqualTo(next + i);
                    }
                    ring.cqAdvance(batch);
                    next += batch;
                }
            }
        }
    }

    @Test
    void a_wait_with_nothing_queued_times_out_with_etime() {
        try (IoUring ring = ringOrSkip(IoUring.SETUP_SQE128)) {
            assumeTrue(ring.hasExtArg(), "kernel without IORING_FEAT_EXT_ARG");
            assertThat(ring.submitAndWait(1, 20_000_000L)).isEqualTo(Native.ETIME);
            assertThat(ring.cqReady()).isZero();
        }
    }
}
