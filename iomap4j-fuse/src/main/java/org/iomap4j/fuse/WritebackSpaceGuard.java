package org.iomap4j.fuse;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.StatFs;
import org.iomap4j.vfs.Vfs;

/**
 * ENOSPC at write(2) with the FUSE writeback cache (node layer). With the cache a write(2) ends in the kernel's page
 * cache; the server sees the data only at writeback, where ENOSPC can no longer reach the writer (it surfaces at
 * fsync/close, and the bytes are lost). The kernel bounds what it holds for one mount ({@link BdiDirtyLimit}: B
 * bytes), so the guard keeps a reserve R = B + margin of free space and decides per open:
 * <ul>
 *   <li><b>plenty</b> (free ≥ 2R): write-mode opens use the cache (no FOPEN_DIRECT_IO);</li>
 *   <li><b>low</b> (free &lt; 2R): new write-mode opens get FOPEN_DIRECT_IO, so each write(2) is a WRITE the server
 *       answers, ENOSPC included. Handles opened with the cache before stay cached but are <em>gated</em>: on entering
 *       this state the server drops the kernel's cached attributes of their inodes and answers their attributes with
 *       a zero timeout, so the kernel's write path (fs/fuse/file.c fuse_cache_write_iter, which refreshes size and
 *       mode before every cached write) sends a GETATTR carrying the handle (FUSE_GETATTR_FH) first;</li>
 *   <li><b>reserve reached</b> (free &lt; R): that GETATTR is answered ENOSPC, which the kernel returns from
 *       write(2). What the kernel still holds (≤ B) fits in the reserve; direct handles go on to the last block.</li>
 * </ul>
 * Per inode the mode stays consistent: a new write open of an inode that has a cached writer open is cached (and
 * gated), of an inode that has a direct handle open is direct.
 *
 * <p>Limits (docs/architecture.md): the gate runs at the start of each write(2); one call that began while free
 * space was above the reserve can still write up to its own length, so the margin (automatic: a sixteenth of the
 * filesystem, 1 MiB to {@link #AUTO_MARGIN_BYTES}) is the largest single write(2) through a cached handle that
 * cannot lose data at the very end of the disk. Without root the kernel's bound (1% of the dirty threshold, ~48 MiB
 * on a 24 GiB machine) cannot be lowered, so a small image then never caches writes. The same GETATTR also precedes a read(2) crossing EOF and lseek(SEEK_END) on such a handle,
 * which then also fail with ENOSPC once the reserve is reached. Writes through a shared mmap have no server hook
 * at all (as without the cache).
 *
 * <p>Thread-safe: per-inode counts in a concurrent map (compute is the per-inode lock, a leaf); the state is a
 * volatile flag re-read from {@link Vfs#statfs} on every check (statfs takes the filesystem's counters' locks only).
 */
final class WritebackSpaceGuard {
    private static final Logger LOG = System.getLogger(WritebackSpaceGuard.class.getName());
    /** Largest margin above the kernel's dirty bound when no reserve is configured: 32 MiB. */
    static final long AUTO_MARGIN_BYTES = 32L << 20;
    /** Smallest dirty bound and margin the guard sets or uses: 1 MiB. */
    static final long MIN_BYTES = 1L << 20;
    /**
     * WRITEs re-read free space after this many bytes (statfs takes the allocator's monitors): the low state is then
     * noticed at most this late, well inside the R bytes between it and the gate (R ≥ 2 MiB).
     */
    static final long REFRESH_EVERY_BYTES = 512 << 10;
    private final java.util.concurrent.atomic.AtomicLong writtenSinceRefresh = new java.util.concurrent.atomic.AtomicLong();

    /** Open write-mode handles of one inode by mode. */
    private record Modes(int cachedWriters, int direct) {
    }

    private final Vfs vfs;
    private final long requestedReserveBytes;
    private final ConcurrentHashMap<Long, Modes> nodes = new ConcurrentHashMap<>();
    /** Write-mode handles open with the cache, mount-wide (the kernel may hold dirty pages while any is open). */
    private final java.util.concurrent.atomic.AtomicInteger cachedWriterHandles =
            new java.util.concurrent.atomic.AtomicInteger();
    private volatile long dirtyBoundBytes;
    private volatile long reserveBytes;
    private volatile boolean low;

