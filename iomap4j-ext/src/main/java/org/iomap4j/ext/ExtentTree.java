package org.iomap4j.ext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.ExtentIndex;
import org.iomap4j.ext.disk.ExtentLeaf;
import org.iomap4j.ext.disk.ExtentNode;

/**
 * The ext4 extent tree ({@link ExtBlockMapping} for inodes with EXT4_EXTENTS_FL; fs/ext4/extents.c): lookup of a
 * logical block through a path from the root in i_block (at most 4 entries) down through index blocks to a leaf,
 * allocation of holes as initialized or unwritten extents with an allocation goal that keeps a file contiguous
 * (ext4_ext_find_goal), conversion of unwritten extents to initialized ones at I/O completion
 * (ext4_convert_unwritten_extents), and freeing ({@link ExtentRemove}). Node changes (merge, split, grow depth,
 * removal of empty blocks, index key correction) are {@link ExtentInsert}'s.
 *
 * <p>On disk (Documentation/filesystems/ext4/ifork.rst): a node is a 12-byte header (magic 0xF30A, entries, max,
 * depth, generation) and 12-byte entries; every tree block read is validated ({@link ExtentNode#decode}: magic,
 * eh_max against the block size, depth as the parent promised and &le; 5, sorted non-overlapping entries,
 * physical blocks inside the filesystem) and, with metadata_csum, its {@code ext4_extent_tail} crc32c (seeded
 * with the inode's checksum seed) is verified on read and written on every change. A violation is a
 * {@link CorruptFilesystemException} naming the inode and the block.
 *
 * <p>Every method is called with the inode's {@link ExtInode#lock} held (it guards i_block and the tree blocks);
 * the allocator's {@link ExtGroups} monitor and buffer locks are taken inside. Every change bumps the inode's
 * block-map sequence (the iomap validity cookie) and counts tree blocks in i_blocks.
 */
final class ExtentTree implements ExtBlockMapping {
    /** Logical blocks an extent tree addresses: ee_block is 32 bits (EXT_MAX_BLOCKS). */
    static final long MAX_LBLK = (1L << 32) - 1;

    final ExtFileSystem fs;
    final BufferCache bcache;
    final ExtentInsert insert;
    final ExtentRemove remove;

    ExtentTree(ExtFileSystem fs, BufferCache bcache) {
        this.fs = fs;
        this.bcache = bcache;
        this.insert = new ExtentInsert(this);
        this.remove = new ExtentRemove(this);
    }

    @Override
    public long addressableBlocks() {
        return MAX_LBLK;
    }

    // ---------------------------------------------------------------- nodes and paths

    /**
     * One level of a path from the root to a leaf: the node, where it lives ({@code pblk} 0 = the root in
     * i_block) and the entry chosen at this level ({@code idx}: the index followed, or in the leaf the extent at
     * or before the looked-up block, -1 if none).
     */
    static final class Level {
        final long pblk;
        final ExtentNode node;
        int idx;

        Level(long pblk, ExtentNode node) {
            this.pblk = pblk;
            this.node = node;
        }
    }

    boolean metadataCsum() {
        return fs.sup.disk().hasMetadataCsum();
    }

    int inodeCsumSeed(ExtInode inode) {
        return inode.disk.csumSeed(fs.sup.disk().csumSeed(), inode.ino);
    }

    int blockMaxEntries() {
        return ExtentNode.maxEntriesInBlock(fs.geo.blockSizeBytes());
    }

    ExtentNode readRoot(ExtInode inode) throws CorruptFilesystemException {
        return ExtentNode.decode(inode.disk.blockBytes(), 0, DiskInode.I_BLOCK_BYTES, -1, fs.geo.blocksCount(),
                "inode " + inode.ino + " extent root");
    }

