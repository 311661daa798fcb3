package org.iomap4j.coretest.iomap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Delayed allocation with reservations tracked by the page cache (seed 003): a buffered write into a DELALLOC
 * mapping reserves each newly dirtied block once, ENOSPC comes from write() and never from writeback, and every
 * reservation is given back exactly once (after writeback mapped the block, or when the dirty block is dropped
 * by truncate, punch or eviction). The oracle is TestFs's space accounting: free blocks, allocated blocks and
 * reserved blocks must add up to the device after every step, and the file reads back as a byte model.
 */
class DelallocReservationTest {
    private static final int BS = 4096;
    private PageCache cache;

    private TestFs fs(long deviceBlocks, long dirtyLimitBytes) {
        cache = new PageCache(new PageCacheConfig(64L << 20, 64 << 10, dirtyLimitBytes, 0));
        return new TestFs(new MemoryBlockDevice(deviceBlocks * BS, 512), BS, cache);
    }

    @AfterEach
    void close() {
        if (cache != null) {
            cache.close();
        }
    }

    private static void write(TestFs fs, TestInode f, long pos, byte[] data) throws IOException {
        ByteBuffer src = ByteBuffer.wrap(data);
        while (src.hasRemaining()) {
            fs.write(f, pos + src.position(), src);
        }
    }

    private static byte[] read(TestFs fs, TestInode f, int len) throws IOException {
        ByteBuffer dst = ByteBuffer.allocate(len);
        while (dst.hasRemaining()) {
            if (fs.read(f, dst.position(), dst) <= 0) {
                break;
            }
        }
        return dst.array();
    }

    @Test
    void overwriteOfDirtyBlocks_reservesOnce_andSyncGivesEverythingBack() throws IOException {
        TestFs fs = fs(1024, 64L << 20);
        TestInode f = fs.create(TestFs.Mode.DELALLOC);
        long free = fs.freeBlocks();
        write(fs, f, 0, new byte[10 * BS]);
        assertThat(fs.delallocReservedBlocks()).isEqualTo(10);
        write(fs, f, 3 * BS + 17, new byte[2 * BS]); // inside the dirty range: no new reservation
        write(fs, f, 9 * BS + 100, new byte[BS]);      // one block past the end: one more
        assertThat(fs.delallocReservedBlocks()).isEqualTo(11);
        assertThat(fs.freeBlocks()).as("nothing allocated before writeback").isEqualTo(free);
        fs.fsync(f, f.mapping().errors().newCursor());
        assertThat(fs.delallocReservedBlocks()).isZero();
        assertThat(fs.freeBlocks()).isEqualTo(free - 11);
    }

    @Test
    void truncateAndPunchOfDirtyDelallocBlocks_releaseTheirReservations() throws IOException {
        TestFs fs = fs(1024, 64L << 20);
        TestInode f = fs.create(TestFs.Mode.DELALLOC);
        long free = fs.freeBlocks();
        write(fs, f, 0, new byte[32 * BS]);
        assertThat(fs.delallocReservedBlocks()).isEqualTo(32);
        fs.punchHole(f, 4 * BS, 8 * BS);
        assertThat(fs.delallocReservedBlocks()).isEqualTo(24);
        fs.truncate(f, 10 * BS + 1);
        assertThat(fs.delallocReservedBlocks()).as("blocks 0-3 stay; 4-11 were punched, 12-31 are cut")
                .isEqualTo(4);
        fs.truncate(f, 0);
        assertThat(fs.delallocReservedBlocks()).isZero();
        assertThat(fs.freeBlocks()).isEqualTo(free);
    }