    /**
     * @param requestedReserveBytes the reserve R in bytes, or 0 for the kernel's bound plus
     *                              {@link #AUTO_MARGIN_BYTES}; an explicit R also sets the bdi's max_bytes to R/4
     *                              at {@link #mounted} when the server may (root)
     */
    WritebackSpaceGuard(Vfs vfs, long requestedReserveBytes) {
        this.vfs = vfs;
        this.requestedReserveBytes = Math.max(0, requestedReserveBytes);
        dirtyBound(BdiDirtyLimit.boundBytes(BdiDirtyLimit.FUSE_DEFAULT_RATIO_PPM), Long.MAX_VALUE);
    }

    /** For tests: a known dirty bound B instead of the kernel's, for a filesystem of {@code totalBytes}. */
    WritebackSpaceGuard(Vfs vfs, long requestedReserveBytes, long dirtyBoundBytes, long totalBytes) {
        this.vfs = vfs;
        this.requestedReserveBytes = Math.max(0, requestedReserveBytes);
        dirtyBound(dirtyBoundBytes, totalBytes);
    }

    /** {@code v} clamped to {@code [lo, hi]} (lo wins). */
    private static long clamp(long v, long lo, long hi) {
        return Math.max(lo, Math.min(v, hi));
    }

    /**
     * Sets B and R. Automatic R: B + a sixteenth of the filesystem, 1 MiB to {@link #AUTO_MARGIN_BYTES}.
     *
     * @param totalBytes the filesystem's size (statfs f_blocks), {@code Long.MAX_VALUE} if unknown
     */
    private void dirtyBound(long boundBytes, long totalBytes) {
        dirtyBoundBytes = boundBytes;
        long r = requestedReserveBytes;
        if (r == 0) {
            r = boundBytes + clamp(totalBytes / 16, MIN_BYTES, AUTO_MARGIN_BYTES);
        } else if (boundBytes > r / 2) {
            // The kernel may hold more than half the reserve: keep a margin of half the requested reserve.
            r = boundBytes + r / 2;
        }
        reserveBytes = r;
    }

