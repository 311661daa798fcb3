package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.vfs.Caller;
import org.iomap4j.FsException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.ext.disk.GroupDescriptor;

/**
 * Block and inode allocation over the block groups' bitmaps (read and written through the metadata
 * {@link BufferCache}) and the group descriptors' free counts. Blocks are allocated goal-based (at or after the
 * goal in its group, then the following groups), so that a file's next block lands right after its previous one;
 * inodes near their parent directory (files) or in a roomy group (directories), after the kernel's
 * fs/ext2/balloc.c and ialloc.c in spirit.
 *
 * <p>Thread-safe: every method holds this object's monitor, which nests inside inode locks and outside buffer
 * locks (lock order in {@link ExtFileSystem}).
 */
final class Allocator {
    private final ExtFileSystem fs;
    private final BufferCache bcache;
    private final GroupDescriptor[] gds;
    private final long blocksCount;
    private final long firstDataBlock;
    private final long blocksPerGroup;
    private final long inodesPerGroup;
    private final long itableBlocks;
    private long freeBlocks;
    private long freeInodes;
    private final long reservedBlocks;
    private final int resuid;
    private final int resgid;

    /**
     * @param reservedBlocks s_r_blocks_count: blocks only a privileged caller may take ({@link #mayUseReserved})
     * @param resuid         s_def_resuid: a user who may use them besides root
     * @param resgid         s_def_resgid: a group (other than 0) whose members may use them
     */
    Allocator(ExtFileSystem fs, BufferCache bcache, GroupDescriptor[] gds, long reservedBlocks, int resuid,
            int resgid) {
        this.reservedBlocks = Math.max(0, reservedBlocks);
        this.resuid = resuid;
        this.resgid = resgid;
        this.fs = fs;
        this.bcache = bcache;
        this.gds = gds;
        this.blocksCount = fs.blocksCount;
        this.firstDataBlock = fs.firstDataBlock;
        this.blocksPerGroup = fs.blocksPerGroup;
        this.inodesPerGroup = fs.inodesPerGroup;
        this.itableBlocks = fs.itableBlocks;
        for (GroupDescriptor gd : gds) {
            freeBlocks += gd.freeBlocksCount();
            freeInodes += gd.freeInodesCount();
        }
    }

    synchronized long freeBlocks() {
        return freeBlocks;
    }

    synchronized long freeInodes() {
        return freeInodes;
    }

    private long groupStart(int g) {
        return firstDataBlock + g * blocksPerGroup;
    }

    private long groupBlocks(int g) {
        return Math.min(blocksPerGroup, blocksCount - groupStart(g));
    }

    int groupOfBlock(long pblk) {
        return (int) ((pblk - firstDataBlock) / blocksPerGroup);
    }

    /**
     * Allocates up to {@code maxCount} physically contiguous free blocks, the first at or after {@code goal}
     * when possible.
     *
     * @return {start, count} with count &ge; 1
     * @throws FsException ENOSPC when no block is free
     */
    synchronized long[] allocBlocks(long goal, long maxCount) throws IOException {
        if (freeBlocks == 0) {
            throw new FsException(Errno.ENOSPC, "no free blocks");
        }
        if (!mayUseReserved(Caller.current())) {
            long usable = freeBlocks - reservedBlocks;
            if (usable <= 0) {
                throw new FsException(Errno.ENOSPC, "no free blocks for uid " + Caller.current().uid() + ": the "
                        + freeBlocks + " left are within the " + reservedBlocks + " reserved for root");
            }
            maxCount = Math.min(maxCount, usable);
        }
        if (goal < firstDataBlock || goal >= blocksCount) {
            goal = firstDataBlock;
        }
        int g0 = groupOfBlock(goal);
        int groups = gds.length;
        for (int i = 0; i <= groups; i++) {
            int g = (g0 + i) % groups;
            if (gds[g].freeBlocksCount() == 0) {
                continue;
            }
            long from = i == 0 ? goal - groupStart(g) : 0;
            long[] r = allocInGroup(g, from, maxCount);
            if (r != null) {
                return r;
            }
        }
        throw new FsException(Errno.ENOSPC, "no free blocks (bitmaps full although counts say "
                + freeBlocks + " free)");
    }

