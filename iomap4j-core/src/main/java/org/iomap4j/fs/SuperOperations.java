package org.iomap4j.fs;

import java.io.IOException;

/**
 * What a filesystem gives the generic {@link InodeCache} (the kernel's {@code struct super_operations}, the inode
 * part): reading an inode into memory, writing a dirty one back to its metadata buffer, and the two ends of an
 * inode's life in memory (eviction of a linked inode, freeing of an unlinked one).
 *
 * <p>Lock order: none of these is called with the cache's lock held. {@link #readInode} and {@link #writeInode}
 * may take the filesystem's inode lock and buffer locks; {@link #freeInode} runs with no lock of the caller held
 * and takes the filesystem's namespace lock itself.
 *
 * @param <I> the filesystem's in-memory inode type
 */
public interface SuperOperations<I extends Inode> {

    /**
     * Reads inode {@code ino} from disk and validates it (iget's fill: the kernel's alloc_inode + the
     * filesystem's read, e.g. ext2_iget). Called without any cache lock; the result may be discarded if the
     * number was evicted meanwhile.
     *
     * @throws org.iomap4j.CorruptFilesystemException for an inode not in use or with impossible fields, naming it
     * @throws IOException                            device errors
     * @param ino the inode number
     * @return the in-memory inode
     */
    I readInode(long ino) throws IOException;

    /**
     * Copies the in-memory inode into its metadata buffer (write_inode): it reaches the device with the next
     * metadata sync. The inode's dirty mark was cleared before the call and is set again if this throws.
     *
     * @param inode the inode to write
     * @throws IOException EIO reading the inode table block
     */
    void writeInode(I inode) throws IOException;

    /** A scope around taking an inode's dirty mark and writing it ({@link #beginInodeWrite}). */
    interface InodeWriteScope extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Opens the scope in which {@link InodeWriteback} takes an inode's dirty mark and calls {@link #writeInode}: a
     * journaled filesystem starts its transaction handle here, before the mark is taken, so that no commit can
     * run while the inode is neither marked dirty nor written (it would miss the inode). Default: nothing.
     *
     * @return the scope to close after the write
     * @throws IOException if the scope cannot be opened (a journal aborted: EIO)
     */
    default InodeWriteScope beginInodeWrite() throws IOException {
        return () -> { };
    }

    /**
     * A linked inode left the cache (evict_inode for i_nlink &gt; 0): its page cache was already removed; drop
     * any other in-memory state the filesystem keeps for it (a directory index). Must not block on I/O.
     *
     * @param inode the evicted inode
     */
    default void evictInode(I inode) {
    }

    /**
     * The last reference, handle and pin of an unlinked inode ({@link Inode#isUnlinked()}) are gone: free it on
     * disk (the kernel's iput_final → evict → ext2_evict_inode with i_nlink == 0). The implementation takes its
     * namespace lock and uses {@link InodeCache#startFreeing} to claim the inode once.
     *
     * @param inode the inode to free
     * @throws IOException EIO or EUCLEAN while freeing its blocks or inode
     */
    void freeInode(I inode) throws IOException;
}