    /**
     * After the mount exists: reads the mount's bdi, after lowering its max_bytes (root, kernel 6.2+; never raised)
     * to a quarter of an explicit reserve, or automatically to a sixteenth of the filesystem (at least 1 MiB), so
     * that a small image can still use the cache.
     */
    void mounted(Path mountpoint) {
        String bdi;
        try {
            bdi = BdiDirtyLimit.name((Long) Files.getAttribute(mountpoint, "unix:dev"));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "cannot stat " + mountpoint + " for its bdi; assuming FUSE's 1% dirty bound: " + e);
            return;
        }
        long totalBytes;
        try {
            StatFs s = vfs.statfs();
            totalBytes = s.blocks() * s.blockSizeBytes();
        } catch (IOException e) {
            totalBytes = Long.MAX_VALUE;
        }
        long kernelBound = BdiDirtyLimit.boundBytes(bdi);
        long want = requestedReserveBytes > 0 ? Math.max(MIN_BYTES, requestedReserveBytes / 4)
                : clamp(totalBytes / 16, MIN_BYTES, kernelBound);
        if (want < kernelBound) {
            BdiDirtyLimit.setMaxBytes(bdi, want);
        }
        dirtyBound(BdiDirtyLimit.boundBytes(bdi), totalBytes);
        LOG.log(Level.INFO, "writeback cache: bdi " + bdi + " may hold " + (dirtyBoundBytes >> 10) + " KiB dirty;"
                + " write opens go direct below " + (2 * reserveBytes >> 10) + " KiB free, cached writes get ENOSPC"
                + " below " + (reserveBytes >> 10) + " KiB");
    }

    long reserveBytes() {
        return reserveBytes;
    }

    long dirtyBoundBytes() {
        return dirtyBoundBytes;
    }

    /** Free space writes may still take, in bytes (statfs f_bavail: minus delalloc reservations and the root reserve). */
    private long freeBytes() throws IOException {
        StatFs s = vfs.statfs();
        return s.availBlocks() * s.blockSizeBytes();
    }

    /**
     * Re-reads the free space. Returns the nodeids whose kernel attributes must now be dropped (entering the low
     * state: every inode with a cached writer), else an empty list.
     */
    List<Long> refresh() throws IOException {
        boolean nowLow = freeBytes() < 2 * reserveBytes;
        boolean was = low;
        low = nowLow;
        if (!nowLow || was) {
            return List.of();
        }
        List<Long> gated = new ArrayList<>();
        nodes.forEach((nid, m) -> {
            if (m.cachedWriters() > 0) {
                gated.add(nid);
            }
        });
        if (!gated.isEmpty()) {
            LOG.log(Level.DEBUG, () -> "free space below " + 2 * reserveBytes + " bytes: gating cached writers "
                    + gated);
        }
        return gated;
    }

    /** After a WRITE of {@code bytes}: whether enough was written since the last look to {@link #refresh} now. */
    boolean refreshDue(long bytes) {
        if (writtenSinceRefresh.addAndGet(bytes) < REFRESH_EVERY_BYTES) {
            return false;
        }
        writtenSinceRefresh.set(0);
        return true;
    }

    /**
     * Registers a write-mode open of {@code nodeid} and decides its mode (call {@link #refresh} first).
     *
     * @return true for FOPEN_DIRECT_IO, false for the cache
     */
    boolean openForWrite(long nodeid) {
        boolean[] direct = new boolean[1];
        nodes.compute(nodeid, (k, m) -> {
            Modes have = m == null ? new Modes(0, 0) : m;
            boolean d = have.cachedWriters() > 0 ? false : have.direct() > 0 || low;
            direct[0] = d;
            if (!d) {
                cachedWriterHandles.incrementAndGet();
            }
            return d ? new Modes(have.cachedWriters(), have.direct() + 1)
                    : new Modes(have.cachedWriters() + 1, have.direct());
        });
        return direct[0];
    }

    /** Unregisters a write-mode handle registered by {@link #openForWrite}. */
    void released(long nodeid, boolean direct) {
        nodes.computeIfPresent(nodeid, (k, m) -> {
            if (!direct && m.cachedWriters() > 0) {
                cachedWriterHandles.decrementAndGet();
            }
            Modes n = direct ? new Modes(m.cachedWriters(), Math.max(0, m.direct() - 1))
                    : new Modes(Math.max(0, m.cachedWriters() - 1), m.direct());
            return n.cachedWriters() == 0 && n.direct() == 0 ? null : n;
        });
    }

    /** Whether {@code nodeid} has a write-mode handle open with the cache (the kernel may hold dirty pages of it). */
    boolean hasCachedWriter(long nodeid) {
        Modes m = nodes.get(nodeid);
        return m != null && m.cachedWriters() > 0;
    }

    /** Whether the kernel must re-ask the attributes of {@code nodeid} before each write (low, cached writer). */
    boolean gated(long nodeid) {
        if (!low) {
            return false;
        }
        Modes m = nodes.get(nodeid);
        return m != null && m.cachedWriters() > 0;
    }

    /**
     * For a write or allocation of {@code lengthBytes} that does not come from the kernel's cache (a direct
     * handle's WRITE, FALLOCATE): while any cached writer is open the kernel may still hold up to B dirty bytes that
     * need space at writeback, so such a request may not take the last B bytes. Without a cached writer open
     * (close wrote everything back: fuse_flush) it may take everything.
     *
     * @throws FsException ENOSPC when the request would leave less than B free while a cached writer is open
     */
    void checkUncachedWrite(long nodeid, long lengthBytes) throws IOException {
        if (cachedWriterHandles.get() == 0) {
            return;
        }
        long free = freeBytes();
        if (free - lengthBytes < dirtyBoundBytes) {
            throw new FsException(Errno.ENOSPC, "nodeid " + nodeid + ": " + lengthBytes + " bytes with " + free
                    + " free would eat into the " + dirtyBoundBytes + " bytes the kernel's writeback cache may hold");
        }
    }

    /**
     * The gate, for a GETATTR carrying a cached write-mode handle of {@code nodeid}.
     *
     * @throws FsException ENOSPC when free space is below the reserve
     */
    void checkCachedWrite(long nodeid) throws IOException {
        long free = freeBytes();
        if (free < reserveBytes) {
            throw new FsException(Errno.ENOSPC, "nodeid " + nodeid + ": " + free + " bytes free, below the "
                    + reserveBytes + "-byte reserve for the kernel's writeback cache");
        }
    }

    /**
     * Open flags as the filesystem should see them under the writeback cache: the kernel owns the file position
     * and size, so O_APPEND is dropped (the kernel sends each append at its own offset), and a write-only open
     * becomes read-write (the kernel reads pages to fill partial ones).
     *
     * @param flags Vfs open flags
     * @return the flags for the Vfs
     */
    static int cachedOpenFlags(int flags) {
        flags &= ~Vfs.O_APPEND;
        if ((flags & Vfs.O_ACCMODE) == Vfs.O_WRONLY) {
            flags = (flags & ~Vfs.O_ACCMODE) | Vfs.O_RDWR;
        }
        return flags;
    }
}