    /**
     * May {@code caller} allocate the root-reserved blocks? Root, the superblock's resuid, and (when it is not 0)
     * the resgid group, as fs/ext2/balloc.c ext2_has_free_blocks decides (the kernel also checks supplementary
     * groups and CAP_SYS_RESOURCE, which a FUSE request does not carry).
     */
    boolean mayUseReserved(Caller caller) {
        return caller.uid() == 0 || caller.uid() == resuid || (resgid != 0 && caller.gid() == resgid);
    }

    private long[] allocInGroup(int g, long fromBit, long maxCount) throws IOException {
        GroupDescriptor gd = gds[g];
        long nbits = groupBlocks(g);
        try (Buffer bm = bcache.read(gd.blockBitmap())) {
            bm.lock();
            try {
                byte[] b = bm.array();
                long bit = findZero(b, fromBit, nbits);
                if (bit < 0) {
                    return null;
                }
                long n = 1;
                while (n < maxCount && bit + n < nbits && n < gd.freeBlocksCount() && !test(b, bit + n)) {
                    n++;
                }
                long start = groupStart(g) + bit;
                checkNotMetadata(g, start, n);
                for (long k = 0; k < n; k++) {
                    set(b, bit + k);
                }
                bm.markDirty();
                gd.setFreeBlocksCount((int) (gd.freeBlocksCount() - n));
                freeBlocks -= n;
                return new long[] {start, n};
            } finally {
                bm.unlock();
            }
        }
    }

    /** A bitmap that marks a group's own bitmaps or inode table free is corrupt: never hand those out. */
    private void checkNotMetadata(int g, long start, long n) throws CorruptFilesystemException {
        GroupDescriptor gd = gds[g];
        long end = start + n;
        boolean hit = (gd.blockBitmap() >= start && gd.blockBitmap() < end)
                || (gd.inodeBitmap() >= start && gd.inodeBitmap() < end)
                || (gd.inodeTable() < end && gd.inodeTable() + itableBlocks > start);
        if (hit) {
            throw new CorruptFilesystemException("block bitmap of group " + g + " (block " + gd.blockBitmap()
                    + ") marks metadata blocks in [" + start + ", " + end + ") free");
        }
    }

    /** Frees blocks {@code [start, start + count)}; each must be allocated (else the bitmap or a map is corrupt). */
    synchronized void freeBlocks(long start, long count) throws IOException {
        long pblk = start;
        long end = start + count;
        while (pblk < end) {
            if (pblk < firstDataBlock || pblk >= blocksCount) {
                throw new CorruptFilesystemException("freeing block " + pblk + " outside the filesystem");
            }
            int g = groupOfBlock(pblk);
            long groupEnd = groupStart(g) + groupBlocks(g);
            long runEnd = Math.min(end, groupEnd);
            GroupDescriptor gd = gds[g];
            try (Buffer bm = bcache.read(gd.blockBitmap())) {
                bm.lock();
                try {
                    byte[] b = bm.array();
                    for (long p = pblk; p < runEnd; p++) {
                        long bit = p - groupStart(g);
                        if (!test(b, bit)) {
                            bm.markDirty();
                            throw new CorruptFilesystemException("freeing block " + p
                                    + " which is already free (bitmap block " + gd.blockBitmap() + ")");
                        }
                        clear(b, bit);
                        gd.setFreeBlocksCount(gd.freeBlocksCount() + 1);
                        freeBlocks++;
                    }
                    bm.markDirty();
                } finally {
                    bm.unlock();
                }
            }
            pblk = runEnd;
        }
    }

