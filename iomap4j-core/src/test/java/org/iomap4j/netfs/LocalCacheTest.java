package org.iomap4j.netfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalCacheTest {
    private static final int G = 64 << 10;
    @TempDir
    Path dir;

    private static ByteBuffer bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    private static byte[] read(LocalCache c, String key, ObjectVersion v, long g, int off, int len) {
        ByteBuffer dst = ByteBuffer.allocate(len);
        return c.read(key, v, g, off, dst) ? dst.array() : null;
    }

    @Test
    void granulesAreServedOnlyForTheirVersionAndSurviveReopen() throws Exception {
        ObjectVersion v1 = new ObjectVersion("etag-1", 3L * G + 100);
        LocalCache c = new LocalCache(dir, G, 64L * G);
        c.store("a/b", v1, 1, bytes(G, 1));
        c.store("a/b", v1, 3, bytes(100, 3)); // the short last granule
        assertThat(read(c, "a/b", v1, 1, 10, 50)).isEqualTo(java.util.Arrays.copyOfRange(bytes(G, 1).array(), 10, 60));
        assertThat(read(c, "a/b", new ObjectVersion("etag-2", v1.sizeBytes()), 1, 0, 10)).isNull();
        assertThat(read(c, "a/b", new ObjectVersion("etag-1", v1.sizeBytes() + 1), 3, 0, 10)).as("size differs").isNull();
        assertThat(read(c, "a/c", v1, 1, 0, 10)).isNull();
        assertThat(read(c, "a/b", v1, 2, 0, 10)).isNull();

        LocalCache reopened = new LocalCache(dir, G, 64L * G);
        assertThat(reopened.granuleCount()).isEqualTo(2);
        assertThat(read(reopened, "a/b", v1, 3, 0, 100)).isEqualTo(bytes(100, 3).array());
        assertThat(new LocalCache(dir, 2 * G, 64L * G).granuleCount()).isEqualTo(2);
        assertThat(read(new LocalCache(dir, 2 * G, 64L * G), "a/b", v1, 1, 0, 10))
                .as("a cache made with another granule size is never misread").isNull();
    }

    @Test
    void sizeIsBoundedWithLeastRecentlyUsedEviction() throws Exception {
        long fileBytes = G + LocalCache.HEADER_BYTES;
        ObjectVersion v = new ObjectVersion("e", 10L * G);
        LocalCache c = new LocalCache(dir, G, 3 * fileBytes);
        for (int g = 0; g < 3; g++) {
            c.store("k", v, g, bytes(G, g));
        }
        assertThat(read(c, "k", v, 0, 0, 1)).isNotNull(); // 0 is now the most recently used
        c.store("k", v, 3, bytes(G, 3));
        assertThat(c.granuleCount()).isEqualTo(3);
        assertThat(c.totalBytes()).isLessThanOrEqualTo(3 * fileBytes);
        assertThat(read(c, "k", v, 1, 0, 1)).as("least recently used went first").isNull();
        assertThat(read(c, "k", v, 0, 0, 1)).isNotNull();
        assertThat(read(c, "k", v, 2, 0, 1)).isNotNull();
        assertThat(read(c, "k", v, 3, 0, 1)).isNotNull();
        assertThat(new LocalCache(dir, G, 2 * fileBytes).granuleCount()).as("a smaller bound evicts at start").isEqualTo(2);
    }

    @Test
    void aDamagedGranuleIsAMissAndIsRemoved() throws Exception {
        ObjectVersion v = new ObjectVersion("e", G);
        new LocalCache(dir, G, 8L * G).store("k", v, 0, bytes(G, 7));
        Path f = dir.resolve("granules").resolve(LocalCache.nameOf("k", 0));
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(LocalCache.HEADER_BYTES + 1000);
            int b = raf.read();
            raf.seek(LocalCache.HEADER_BYTES + 1000);
            raf.write(b ^ 0x40);
        }
        LocalCache c = new LocalCache(dir, G, 8L * G);
        assertThat(read(c, "k", v, 0, 0, 16)).isNull();
        assertThat(f).doesNotExist();
        assertThat(c.granuleCount()).isZero();
    }

    @Test
    void retagKeepsUnchangedGranulesAndDropsTheRest() throws Exception {
        ObjectVersion v1 = new ObjectVersion("v1", 4L * G);
        ObjectVersion v2 = new ObjectVersion("v2", 4L * G);
        LocalCache c = new LocalCache(dir, G, 64L * G);
        for (int g = 0; g < 4; g++) {
            c.store("k", v1, g, bytes(G, g));
        }
        c.retagAll("k", v1, v2, g -> g != 2);
        assertThat(read(c, "k", v2, 0, 0, G)).isEqualTo(bytes(G, 0).array());
        assertThat(read(c, "k", v2, 3, 0, G)).isEqualTo(bytes(G, 3).array());
        assertThat(read(c, "k", v2, 2, 0, 1)).isNull();
        assertThat(read(c, "k", v1, 0, 0, 1)).as("old version no longer served").isNull();
        assertThat(new LocalCache(dir, G, 64L * G).read("k", v2, 1, 0, ByteBuffer.allocate(G)))
                .as("CRC still valid after the header rewrite").isTrue();
    }
}
