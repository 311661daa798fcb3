package org.iomap4j.coretest.buf;

import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.block.DeviceIOException;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The metadata buffer cache: merging, forget, eviction under budget, errors, write-order hook. */
class BufferCacheTest {
    private MemoryBlockDevice mem;
    private FaultInjectingBlockDevice dev;
    private BufferCache bc;

    @BeforeEach
    void setUp() {
        mem = new MemoryBlockDevice(1 << 20, 512);
        dev = new FaultInjectingBlockDevice(mem);
        bc = new BufferCache(dev, 1024, 64 << 10);
    }

    @AfterEach
    void tearDown() throws IOException {
        bc.close();
        dev.close();
    }

    private void dirty(long pblk, byte value) throws IOException {
        try (Buffer b = bc.read(pblk)) {
            b.lock();
            try {
                java.util.Arrays.fill(b.array(), value);
                b.markDirty();
            } finally {
                b.unlock();
            }
        }
    }

    private byte onDisk(long pblk) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        mem.read(pblk * 1024, one);
        return one.get(0);
    }

    @Test
    void consecutiveDirtyBlocksAreWrittenAsOneRequestInAddressOrder() throws IOException {
        for (long p : new long[] {12, 10, 11, 20, 13}) {
            dirty(p, (byte) p);
        }
        List<long[]> hooked = new ArrayList<>();
        bc.setWriteOrderHook(hooked::add);
        long reqs = dev.stats().writeRequests();
        bc.syncDirty();
        assertThat(dev.stats().writeRequests() - reqs).isEqualTo(2); // [10..13] and [20]
        assertThat(hooked).hasSize(1);
        assertThat(hooked.getFirst()).containsExactly(10, 11, 12, 13, 20);
        for (long p : new long[] {10, 11, 12, 13, 20}) {
            assertThat(onDisk(p)).isEqualTo((byte) p);
        }
        assertThat(bc.dirtyCount()).isZero();
    }

    @Test
    void forgetDropsAPendingWrite() throws IOException {
        dirty(5, (byte) 9);
        bc.forget(5);
        bc.syncDirty();
        assertThat(onDisk(5)).isZero();
        assertThat(bc.dirtyCount()).isZero();
    }

    @Test
    void cleanUnreferencedBuffersAreEvictedUnderBudgetButDirtyOnesStay() throws IOException {
        dirty(0, (byte) 1);
        for (long p = 1; p < 200; p++) {
            try (Buffer b = bc.read(p)) {
                assertThat(b.pblk()).isEqualTo(p);
            }
        }
        assertThat(bc.cachedBytes()).isLessThanOrEqualTo(64 << 10);
        assertThat(bc.dirtyCount()).isEqualTo(1);
        bc.flush();
        assertThat(onDisk(0)).isEqualTo((byte) 1);
    }

    @Test
    void writeErrorKeepsTheBufferDirtyAndIsThrown() throws IOException {
        dirty(3, (byte) 7);
        dev.failRange(FaultInjectingBlockDevice.Op.WRITE, 3 * 1024, 1024, false);
        assertThatThrownBy(bc::syncDirty).isInstanceOf(DeviceIOException.class);
        assertThat(bc.dirtyCount()).isEqualTo(1);
        bc.syncDirty();
        assertThat(onDisk(3)).isEqualTo((byte) 7);
    }

    @Test
    void readErrorIsNotCachedAndOutOfRangeBlocksFail() throws IOException {
        mem.write(4 * 1024, ByteBuffer.wrap(new byte[] {42}));
        dev.failRange(FaultInjectingBlockDevice.Op.READ, 4 * 1024, 1024, false);
        assertThatThrownBy(() -> bc.read(4)).isInstanceOf(DeviceIOException.class);
        try (Buffer b = bc.read(4)) {
            assertThat(b.array()[0]).isEqualTo((byte) 42);
        }
        assertThatThrownBy(() -> bc.read(1024)).isInstanceOf(DeviceIOException.class).hasMessageContaining("outside");
        assertThatThrownBy(() -> bc.read(-1)).isInstanceOf(DeviceIOException.class);
    }
}
