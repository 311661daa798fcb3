package org.iomap4j.testkit.testfs;

import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.pagecache.AddressSpace;

/**
 * An inode of {@link TestFs}: size, a per-block map (logical block &rarr; physical block and state), a block-map
 * sequence counter used as the iomap validity cookie, and the i_rwsem that TestFs's read/write/truncate take.
 */
public final class TestInode implements IomapInode {
    /** State of one mapped logical block. */
    enum State { MAPPED, UNWRITTEN, DELALLOC }

    /** One block-map entry: physical block (-1 for DELALLOC) and state. */
    record Ent(long pblk, State state) {}

    private final long ino;
    private final int blockSizeBytes;
    private volatile long sizeBytes;
    private AddressSpace mapping;
    private final TestFs fs;
    final TestFs.Mode mode;
    /** lblk -> entry; guarded by {@code this}. */
    final TreeMap<Long, Ent> blocks = new TreeMap<>();
    /** CoW fork (COW mode): lblk -> new physical block staged for the next write-back; guarded by {@code this}. */
    final TreeMap<Long, Long> cow = new TreeMap<>();
    /** Inline file data (INLINE mode) while the file has not been unpacked; guarded by {@code this}. */
    byte[] inline;
    /** Bumped on every block-map change; the validity cookie. */
    final AtomicLong seq = new AtomicLong();
    /** i_rwsem: shared for read, exclusive for write/truncate/zero. */
    final ReentrantReadWriteLock rwsem = new ReentrantReadWriteLock();

    TestInode(TestFs fs, long ino, int blockSizeBytes, TestFs.Mode mode) {
        this.fs = fs;
        this.ino = ino;
        this.blockSizeBytes = blockSizeBytes;
        this.mode = mode;
    }

    void setMapping(AddressSpace mapping) {
        this.mapping = mapping;
    }

    @Override
    public long ino() {
        return ino;
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public void setSizeBytes(long newSizeBytes) {
        sizeBytes = newSizeBytes;
    }

    @Override
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    @Override
    public void reserveDelalloc(long nrBlocks) throws org.iomap4j.FsException {
        fs.reserveDelalloc(nrBlocks);
    }

    @Override
    public void releaseDelalloc(long nrBlocks) {
        fs.releaseDelalloc(nrBlocks);
    }

    @Override
    public AddressSpace mapping() {
        return mapping;
    }

    /** {@return what writes into this file's holes produce} */
    public TestFs.Mode mode() {
        return mode;
    }

    /**
     * Number of logical blocks with storage or a reservation.
     *
     * @return the block count
     */
    public synchronized int mappedBlocks() {
        return blocks.size();
    }

    /**
     * The physical block of {@code lblk}, or -1 for a hole or DELALLOC.
     *
     * @param lblk a logical block number
     * @return the physical block number (pblk), or -1
     */
    public synchronized long pblkOf(long lblk) {
        Ent e = blocks.get(lblk);
        return e == null ? -1 : e.pblk();
    }

    /**
     * The current block-map sequence number.
     *
     * @return the sequence number
     */
    public long seq() {
        return seq.get();
    }

    @Override
    public String toString() {
        return "TestInode[" + ino + " " + mode + " size " + sizeBytes + "]";
    }
}
