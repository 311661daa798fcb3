package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.Le;

/**
 * The ext2/ext3 indirect block map ({@link ExtBlockMapping} for inodes without EXT4_EXTENTS_FL): logical block
 * → physical block through 12 direct pointers and single, double and triple indirect blocks (Documentation/filesystems/ext2.rst; fs/ext2/inode.c ext2_block_to_path/ext2_get_blocks).
 * Finds whole contiguous runs (never crossing the end of the pointer block that holds them), whole holes,
 * allocates data and indirect blocks together near the previous block, and frees blocks beyond a new size,
 * freeing indirect blocks that no longer map anything.
 *
 * <p>Every method must be called with the inode's {@link ExtInode#lock} held: that lock alone guards the
 * inode's i_block array and its indirect blocks (so indirect blocks are read without their buffer lock, and
 * written under it for the buffer cache's write-out snapshot).
 */
final class BlockMap implements ExtBlockMapping {
    private final ExtFileSystem fs;
    private final BufferCache bcache;
    private final int pBits;
    private final long p;
    /** Logical blocks addressable through the tree: 12 + p + p^2 + p^3. */
    private final long addressableBlocks;

    BlockMap(ExtFileSystem fs, BufferCache bcache) {
        this.fs = fs;
        this.bcache = bcache;
        this.pBits = fs.geo.blockBits() - 2;
        this.p = 1L << pBits;
        this.addressableBlocks = DiskInode.NDIR_BLOCKS + p + p * p + p * p * p;
    }

    @Override
    public long addressableBlocks() {
        return addressableBlocks;
    }

    /** Fills offsets with the path to {@code lblk}; returns the depth (1..4). Caller checks lblk < addressable. */
    private int path(long lblk, int[] off) {
        long b = lblk;
        if (b < DiskInode.NDIR_BLOCKS) {
            off[0] = (int) b;
            return 1;
        }
        b -= DiskInode.NDIR_BLOCKS;
        if (b < p) {
            off[0] = DiskInode.IND_BLOCK;
            off[1] = (int) b;
            return 2;
        }
        b -= p;
        if (b < p * p) {
            off[0] = DiskInode.DIND_BLOCK;
            off[1] = (int) (b >>> pBits);
            off[2] = (int) (b & (p - 1));
            return 3;
        }
        b -= p * p;
        off[0] = DiskInode.TIND_BLOCK;
        off[1] = (int) (b >>> (2 * pBits));
        off[2] = (int) ((b >>> pBits) & (p - 1));
        off[3] = (int) (b & (p - 1));
        return 4;
    }

    /** Data blocks under the pointer at path index k of a depth-d path. */
    private long span(int k, int d) {
        return 1L << (pBits * (d - 1 - k));
    }

    /** Position of the path's block inside the subtree of the pointer at index k. */
    private long within(int k, int d, int[] off) {
        long w = 0;
        for (int j = k + 1; j < d; j++) {
            w += (long) off[j] << (pBits * (d - 1 - j));
        }
        return w;
    }

    private void checkPblk(ExtInode inode, long lblk, long ptr, String what) throws CorruptFilesystemException {
        if (ptr < fs.geo.firstDataBlock() || ptr >= fs.geo.blocksCount()) {
            throw new CorruptFilesystemException("inode " + inode.ino + ": " + what + " pointer " + ptr
                    + " (logical block " + lblk + ") outside the filesystem's blocks [" + fs.geo.firstDataBlock() + ", "
                    + fs.geo.blocksCount() + ")");
        }
    }

    /** Reads up to {@code n} pointers starting at index {@code from} of a container (0 = the inode's i_block). */
    private long[] readPtrs(ExtInode inode, long container, int from, int n) throws IOException {
        long[] out = new long[n];
        if (container == 0) {
            for (int i = 0; i < n; i++) {
                out[i] = inode.disk.block(from + i);
            }
            return out;
        }
        try (Buffer b = bcache.read(container)) {
            byte[] a = b.array();
            for (int i = 0; i < n; i++) {
                out[i] = Le.u32(a, (from + i) * 4);
            }
        }
        return out;
    }

    private void setPtrs(ExtInode inode, long container, int from, long firstValue, long n, boolean consecutive)
            throws IOException {
        if (container == 0) {
            for (int i = 0; i < n; i++) {
                inode.disk.setBlock(from + i, consecutive ? firstValue + i : firstValue);
            }
            return;
        }
        try (Buffer b = bcache.read(container)) {
            b.lock();
            try {
                for (int i = 0; i < n; i++) {
                    Le.put32(b.array(), (from + i) * 4, consecutive ? firstValue + i : firstValue);
                }
                b.markDirty();
            } finally {
                b.unlock();
            }
        }
    }

