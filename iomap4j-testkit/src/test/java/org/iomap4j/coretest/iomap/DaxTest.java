package org.iomap4j.coretest.iomap;

import org.iomap4j.iomap.Dax;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.iomap4j.block.MappedBlockDevice;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.testfs.TestFs;
import org.iomap4j.testkit.testfs.TestInode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link MappedBlockDevice} against the bytes of its file, and {@link Dax} over the test filesystem on a mapped
 * device whose free space holds 0xAA: reads, writes, zero-range and truncate-page equal a byte model, newly
 * allocated blocks never show 0xAA, and no file data enters the page cache.
 */
class DaxTest {
    @TempDir
    Path tmp;

    private Path file(long size, byte fill) throws IOException {
        Path f = tmp.resolve("dev.img");
        byte[] chunk = new byte[1 << 20];
        Arrays.fill(chunk, fill);
        try (var out = Files.newOutputStream(f)) {
            for (long p = 0; p < size; p += chunk.length) {
                out.write(chunk, 0, (int) Math.min(chunk.length, size - p));
            }
        }
        return f;
    }

    @Test
    void mappedDevice_readsAndWritesTheFileBytes_discardZeroes_rangesAndCloseAreChecked() throws IOException {
        Path f = file(1 << 20, (byte) 0x11);
        MappedBlockDevice dev = MappedBlockDevice.open(f, false);
        try {
            assertThat(dev.sizeBytes()).isEqualTo(1 << 20);
            byte[] b = new byte[5000];
            new Random(1).nextBytes(b);
            dev.write(12345, ByteBuffer.wrap(b));
            ByteBuffer back = ByteBuffer.allocate(5000);
            dev.read(12345, back);
            assertThat(back.array()).isEqualTo(b);
            assertThat(dev.submit(org.iomap4j.block.Bio.read(0, ByteBuffer.allocate(512)))).isCompleted();
            dev.discard(4096, 8192);
            dev.flush();
            byte[] onFile = Files.readAllBytes(f);
            assertThat(Arrays.copyOfRange(onFile, 12345, 12345 + 5000)).isEqualTo(b);
            assertThat(Arrays.copyOfRange(onFile, 4096, 12288)).isEqualTo(new byte[8192]);
            assertThat(onFile[4095]).isEqualTo((byte) 0x11);
            assertThatThrownBy(() -> dev.read((1 << 20) - 100, ByteBuffer.allocate(200))).isInstanceOf(IOException.class)
                    .hasMessageContaining("outside device");
        } finally {
            dev.close();
        }
        assertThatThrownBy(() -> dev.read(0, ByteBuffer.allocate(10))).isInstanceOf(IOException.class)
                .hasMessageContaining("closed");
        Path odd = tmp.resolve("odd");
        Files.write(odd, new byte[1000]);
        assertThatThrownBy(() -> MappedBlockDevice.open(odd, false)).isInstanceOf(IOException.class)
                .hasMessageContaining("multiple of 512");
    }

    @Test
    void dax_randomReadWriteZeroTruncatePage_matchTheModel_newBlocksNeverStale_noPageCache() throws IOException {
        long seed = Long.getLong("iomap4j.seed", System.nanoTime());
        Random rnd = new Random(seed);
        Path f = file(32L << 20, (byte) 0xAA);
        int bs = 4096;
        try (MappedBlockDevice dev = MappedBlockDevice.open(f, false);
                PageCache cache = new PageCache(new PageCacheConfig(8L << 20, 64 << 10, 4L << 20, 0))) {
            TestFs fs = new TestFs(dev, bs, cache);
            TestInode ino = fs.create(TestFs.Mode.NEW);
            byte[] model = new byte[4 << 20];
            long size = 0;
            String op = "";
            try {
                for (int step = 0; step < 2000; step++) {
                    int kind = rnd.nextInt(5);
                    int off = rnd.nextInt(model.length - 70_000);
                    int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 300 : 65_536);
                    op = "step " + step + " kind " + kind + " off " + off + " len " + len + " size " + size;
                    switch (kind) {
                        case 0, 1 -> {
                            byte[] b = new byte[len];
                            rnd.nextBytes(b);
                            for (int i = 0; i < len; i++) {
                                b[i] = b[i] == (byte) 0xAA ? 1 : b[i];
                            }
                            assertThat(Dax.write(ino, off, ByteBuffer.wrap(b), fs)).isEqualTo(len);
                            System.arraycopy(b, 0, model, off, len);
                            size = Math.max(size, off + len);
                        }
                        case 2 -> {
                            Dax.zeroRange(ino, off, len, fs);
                            Arrays.fill(model, off, off + len, (byte) 0);
                        }
                        case 3 -> {
                            Dax.truncatePage(ino, off, fs);
                            int end = (off / bs + 1) * bs;
                            if (off % bs != 0) {
                                Arrays.fill(model, off, end, (byte) 0);
                            }
                        }
                        default -> {
                            ByteBuffer dst = ByteBuffer.allocate(len);
                            int n = Dax.read(ino, off, dst, fs);
                            assertThat(n).isEqualTo((int) Math.max(0, Math.min(len, size - off)));
                            byte[] got = Arrays.copyOf(dst.array(), n);
                            assertThat(got).isEqualTo(Arrays.copyOfRange(model, off, off + n));
                        }
                    }
                    assertThat(ino.sizeBytes()).isEqualTo(size);
                }
                // Whole-file check, then the stale-data check on the device: every block of the file holds the
                // model's bytes (tails past EOF included, which were zeroed when allocated).
                ByteBuffer all = ByteBuffer.allocate((int) size);
                assertThat(Dax.read(ino, 0, all, fs)).isEqualTo((int) size);
                assertThat(all.array()).isEqualTo(Arrays.copyOf(model, (int) size));
                for (long lblk = 0; lblk * bs < size; lblk++) {
                    long pblk = ino.pblkOf(lblk);
                    if (pblk < 0) {
                        continue;
                    }
                    byte[] blk = new byte[bs];
                    dev.read(pblk * bs, ByteBuffer.wrap(blk));
                    for (int i = 0; i < bs; i++) {
                        assertThat(blk[i]).as("stale 0xAA in block " + lblk + " byte " + i).isNotEqualTo((byte) 0xAA);
                    }
                }
                assertThat(ino.mapping().cachedBytes()).as("DAX does not use the page cache").isZero();
                Dax.fsync(ino, 0, Long.MAX_VALUE, fs);
            } catch (Throwable t) {
                throw new AssertionError("seed " + seed + " (-Diomap4j.seed=" + seed + "), " + op, t);
            }
        }
    }
}
