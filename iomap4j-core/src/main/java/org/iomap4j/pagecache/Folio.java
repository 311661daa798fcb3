package org.iomap4j.pagecache;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One cached, naturally aligned, power-of-two run of a file's bytes (the kernel's {@code struct folio} plus its
 * {@code iomap_folio_state}): the unit of page-cache memory, locking, reclaim and writeback.
 *
 * <p>Holds {@code sizeBytes} (4 KiB..2 MiB, never below the filesystem block size) of file bytes starting at
 * {@code posBytes} in page-aligned native memory (so that device reads and writes go straight to and from it:
 * a heap array costs the JDK an extra copy through a temporary direct buffer on every request, and O_DIRECT
 * devices need aligned memory; recycled through {@link FolioPool} when the folio leaves its mapping, else freed
 * by the GC), and three bits per filesystem block: uptodate (the bytes equal the file's),
 * dirty (the bytes are newer than the disk) and reserved (a dirty block of a DELALLOC mapping holding a space
 * reservation until writeback maps it: the reservation lives with the dirty state, seed 003). Invariants, kept
 * by every mutator: reserved implies dirty or under writeback; dirty implies uptodate;
 * {@link #isUptodate()} &hArr; all blocks uptodate; {@link #isDirty()} &hArr; any block dirty.
 *
 * <p>Locking: block state and {@link #data} change only with {@link #lock} held, and {@link #data} is touched
 * only by a holder of the lock that found the folio not {@link #removed}: removal hands the memory to the
 * page cache's pool for reuse by another folio. {@link #nrDirty} and
 * {@link #writeback} are volatile so that writeback can skip clean folios without taking the lock; a reader of
 * those hints that finds a folio clean must read {@code nrDirty} before {@code writeback} (writeback sets the
 * flag before clearing dirty bits, so a folio in flight is never seen as clean and idle).
 *
 * <p>Public surface: what iomap's buffered I/O and writeback (fs/iomap/buffered-io.c, which in the kernel also
 * owns the per-block {@code iomap_folio_state}) need: locking, geometry, per-block state and data copies. Folios
 * are created and removed only by {@link AddressSpace}; block indexes are folio-relative, byte offsets
 * {@code off} are folio offsets, {@code filePosBytes} are file offsets.
 */
public final class Folio {
    final AddressSpace mapping;
    /** File byte offset of {@code data[0]}; a multiple of {@link #sizeBytes}. */
    final long posBytes;
    final int sizeBytes;
    final int blkBits;
    final int nrBlocks;
    /** The folio's bytes: a direct buffer of {@code sizeBytes}, position 0; use absolute operations only. */
    final ByteBuffer data;
    final ReentrantLock lock = new ReentrantLock();

    private final long[] uptodateBits;
    private final long[] dirtyBits;
    /** Blocks holding a delalloc space reservation ({@link MappingHost#reserveDelalloc}); reserved implies dirty. */
    private final long[] reservedBits;
    private int nrUptodate;
    private int nrReserved;
    volatile int nrDirty;
    /** A device write of this folio's blocks is in flight (set and cleared under the lock). */
    volatile boolean writeback;
    /** The last writeback of this folio failed (cleared when it is next written successfully). */
    volatile boolean error;
    /** Set when the folio left its mapping (truncate, invalidate, reclaim); a locker must then retry. */
    volatile boolean removed;
    /** CLOCK reference bit for reclaim. */
    volatile boolean referenced = true;

    Folio(AddressSpace mapping, long posBytes, int sizeBytes, int blkBits) {
        this(mapping, posBytes, sizeBytes, blkBits, FolioPool.allocate(sizeBytes));
    }

    /**
     * A folio over {@code memory}: a zero-filled direct buffer of exactly {@code sizeBytes}, position 0 (from
     * {@link FolioPool}).
     */
    Folio(AddressSpace mapping, long posBytes, int sizeBytes, int blkBits, ByteBuffer memory) {
        if (Integer.bitCount(sizeBytes) != 1 || posBytes % sizeBytes != 0 || sizeBytes < (1 << blkBits)) {
            throw new IllegalArgumentException("bad folio " + posBytes + "+" + sizeBytes + " for block bits " + blkBits);
        }
        this.mapping = mapping;
        this.posBytes = posBytes;
        this.sizeBytes = sizeBytes;
        this.blkBits = blkBits;
        this.nrBlocks = sizeBytes >>> blkBits;
        if (!memory.isDirect() || memory.capacity() != sizeBytes) {
            throw new IllegalArgumentException("folio memory must be a direct buffer of " + sizeBytes + " bytes");
        }
        this.data = memory;
        int words = (nrBlocks + 63) >>> 6;
        this.uptodateBits = new long[words];
        this.dirtyBits = new long[words];
        this.reservedBits = new long[words];
    }

    /** Locks the folio ({@code folio_lock}); waits while another thread holds it. Reentrant. */
    public void lock() {
        lock.lock();
    }

    /** Unlocks the folio ({@code folio_unlock}). */
    public void unlock() {
        lock.unlock();
    }

    /**
     * True once the folio left its mapping: a locker must drop it and look the offset up again.
     *
     * @return true if removed from the mapping
     */
    public boolean isRemoved() {
        return removed;
    }

    /**
     * File byte offset of the folio's first byte: a multiple of {@link #sizeBytes()}.
     *
     * @return the file byte offset
     */
    public long posBytes() {
        return posBytes;
    }

    /**
     * Size of the folio in bytes: a power of two, 4 KiB..2 MiB, at least the block size.
     *
     * @return the size in bytes
     */
    public int sizeBytes() {
        return sizeBytes;
    }

    /**
     * log2 of the filesystem block size.
     *
     * @return the block size shift (block size = {@code 1 << blkBits()})
     */
    public int blkBits() {
        return blkBits;
    }

    /**
     * Number of filesystem blocks in the folio.
     *
     * @return {@code sizeBytes() >> blkBits()}
     */
    public int nrBlocks() {
        return nrBlocks;
    }

    /**
     * Number of dirty blocks; readable without the lock (a hint, see the class comment on ordering).
     *
     * @return the dirty block count
     */
    public int nrDirty() {
        return nrDirty;
    }

    /**
     * True while a device write of this folio's blocks is in flight; readable without the lock.
     *
     * @return true while under writeback
     */
    public boolean isWriteback() {
        return writeback;
    }

    /**
     * Sets or clears the writeback flag ({@code folio_start_writeback}/{@code folio_end_writeback}). Folio lock
     * held; set it before clearing any dirty bit of the pass.
     *
     * @param inFlight true at the start of writeback, false at its end
     */
    public void setWriteback(boolean inFlight) {
        writeback = inFlight;
    }

    /** Marks that the last writeback of this folio failed ({@code folio_set_error}). Folio lock held. */
    public void setError() {
        error = true;
    }

    /**
     * True if the last writeback of this folio failed ({@code folio_test_error}).
     *
     * @return true after a failed writeback
     */
    public boolean hasError() {
        return error;
    }

    /**
     * Zeroes bytes {@code [fromOff, toOff)} of the folio. Folio lock held.
     *
     * @param fromOff first byte offset in the folio
     * @param toOff exclusive end byte offset in the folio
     */
    public void zero(int fromOff, int toOff) {
        if (toOff > fromOff) {
            MemorySegment.ofBuffer(data).asSlice(fromOff, toOff - fromOff).fill((byte) 0);
        }
    }

    /**
     * Copies {@code n} bytes at folio offset {@code off} to {@code dst}'s position, advancing it. Lock held.
     *
     * @param off byte offset in the folio
     * @param dst destination, written at its position
     * @param n bytes to copy
     */
    public void copyOut(int off, ByteBuffer dst, int n) {
        int p = dst.position();
        dst.put(p, data, off, n);
        dst.position(p + n);
    }

    /**
     * Copies {@code n} bytes from {@code src} at absolute index {@code srcIndex} to folio offset {@code off}.
     *
     * @param off byte offset in the folio
     * @param src source buffer (its position is not used or changed)
     * @param srcIndex absolute index in {@code src} of the first byte
     * @param n bytes to copy
     */
    public void copyIn(int off, ByteBuffer src, int srcIndex, int n) {
        data.put(off, src, srcIndex, n);
    }

    /**
     * Copies {@code n} bytes of {@code src} from {@code srcOff} to folio offset {@code off}. Lock held.
     *
     * @param off byte offset in the folio
     * @param src source array
     * @param srcOff index of the first byte in {@code src}
     * @param n bytes to copy
     */
    public void copyIn(int off, byte[] src, int srcOff, int n) {
        data.put(off, src, srcOff, n);
    }

    /**
     * A view of bytes {@code [off, off + len)} for a device request: position {@code off}, limit
     * {@code off + len} (so {@code position()} is the folio offset, like {@code ByteBuffer.wrap(array, off, len)}).
     *
     * @param off first byte offset in the folio
     * @param len length in bytes
     * @return a view sharing the folio's memory
     */
    public ByteBuffer view(int off, int len) {
        return data.duplicate().limit(off + len).position(off);
    }

    /** {@return the exclusive end of the folio, a file byte offset} */
    public long endBytes() {
        return posBytes + sizeBytes;
    }

    /** {@return the filesystem block size in bytes} */
    public int blockSizeBytes() {
        return 1 << blkBits;
    }

    /**
     * Index of the block holding file byte {@code filePosBytes} (which must lie in this folio).
     *
     * @param filePosBytes a file byte offset inside the folio
     * @return the block index within the folio
     */
    public int blockOf(long filePosBytes) {
        return (int) ((filePosBytes - posBytes) >>> blkBits);
    }

    /** {@return true if every block of the folio is uptodate} */
    public boolean isUptodate() {
        return nrUptodate == nrBlocks;
    }

    /** {@return true if any block of the folio is dirty} */
    public boolean isDirty() {
        return nrDirty != 0;
    }

    /** Dirty bytes of this folio (whole blocks). */
    long dirtyBytes() {
        return (long) nrDirty << blkBits;
    }

    /**
     * {@return true if block {@code blk} holds valid data}
     *
     * @param blk block index within the folio
     */
    public boolean blockUptodate(int blk) {
        return (uptodateBits[blk >>> 6] & (1L << blk)) != 0;
    }

    /** True if block {@code blk} is dirty. Folio lock held. */
    boolean blockDirty(int blk) {
        return (dirtyBits[blk >>> 6] & (1L << blk)) != 0;
    }

    /** True if blocks {@code [fromBlk, toBlk)} are all uptodate. Folio lock held. */
    boolean rangeUptodate(int fromBlk, int toBlk) {
        if (nrUptodate == nrBlocks) {
            return true;
        }
        return nextClear(uptodateBits, fromBlk, toBlk) == toBlk;
    }

    /**
     * First block in {@code [fromBlk, toBlk)} that is not uptodate, or {@code toBlk}.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     * @return a block index in {@code [fromBlk, toBlk]}
     */
    public int nextNotUptodate(int fromBlk, int toBlk) {
        if (nrUptodate == nrBlocks) {
            return toBlk;
        }
        return nextClear(uptodateBits, fromBlk, toBlk);
    }

    /**
     * First uptodate block in {@code [fromBlk, toBlk)}, or {@code toBlk}.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     * @return a block index in {@code [fromBlk, toBlk]}
     */
    public int nextUptodate(int fromBlk, int toBlk) {
        return nextSet(uptodateBits, fromBlk, toBlk);
    }

    /**
     * First dirty block in {@code [fromBlk, toBlk)}, or {@code toBlk}.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     * @return a block index in {@code [fromBlk, toBlk]}
     */
    public int nextDirty(int fromBlk, int toBlk) {
        if (nrDirty == 0) {
            return toBlk;
        }
        return nextSet(dirtyBits, fromBlk, toBlk);
    }

    /**
     * First clean block in {@code [fromBlk, toBlk)}, or {@code toBlk}.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     * @return a block index in {@code [fromBlk, toBlk]}
     */
    public int nextClean(int fromBlk, int toBlk) {
        return nextClear(dirtyBits, fromBlk, toBlk);
    }

    /**
     * Marks blocks {@code [fromBlk, toBlk)} uptodate. Folio lock held.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     */
    public void setUptodate(int fromBlk, int toBlk) {
        nrUptodate += setRange(uptodateBits, fromBlk, toBlk);
    }

    /**
     * Marks blocks {@code [fromBlk, toBlk)} uptodate and dirty, updating the dirty accounting. Folio lock held.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     */
    public void setDirty(int fromBlk, int toBlk) {
        nrUptodate += setRange(uptodateBits, fromBlk, toBlk);
        int added = setRange(dirtyBits, fromBlk, toBlk);
        if (added != 0) {
            nrDirty += added;
            mapping.accountDirty((long) added << blkBits);
        }
    }

    /**
     * Clears the dirty bits of blocks {@code [fromBlk, toBlk)} (they stay uptodate). Folio lock held.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     */
    public void clearDirty(int fromBlk, int toBlk) {
        int removedBits = clearRange(dirtyBits, fromBlk, toBlk);
        if (removedBits != 0) {
            nrDirty -= removedBits;
            mapping.accountDirty(-((long) removedBits << blkBits));
        }
    }

    /**
     * Blocks of {@code [fromBlk, toBlk)} without a delalloc reservation. Folio lock held.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     * @return the number of blocks needing a reservation
     */
    public int countUnreserved(int fromBlk, int toBlk) {
        int n = 0;
        int b = fromBlk;
        while (b < toBlk) {
            int r = nextSet(reservedBits, b, toBlk);
            n += r - b;
            b = r < toBlk ? nextClear(reservedBits, r, toBlk) : toBlk;
        }
        return n;
    }

    /**
     * Records that blocks {@code [fromBlk, toBlk)} hold a delalloc reservation (the caller reserved the ones
     * {@link #countUnreserved} counted) and dirties them. Folio lock held.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     */
    public void setDirtyReserved(int fromBlk, int toBlk) {
        setDirty(fromBlk, toBlk);
        nrReserved += setRange(reservedBits, fromBlk, toBlk);
    }

    /**
     * Number of blocks holding a delalloc reservation. Folio lock held.
     *
     * @return the reserved block count
     */
    public int nrReserved() {
        return nrReserved;
    }

    /**
     * Gives back the reservations of blocks {@code [fromBlk, toBlk)} to the filesystem
     * ({@link MappingHost#releaseDelalloc}): after writeback mapped them, or when their dirty data is dropped.
     * Folio lock held.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     */
    public void releaseReserved(int fromBlk, int toBlk) {
        if (nrReserved == 0) {
            return;
        }
        int n = clearRange(reservedBits, fromBlk, toBlk);
        if (n != 0) {
            nrReserved -= n;
            mapping.host().releaseDelalloc(n);
        }
    }

    /**
     * Forgets blocks {@code [fromBlk, toBlk)}: not uptodate, not dirty, reservations given back
     * (truncate/invalidate). Folio lock held.
     */
    void clearState(int fromBlk, int toBlk) {
        releaseReserved(fromBlk, toBlk);
        clearDirty(fromBlk, toBlk);
        nrUptodate -= clearRange(uptodateBits, fromBlk, toBlk);
    }

    /**
     * Marks blocks {@code [fromBlk, toBlk)} not uptodate (a failed read). Folio lock held; they must be clean.
     *
     * @param fromBlk first block index in the folio
     * @param toBlk exclusive end block index
     */
    public void clearUptodate(int fromBlk, int toBlk) {
        nrUptodate -= clearRange(uptodateBits, fromBlk, toBlk);
    }

    @Override
    public String toString() {
        return "Folio[ino " + mapping.host().ino() + " " + posBytes + "+" + sizeBytes + " uptodate " + nrUptodate
                + "/" + nrBlocks + " dirty " + nrDirty + (nrReserved != 0 ? " reserved " + nrReserved : "") + (writeback ? " wb" : "") + (error ? " err" : "")
                + (removed ? " removed" : "") + "]";
    }

    // ---- bitmap helpers over long[] (bit i of word i/64) ----

    /** Sets bits {@code [from, to)}; returns how many were clear before. */
    static int setRange(long[] w, int from, int to) {
        int added = 0;
        int i = from;
        while (i < to) {
            int word = i >>> 6;
            int lo = i & 63;
            int hi = Math.min(64, lo + (to - i));
            long mask = (hi == 64 ? -1L : (1L << hi) - 1) & (-1L << lo);
            added += Long.bitCount(mask & ~w[word]);
            w[word] |= mask;
            i += hi - lo;
        }
        return added;
    }

    /** Clears bits {@code [from, to)}; returns how many were set before. */
    static int clearRange(long[] w, int from, int to) {
        int removedBits = 0;
        int i = from;
        while (i < to) {
            int word = i >>> 6;
            int lo = i & 63;
            int hi = Math.min(64, lo + (to - i));
            long mask = (hi == 64 ? -1L : (1L << hi) - 1) & (-1L << lo);
            removedBits += Long.bitCount(mask & w[word]);
            w[word] &= ~mask;
            i += hi - lo;
        }
        return removedBits;
    }

    /** First set bit in {@code [from, to)}, or {@code to}. */
    static int nextSet(long[] w, int from, int to) {
        int i = from;
        while (i < to) {
            int word = i >>> 6;
            long bits = w[word] & (-1L << (i & 63));
            if (bits != 0) {
                return Math.min(to, (word << 6) + Long.numberOfTrailingZeros(bits));
            }
            i = (word + 1) << 6;
        }
        return to;
    }

    /** First clear bit in {@code [from, to)}, or {@code to}. */
    static int nextClear(long[] w, int from, int to) {
        int i = from;
        while (i < to) {
            int word = i >>> 6;
            long bits = ~w[word] & (-1L << (i & 63));
            if (bits != 0) {
                return Math.min(to, (word << 6) + Long.numberOfTrailingZeros(bits));
            }
            i = (word + 1) << 6;
        }
        return to;
    }
}
