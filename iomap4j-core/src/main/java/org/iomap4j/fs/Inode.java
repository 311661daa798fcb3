package org.iomap4j.fs;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.pagecache.AddressSpace;

/**
 * The generic part of an in-memory inode (the kernel's {@code struct inode}): the number, i_rwsem, the page cache
 * ({@code i_mapping}) created on first use, and the reference state the {@link InodeCache} keeps (i_count split
 * into lookup references, open handles and per-operation pins; i_state's I_FREEING/I_WILL_FREE as
 * {@link #isEvicted()} and the cache's freed state). A filesystem extends it with its on-disk fields and block-map state.
 *
 * <p>Locks: {@link #rwsem} is the outermost per-file lock (shared for reads, exclusive for writes, truncate,
 * fallocate), taken by the filesystem's file operations; the reference counters are guarded by the owning
 * {@link InodeCache}'s lock (a leaf). {@link #dataSeq} is bumped by every holder of the write lock right after
 * taking it ({@link #beginWrite}).
 */
public abstract class Inode implements IomapInode {
    /** The inode number. */
    private final long ino;
    /** i_rwsem: shared for reads, exclusive for writes, truncate and fallocate. */
    public final ReentrantReadWriteLock rwsem = new ReentrantReadWriteLock();
    /**
     * Data sequence counter: bumped right after each exclusive {@link #rwsem} acquisition ({@link #beginWrite}),
     * so a value read under the shared lock stays the same exactly as long as no writer has run since. Validates
     * O_DIRECT read-ahead ({@link org.iomap4j.iomap.DirectReadahead}).
     */
    private volatile long dataSeq;
    private volatile AddressSpace mapping;
    private boolean mappingDetached;

    // Reference state, guarded by the InodeCache's lock.
    long lookupRefs;
    int openCount;
    int pins;
    boolean dropped;
    boolean freed;
    volatile boolean evicted;
    /** The link count reached 0 (never goes back). Set by the operation that dropped the last link. */
    private volatile boolean unlinked;

    /**
     * An in-memory inode with no page cache yet.
     *
     * @param ino the inode number
     */
    protected Inode(long ino) {
        this.ino = ino;
    }

    @Override
    public final long ino() {
        return ino;
    }

    /**
     * Creates this inode's page cache on first use (the filesystem's PageCache and writeback ops).
     *
     * @return the new page cache
     */
    protected abstract AddressSpace createMapping();

    /**
     * The inode's page cache, created on first use.
     *
     * @throws IllegalStateException after {@link #detachMapping()} (eviction or free): a caller that still holds
     *                               this object is a bug, and a new mapping here would cache data nobody syncs
     */
    @Override
    public final AddressSpace mapping() {
        AddressSpace m = mapping;
        if (m == null) {
            synchronized (this) {
                m = mapping;
                if (m == null) {
                    if (mappingDetached) {
                        throw new IllegalStateException(this + ": page cache used after the inode was evicted or freed");
                    }
                    m = createMapping();
                    mapping = m;
                }
            }
        }
        return m;
    }

    /**
     * The page cache if one was created, else null (no data was ever cached).
     *
     * @return the page cache, or null
     */
    public final AddressSpace mappingIfCreated() {
        return mapping;
    }

    /**
     * Takes the page cache away from this object for eviction or free (the caller removes it from the page
     * cache); later {@link #mapping()} calls throw. Returns the mapping, or null if none was created.
     *
     * @return the detached page cache, or null if none was created
     */
    public final AddressSpace detachMapping() {
        synchronized (this) {
            AddressSpace m = mapping;
            mapping = null;
            mappingDetached = true;
            return m;
        }
    }

    /** Takes {@link #rwsem} exclusively and bumps {@link #dataSeq} (invalidates O_DIRECT read-ahead). */
    public final void beginWrite() {
        rwsem.writeLock().lock();
        dataSeq++;
    }

    /** Releases what {@link #beginWrite} took. */
    public final void endWrite() {
        rwsem.writeLock().unlock();
    }

    /**
     * See {@link #dataSeq}.
     *
     * @return the current data sequence number
     */
    public final long dataSeq() {
        return dataSeq;
    }

    /**
     * True once the link count reached 0 (the inode is freed when its last user is gone).
     *
     * @return true if unlinked
     */
    public final boolean isUnlinked() {
        return unlinked;
    }

    /** Records that the link count reached 0; the filesystem calls it under its inode lock. Never undone. */
    protected final void setUnlinked() {
        unlinked = true;
    }

    /**
     * Removed from the inode cache: this object must not be used any more.
     *
     * @return true if evicted
     */
    public final boolean isEvicted() {
        return evicted;
    }
}
