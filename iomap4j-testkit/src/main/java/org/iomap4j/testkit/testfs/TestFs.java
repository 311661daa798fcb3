package org.iomap4j.testkit.testfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Ioend;
import org.iomap4j.fs.GenericFile;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapDioOps;
import org.iomap4j.iomap.IomapFlags;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOpFlags;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.IomapType;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.iomap.WritebackOps;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.PageCache;

/**
 * A test-only filesystem: files are per-block maps onto a {@link BlockDevice}, allocated from a bump pointer
 * (then a free list). Each inode has a {@link Mode} that decides what a write into a hole produces, so every
 * branch of the core runs: MAPPED+NEW blocks, UNWRITTEN extents converted at writeback completion, DELALLOC
 * reservations allocated by writeback, copy-on-write (a write to mapped blocks stages new blocks in a CoW fork and
 * gets them as a SHARED mapping with the old ones as srcmap; write-back completion moves them into the data
 * fork, like XFS), and INLINE data unpacked on first write. Optionally every mapping stops at multiples of
 * {@code boundaryEvery} blocks with BOUNDARY set (ext2's indirect-block boundaries).
 *
 * <p>The validity cookie is the inode's block-map sequence number; {@link #onBegin} lets a test run code between
 * iomapBegin and the folio lock to force races deterministically. Thread-safe: the block map is guarded by the
 * inode's monitor; {@link #read}/{@link #write}/{@link #truncate}/{@link #zeroRange} take the inode's rwsem.
 */
public final class TestFs implements IomapOps, WritebackOps {
    /** What writes into holes produce. */
    public enum Mode {
        /** Writes into holes allocate blocks at once, mapped with the NEW flag. */
        NEW,
        /** Writes into holes allocate UNWRITTEN blocks, converted when their writeback completes. */
        UNWRITTEN,
        /** Writes reserve space and map DELALLOC; blocks are allocated at writeback. */
        DELALLOC,
        /** Writes to mapped blocks stage new blocks in a copy-on-write fork, with the old blocks as the srcmap. */
        COW,
        /** Data is held inline in the inode (INLINE mappings; at most one block). */
        INLINE
    }

    private final BlockDevice device;
    private final int blockSizeBytes;
    private final int blkBits;
    private final PageCache cache;
    private final long totalBlocks;
    private final AtomicLong nextIno = new AtomicLong(1);
    private final TestSpace space;
    private volatile int boundaryEvery;
    private volatile BiConsumer<TestInode, Iomap> onBegin;
    private volatile boolean returnInlineForWriteback;
    private volatile java.util.function.Consumer<Ioend> onIoend;
    private volatile BiConsumer<TestInode, Iomap> onMapBlocks;
    private final AtomicLong mapBlocksCalls = new AtomicLong();
    private final AtomicLong beginCalls = new AtomicLong();
    private final GenericFile<TestInode> generic;

    /**
     * A filesystem on {@code device} with {@code blockSizeBytes} blocks, caching through {@code cache}.
     *
     * @param firstDataBlock blocks below it are never allocated (lets tests keep a header on the device)
     * @param device the device blocks are allocated on
     * @param blockSizeBytes the block size in bytes (a multiple of the device's logical block size)
     * @param cache the page cache for the files' data
     */
    public TestFs(BlockDevice device, int blockSizeBytes, PageCache cache, long firstDataBlock) {
        this.device = device;
        this.blockSizeBytes = blockSizeBytes;
        this.blkBits = Integer.numberOfTrailingZeros(blockSizeBytes);
        this.cache = cache;
        this.totalBlocks = device.sizeBytes() / blockSizeBytes;
        this.space = new TestSpace(firstDataBlock, totalBlocks);
        this.generic = new GenericFile<>(this, IomapDioOps.NONE, false, new TestBlockOps(space, blockSizeBytes));
    }