    /**
     * Maps {@code lblk} and up to {@code maxBlocks - 1} following blocks.
     *
     * @param create allocate a hole (data and missing indirect blocks, contiguously near the previous block)
     * @return a mapped run, a fresh run (create), or a hole run (not create)
     * @throws org.iomap4j.FsException ENOSPC (create), EUCLEAN for a pointer outside the filesystem
     */
    @Override
    public Run map(ExtInode inode, long lblk, long maxBlocks, boolean create) throws IOException {
        if (lblk >= addressableBlocks) {
            throw new IllegalArgumentException("logical block " + lblk + " beyond the block tree");
        }
        maxBlocks = Math.max(1, Math.min(maxBlocks, addressableBlocks - lblk));
        int[] off = new int[4];
        int d = path(lblk, off);
        long container = 0;
        long ptr = inode.disk.block(off[0]);
        int k = 0;
        while (k < d - 1 && ptr != 0) {
            checkPblk(inode, lblk, ptr, "indirect block");
            container = ptr;
            k++;
            ptr = readPtrs(inode, container, off[k], 1)[0];
        }
        int containerLen = k == 0 ? (d == 1 ? DiskInode.NDIR_BLOCKS : DiskInode.N_BLOCKS) : (int) p;
        int leafLen = d == 1 ? DiskInode.NDIR_BLOCKS : (int) p;
        if (ptr != 0) {
            checkPblk(inode, lblk, ptr, "data block");
            int avail = (int) Math.min(maxBlocks, leafLen - off[k]);
            long[] next = readPtrs(inode, container, off[k], avail);
            int n = 1;
            while (n < avail && next[n] == ptr + n) {
                n++;
            }
            boolean boundary = off[k] + n == leafLen && lblk + n < addressableBlocks;
            return new Run(lblk, n, ptr, boundary, false);
        }
        // A hole at path index k: a missing indirect block (k < d - 1) or a missing data pointer.
        if (!create) {
            long holeLen;
            if (k == d - 1) {
                int avail = (int) Math.min(maxBlocks, containerLen - off[k]);
                if (d == 1) {
                    avail = (int) Math.min(avail, DiskInode.NDIR_BLOCKS - off[k]);
                }
                long[] next = readPtrs(inode, container, off[k], avail);
                int n = 1;
                while (n < avail && next[n] == 0) {
                    n++;
                }
                holeLen = n;
            } else {
                holeLen = span(k, d) - within(k, d, off);
            }
            return new Run(lblk, Math.min(holeLen, maxBlocks), 0, false, false);
        }
        return allocate(inode, lblk, maxBlocks, off, d, k, container);
    }

    private Run allocate(ExtInode inode, long lblk, long maxBlocks, int[] off, int d, int k, long container)
            throws IOException {
        int leafLen = d == 1 ? DiskInode.NDIR_BLOCKS : (int) p;
        int indirects = (d - 1) - k;
        long want;
        if (indirects > 0) {
            want = Math.min(maxBlocks, leafLen - off[d - 1]);
        } else {
            int avail = (int) Math.min(maxBlocks, leafLen - off[k]);
            long[] next = readPtrs(inode, container, off[k], avail);
            int n = 1;
            while (n < avail && next[n] == 0) {
                n++;
            }
            want = n;
        }
        long goal = goal(inode, lblk, container, off[k]);
        long perBlock512 = fs.geo.blockSizeBytes() / 512;
        long parent = container;
        try {
            for (int lvl = k; lvl < d - 1; lvl++) {
                long nb = fs.balloc.allocBlocks(goal, 1)[0];
                try (Buffer b = bcache.getZeroed(nb)) {
                    b.lock();
                    try {
                        b.markDirty();
                    } finally {
                        b.unlock();
                    }
                }
                setPtrs(inode, parent, off[lvl], nb, 1, true);
                inode.disk.setBlocks512(inode.disk.blocks512() + perBlock512);
                parent = nb;
                goal = nb + 1;
            }
            long[] r = fs.balloc.allocBlocks(goal, want);
            setPtrs(inode, parent, off[d - 1], r[0], r[1], true);
            inode.disk.setBlocks512(inode.disk.blocks512() + r[1] * perBlock512);
            inode.lastAllocLblk = lblk + r[1] - 1;
            inode.lastAllocPblk = r[0] + r[1] - 1;
            boolean boundary = off[d - 1] + r[1] == leafLen && lblk + r[1] < addressableBlocks;
            return new Run(lblk, r[1], r[0], boundary, true);
        } finally {
            inode.bumpMapSeq();
            fs.markDirty(inode);
        }
    }

