package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link ExtGroups#findZero}'s word-at-a-time scan against a bit-by-bit model on seeded random bitmaps. */
class BitmapScanTest {

    private static long modelFindZero(byte[] b, long from, long limit) {
        for (long bit = Math.max(0, from); bit < limit && bit < (long) b.length * 8; bit++) {
            if (!ExtGroups.test(b, bit)) {
                return bit;
            }
        }
        return -1;
    }

    @Test
    void wordScanAgreesWithBitScan() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int round = 0; round < 2000; round++) {
            byte[] b = new byte[rnd.nextBoolean() ? 1024 : 8 + rnd.nextInt(200)];
            java.util.Arrays.fill(b, (byte) 0xff);
            int zeros = rnd.nextInt(4);
            for (int i = 0; i < zeros; i++) {
                ExtGroups.clear(b, rnd.nextInt(b.length * 8));
            }
            long from = rnd.nextInt(b.length * 8 + 10) - 5;
            long limit = rnd.nextInt(b.length * 8 + 10);
            assertThat(ExtGroups.findZero(b, from, limit))
                    .as("seed %d round %d from %d limit %d", seed, round, from, limit)
                    .isEqualTo(modelFindZero(b, from, limit));
        }
    }
}