    /**
     * A filesystem allocating from block 0.
     *
     * @param device the device blocks are allocated on
     * @param blockSizeBytes the block size in bytes
     * @param cache the page cache for the files' data
     */
    public TestFs(BlockDevice device, int blockSizeBytes, PageCache cache) {
        this(device, blockSizeBytes, cache, 0);
    }

    /** {@return the device} */
    public BlockDevice device() {
        return device;
    }

    /** {@return the page cache} */
    public PageCache cache() {
        return cache;
    }

    /** {@return the block size in bytes} */
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    /**
     * Mappings stop at multiples of {@code n} logical blocks, flagged BOUNDARY (0 = never).
     *
     * @param n the interval in logical blocks, or 0
     */
    public void setBoundaryEvery(int n) {
        boundaryEvery = n;
    }

    /**
     * Allocate freed blocks before fresh ones (makes reuse after truncate likely).
     *
     * @param v true to reuse freed blocks first
     */
    public void setReuseFreedFirst(boolean v) {
        space.setReuseFreedFirst(v);
    }

    /**
     * Called at the end of every iomapBegin, outside the block-map lock (race forcing).
     *
     * @param hook receives the inode and the mapping
     */
    public void onBegin(BiConsumer<TestInode, Iomap> hook) {
        onBegin = hook;
    }

    /**
     * Make mapBlocks answer INLINE (to test that writeback refuses it).
     *
     * @param v true to answer INLINE
     */
    public void setReturnInlineForWriteback(boolean v) {
        returnInlineForWriteback = v;
    }

    /**
     * Called after every mapBlocks, outside the block-map lock, on the writeback thread (race forcing).
     *
     * @param hook receives the inode and the mapping
     */
    public void onMapBlocks(BiConsumer<TestInode, Iomap> hook) {
        onMapBlocks = hook;
    }

    /**
     * Bumps the inode's block-map sequence: every mapping handed out before becomes stale.
     *
     * @param inode the inode
     */
    public void bumpSeq(TestInode inode) {
        inode.seq.incrementAndGet();
    }

    /**
     * Called for every completed ioend (before UNWRITTEN conversion), on the writeback thread.
     *
     * @param hook receives each ioend
     */
    public void onIoend(java.util.function.Consumer<Ioend> hook) {
        onIoend = hook;
    }

    /** {@return the number of mapBlocks calls so far} */
    public long mapBlocksCalls() {
        return mapBlocksCalls.get();
    }

    /** {@return the number of iomapBegin calls so far} */
    public long beginCalls() {
        return beginCalls.get();
    }

    /**
     * Creates an empty file.
     *
     * @param mode what writes into holes produce
     * @return the new inode
     */
    public TestInode create(Mode mode) {
        TestInode inode = new TestInode(this, nextIno.getAndIncrement(), blockSizeBytes, mode);
        inode.setMapping(cache.createMapping(inode, this));
        return inode;
    }

    /**
     * Creates an INLINE-mode file whose data (at most one block) is held inline.
     *
     * @param data the file's bytes (at most one block)
     * @return the new inode
     */
    public TestInode createInline(byte[] data) {
        if (data.length > blockSizeBytes) {
            throw new IllegalArgumentException("inline data larger than a block");
        }
        TestInode inode = create(Mode.INLINE);
        synchronized (inode) {
            inode.inline = Arrays.copyOf(data, blockSizeBytes);
        }
        inode.setSizeBytes(data.length);
        return inode;
    }

    // ---------------------------------------------------------------------------------------------------------
    // VFS-like entry points (take the inode's rwsem like a kernel VFS would)

    /**
     * A buffered read, taking the inode's rwsem shared.
     *
     * @param inode the file
     * @param posBytes file byte offset
     * @param dst buffer filled from its position
     * @return bytes read, 0 at EOF
     * @throws IOException from the mapping or the device
     */
    public int read(TestInode inode, long posBytes, ByteBuffer dst) throws IOException {
        inode.rwsem.readLock().lock();
        try {
            return BufferedIo.read(inode, posBytes, dst, this);
        } finally {
            inode.rwsem.readLock().unlock();
        }
    }