    @Test
    void fillingTheDevice_givesEnospcAtWrite_neverInWriteback_andKeepsWhatWasWritten() throws IOException {
        long deviceBlocks = 512;
        TestFs fs = fs(deviceBlocks, 64L << 20); // dirty limit above the device: nothing is written back early
        TestInode a = fs.create(TestFs.Mode.DELALLOC);
        TestInode b = fs.create(TestFs.Mode.DELALLOC);
        long seed = new Random().nextLong();
        System.out.println("DelallocReservationTest fill seed=" + seed);
        Random rnd = new Random(seed);
        byte[] modelA = new byte[(int) (deviceBlocks * BS)];
        byte[] modelB = new byte[(int) (deviceBlocks * BS)];
        long sizeA = 0;
        long sizeB = 0;
        FsException enospc = null;
        for (int i = 0; i < 10_000 && enospc == null; i++) {
            boolean toA = rnd.nextBoolean();
            TestInode f = toA ? a : b;
            byte[] model = toA ? modelA : modelB;
            long size = toA ? sizeA : sizeB;
            int len = 1 + rnd.nextInt(3 * BS);
            long pos = size + rnd.nextInt(BS); // appending, with small gaps (holes are not reserved)
            if (pos + len > model.length) {
                break;
            }
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            ByteBuffer src = ByteBuffer.wrap(data);
            try {
                while (src.hasRemaining()) {
                    fs.write(f, pos + src.position(), src);
                }
            } catch (FsException e) {
                enospc = e;
            }
            int done = src.position();
            System.arraycopy(data, 0, model, (int) pos, done);
            if (done > 0) {
                if (toA) {
                    sizeA = Math.max(sizeA, pos + done);
                } else {
                    sizeB = Math.max(sizeB, pos + done);
                }
            }
            assertThat(fs.delallocReservedBlocks()).isLessThanOrEqualTo(fs.freeBlocks());
        }
        assertThat(enospc).as("the device must fill up").isNotNull();
        assertThat(enospc.errno()).isEqualTo(Errno.ENOSPC);
        assertThat(fs.delallocReservedBlocks()).isPositive();
        // Writeback allocates every reserved block: no ENOSPC here.
        fs.fsync(a, a.mapping().errors().newCursor());
        fs.fsync(b, b.mapping().errors().newCursor());
        assertThat(fs.delallocReservedBlocks()).isZero();
        cache.dropCleanCaches();
        assertThat(read(fs, a, (int) sizeA)).isEqualTo(Arrays.copyOf(modelA, (int) sizeA));
        assertThat(read(fs, b, (int) sizeB)).isEqualTo(Arrays.copyOf(modelB, (int) sizeB));
        // With the space gone, a new block cannot be reserved, but an overwrite of allocated blocks can.
        long free = fs.freeBlocks();
        long beyond = sizeA + 10L * BS;
        if (free == 0) {
            assertThatThrownBy(() -> write(fs, a, beyond, new byte[BS])).isInstanceOf(FsException.class)
                    .hasMessageContaining("no space");
        }
        write(fs, a, 0, new byte[BS]);
        fs.fsync(a, a.mapping().errors().newCursor());
        assertThat(fs.delallocReservedBlocks()).isZero();
    }

    @Test
    void randomWritesTruncatesAndBackgroundWriteback_keepTheAccountingExact() throws IOException {
        TestFs fs = fs(4096, 256 << 10); // a small dirty limit: writeback runs during the writes
        TestInode f = fs.create(TestFs.Mode.DELALLOC);
        long seed = new Random().nextLong();
        System.out.println("DelallocReservationTest random seed=" + seed);
        Random rnd = new Random(seed);
        long total = fs.freeBlocks();
        for (int i = 0; i < 3000; i++) {
            long pos = rnd.nextInt(4 << 20);
            switch (rnd.nextInt(10)) {
                case 0 -> fs.truncate(f, rnd.nextInt(4 << 20));
                case 1 -> fs.punchHole(f, pos, rnd.nextInt(256 << 10));
                case 2 -> fs.fsync(f, f.mapping().errors().newCursor());
                default -> write(fs, f, pos, new byte[1 + rnd.nextInt(64 << 10)]);
            }
            assertThat(fs.delallocReservedBlocks()).as("op %d (seed %d)", i, seed)
                    .isLessThanOrEqualTo(fs.freeBlocks());
        }
        fs.fsync(f, f.mapping().errors().newCursor());
        assertThat(fs.delallocReservedBlocks()).as("seed %d", seed).isZero();
        fs.truncate(f, 0);
        assertThat(fs.freeBlocks()).as("every block back after truncate (seed %d)", seed).isEqualTo(total);
    }
}
