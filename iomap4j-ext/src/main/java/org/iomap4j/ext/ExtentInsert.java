package org.iomap4j.ext;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.ExtentTree.Level;
import org.iomap4j.ext.disk.ExtentIndex;
import org.iomap4j.ext.disk.ExtentLeaf;
import org.iomap4j.ext.disk.ExtentNode;

/**
 * Changes to extent tree nodes (fs/ext4/extents.c ext4_ext_insert_extent, ext4_ext_split, ext4_ext_grow_indepth,
 * ext4_ext_try_to_merge, ext4_ext_correct_indexes, ext4_ext_rm_idx, ext4_ext_try_to_merge_up): a leaf's new
 * entry list is stored, and the change travels up the path as needed —
 * <ul>
 *   <li>entries that still fit are written in place; when the node's first key changed, the parent's index key
 *       is corrected (index keys always equal the first key of their child);</li>
 *   <li>a full non-root node is split in two: the right half goes to a new block and a new index entry to the
 *       parent (which may split in turn);</li>
 *   <li>a full root moves its entries into a new block and becomes an index of depth + 1 with one entry (at most
 *       depth {@value ExtentNode#MAX_DEPTH});</li>
 *   <li>an emptied tree block is freed and its index removed; an emptied root becomes an empty leaf of depth 0;
 *       a root with one index whose child fits in i_block pulls the child up and frees it (depth shrinks).</li>
 * </ul>
 * The tree blocks a change needs are allocated before anything is written, so ENOSPC leaves the tree as it was.
 * Tree blocks are counted in i_blocks. Caller holds the inode's {@link ExtInode#lock}.
 */
final class ExtentInsert {
    private final ExtentTree tree;

    ExtentInsert(ExtentTree tree) {
        this.tree = tree;
    }

    /** Inserts the new extent {@code e} (which lies in a hole) into the leaf of {@code path}, merging neighbours. */
    void insertExtent(ExtInode inode, List<Level> path, ExtentLeaf e) throws IOException {
        Level leaf = ExtentTree.leafLevel(path);
        List<ExtentLeaf> lv = leaf.node.leaves();
        int at = leaf.idx + 1;
        List<ExtentLeaf> out = new ArrayList<>(lv.size() + 1);
        out.addAll(lv.subList(0, at));
        out.add(e);
        out.addAll(lv.subList(at, lv.size()));
        replaceLeaf(inode, path, mergeNeighbours(out));
    }

    /**
     * Merges logically and physically contiguous neighbours of the same kind (initialized or unwritten) while the
     * result stays within the kind's maximum length (ext4_can_extents_be_merged).
     */
    static List<ExtentLeaf> mergeNeighbours(List<ExtentLeaf> in) {
        List<ExtentLeaf> out = new ArrayList<>(in.size());
        for (ExtentLeaf e : in) {
            if (!out.isEmpty()) {
                ExtentLeaf p = out.getLast();
                int max = e.unwritten() ? ExtentNode.UNWRITTEN_MAX_LEN : ExtentNode.INIT_MAX_LEN;
                if (p.unwritten() == e.unwritten() && p.endLblk() == e.lblk()
                        && p.pblk() + p.lenBlocks() == e.pblk() && (long) p.lenBlocks() + e.lenBlocks() <= max) {
                    out.set(out.size() - 1, new ExtentLeaf(p.lblk(), p.lenBlocks() + e.lenBlocks(), p.pblk(),
                            p.unwritten()));
                    continue;
                }
            }
            out.add(e);
        }
        return out;
    }

    /**
     * Stores {@code leaves} (sorted, non-overlapping, possibly more than the leaf holds, possibly empty) as the new
     * content of the leaf of {@code path}, splitting, growing, removing and correcting keys up the path.
     *
     * @throws FsException ENOSPC if a needed tree block cannot be allocated (nothing changed then); EFBIG if the
     *                     tree would exceed depth {@value ExtentNode#MAX_DEPTH}
     */
    void replaceLeaf(ExtInode inode, List<Level> path, List<ExtentLeaf> leaves) throws IOException {
        int leafAt = path.size() - 1;
        Level leaf = path.get(leafAt);
        int need = blocksNeeded(inode, path, leaves.size());
        Deque<Long> spare = new ArrayDeque<>(need);
        try {
            long goal = treeBlockGoal(inode, leaf, leaves);
            while (spare.size() < need) {
                long nb = tree.fs.balloc.allocBlockBackward(goal);
                spare.push(nb);
                goal = nb - 1;
            }
            ExtentNode content = new ExtentNode(0, leaf.node.max(), leaf.node.generation(), leaves, List.of());
            store(inode, path, leafAt, content, spare);
            shrinkDepth(inode);
        } finally {
            while (!spare.isEmpty()) {
                tree.fs.balloc.freeBlocks(spare.pop(), 1);
            }
            tree.fs.markDirty(inode);
        }
    }

    /**
     * Where tree blocks go: at or below the leaf block, else below the leaf's first data block, searching
     * downwards ({@link ExtBalloc#allocBlockBackward}) so that the file's data, which grows upwards from its
     * last extent, is not cut in two by its own tree block; the start of the inode's group for an empty file.
     */
    private long treeBlockGoal(ExtInode inode, Level leaf, List<ExtentLeaf> leaves) {
        if (leaf.pblk != 0) {
            return leaf.pblk;
        }
        if (!leaves.isEmpty()) {
            return leaves.getFirst().pblk() - 1;
        }
        long group = (inode.ino - 1) / tree.fs.geo.inodesPerGroup();
        return tree.fs.geo.firstDataBlock() + group * tree.fs.geo.blocksPerGroup();
    }