    /**
     * A buffered write, taking the inode's rwsem exclusively.
     *
     * @param inode the file
     * @param posBytes file byte offset
     * @param src the bytes
     * @return bytes written
     * @throws IOException from the mapping or the device
     */
    public int write(TestInode inode, long posBytes, ByteBuffer src) throws IOException {
        inode.rwsem.writeLock().lock();
        try {
            return BufferedIo.write(inode, posBytes, src, this);
        } finally {
            inode.rwsem.writeLock().unlock();
        }
    }

    /**
     * Zeroes a range through the page cache, taking the rwsem exclusively.
     *
     * @param inode the file
     * @param posBytes file byte offset
     * @param lengthBytes range length in bytes
     * @throws IOException from the mapping or the device
     */
    public void zeroRange(TestInode inode, long posBytes, long lengthBytes) throws IOException {
        inode.rwsem.writeLock().lock();
        try {
            BufferedIo.zeroRange(inode, posBytes, lengthBytes, this);
        } finally {
            inode.rwsem.writeLock().unlock();
        }
    }

    /**
     * fsync: writes back the file's data and reports an unseen writeback error through {@code cursor}.
     *
     * @param inode the file
     * @param cursor the handle's error cursor
     * @throws IOException EIO for a writeback error
     */
    public void fsync(TestInode inode, ErrSeq.Cursor cursor) throws IOException {
        Writeback.fsync(inode, 0, Long.MAX_VALUE, cursor, device);
    }

    /**
     * setattr(size) through the generic {@link GenericFile#truncateSetsize}: shrinking zeroes the tail of the new
     * EOF block, drops the cache beyond it and frees the blocks; growing zeroes the tail of the old EOF block first.
     *
     * @param inode the file
     * @param newSizeBytes the new size in bytes
     * @throws IOException from the mapping or the device
     */
    public void truncate(TestInode inode, long newSizeBytes) throws IOException {
        inode.rwsem.writeLock().lock();
        try {
            generic.truncateSetsize(inode, newSizeBytes);
        } finally {
            inode.rwsem.writeLock().unlock();
        }
    }

    /**
     * fallocate(PUNCH_HOLE | KEEP_SIZE) through the generic {@link GenericFile#punchHole}, clipped to i_size:
     * partial edge blocks are zeroed through the cache; whole blocks are written back and dropped from the cache
     * (under the invalidate lock, so no reader re-caches them meanwhile) and freed (data, unwritten, delalloc
     * reservations and staged CoW blocks). The size does not change.
     *
     * @param inode the file
     * @param posBytes file byte offset of the hole
     * @param lengthBytes hole length in bytes
     * @throws IOException from the mapping or the device
     */
    public void punchHole(TestInode inode, long posBytes, long lengthBytes) throws IOException {
        if (posBytes < 0 || lengthBytes <= 0) {
            return;
        }
        inode.rwsem.writeLock().lock();
        try {
            long end = Math.min(posBytes + lengthBytes, inode.sizeBytes());
            if (end <= posBytes) {
                return;
            }
            AddressSpace m = inode.mapping();
            m.invalidateLock().writeLock().lock();
            try {
                generic.punchHole(inode, posBytes, end);
            } finally {
                m.invalidateLock().writeLock().unlock();
            }
        } finally {
            inode.rwsem.writeLock().unlock();
        }
    }