    /** Reads, validates and (metadata_csum) checksums the tree block {@code pblk} expected at {@code depth}. */
    ExtentNode readNode(ExtInode inode, long pblk, int depth) throws IOException {
        String where = "inode " + inode.ino + " extent block " + pblk;
        if (pblk < fs.geo.firstDataBlock() || pblk >= fs.geo.blocksCount()) {
            throw new CorruptFilesystemException(where + ": outside the filesystem's blocks ["
                    + fs.geo.firstDataBlock() + ", " + fs.geo.blocksCount() + ")");
        }
        try (Buffer b = bcache.read(pblk)) {
            byte[] a = b.array();
            ExtentNode n = ExtentNode.decode(a, 0, a.length, depth, fs.geo.blocksCount(), where);
            if (metadataCsum()) {
                ExtentNode.verifyTailChecksum(inodeCsumSeed(inode), a, where);
            }
            return n;
        }
    }

    /** Writes {@code node} to the root (pblk 0) or to tree block {@code pblk} (whole block rewritten). */
    void writeNode(ExtInode inode, long pblk, ExtentNode node, boolean fresh) throws IOException {
        if (pblk == 0) {
            byte[] root = new byte[DiskInode.I_BLOCK_BYTES];
            node.encodeInto(root, 0);
            inode.disk.setBlockBytes(root);
            fs.markDirty(inode);
            return;
        }
        try (Buffer b = fresh ? bcache.getZeroed(pblk) : bcache.read(pblk)) {
            b.lock();
            try {
                byte[] a = b.array();
                Arrays.fill(a, (byte) 0);
                node.encodeInto(a, 0);
                if (metadataCsum()) {
                    ExtentNode.updateTailChecksum(inodeCsumSeed(inode), a);
                }
                b.markDirty();
            } finally {
                b.unlock();
            }
        }
    }

