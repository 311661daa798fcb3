package org.iomap4j.testkit.testfs;

import java.util.ArrayDeque;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * {@link TestFs}'s space: a bump allocator over physical blocks {@code [firstDataBlock, totalBlocks)} with a free
 * list, and the delalloc reservations the core's page cache takes and gives back (MappingHost.reserveDelalloc /
 * releaseDelalloc through {@link TestInode}). Units are filesystem blocks. Thread-safe: every method holds this
 * object's monitor, a leaf lock (reservations are taken with a folio locked).
 */
final class TestSpace {
    private final long totalBlocks;
    private long nextFree;
    private final ArrayDeque<Long> freeList = new ArrayDeque<>();
    /** Blocks reserved by dirty DELALLOC page-cache blocks. */
    private long delallocReserved;
    private boolean reuseFreedFirst;

    TestSpace(long firstDataBlock, long totalBlocks) {
        this.nextFree = firstDataBlock;
        this.totalBlocks = totalBlocks;
    }

    synchronized void setReuseFreedFirst(boolean v) {
        reuseFreedFirst = v;
    }

    /** A fresh block, never a freed one (relocation must move data to a new place). ENOSPC as {@link #allocOne}. */
    synchronized long allocFresh() throws FsException {
        boolean reuse = reuseFreedFirst;
        reuseFreedFirst = false;
        try {
            return allocOne();
        } finally {
            reuseFreedFirst = reuse;
        }
    }

    /** One block outside writeback: blocks held by delalloc reservations are not available (ENOSPC). */
    synchronized long allocOne() throws FsException {
        if (freeBlocks() - delallocReserved <= 0) {
            throw new FsException(Errno.ENOSPC, "test fs: device full (" + delallocReserved
                    + " blocks reserved for delalloc)");
        }
        return allocReservedOne();
    }

    /** One block for a DELALLOC block at writeback: the space its reservation kept free (ENOSPC only if none). */
    synchronized long allocReservedOne() throws FsException {
        if (reuseFreedFirst && !freeList.isEmpty()) {
            return freeList.pop();
        }
        if (nextFree < totalBlocks) {
            return nextFree++;
        }
        if (!freeList.isEmpty()) {
            return freeList.pop();
        }
        throw new FsException(Errno.ENOSPC, "test fs: device full");
    }

    /** ENOSPC unless {@code nrBlocks} unreserved blocks are free; else reserves them. */
    synchronized void reserveDelalloc(long nrBlocks) throws FsException {
        if (freeBlocks() - delallocReserved < nrBlocks) {
            throw new FsException(Errno.ENOSPC, "test fs: no space to reserve " + nrBlocks + " delalloc blocks ("
                    + freeBlocks() + " free, " + delallocReserved + " reserved)");
        }
        delallocReserved += nrBlocks;
    }

    /** Gives back reservations; more than are held is a bug of the caller (IllegalStateException). */
    synchronized void releaseDelalloc(long nrBlocks) {
        if (nrBlocks > delallocReserved) {
            throw new IllegalStateException("released " + nrBlocks + " delalloc blocks but only " + delallocReserved
                    + " are reserved");
        }
        delallocReserved -= nrBlocks;
    }

    synchronized long delallocReservedBlocks() {
        return delallocReserved;
    }

    synchronized void free(long pblk) {
        freeList.push(pblk);
    }

    /** Blocks neither allocated nor on the way to allocation (reservations not subtracted). */
    synchronized long freeBlocks() {
        return totalBlocks - nextFree + freeList.size();
    }

    /** Frees every block (data, unwritten, staged CoW) of {@code inode} at or after {@code lblk}. */
    void freeFrom(TestInode inode, long lblk) {
        synchronized (inode) {
            java.util.Map<Long, TestInode.Ent> tail = inode.blocks.tailMap(lblk, true);
            for (TestInode.Ent e : tail.values()) {
                if (e.pblk() >= 0) {
                    free(e.pblk());
                }
            }
            tail.clear();
            java.util.Map<Long, Long> cowTail = inode.cow.tailMap(lblk, true);
            for (long p : cowTail.values()) {
                free(p);
            }
            cowTail.clear();
            inode.seq.incrementAndGet();
        }
    }
}
