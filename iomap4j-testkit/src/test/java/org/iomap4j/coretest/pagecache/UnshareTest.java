package org.iomap4j.coretest.pagecache;

import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * fileUnshare over the test filesystem's copy-on-write mode (SHARED mappings with the shared blocks as srcmap):
 * afterwards every data block lives in new storage with unchanged contents (read from the srcmap, never zeroed),
 * holes stay holes, and newer dirty data in the cache is kept.
 */
class UnshareTest {
    private final MemoryBlockDevice dev = new MemoryBlockDevice(64L << 20, 512);
    private final PageCache cache = new PageCache(new PageCacheConfig(32L << 20, 64 << 10, 16L << 20, 0));

    @AfterEach
    void tearDown() {
        cache.close();
        dev.close();
    }

    @ParameterizedTest
    @ValueSource(ints = {1024, 4096})
    void unshare_movesEveryDataBlock_keepsContents_andHoles(int bs) throws IOException {
        TestFs fs = new TestFs(dev, bs, cache);
        TestInode f = fs.create(TestFs.Mode.COW);
        Random rnd = new Random(bs);
        int nblocks = 40;
        byte[] model = new byte[nblocks * bs - 100];
        // Data in [0, 10) and [15, 40) blocks; a hole in [10, 15).
        for (int[] run : new int[][] {{0, 10}, {15, 40}}) {
            byte[] b = new byte[(run[1] - run[0]) * bs];
            rnd.nextBytes(b);
            int len = Math.min(b.length, model.length - run[0] * bs);
            System.arraycopy(b, 0, model, run[0] * bs, len);
            fs.write(f, (long) run[0] * bs, ByteBuffer.wrap(b, 0, len));
        }
        Writeback.writeAndWait(f.mapping(), 0, Long.MAX_VALUE);
        long[] before = new long[nblocks];
        for (int l = 0; l < nblocks; l++) {
            before[l] = f.pblkOf(l);
        }
        // Newer data for block 3, dirty in the cache only: unshare must not replace it with the shared copy.
        byte[] newer = new byte[bs];
        rnd.nextBytes(newer);
        fs.write(f, 3L * bs, ByteBuffer.wrap(newer));
        System.arraycopy(newer, 0, model, 3 * bs, bs);
        cache.dropCleanCaches();

        BufferedIo.fileUnshare(f, 0, 1L << 30, fs);
        Writeback.writeAndWait(f.mapping(), 0, Long.MAX_VALUE);
        cache.dropCleanCaches();

        for (int l = 0; l < nblocks; l++) {
            boolean hole = l >= 10 && l < 15;
            if (hole) {
                assertThat(f.pblkOf(l)).as("hole block " + l + " stays unallocated").isEqualTo(before[l]);
            } else {
                assertThat(f.pblkOf(l)).as("block " + l + " moved to new storage").isNotEqualTo(before[l]);
            }
        }
        ByteBuffer back = ByteBuffer.allocate(model.length);
        fs.read(f, 0, back);
        assertThat(back.array()).as("contents survive unsharing").isEqualTo(model);
        assertThat(Arrays.copyOfRange(back.array(), 10 * bs, 15 * bs)).containsOnly(0);
    }
}