    /**
     * Moves logical block {@code lblk} to a newly allocated physical block and frees the old one, without touching
     * the page cache (what a truncate + re-extend does to the block map; tests use it to change the map under a
     * cached writeback mapping while keeping the same folio). The new block's contents are undefined.
     *
     * @return the new physical block
     * @param inode the file
     * @param lblk the logical block to move
     * @throws IOException if the copy fails
     */
    public long relocate(TestInode inode, long lblk) throws IOException {
        synchronized (inode) {
            TestInode.Ent e = inode.blocks.get(lblk);
            if (e == null || e.pblk() < 0) {
                throw new IllegalArgumentException("block " + lblk + " not allocated");
            }
            long pblk = space.allocFresh();
            inode.blocks.put(lblk, new TestInode.Ent(pblk, e.state()));
            space.free(e.pblk());
            inode.seq.incrementAndGet();
            return pblk;
        }
    }

    /**
     * Drops an inode's cache (dirty data included) and frees its blocks.
     *
     * @param inode the file
     */
    public void evict(TestInode inode) {
        cache.removeMapping(inode.mapping());
        space.freeFrom(inode, 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Allocation (TestSpace)



    void reserveDelalloc(long nrBlocks) throws FsException {
        space.reserveDelalloc(nrBlocks);
    }

    void releaseDelalloc(long nrBlocks) {
        space.releaseDelalloc(nrBlocks);
    }

    /**
     * Blocks currently reserved for dirty DELALLOC page-cache blocks.
     *
     * @return the reserved block count
     */
    public long delallocReservedBlocks() {
        return space.delallocReservedBlocks();
    }


    /**
     * Free blocks (for space accounting in tests; delalloc reservations not subtracted).
     *
     * @return the block count
     */
    public long freeBlocks() {
        return space.freeBlocks();
    }

    // ---------------------------------------------------------------------------------------------------------
    // IomapOps

    private TestInode ti(IomapInode inode) {
        return (TestInode) inode;
    }

    /** Private data carried from begin to end: what to undo for blocks the operation did not write. */
    private record Undo(long firstLblk, TestInode.Ent[] previous) {}

    @Override
    public Iomap iomapBegin(IomapInode in, long posBytes, long lengthBytes, int opFlags) throws IOException {
        beginCalls.incrementAndGet();
        TestInode inode = ti(in);
        boolean write = IomapOpFlags.has(opFlags, IomapOpFlags.WRITE);
        boolean zero = IomapOpFlags.has(opFlags, IomapOpFlags.ZERO);
        Iomap m;
        synchronized (inode) {
            m = beginLocked(inode, posBytes, lengthBytes, write, zero, IomapOpFlags.has(opFlags, IomapOpFlags.DIRECT),
                    IomapOpFlags.has(opFlags, IomapOpFlags.UNSHARE));
        }
        BiConsumer<TestInode, Iomap> hook = onBegin;
        if (hook != null) {
            hook.accept(inode, m);
        }
        return m;
    }

    private Iomap beginLocked(TestInode inode, long posBytes, long lengthBytes, boolean write, boolean zero,
            boolean direct, boolean unshare)
            throws IOException {
        long cookie = inode.seq.get();
        long lblk = posBytes >>> blkBits;
        long endLblk = (posBytes + lengthBytes + blockSizeBytes - 1) >>> blkBits;
        if (inode.inline != null) {
            if (!write && !zero) {
                return Iomap.builder(IomapType.INLINE, 0, blockSizeBytes).inlineData(inode.inline.clone())
                        .validityCookie(cookie).build();
            }
            // Unpack: block 0 gets the inline bytes on disk; the write reads its edges from the INLINE srcmap.
            byte[] data = inode.inline;
            long pblk = space.allocOne();
            device.write(pblk << blkBits, ByteBuffer.wrap(data));
            inode.inline = null;
            inode.blocks.put(0L, new TestInode.Ent(pblk, TestInode.State.MAPPED));
            cookie = inode.seq.incrementAndGet();
            if (lblk == 0) {
                Iomap src = Iomap.builder(IomapType.INLINE, 0, blockSizeBytes).inlineData(data)
                        .validityCookie(cookie).build();
                return Iomap.builder(IomapType.MAPPED, 0, blockSizeBytes).device(device).addrBytes(pblk << blkBits)
                        .srcmap(src).validityCookie(cookie).build();
            }
        }
        TestInode.Ent first = inode.blocks.get(lblk);
        long runEnd = runEnd(inode, lblk, endLblk, first);
        int boundaryFlag = 0;
        int every = boundaryEvery;
        if (every > 0) {
            long nextBoundary = (lblk / every + 1) * every;
            if (runEnd >= nextBoundary) {
                runEnd = nextBoundary;
                boundaryFlag = IomapFlags.BOUNDARY;
            }
        }
        long off = lblk << blkBits;
        long len = (runEnd - lblk) << blkBits;
        if (first == null) {
            if (!write || unshare) { // unsharing never allocates holes
                return Iomap.hole(off, len, cookie);
            }
            long allocEnd = Math.min(runEnd, endLblk);
            // A direct write cannot use a reservation (nothing would write it back): allocate real blocks, as
            // XFS's direct-write iomap_begin does for delalloc inodes.
            Mode allocMode = direct && inode.mode == Mode.DELALLOC ? Mode.NEW : inode.mode;
            return allocate(inode, lblk, allocEnd, allocMode, boundaryFlag, null);
        }
        switch (first.state()) {
            case DELALLOC -> {
                return Iomap.builder(IomapType.DELALLOC, off, len).flags(boundaryFlag).validityCookie(cookie).build();
            }
            case UNWRITTEN -> {
                return Iomap.builder(IomapType.UNWRITTEN, off, len).device(device).addrBytes(first.pblk() << blkBits)
                        .flags(boundaryFlag).validityCookie(cookie).build();
            }
            default -> {
                Iomap mapped = Iomap.mapped(off, len, device, first.pblk() << blkBits, boundaryFlag | IomapFlags.MERGED,
                        cookie);
                if ((write || zero) && inode.mode == Mode.COW) {
                    return cowBegin(inode, lblk, Math.min(runEnd, endLblk), first.pblk(), boundaryFlag);
                }
                return mapped;
            }
        }
    }

    /** End of the run of blocks like {@code first} (same state, physically contiguous) from lblk, below endLblk. */
    private long runEnd(TestInode inode, long lblk, long endLblk, TestInode.Ent first) {
        long l = lblk + 1;
        if (first == null) {
            Long next = inode.blocks.ceilingKey(lblk);
            return next == null ? Math.max(endLblk, lblk + 1) : next;
        }
        while (l < endLblk) {
            TestInode.Ent e = inode.blocks.get(l);
            if (e == null || e.state() != first.state()
                    || (first.pblk() >= 0 && e.pblk() != first.pblk() + (l - lblk))) {
                break;
            }
            l++;
        }
        return l;
    }

    /** Private data of a CoW write: the CoW-fork entries it staged (cancelled in iomapEnd if not written). */
    private record CowUndo(long firstLblk, long[] stagedPblks) {}

    /**
     * A write to mapped (shared) blocks {@code [lblk, endLblk)} of the data fork starting at {@code oldPblk}:
     * stage new blocks in the CoW fork (reusing staged ones), return them as a SHARED mapping with the data-fork
     * blocks as srcmap. The data fork changes only when the write-back of the new blocks completes (XFS's CoW
     * fork), so readers keep seeing the old data until then.
     */
    private Iomap cowBegin(TestInode inode, long lblk, long endLblk, long oldPblk, int boundaryFlag)
            throws IOException {
        Long staged = inode.cow.get(lblk);
        long firstNew;
        long end = lblk + 1;
        long[] stagedNow;
        if (staged != null) {
            firstNew = staged;
            while (end < endLblk && Long.valueOf(firstNew + (end - lblk)).equals(inode.cow.get(end))) {
                end++;
            }
            stagedNow = new long[0];
        } else {
            firstNew = space.allocOne();
            inode.cow.put(lblk, firstNew);
            while (end < endLblk && !inode.cow.containsKey(end)) {
                long p;
                try {
                    p = space.allocOne();
                } catch (FsException e) {
                    break;
                }
                if (p != firstNew + (end - lblk)) {
                    space.free(p);
                    break;
                }
                inode.cow.put(end, p);
                end++;
            }
            stagedNow = new long[(int) (end - lblk)];
            for (int i = 0; i < stagedNow.length; i++) {
                stagedNow[i] = firstNew + i;
            }
        }
        long cookie = inode.seq.incrementAndGet(); // write-back mappings change
        long off = lblk << blkBits;
        long len = (end - lblk) << blkBits;
        Iomap src = Iomap.mapped(off, len, device, oldPblk << blkBits, 0, cookie);
        return Iomap.builder(IomapType.MAPPED, off, len).device(device).addrBytes(firstNew << blkBits)
                .flags(IomapFlags.SHARED | (end == endLblk ? boundaryFlag : 0)).srcmap(src).validityCookie(cookie)
                .fsPrivate(new CowUndo(lblk, stagedNow)).build();
    }

    /** Allocates {@code [lblk, endLblk)} as the mode says; remembers what was there for iomapEnd's undo. */
    private Iomap allocate(TestInode inode, long lblk, long endLblk, Mode mode, int boundaryFlag, Iomap srcmap)
            throws IOException {
        int n = (int) (endLblk - lblk);
        TestInode.Ent[] previous = new TestInode.Ent[n];
        long firstPblk = -1;
        TestInode.State state = switch (mode) {
            case UNWRITTEN -> TestInode.State.UNWRITTEN;
            case DELALLOC -> TestInode.State.DELALLOC;
            default -> TestInode.State.MAPPED;
        };
        long contiguousEnd = lblk;
        for (int i = 0; i < n; i++) {
            previous[i] = inode.blocks.get(lblk + i);
            long pblk = -1;
            if (state != TestInode.State.DELALLOC) {
                try {
                    pblk = space.allocOne();
                } catch (FsException e) {
                    if (i == 0) {
                        throw e;
                    }
                    break; // a shorter mapping
                }
                if (i == 0) {
                    firstPblk = pblk;
                } else if (pblk != firstPblk + i) {
                    space.free(pblk);
                    break; // not contiguous: a shorter mapping
                }
            }
            inode.blocks.put(lblk + i, new TestInode.Ent(pblk, state));
            contiguousEnd = lblk + i + 1;
        }
        long cookie = inode.seq.incrementAndGet();
        Undo undo = new Undo(lblk, Arrays.copyOf(previous, (int) (contiguousEnd - lblk)));
        long off = lblk << blkBits;
        long len = (contiguousEnd - lblk) << blkBits;
        int flags = contiguousEnd == endLblk ? boundaryFlag : 0;
        Iomap.Builder b = switch (state) {
            case DELALLOC -> Iomap.builder(IomapType.DELALLOC, off, len).flags(flags | IomapFlags.NEW);
            case UNWRITTEN -> Iomap.builder(IomapType.UNWRITTEN, off, len).device(device)
                    .addrBytes(firstPblk << blkBits).flags(flags);
            case MAPPED -> Iomap.builder(IomapType.MAPPED, off, len).device(device).addrBytes(firstPblk << blkBits)
                    .flags(flags | (srcmap != null ? IomapFlags.SHARED : IomapFlags.NEW));
        };
        if (srcmap != null && srcmap.endBytes() > off + len) {
            srcmap = Iomap.mapped(srcmap.offsetBytes(), len, device, srcmap.addrBytes(), 0, cookie);
        }
        return b.srcmap(srcmap).validityCookie(cookie).fsPrivate(undo).build();
    }

    @Override
    public void iomapEnd(IomapInode in, long posBytes, long lengthBytes, long writtenBytes, int opFlags, Iomap iomap) {
        TestInode inode = ti(in);
        if (iomap.fsPrivate() instanceof CowUndo cu) {
            long keepEnd = writtenBytes == 0 ? posBytes >>> blkBits
                    : (posBytes + writtenBytes + blockSizeBytes - 1) >>> blkBits;
            synchronized (inode) {
                for (int i = 0; i < cu.stagedPblks().length; i++) {
                    long lblk = cu.firstLblk() + i;
                    // Unwritten staged blocks are cancelled unless write-back already consumed them.
                    if (lblk >= keepEnd && inode.cow.remove(lblk, cu.stagedPblks()[i])) {
                        space.free(cu.stagedPblks()[i]);
                    }
                }
                inode.seq.incrementAndGet();
            }
            return;
        }
        if (!(iomap.fsPrivate() instanceof Undo undo)) {
            return;
        }
        // Blocks the operation did not reach go back to what they were (a hole, or the CoW source).
        long keepEnd = writtenBytes == 0 ? posBytes >>> blkBits
                : (posBytes + writtenBytes + blockSizeBytes - 1) >>> blkBits;
        synchronized (inode) {
            boolean changed = false;
            for (int i = 0; i < undo.previous().length; i++) {
                long lblk = undo.firstLblk() + i;
                if (lblk < keepEnd) {
                    TestInode.Ent old = undo.previous()[i];
                    if (old != null && old.pblk() >= 0) {
                        space.free(old.pblk()); // CoW source replaced
                    }
                    continue;
                }
                TestInode.Ent cur = inode.blocks.get(lblk);
                if (cur != null && cur.pblk() >= 0) {
                    space.free(cur.pblk());
                }
                TestInode.Ent old = undo.previous()[i];
                if (old == null) {
                    inode.blocks.remove(lblk);
                } else {
                    inode.blocks.put(lblk, old);
                }
                changed = true;
            }
            if (changed) {
                inode.seq.incrementAndGet();
            }
        }
    }

    @Override
    public boolean iomapValid(IomapInode inode, Iomap iomap) {
        return iomap.validityCookie() == ti(inode).seq.get();
    }

    // ---------------------------------------------------------------------------------------------------------
    // WritebackOps

    @Override
    public Iomap mapBlocks(IomapInode in, long posBytes, long lengthBytes) throws IOException {
        mapBlocksCalls.incrementAndGet();
        TestInode inode = ti(in);
        Iomap m = mapBlocksLocked(inode, posBytes, lengthBytes);
        BiConsumer<TestInode, Iomap> hook = onMapBlocks;
        if (hook != null) {
            hook.accept(inode, m);
        }
        return m;
    }

    private Iomap mapBlocksLocked(TestInode inode, long posBytes, long lengthBytes) throws IOException {
        synchronized (inode) {
            long cookie = inode.seq.get();
            if (returnInlineForWriteback) {
                return Iomap.builder(IomapType.INLINE, posBytes, blockSizeBytes).inlineData(new byte[blockSizeBytes])
                        .validityCookie(cookie).build();
            }
            long lblk = posBytes >>> blkBits;
            long endLblk = (posBytes + lengthBytes + blockSizeBytes - 1) >>> blkBits;
            TestInode.Ent first = inode.blocks.get(lblk);
            if (first != null && first.state() == TestInode.State.DELALLOC) {
                // Allocate the delalloc run now (contiguous as far as the allocator gives).
                long l = lblk;
                long firstPblk = -1;
                while (l < endLblk) {
                    TestInode.Ent e = inode.blocks.get(l);
                    if (e == null || e.state() != TestInode.State.DELALLOC) {
                        break;
                    }
                    long pblk = space.allocReservedOne();
                    if (l > lblk && pblk != firstPblk + (l - lblk)) {
                        space.free(pblk);
                        break;
                    }
                    if (l == lblk) {
                        firstPblk = pblk;
                    }
                    inode.blocks.put(l, new TestInode.Ent(pblk, TestInode.State.MAPPED));
                    l++;
                }
                inode.seq.incrementAndGet();
                first = inode.blocks.get(lblk);
            }
            Long staged = inode.cow.get(lblk);
            if (staged != null) {
                long e = lblk + 1;
                while (e < lblk + 4096 && Long.valueOf(staged + (e - lblk)).equals(inode.cow.get(e))) {
                    e++;
                }
                return Iomap.builder(IomapType.MAPPED, lblk << blkBits, (e - lblk) << blkBits).device(device)
                        .addrBytes(staged << blkBits).flags(IomapFlags.SHARED).validityCookie(inode.seq.get()).build();
            }
            // As long as the layout allows (bounded), so that writeback can reuse it across folios.
            long runEnd = runEnd(inode, lblk, Math.max(endLblk, lblk + 4096), first);
            Long nextCow = inode.cow.higherKey(lblk);
            if (nextCow != null && nextCow < runEnd) {
                runEnd = nextCow;
            }
            int flags = 0;
            int every = boundaryEvery;
            if (every > 0) {
                long nextBoundary = (lblk / every + 1) * every;
                if (runEnd >= nextBoundary) {
                    runEnd = nextBoundary;
                    flags = IomapFlags.BOUNDARY;
                }
            }
            long off = lblk << blkBits;
            long len = (runEnd - lblk) << blkBits;
            cookie = inode.seq.get();
            if (first == null) {
                return Iomap.hole(off, len, cookie);
            }
            IomapType type = first.state() == TestInode.State.UNWRITTEN ? IomapType.UNWRITTEN : IomapType.MAPPED;
            return Iomap.builder(type, off, len).device(device).addrBytes(first.pblk() << blkBits).flags(flags)
                    .validityCookie(cookie).build();
        }
    }

    @Override
    public boolean mappingValid(IomapInode inode, Iomap iomap) {
        return iomap.validityCookie() == ti(inode).seq.get();
    }

    @Override
    public void ioendCompleted(IomapInode in, Ioend ioend, Throwable error) {
        java.util.function.Consumer<Ioend> hook = onIoend;
        if (hook != null) {
            hook.accept(ioend);
        }
        TestInode inode = ti(in);
        if (error == null && (ioend.flags() & IomapFlags.SHARED) != 0) {
            // CoW completion: the new blocks replace the old ones in the data fork. A write that took the old
            // blocks as srcmap before this must not use them any more: bump the sequence (as XFS does).
            synchronized (inode) {
                long lblk = ioend.fileOffsetBytes() >>> blkBits;
                long end = lblk + ((ioend.lengthBytes() + blockSizeBytes - 1) >>> blkBits);
                long firstPblk = ioend.devAddrBytes() >>> blkBits;
                for (long l = lblk; l < end; l++) {
                    long p = firstPblk + (l - lblk);
                    if (inode.cow.remove(l, p)) {
                        TestInode.Ent old = inode.blocks.put(l, new TestInode.Ent(p, TestInode.State.MAPPED));
                        if (old != null && old.pblk() >= 0) {
                            space.free(old.pblk());
                        }
                    }
                }
                inode.seq.incrementAndGet();
            }
        }
        if (error != null || ioend.type() != IomapType.UNWRITTEN) {
            return;
        }
        synchronized (inode) {
            long lblk = ioend.fileOffsetBytes() >>> blkBits;
            long end = lblk + ((ioend.lengthBytes() + blockSizeBytes - 1) >>> blkBits);
            long firstPblk = ioend.devAddrBytes() >>> blkBits;
            for (long l = lblk; l < end; l++) {
                TestInode.Ent e = inode.blocks.get(l);
                if (e != null && e.state() == TestInode.State.UNWRITTEN && e.pblk() == firstPblk + (l - lblk)) {
                    inode.blocks.put(l, new TestInode.Ent(e.pblk(), TestInode.State.MAPPED));
                }
            }
            inode.seq.incrementAndGet();
        }
    }
}