    /** Where to look for free blocks for {@code lblk}: after the previous block of the file, else near it. */
    private long goal(ExtInode inode, long lblk, long container, int index) throws IOException {
        if (inode.lastAllocPblk > 0 && lblk == inode.lastAllocLblk + 1) {
            return inode.lastAllocPblk + 1;
        }
        if (index > 0) {
            long[] prev = readPtrs(inode, container, 0, index);
            for (int i = index - 1; i >= 0; i--) {
                if (prev[i] != 0 && prev[i] >= fs.geo.firstDataBlock() && prev[i] < fs.geo.blocksCount()) {
                    return prev[i] + 1;
                }
            }
        }
        if (container != 0) {
            return container + 1;
        }
        long group = (inode.ino - 1) / fs.geo.inodesPerGroup();
        return fs.geo.firstDataBlock() + group * fs.geo.blocksPerGroup();
    }

    /**
     * Frees every block mapping logical blocks &ge; {@code fromLblk}, and indirect blocks left mapping nothing;
     * updates i_blocks and bumps the sequence counter.
     *
     * @return blocks freed (data and indirect)
     */
    @Override
    public long freeFrom(ExtInode inode, long fromLblk) throws IOException {
        long[] freed = {0};
        try {
            for (int i = (int) Math.min(fromLblk, DiskInode.NDIR_BLOCKS); i < DiskInode.NDIR_BLOCKS; i++) {
                long ptr = inode.disk.block(i);
                if (ptr != 0) {
                    checkPblk(inode, i, ptr, "data block");
                    fs.balloc.freeBlocks(ptr, 1);
                    inode.disk.setBlock(i, 0);
                    freed[0]++;
                }
            }
            long base = DiskInode.NDIR_BLOCKS;
            for (int level = 1; level <= 3; level++) {
                long span = 1L << (pBits * level);
                int slot = DiskInode.NDIR_BLOCKS + level - 1;
                if (fromLblk < base + span) {
                    long ptr = inode.disk.block(slot);
                    if (ptr != 0 && freeSubtree(inode, ptr, level, Math.max(0, fromLblk - base), base, freed)) {
                        inode.disk.setBlock(slot, 0);
                    }
                }
                base += span;
            }
        } finally {
            inode.disk.setBlocks512(Math.max(0, inode.disk.blocks512() - freed[0] * (fs.geo.blockSizeBytes() / 512)));
            inode.bumpMapSeq();
            fs.markDirty(inode);
        }
        return freed[0];
    }

    /**
     * Frees every block mapping logical blocks in {@code [fromLblk, toLblk)} (hole punching), and indirect blocks
     * left mapping nothing; updates i_blocks and bumps the sequence counter. Blocks outside the range, and
     * indirect blocks still mapping something outside it, stay.
     *
     * @return blocks freed (data and indirect)
     * @throws org.iomap4j.CorruptFilesystemException for a pointer outside the filesystem
     */
    @Override
    public long freeRange(ExtInode inode, long fromLblk, long toLblk) throws IOException {
        toLblk = Math.min(toLblk, addressableBlocks);
        if (fromLblk >= toLblk) {
            return 0;
        }
        long[] freed = {0};
        try {
            for (long i = fromLblk; i < Math.min(toLblk, DiskInode.NDIR_BLOCKS); i++) {
                long ptr = inode.disk.block((int) i);
                if (ptr != 0) {
                    checkPblk(inode, i, ptr, "data block");
                    fs.balloc.freeBlocks(ptr, 1);
                    inode.disk.setBlock((int) i, 0);
                    freed[0]++;
                }
            }
            long base = DiskInode.NDIR_BLOCKS;
            for (int level = 1; level <= 3; level++) {
                long span = 1L << (pBits * level);
                int slot = DiskInode.NDIR_BLOCKS + level - 1;
                long s = Math.max(fromLblk, base);
                long e = Math.min(toLblk, base + span);
                if (s < e) {
                    long ptr = inode.disk.block(slot);
                    if (ptr != 0 && freeSubtreeRange(inode, ptr, level, s - base, e - base, base, freed)) {
                        inode.disk.setBlock(slot, 0);
                    }
                }
                base += span;
            }
        } finally {
            inode.disk.setBlocks512(Math.max(0, inode.disk.blocks512() - freed[0] * (fs.geo.blockSizeBytes() / 512)));
            inode.bumpMapSeq();
            inode.lastAllocPblk = 0;
            inode.lastAllocLblk = -2;
            fs.markDirty(inode);
        }
        return freed[0];
    }

