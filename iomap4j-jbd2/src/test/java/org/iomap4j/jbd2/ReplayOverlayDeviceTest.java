package org.iomap4j.jbd2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.Bio;
import org.iomap4j.block.MemoryBlockDevice;
import org.junit.jupiter.api.Test;

/** The in-memory replay device: reads like a device replay, refuses every write, leaves the device untouched. */
class ReplayOverlayDeviceTest {
    private static final int BS = 1024;

    @Test
    void readsLikeTheDeviceReplayAndNeverWrites() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        MemoryJournals.Fixture fx = MemoryJournals.create(BS, 1024, 10, 128, rnd);
        JournalWriter w = JournalWriter.open(fx.device(), fx.map(), BS, JournalWriter.Features.CSUM_V3_64BIT);
        for (int i = 0; i < 5; i++) {
            JournalTransaction tx = new JournalTransaction(BS);
            for (int k = 0; k < 6; k++) {
                byte[] img = new byte[BS];
                rnd.nextBytes(img);
                tx.logBlock(500 + rnd.nextInt(100), img);
            }
            w.commit(tx);
        }
        byte[] before = fx.snapshot();
        MemoryBlockDevice replayed = fx.copy();
        RecoveryResult onDevice = JournalRecovery.replay(replayed, fx.map(), BS);
        ReplayOverlayDevice overlay = JournalRecovery.replayInMemory(fx.device(), fx.map(), BS);
        assertThat(overlay.result()).isEqualTo(onDevice);
        assertThat(fx.snapshot()).as("device untouched").isEqualTo(before);
        assertThat(overlay.isOverlaid(10)).as("journal superblock cleaned in memory").isTrue();
        assertThat(JournalRecovery.needsRecovery(overlay, fx.map(), BS)).isFalse();

        byte[] all = new byte[(int) overlay.sizeBytes()];
        overlay.read(0, ByteBuffer.wrap(all));
        assertThat(all).isEqualTo(replayed.toByteArray());
        for (int i = 0; i < 300; i++) {
            long pos = rnd.nextLong(overlay.sizeBytes() - 5000);
            int len = 1 + rnd.nextInt(4999);
            ByteBuffer a = ByteBuffer.allocate(len);
            ByteBuffer b = ByteBuffer.allocate(len);
            ByteBuffer c = ByteBuffer.allocate(len);
            overlay.read(pos, a);
            overlay.submit(Bio.read(pos, b)).join();
            replayed.read(pos, c);
            assertThat(a.array()).isEqualTo(c.array());
            assertThat(b.array()).isEqualTo(c.array());
        }
        assertThatThrownBy(() -> overlay.write(0, ByteBuffer.allocate(BS)))
                .isInstanceOfSatisfying(FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EROFS));
        assertThatThrownBy(() -> overlay.discard(0, BS)).isInstanceOf(FsException.class);
        assertThat(overlay.submit(Bio.write(0, ByteBuffer.allocate(BS)))).isCompletedExceptionally();
        assertThat(fx.snapshot()).isEqualTo(before);
    }
}
