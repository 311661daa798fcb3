package org.iomap4j.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** Slab memory is zero-filled, aligned to its size (up to 2 MiB), writable end to end, and independent per call. */
final class SlabMemoryTest {
    @Test
    void slabs_are_mmapped_on_linux() {
        assertThat(SlabMemory.usesMmap()).isTrue();
    }

    @Test
    void every_size_is_zeroed_aligned_and_usable() {
        Random rnd = new Random(7);
        for (int size = 4096; size <= 4 * FolioPool.SLAB_BYTES; size *= 2) {
            ByteBuffer a = SlabMemory.allocate(size);
            ByteBuffer b = SlabMemory.allocate(size);
            assertThat(a.capacity()).isEqualTo(size);
            long align = Math.min(size, FolioPool.SLAB_BYTES);
            assertThat(MemorySegment.ofBuffer(a).address() % align).as("alignment of %d bytes", size).isZero();
            assertThat(MemorySegment.ofBuffer(b).address() % align).isZero();
            MemorySegment sa = MemorySegment.ofBuffer(a);
            assertThat(sa.mismatch(MemorySegment.ofArray(new byte[size]))).as("zero-filled").isEqualTo(-1);
            byte[] pattern = new byte[size];
            rnd.nextBytes(pattern);
            a.put(0, pattern);
            byte[] back = new byte[size];
            a.get(0, back);
            assertThat(back).isEqualTo(pattern);
            assertThat(MemorySegment.ofBuffer(b).mismatch(MemorySegment.ofArray(new byte[size])))
                    .as("a second slab is separate memory").isEqualTo(-1);
        }
    }

    @Test
    void unreachable_slabs_are_unmapped_without_harm_to_live_ones() throws Exception {
        ByteBuffer keep = SlabMemory.allocate(FolioPool.SLAB_BYTES);
        keep.put(0, (byte) 42);
        long before = SlabMemory.mappedBytes();
        for (int i = 0; i < 16; i++) {
            ByteBuffer tmp = SlabMemory.allocate(FolioPool.SLAB_BYTES);
            tmp.put(FolioPool.SLAB_BYTES - 1, (byte) i);
        }
        assertThat(SlabMemory.mappedBytes()).isGreaterThanOrEqualTo(before + 16L * FolioPool.SLAB_BYTES);
        // The cleaner unmaps after the GC finds them unreachable: poll for that (bounded); nothing here asserts time.
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (SlabMemory.mappedBytes() > before && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50);
        }
        assertThat(SlabMemory.mappedBytes()).as("dropped slabs still mapped").isLessThanOrEqualTo(before);
        assertThat(keep.get(0)).isEqualTo((byte) 42);
    }
}
