package org.iomap4j.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@link FolioIndex} against a sorted-map model (seeded random inserts and removals of folios of every size,
 * lookups at random offsets, range walks), and {@link FolioPool}'s carving, accounting and limits.
 */
class FolioIndexAndPoolTest {

    private static Folio folio(long posBytes, int sizeBytes) {
        return new Folio(null, posBytes, sizeBytes, 12, ByteBuffer.allocateDirect(sizeBytes));
    }

    @Test
    void indexMatchesSortedMapModel() {
        long seed = new Random().nextLong();
        try {
            runIndexModel(seed);
        } catch (AssertionError e) {
            throw new AssertionError("FolioIndex model failed with seed " + seed + ": " + e.getMessage(), e);
        }
    }

    private static void runIndexModel(long seed) {
        Random rnd = new Random(seed);
        FolioIndex index = new FolioIndex();
        TreeMap<Long, Folio> model = new TreeMap<>();
        long spanBytes = 64L << 20; // 32 chunks
        for (int step = 0; step < 20_000; step++) {
            int op = rnd.nextInt(10);
            if (op < 5) {
                int size = 4096 << rnd.nextInt(10); // 4 KiB .. 2 MiB
                long pos = (rnd.nextLong(spanBytes) / size) * size;
                var floor = model.floorEntry(pos + size - 1);
                boolean free = floor == null || floor.getValue().endBytes() <= pos;
                assertThat(index.isFree(pos, size)).as("isFree(%d, %d)", pos, size).isEqualTo(free);
                if (free) {
                    Folio f = folio(pos, size);
                    index.insert(f);
                    model.put(pos, f);
                }
            } else if (op < 8 && !model.isEmpty()) {
                Long ceiling = model.ceilingKey(rnd.nextLong(spanBytes));
                long key = ceiling != null ? ceiling : model.firstKey();
                Folio f = model.remove(key);
                assertThat(index.remove(f)).isTrue();
                assertThat(index.remove(f)).as("second removal").isFalse();
            } else {
                long start = rnd.nextLong(spanBytes);
                long end = start + rnd.nextLong(8L << 20);
                List<Folio> expected = new ArrayList<>();
                var floor = model.floorEntry(start);
                if (floor != null && floor.getValue().endBytes() > start) {
                    expected.add(floor.getValue());
                }
                expected.addAll(model.subMap(start, false, end, false).values());
                List<Folio> actual = new ArrayList<>();
                index.range(start, end).forEach(actual::add);
                assertThat(actual).as("range [%d, %d)", start, end).containsExactlyElementsOf(expected);
            }
            long probe = rnd.nextLong(spanBytes);
            var e = model.floorEntry(probe);
            Folio want = e != null && e.getValue().endBytes() > probe ? e.getValue() : null;
            assertThat(index.get(probe)).as("get(%d)", probe).isSameAs(want);
            assertThat(index.size()).isEqualTo(model.size());
        }
        List<Folio> all = new ArrayList<>();
        index.all().forEach(all::add);
        assertThat(all).containsExactlyElementsOf(model.values());
        for (Folio f : List.copyOf(model.values())) {
            assertThat(index.remove(f)).isTrue();
        }
        assertThat(index.size()).isZero();
        assertThat(index.chunkCount()).as("empty chunks are dropped").isZero();
    }

    @Test
    void poolCarvesSlabsIntoAlignedDisjointPieces() {
        FolioPool pool = new FolioPool(64L << 20, 0);
        Map<ByteBuffer, Boolean> seen = new IdentityHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        Random rnd = new Random(7);
        for (int i = 0; i < 600; i++) {
            int size = 4096 << rnd.nextInt(4);
            ByteBuffer b = pool.take(size, true);
            assertThat(b.isDirect()).isTrue();
            assertThat(b.capacity()).isEqualTo(size);
            long addr = MemorySegment.ofBuffer(b).address();
            assertThat(addr % 4096).as("page aligned").isZero();
            ranges.add(new long[] {addr, addr + size});
            seen.put(b, true);
        }
        ranges.sort((a, b) -> Long.compare(a[0], b[0]));
        for (int i = 1; i < ranges.size(); i++) {
            assertThat(ranges.get(i)[0]).as("pieces never overlap").isGreaterThanOrEqualTo(ranges.get(i - 1)[1]);
        }
        // The rest of each slab is pooled and accounted.
        assertThat(pool.pooledBytes()).isGreaterThan(0).isLessThan(FolioPool.SLAB_BYTES);
        pool.close();
        assertThat(pool.pooledBytes()).isZero();
    }

    @Test
    void poolRespectsItsLimitAndReusesGivenMemory() {
        long limit = 256 << 10;
        FolioPool pool = new FolioPool(limit, 0);
        ByteBuffer a = pool.take(4096, true);
        assertThat(pool.pooledBytes()).as("a slab no larger than the limit allows").isLessThanOrEqualTo(limit);
        List<ByteBuffer> taken = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            taken.add(pool.take(4096, true));
            assertThat(pool.pooledBytes()).isLessThanOrEqualTo(limit);
        }
        int given = 0;
        for (ByteBuffer b : taken) {
            if (pool.give(b)) {
                given++;
            }
            assertThat(pool.pooledBytes()).isLessThanOrEqualTo(limit);
        }
        assertThat(given).isPositive().isLessThan(taken.size());
        ByteBuffer again = pool.take(4096, false);
        assertThat(taken).as("a given buffer is handed out again").anySatisfy(b -> assertThat(b).isSameAs(again));
        pool.close();
        assertThat(pool.give(a)).as("closed pool keeps nothing").isFalse();
    }

    @Test
    @org.junit.jupiter.api.Timeout(60)
    void prefillKeepsMemoryReadyWhileGrowing() throws InterruptedException {
        long prefill = 16L << 20;
        FolioPool pool = new FolioPool(64L << 20, prefill);
        pool.take(4096, true);
        pool.awaitPrefill();
        assertThat(pool.pooledBytes()).isGreaterThanOrEqualTo(prefill - FolioPool.SLAB_BYTES)
                .isLessThanOrEqualTo(64L << 20);
        pool.close();
        assertThat(pool.pooledBytes()).isZero();
    }
}