    /**
     * Frees the part {@code [start, end)} (relative to the subtree) of the subtree under indirect block
     * {@code pblk}; true if pblk itself was freed because it maps nothing any more.
     */
    private boolean freeSubtreeRange(ExtInode inode, long pblk, int level, long start, long end, long baseLblk,
            long[] freed) throws IOException {
        checkPblk(inode, baseLblk + start, pblk, "indirect block");
        long childSpan = 1L << (pBits * (level - 1));
        int first = (int) (start / childSpan);
        int last = (int) ((end - 1) / childSpan); // inclusive
        long[] ptrs = readPtrs(inode, pblk, 0, (int) p);
        boolean changed = false;
        int i = first;
        while (i <= last) {
            long child = ptrs[i];
            if (child == 0) {
                i++;
                continue;
            }
            long childBase = baseLblk + i * childSpan;
            if (level == 1) {
                checkPblk(inode, childBase, child, "data block");
                int j = i + 1;
                while (j <= last && ptrs[j] == child + (j - i)) {
                    j++;
                }
                fs.balloc.freeBlocks(child, j - i);
                freed[0] += j - i;
                for (int q = i; q < j; q++) {
                    ptrs[q] = 0;
                }
                changed = true;
                i = j;
                continue;
            }
            long cs = Math.max(start, (long) i * childSpan) - (long) i * childSpan;
            long ce = Math.min(end, (long) (i + 1) * childSpan) - (long) i * childSpan;
            if (freeSubtreeRange(inode, child, level - 1, cs, ce, childBase, freed)) {
                ptrs[i] = 0;
                changed = true;
            }
            i++;
        }
        return releaseOrUpdate(pblk, ptrs, changed, first, last + 1, freed);
    }

    /** Frees the part of the subtree under indirect block {@code pblk} from {@code start}; true if pblk was freed. */
    private boolean freeSubtree(ExtInode inode, long pblk, int level, long start, long baseLblk, long[] freed)
            throws IOException {
        checkPblk(inode, baseLblk + start, pblk, "indirect block");
        long childSpan = 1L << (pBits * (level - 1));
        int first = (int) (start / childSpan);
        long[] ptrs = readPtrs(inode, pblk, 0, (int) p);
        boolean changed = false;
        int i = first;
        while (i < p) {
            long child = ptrs[i];
            if (child == 0) {
                i++;
                continue;
            }
            long childStart = i == first ? start % childSpan : 0;
            long childBase = baseLblk + i * childSpan;
            if (level == 1) {
                // Data blocks: free physically consecutive pointers as one run.
                checkPblk(inode, childBase, child, "data block");
                int j = i + 1;
                while (j < p && ptrs[j] == child + (j - i)) {
                    j++;
                }
                fs.balloc.freeBlocks(child, j - i);
                freed[0] += j - i;
                for (int q = i; q < j; q++) {
                    ptrs[q] = 0;
                }
                changed = true;
                i = j;
                continue;
            }
            if (freeSubtree(inode, child, level - 1, childStart, childBase, freed)) {
                ptrs[i] = 0;
                changed = true;
            }
            i++;
        }
        return releaseOrUpdate(pblk, ptrs, changed, first, (int) p, freed);
    }

    /**
     * The end of freeing under indirect block {@code pblk} whose pointers are now {@code ptrs}: if no pointer is
     * left the block itself is forgotten and freed (counted in {@code freed[0]}) and true is returned; else, if
     * pointers changed, entries {@code [fromIdx, toIdx)} are written back to the block.
     */
    private boolean releaseOrUpdate(long pblk, long[] ptrs, boolean changed, int fromIdx, int toIdx, long[] freed)
            throws IOException {
        boolean empty = true;
        for (long v : ptrs) {
            if (v != 0) {
                empty = false;
                break;
            }
        }
        if (empty) {
            bcache.forget(pblk);
            fs.balloc.freeBlocks(pblk, 1);
            freed[0]++;
            return true;
        }
        if (changed) {
            try (Buffer b = bcache.read(pblk)) {
                b.lock();
                try {
                    byte[] a = b.array();
                    for (int q = fromIdx; q < toIdx; q++) {
                        Le.put32(a, q * 4, ptrs[q]);
                    }
                    b.markDirty();
                } finally {
                    b.unlock();
                }
            }
        }
        return false;
    }
}