    /** The path from the root to the leaf whose range holds {@code lblk}. */
    List<Level> path(ExtInode inode, long lblk) throws IOException {
        List<Level> path = new ArrayList<>(3);
        ExtentNode node = readRoot(inode);
        Level lvl = new Level(0, node);
        path.add(lvl);
        while (node.depth() > 0) {
            List<ExtentIndex> ix = node.indexes();
            if (ix.isEmpty()) {
                throw new CorruptFilesystemException("inode " + inode.ino + " extent "
                        + (lvl.pblk == 0 ? "root" : "block " + lvl.pblk) + ": index node (depth " + node.depth()
                        + ") without entries");
            }
            int i = 0;
            int lo = 1;
            int hi = ix.size() - 1;
            while (lo <= hi) { // largest i with ix[i].lblk <= lblk (0 if lblk is before all)
                int mid = (lo + hi) >>> 1;
                if (ix.get(mid).lblk() <= lblk) {
                    i = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            lvl.idx = i;
            if (path.size() > ExtentNode.MAX_DEPTH) {
                throw new CorruptFilesystemException("inode " + inode.ino + ": extent tree deeper than "
                        + ExtentNode.MAX_DEPTH);
            }
            long child = ix.get(i).leafPblk();
            node = readNode(inode, child, node.depth() - 1);
            lvl = new Level(child, node);
            path.add(lvl);
        }
        List<ExtentLeaf> lv = node.leaves();
        int i = -1;
        int lo = 0;
        int hi = lv.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (lv.get(mid).lblk() <= lblk) {
                i = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        lvl.idx = i;
        return path;
    }

    static Level leafLevel(List<Level> path) {
        return path.getLast();
    }

    /**
     * The first logical block mapped after the leaf entry chosen in {@code path}: the next extent of the leaf,
     * else the key of the next subtree (ext4_ext_next_allocated_block); {@link #MAX_LBLK} + 1 if none.
     */
    static long nextAllocated(List<Level> path) {
        Level leaf = leafLevel(path);
        List<ExtentLeaf> lv = leaf.node.leaves();
        if (leaf.idx + 1 < lv.size()) {
            return lv.get(leaf.idx + 1).lblk();
        }
        return nextLeafKey(path);
    }

    /** The first key of the leaf after the one in {@code path}, or {@link #MAX_LBLK} + 1. */
    static long nextLeafKey(List<Level> path) {
        for (int k = path.size() - 2; k >= 0; k--) {
            Level l = path.get(k);
            if (l.idx + 1 < l.node.indexes().size()) {
                return l.node.indexes().get(l.idx + 1).lblk();
            }
        }
        return MAX_LBLK + 1;
    }

    // ---------------------------------------------------------------- map

    @Override
    public Run map(ExtInode inode, long lblk, long maxBlocks, boolean create) throws IOException {
        return map(inode, lblk, maxBlocks, create, false);
    }

    /**
     * As {@link #map(ExtInode, long, long, boolean)}; with {@code create} a hole is allocated as an unwritten
     * extent when {@code unwritten} (reads as zeroes until {@link #convertUnwritten}), else initialized. A
     * mapped answer reports {@link Run#unwritten()}.
     */
    Run map(ExtInode inode, long lblk, long maxBlocks, boolean create, boolean unwritten) throws IOException {
        if (lblk < 0 || lblk > MAX_LBLK) {
            throw new IllegalArgumentException("logical block " + lblk + " beyond the extent tree");
        }
        maxBlocks = Math.max(1, Math.min(maxBlocks, MAX_LBLK + 1 - lblk));
        List<Level> path = path(inode, lblk);
        Level leaf = leafLevel(path);
        if (leaf.idx >= 0) {
            ExtentLeaf e = leaf.node.leaves().get(leaf.idx);
            if (lblk < e.endLblk()) {
                long n = Math.min(maxBlocks, e.endLblk() - lblk);
                return new Run(lblk, n, e.pblk() + (lblk - e.lblk()), false, false, e.unwritten());
            }
        }
        long holeLen = Math.min(maxBlocks, nextAllocated(path) - lblk);
        if (!create) {
            return new Run(lblk, holeLen, 0, false, false);
        }
        return allocate(inode, path, lblk, holeLen, unwritten);
    }

    /** Allocates data blocks for the hole {@code [lblk, lblk + holeLen)} (a prefix of it) and inserts them. */
    private Run allocate(ExtInode inode, List<Level> path, long lblk, long holeLen, boolean unwritten)
            throws IOException {
        int maxLen = unwritten ? ExtentNode.UNWRITTEN_MAX_LEN : ExtentNode.INIT_MAX_LEN;
        long want = Math.min(holeLen, maxLen);
        long goal = goal(inode, path, lblk);
        long sizeBlocks = (inode.sizeBytes() + fs.geo.blockSizeBytes() - 1) >>> fs.geo.blockBits();
        long[] r = inode.isRegular() // per-inode preallocation windows for file data (mballoc's inode PA)
                ? fs.balloc.allocDataBlocks(inode.ino, lblk, goal, want, sizeBlocks)
                : fs.balloc.allocBlocks(goal, want);
        boolean inserted = false;
        try {
            insert.insertExtent(inode, path, new ExtentLeaf(lblk, (int) r[1], r[0], unwritten));
            inserted = true;
            inode.disk.setBlocks512(inode.disk.blocks512() + r[1] * (fs.geo.blockSizeBytes() / 512));
            inode.lastAllocLblk = lblk + r[1] - 1;
            inode.lastAllocPblk = r[0] + r[1] - 1;
        } finally {
            if (!inserted) {
                fs.balloc.freeBlocks(r[0], r[1]);
            }
            inode.bumpMapSeq();
            fs.markDirty(inode);
        }
        return new Run(lblk, r[1], r[0], false, true, unwritten);
    }

    /**
     * Where to look for free blocks for {@code lblk} (fs/ext4/extents.c ext4_ext_find_goal): right after the
     * file's last allocation when it continues it; else the physical block that continues the extent before
     * {@code lblk} (or precedes the one after); else next to the leaf block; else the start of the inode's
     * block group.
     */
    private long goal(ExtInode inode, List<Level> path, long lblk) {
        if (inode.lastAllocPblk > 0 && lblk == inode.lastAllocLblk + 1) {
            return inode.lastAllocPblk + 1;
        }
        Level leaf = leafLevel(path);
        List<ExtentLeaf> lv = leaf.node.leaves();
        if (leaf.idx >= 0) {
            ExtentLeaf e = lv.get(leaf.idx);
            return e.pblk() + (lblk - e.lblk());
        }
        if (!lv.isEmpty()) {
            ExtentLeaf e = lv.getFirst();
            return Math.max(fs.geo.firstDataBlock(), e.pblk() - (e.lblk() - lblk));
        }
        if (leaf.pblk != 0) {
            return leaf.pblk + 1;
        }
        long group = (inode.ino - 1) / fs.geo.inodesPerGroup();
        return fs.geo.firstDataBlock() + group * fs.geo.blocksPerGroup();
    }

    // ---------------------------------------------------------------- unwritten conversion

    /**
     * Marks the unwritten extents in {@code [lblk, lblk + nrBlocks)} initialized (ext4_convert_unwritten_extents),
     * splitting extents at the range's ends and merging with initialized neighbours. Holes and initialized
     * extents in the range are left alone. Called after the data reached the device, so a crash before this
     * leaves the range unwritten (zeroes), never stale blocks.
     *
     * @throws org.iomap4j.FsException ENOSPC if a split needs a tree block and none is free
     */
    void convertUnwritten(ExtInode inode, long lblk, long nrBlocks) throws IOException {
        long end = Math.min(MAX_LBLK + 1, lblk + nrBlocks);
        long cur = lblk;
        boolean changed = false;
        try {
            while (cur < end) {
                List<Level> path = path(inode, cur);
                Level leaf = leafLevel(path);
                List<ExtentLeaf> lv = leaf.node.leaves();
                int i = leaf.idx;
                if (i < 0 || lv.get(i).endLblk() <= cur) {
                    cur = nextAllocated(path);
                    continue;
                }
                ExtentLeaf e = lv.get(i);
                if (!e.unwritten()) {
                    cur = e.endLblk();
                    continue;
                }
                long a = cur;
                long b = Math.min(end, e.endLblk());
                List<ExtentLeaf> pieces = new ArrayList<>(3);
                if (a > e.lblk()) {
                    pieces.add(new ExtentLeaf(e.lblk(), (int) (a - e.lblk()), e.pblk(), true));
                }
                pieces.add(new ExtentLeaf(a, (int) (b - a), e.pblk() + (a - e.lblk()), false));
                if (b < e.endLblk()) {
                    pieces.add(new ExtentLeaf(b, (int) (e.endLblk() - b), e.pblk() + (b - e.lblk()), true));
                }
                List<ExtentLeaf> out = new ArrayList<>(lv.size() + 2);
                out.addAll(lv.subList(0, i));
                out.addAll(pieces);
                out.addAll(lv.subList(i + 1, lv.size()));
                insert.replaceLeaf(inode, path, ExtentInsert.mergeNeighbours(out));
                changed = true;
                cur = b;
            }
        } finally {
            if (changed) {
                inode.bumpMapSeq();
                fs.markDirty(inode);
            }
        }
    }

    // ---------------------------------------------------------------- free

    @Override
    public long freeFrom(ExtInode inode, long fromLblk) throws IOException {
        return remove.removeRange(inode, fromLblk, MAX_LBLK + 1);
    }

    @Override
    public long freeRange(ExtInode inode, long fromLblk, long toLblk) throws IOException {
        return remove.removeRange(inode, fromLblk, Math.min(toLblk, MAX_LBLK + 1));
    }

    /** Makes i_block an empty extent root (ext4_ext_tree_init) for a new inode; caller sets EXT4_EXTENTS_FL. */
    static void initEmptyRoot(DiskInode disk) {
        byte[] root = new byte[DiskInode.I_BLOCK_BYTES];
        ExtentNode.emptyRoot().encodeInto(root, 0);
        disk.setBlockBytes(root);
    }

    /** Every leaf extent in logical order (debugging and tests; reads the whole tree). */
    List<ExtentLeaf> allExtents(ExtInode inode) throws IOException {
        List<ExtentLeaf> out = new ArrayList<>();
        collect(inode, readRoot(inode), out);
        return out;
    }

    private void collect(ExtInode inode, ExtentNode node, List<ExtentLeaf> out) throws IOException {
        if (node.depth() == 0) {
            out.addAll(node.leaves());
            return;
        }
        for (ExtentIndex ix : node.indexes()) {
            collect(inode, readNode(inode, ix.leafPblk(), node.depth() - 1), out);
        }
    }

    /** Depth of the inode's tree (eh_depth of the root). */
    int depth(ExtInode inode) throws CorruptFilesystemException {
        return readRoot(inode).depth();
    }
}