    /** Tree blocks that storing {@code newEntries} in the path's leaf needs (a split per full level, one to grow). */
    private int blocksNeeded(ExtInode inode, List<Level> path, int newEntries) throws FsException {
        int n = newEntries;
        int count = 0;
        for (int level = path.size() - 1; level >= 0; level--) {
            ExtentNode node = path.get(level).node;
            if (n <= node.max()) {
                return count;
            }
            count++;
            if (level == 0) {
                if (node.depth() + 1 > ExtentNode.MAX_DEPTH) {
                    throw new FsException(Errno.EFBIG, "inode " + inode.ino + ": extent tree would exceed depth "
                            + ExtentNode.MAX_DEPTH);
                }
                return count;
            }
            n = path.get(level - 1).node.entries() + 1;
        }
        return count;
    }

    private static long firstKey(ExtentNode n) {
        return n.depth() == 0 ? n.leaves().getFirst().lblk() : n.indexes().getFirst().lblk();
    }

    private static ExtentNode withEntries(ExtentNode shape, int max, List<ExtentLeaf> leaves,
            List<ExtentIndex> indexes) {
        return new ExtentNode(shape.depth(), max, shape.generation(), leaves, indexes);
    }

    /** Stores {@code content} (may overflow or be empty) at {@code level} of {@code path}. */
    private void store(ExtInode inode, List<Level> path, int level, ExtentNode content, Deque<Long> spare)
            throws IOException {
        Level at = path.get(level);
        int n = content.entries();
        if (n == 0) {
            if (level == 0) {
                tree.writeNode(inode, 0, ExtentNode.emptyRoot(), false);
                return;
            }
            freeTreeBlock(inode, at.pblk);
            Level parent = path.get(level - 1);
            List<ExtentIndex> ix = new ArrayList<>(parent.node.indexes());
            ix.remove(parent.idx);
            store(inode, path, level - 1, withEntries(parent.node, parent.node.max(), List.of(), ix), spare);
            return;
        }
        int max = at.node.max();
        if (n <= max) {
            tree.writeNode(inode, at.pblk, withEntries(content, max, content.leaves(), content.indexes()), false);
            if (level > 0) {
                Level parent = path.get(level - 1);
                ExtentIndex old = parent.node.indexes().get(parent.idx);
                long key = firstKey(content);
                if (old.lblk() != key) {
                    List<ExtentIndex> ix = new ArrayList<>(parent.node.indexes());
                    ix.set(parent.idx, new ExtentIndex(key, old.leafPblk()));
                    store(inode, path, level - 1, withEntries(parent.node, parent.node.max(), List.of(), ix), spare);
                }
            }
            return;
        }
        int blockMax = tree.blockMaxEntries();
        if (level == 0) {
            // Grow in depth: the root's entries move to a new block; the root indexes it.
            long nb = spare.pop();
            tree.writeNode(inode, nb, withEntries(content, blockMax, content.leaves(), content.indexes()), true);
            countTreeBlock(inode, +1);
            ExtentNode root = new ExtentNode(content.depth() + 1, ExtentNode.ROOT_MAX_ENTRIES,
                    at.node.generation(), List.of(), List.of(new ExtentIndex(firstKey(content), nb)));
            tree.writeNode(inode, 0, root, false);
            return;
        }
        // Split: the upper half moves to a new block, which the parent indexes after this one.
        long nb = spare.pop();
        int half = n / 2;
        ExtentNode left;
        ExtentNode right;
        if (content.depth() == 0) {
            left = withEntries(content, max, content.leaves().subList(0, half), List.of());
            right = withEntries(content, blockMax, content.leaves().subList(half, n), List.of());
        } else {
            left = withEntries(content, max, List.of(), content.indexes().subList(0, half));
            right = withEntries(content, blockMax, List.of(), content.indexes().subList(half, n));
        }
        tree.writeNode(inode, nb, right, true);
        countTreeBlock(inode, +1);
        tree.writeNode(inode, at.pblk, left, false);
        Level parent = path.get(level - 1);
        List<ExtentIndex> ix = new ArrayList<>(parent.node.indexes());
        ix.set(parent.idx, new ExtentIndex(firstKey(left), at.pblk));
        ix.add(parent.idx + 1, new ExtentIndex(firstKey(right), nb));
        store(inode, path, level - 1, withEntries(parent.node, parent.node.max(), List.of(), ix), spare);
    }

    /**
     * While the root is an index with one entry whose child fits in i_block, the child's entries move into the
     * root and the child block is freed (ext4_ext_try_to_merge_up).
     */
    private void shrinkDepth(ExtInode inode) throws IOException {
        while (true) {
            ExtentNode root = tree.readRoot(inode);
            if (root.depth() == 0 || root.entries() != 1) {
                return;
            }
            long child = root.indexes().getFirst().leafPblk();
            ExtentNode c = tree.readNode(inode, child, root.depth() - 1);
            if (c.entries() > ExtentNode.ROOT_MAX_ENTRIES) {
                return;
            }
            tree.writeNode(inode, 0, new ExtentNode(c.depth(), ExtentNode.ROOT_MAX_ENTRIES, root.generation(),
                    c.leaves(), c.indexes()), false);
            freeTreeBlock(inode, child);
        }
    }

    void freeTreeBlock(ExtInode inode, long pblk) throws IOException {
        tree.bcache.forget(pblk);
        tree.fs.balloc.freeBlocks(pblk, 1);
        countTreeBlock(inode, -1);
    }

    private void countTreeBlock(ExtInode inode, int delta) {
        long per = tree.fs.geo.blockSizeBytes() / 512;
        inode.disk.setBlocks512(Math.max(0, inode.disk.blocks512() + delta * per));
    }
}