    /**
     * Allocates an inode: a directory in the group with the most free blocks among those with at least the
     * average number of free inodes; anything else in its parent's group if it has room, else the next group
     * with free inodes.
     *
     * @throws FsException ENOSPC when no inode is free
     */
    synchronized long allocInode(long parentIno, boolean dir) throws IOException {
        if (freeInodes == 0) {
            throw new FsException(Errno.ENOSPC, "no free inodes");
        }
        int groups = gds.length;
        int parentGroup = (int) ((parentIno - 1) / inodesPerGroup);
        int chosen = -1;
        if (dir) {
            long avg = freeInodes / groups;
            long best = -1;
            for (int i = 0; i < groups; i++) {
                int g = (parentGroup + i) % groups;
                GroupDescriptor gd = gds[g];
                if (gd.freeInodesCount() > 0 && gd.freeInodesCount() >= avg && gd.freeBlocksCount() > best) {
                    best = gd.freeBlocksCount();
                    chosen = g;
                }
            }
        } else if (gds[parentGroup].freeInodesCount() > 0 && gds[parentGroup].freeBlocksCount() > 0) {
            chosen = parentGroup;
        }
        for (int i = 0; i < groups && chosen < 0; i++) {
            int g = (parentGroup + i) % groups;
            if (gds[g].freeInodesCount() > 0) {
                chosen = g;
            }
        }
        for (int i = 0; i < groups; i++) {
            int g = (chosen + i) % groups;
            GroupDescriptor gd = gds[g];
            if (gd.freeInodesCount() == 0) {
                continue;
            }
            try (Buffer bm = bcache.read(gd.inodeBitmap())) {
                bm.lock();
                try {
                    byte[] b = bm.array();
                    long bit = findZero(b, 0, inodesPerGroup);
                    if (bit < 0) {
                        continue;
                    }
                    long ino = g * inodesPerGroup + bit + 1;
                    if (ino < fs.firstIno) {
                        throw new CorruptFilesystemException("inode bitmap of group " + g + " (block "
                                + gd.inodeBitmap() + ") marks reserved inode " + ino + " free");
                    }
                    set(b, bit);
                    bm.markDirty();
                    gd.setFreeInodesCount(gd.freeInodesCount() - 1);
                    if (dir) {
                        gd.setUsedDirsCount(gd.usedDirsCount() + 1);
                    }
                    freeInodes--;
                    return ino;
                } finally {
                    bm.unlock();
                }
            }
        }
        throw new FsException(Errno.ENOSPC, "no free inodes (bitmaps full although counts say " + freeInodes + ")");
    }

    synchronized void freeInode(long ino, boolean dir) throws IOException {
        int g = (int) ((ino - 1) / inodesPerGroup);
        long bit = (ino - 1) % inodesPerGroup;
        GroupDescriptor gd = gds[g];
        try (Buffer bm = bcache.read(gd.inodeBitmap())) {
            bm.lock();
            try {
                byte[] b = bm.array();
                if (!test(b, bit)) {
                    throw new CorruptFilesystemException("freeing inode " + ino + " which is already free");
                }
                clear(b, bit);
                bm.markDirty();
            } finally {
                bm.unlock();
            }
        }
        gd.setFreeInodesCount(gd.freeInodesCount() + 1);
        if (dir && gd.usedDirsCount() > 0) {
            gd.setUsedDirsCount(gd.usedDirsCount() - 1);
        }
        freeInodes++;
    }

    /** Writes every group descriptor into the primary descriptor table (through the buffer cache). */
    synchronized void writeDescriptors() throws IOException {
        int bs = bcache.blockSizeBytes();
        int perBlock = bs / GroupDescriptor.SIZE;
        for (int first = 0; first < gds.length; first += perBlock) {
            long pblk = firstDataBlock + 1 + first / perBlock;
            try (Buffer buf = bcache.read(pblk)) {
                buf.lock();
                try {
                    for (int g = first; g < Math.min(gds.length, first + perBlock); g++) {
                        gds[g].encodeInto(buf.array(), (g - first) * GroupDescriptor.SIZE);
                    }
                    buf.markDirty();
                } finally {
                    buf.unlock();
                }
            }
        }
    }

    private static boolean test(byte[] b, long bit) {
        return (b[(int) (bit >>> 3)] & (1 << (bit & 7))) != 0;
    }

    private static void set(byte[] b, long bit) {
        b[(int) (bit >>> 3)] |= (byte) (1 << (bit & 7));
    }

    private static void clear(byte[] b, long bit) {
        b[(int) (bit >>> 3)] &= (byte) ~(1 << (bit & 7));
    }

    /** First clear bit in [from, limit), or -1. */
    private static long findZero(byte[] b, long from, long limit) {
        long bit = Math.max(0, from);
        while (bit < limit) {
            if ((bit & 7) == 0 && b[(int) (bit >>> 3)] == (byte) 0xff) {
                bit += 8;
                continue;
            }
            if (!test(b, bit)) {
                return bit;
            }
            bit++;
        }
        return -1;
    }
}
