package org.iomap4j.ext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.ext.ExtentTree.Level;
import org.iomap4j.ext.disk.ExtentLeaf;

/**
 * Freeing a range of an extent-mapped file (fs/ext4/extents.c ext4_ext_remove_space / ext4_ext_rm_leaf): truncate
 * ({@code [from, end of tree)}) and hole punching ({@code [from, to)}). Leaf by leaf, the extents overlapping
 * the range are cut (an extent that straddles both ends of a punch splits in two), the leaf is stored through
 * {@link ExtentInsert#replaceLeaf} (empty tree blocks are freed, index keys corrected, depth shrunk), and only
 * then are the data blocks returned to the allocator, so a failed split (ENOSPC) frees nothing still mapped.
 * Caller holds the inode's {@link ExtInode#lock}.
 */
final class ExtentRemove {
    private final ExtentTree tree;

    ExtentRemove(ExtentTree tree) {
        this.tree = tree;
    }

    /**
     * Frees the data blocks mapping {@code [fromLblk, toLblk)} and tree blocks left empty; updates i_blocks and
     * bumps the block-map sequence.
     *
     * @return blocks freed (data and tree blocks)
     * @throws org.iomap4j.CorruptFilesystemException for a damaged tree (naming inode and block)
     */
    long removeRange(ExtInode inode, long fromLblk, long toLblk) throws IOException {
        if (fromLblk >= toLblk) {
            return 0;
        }
        long per = tree.fs.geo.blockSizeBytes() / 512;
        long blocksBefore = inode.disk.blocks512();
        long dataFreed = 0;
        boolean changed = false;
        try {
            long cur = fromLblk;
            while (cur < toLblk) {
                List<Level> path = tree.path(inode, cur);
                Level leaf = ExtentTree.leafLevel(path);
                List<ExtentLeaf> lv = leaf.node.leaves();
                List<ExtentLeaf> out = new ArrayList<>(lv.size() + 1);
                List<long[]> toFree = new ArrayList<>();
                for (ExtentLeaf e : lv) {
                    if (e.endLblk() <= fromLblk || e.lblk() >= toLblk) {
                        out.add(e);
                        continue;
                    }
                    long a = Math.max(fromLblk, e.lblk());
                    long b = Math.min(toLblk, e.endLblk());
                    if (a > e.lblk()) {
                        out.add(new ExtentLeaf(e.lblk(), (int) (a - e.lblk()), e.pblk(), e.unwritten()));
                    }
                    toFree.add(new long[] {e.pblk() + (a - e.lblk()), b - a});
                    if (b < e.endLblk()) {
                        out.add(new ExtentLeaf(b, (int) (e.endLblk() - b), e.pblk() + (b - e.lblk()),
                                e.unwritten()));
                    }
                }
                long next = ExtentTree.nextLeafKey(path);
                if (!toFree.isEmpty()) {
                    tree.insert.replaceLeaf(inode, path, out);
                    changed = true;
                    for (long[] r : toFree) {
                        tree.fs.balloc.freeBlocks(r[0], r[1]);
                        dataFreed += r[1];
                        inode.disk.setBlocks512(Math.max(0, inode.disk.blocks512() - r[1] * per));
                    }
                }
                cur = Math.max(cur + 1, next);
                if (next > ExtentTree.MAX_LBLK) {
                    break;
                }
            }
        } finally {
            if (changed) {
                inode.bumpMapSeq();
                inode.lastAllocPblk = 0;
                inode.lastAllocLblk = -2;
                tree.fs.markDirty(inode);
            }
        }
        long treeFreed = Math.max(0, (blocksBefore - inode.disk.blocks512()) / per - dataFreed);
        return dataFreed + treeFreed;
    }
}
