package org.iomap4j.pagecache;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import org.iomap4j.internal.Libc;

/**
 * Anonymous memory for folio slabs, straight from mmap(2), so that it is zeroed once (by the kernel) instead of
 * twice and prefaulted in one call. It exists because on a growing cache the prefill thread's
 * {@code Arena.allocate} (malloc, then a Java memset that faults every 4 KiB page in) showed up as ~10% of the
 * server's CPU during a cold sequential read through the mount; with this, a cold 512 MiB sequential read through
 * the mount (images on tmpfs) went 1,103-1,255 to 1,316-1,380 MiB/s in three interleaved pairs.
 *
 * <p>A request is mapped aligned to its size up to {@link FolioPool#SLAB_BYTES} (map size + alignment, unmap both
 * ends), then prefaulted with MADV_POPULATE_WRITE (Linux 5.14+; if refused, pages fault in on first use).
 * Transparent huge pages are deliberately not asked for: MADV_HUGEPAGE slabs made the same read 2-3x slower on the
 * 2-vCPU test VM (huge-page faults with compaction and host-side backing of fresh guest memory).
 *
 * <p>Memory is unmapped when the GC finds the buffer (and every slice of it) unreachable, as
 * with {@code Arena.ofAuto()}. Where mmap cannot be linked it falls back to {@code Arena.ofAuto()}; a failed mmap
 * is an {@link OutOfMemoryError}, as a failed allocation would be.
 * The calls and their constants come from {@link Libc}. Thread-safe.
 */
final class SlabMemory {
    /** Whether mmap, munmap and madvise link (else slabs come from {@code Arena.ofAuto()}). */
    private static final boolean MMAP_AVAILABLE;

    static {
        boolean ok;
        try {
            Libc.linkMemoryCalls();
            ok = true;
        } catch (RuntimeException | Error e) {
            System.getLogger(SlabMemory.class.getName()).log(System.Logger.Level.DEBUG,
                    "mmap unavailable, folio slabs come from Arena.ofAuto(): " + e);
            ok = false;
        }
        MMAP_AVAILABLE = ok;
    }

    /** Bytes mapped by {@link #allocate} and not yet unmapped (the mmap path only). */
    private static final java.util.concurrent.atomic.AtomicLong MAPPED_BYTES = new java.util.concurrent.atomic.AtomicLong();

    private SlabMemory() {
    }

    /** Bytes of folio memory mapped now and not yet unmapped by the cleaner (0 without mmap). */
    static long mappedBytes() {
        return MAPPED_BYTES.get();
    }

    /** Whether slabs come from mmap (false: from {@code Arena.ofAuto()}). */
    static boolean usesMmap() {
        return MMAP_AVAILABLE;
    }

    /**
     * New zero-filled memory of {@code sizeBytes} (a power of two, at least 4 KiB), aligned to its size up to
     * 2 MiB, freed when unreachable.
     *
     * @throws OutOfMemoryError if the system has no memory for it
     */
    static ByteBuffer allocate(int sizeBytes) {
        if (!MMAP_AVAILABLE) {
            return arena(sizeBytes);
        }
        long align = Math.min(sizeBytes, FolioPool.SLAB_BYTES);
        // mmap gives page alignment; for larger alignments map `align` extra bytes and trim both ends.
        long extra = align > PageCacheConfig.MIN_FOLIO_BYTES ? align : 0;
        long base = Libc.mmap(0L, sizeBytes + extra, Libc.PROT_READ_WRITE, Libc.MAP_PRIVATE_ANONYMOUS, -1, 0L);
        if (base == Libc.MAP_FAILED) {
            throw new OutOfMemoryError("mmap of " + (sizeBytes + extra) + " bytes for folio memory failed");
        }
        long addr = extra == 0 ? base : (base + align - 1) & -align;
        if (addr > base) {
            unmap(base, addr - base);
        }
        long tail = base + sizeBytes + extra - (addr + sizeBytes);
        if (tail > 0) {
            unmap(addr + sizeBytes, tail);
        }
        // Prefault now (usually on the prefill thread) rather than on the request path. Best effort: refused
        // (EINVAL) before Linux 5.14, and then pages fault in on first use.
        Libc.madvise(addr, sizeBytes, Libc.MADV_POPULATE_WRITE);
        long size = sizeBytes;
        MAPPED_BYTES.addAndGet(size);
        return MemorySegment.ofAddress(addr).reinterpret(size, Arena.ofAuto(), s -> {
            unmap(s.address(), size);
            MAPPED_BYTES.addAndGet(-size);
        }).asByteBuffer();
    }

    private static void unmap(long addr, long lengthBytes) {
        if (Libc.munmap(addr, lengthBytes) != 0) {
            // Only EINVAL (a bad range: a bug here) is possible for a range we mapped.
            throw new IllegalStateException("munmap of " + lengthBytes + " bytes at 0x" + Long.toHexString(addr)
                    + " failed");
        }
    }

    private static ByteBuffer arena(int sizeBytes) {
        return Arena.ofAuto().allocate(sizeBytes, PageCacheConfig.MIN_FOLIO_BYTES).asByteBuffer();
    }
}
