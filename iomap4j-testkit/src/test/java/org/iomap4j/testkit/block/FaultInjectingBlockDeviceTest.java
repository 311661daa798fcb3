package org.iomap4j.testkit.block;

import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.DeviceIOException;
import org.iomap4j.block.MemoryBlockDevice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** Fault injection (nth, range, one-shot, persistent) and the power-cut model. */
class FaultInjectingBlockDeviceTest {

    private static ByteBuffer filled(int n, int v) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) v);
        return ByteBuffer.wrap(b);
    }

    private static byte at(BlockDevice d, long addr) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        d.read(addr, one);
        return one.get(0);
    }

    @Test
    void nthAndRangeFaultsOneShotAndPersistent() throws IOException {
        try (FaultInjectingBlockDevice d = new FaultInjectingBlockDevice(new MemoryBlockDevice(1 << 16, 512))) {
            d.failNth(FaultInjectingBlockDevice.Op.WRITE, 2, false);
            d.write(0, filled(512, 1));
            assertThatThrownBy(() -> d.write(512, filled(512, 2))).isInstanceOf(DeviceIOException.class)
                    .satisfies(e -> assertThat(((DeviceIOException) e).devAddrBytes()).isEqualTo(512));
            d.write(512, filled(512, 2));
            assertThat(at(d, 512)).isEqualTo((byte) 2);

            FaultInjectingBlockDevice.Fault f = d.failRange(FaultInjectingBlockDevice.Op.READ, 4096, 512, true);
            d.read(0, ByteBuffer.allocate(4096)); // does not touch the range
            assertThatThrownBy(() -> d.read(4000, ByteBuffer.allocate(200))).isInstanceOf(DeviceIOException.class);
            assertThat(d.submit(Bio.read(4096, ByteBuffer.allocate(512)))).isCompletedExceptionally();
            assertThat(f.hits()).isEqualTo(2);
            f.disarm();
            d.read(4096, ByteBuffer.allocate(512));

            d.failNth(FaultInjectingBlockDevice.Op.FLUSH, 1, false);
            assertThatThrownBy(d::flush).isInstanceOf(DeviceIOException.class);
            d.flush();
            assertThat(d.injectedFailures()).isEqualTo(4);
        }
    }

    @Test
    void failedWriteTransfersNothing() throws IOException {
        try (FaultInjectingBlockDevice d = new FaultInjectingBlockDevice(new MemoryBlockDevice(1 << 16, 512))) {
            d.failRange(FaultInjectingBlockDevice.Op.WRITE, 0, 512, false);
            assertThatThrownBy(() -> d.submit(Bio.write(0, filled(1024, 9))).join())
                    .isInstanceOf(CompletionException.class).hasCauseInstanceOf(DeviceIOException.class);
            assertThat(at(d, 0)).isZero();
            assertThat(at(d, 600)).isZero();
        }
    }

    @Test
    void powerCutKeepsFlushedWritesAndDropsOrKeepsUnflushedOnes() throws IOException {
        try (FaultInjectingBlockDevice d = new FaultInjectingBlockDevice(new MemoryBlockDevice(1 << 16, 512))) {
            d.write(0, filled(512, 1));
            d.flush();
            d.write(0, filled(512, 2));     // overwrite, unflushed
            d.write(1024, filled(512, 3));  // unflushed
            assertThat(d.unflushedWrites()).isEqualTo(2);
            try (MemoryBlockDevice none = d.powerCut(new Random(1), 0.0)) {
                assertThat(at(none, 0)).isEqualTo((byte) 1);
                assertThat(at(none, 1024)).isZero();
            }
            try (MemoryBlockDevice all = d.powerCut(new Random(1), 1.0)) {
                assertThat(at(all, 0)).isEqualTo((byte) 2);
                assertThat(at(all, 1024)).isEqualTo((byte) 3);
            }
            // A random subset: every outcome is one of the allowed ones, and over many cuts both appear.
            boolean sawKept = false;
            boolean sawDropped = false;
            Random rnd = new Random(2);
            for (int i = 0; i < 50; i++) {
                try (MemoryBlockDevice some = d.powerCut(rnd, 0.5)) {
                    byte b = at(some, 1024);
                    assertThat(b).isIn((byte) 0, (byte) 3);
                    sawKept |= b == 3;
                    sawDropped |= b == 0;
                    assertThat(at(some, 0)).isIn((byte) 1, (byte) 2);
                }
            }
            assertThat(sawKept && sawDropped).isTrue();
            d.flush();
            assertThat(d.unflushedWrites()).isZero();
            try (MemoryBlockDevice none = d.powerCut(new Random(3), 0.0)) {
                assertThat(at(none, 1024)).isEqualTo((byte) 3);
            }
        }
    }

    @Test
    void fsyncedPageCacheDataSurvivesAPowerCut() throws IOException {
        try (FaultInjectingBlockDevice d = new FaultInjectingBlockDevice(new MemoryBlockDevice(1 << 20, 512));
                org.iomap4j.pagecache.PageCache cache = new org.iomap4j.pagecache.PageCache(
                        org.iomap4j.pagecache.PageCacheConfig.of(1 << 20, 65536))) {
            org.iomap4j.testkit.testfs.TestFs fs = new org.iomap4j.testkit.testfs.TestFs(d, 4096, cache);
            org.iomap4j.testkit.testfs.TestInode f = fs.create(org.iomap4j.testkit.testfs.TestFs.Mode.NEW);
            fs.write(f, 0, filled(8192, 5));
            fs.fsync(f, null);
            fs.write(f, 0, filled(4096, 6));
            org.iomap4j.iomap.Writeback.writeAndWait(f.mapping(), 0, Long.MAX_VALUE); // written, not flushed
            try (MemoryBlockDevice crashed = d.powerCut(new Random(4), 0.0)) {
                assertThat(at(crashed, f.pblkOf(0) * 4096)).isEqualTo((byte) 5);
                assertThat(at(crashed, f.pblkOf(1) * 4096)).isEqualTo((byte) 5);
            }
            assertThat(at(d, f.pblkOf(0) * 4096)).isEqualTo((byte) 6);
        }
    }
}
