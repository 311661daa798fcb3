package org.iomap4j.testkit.testfs;

import java.util.Arrays;
import org.iomap4j.fs.BlockTruncateOps;

/**
 * The block-freeing half of {@link TestFs}'s truncate and punch ({@code GenericFile} sequences the page cache
 * first): blocks go back to {@link TestSpace}; an INLINE file's bytes past the new size are zeroed. Units: logical
 * blocks.
 */
final class TestBlockOps implements BlockTruncateOps<TestInode> {
    private final TestSpace space;
    private final int blockSizeBytes;

    TestBlockOps(TestSpace space, int blockSizeBytes) {
        this.space = space;
        this.blockSizeBytes = blockSizeBytes;
    }

    @Override
    public void truncateBlocks(TestInode inode, long firstLblk) {
        space.freeFrom(inode, firstLblk);
        synchronized (inode) {
            if (inode.inline != null) {
                long from = Math.min(inode.sizeBytes(), blockSizeBytes);
                Arrays.fill(inode.inline, (int) from, blockSizeBytes, (byte) 0);
            }
        }
    }

    @Override
    public void punchBlocks(TestInode inode, long startLblk, long endLblk) {
        synchronized (inode) {
            for (long l = startLblk; l < endLblk; l++) {
                TestInode.Ent e = inode.blocks.remove(l);
                if (e != null && e.pblk() >= 0) {
                    space.free(e.pblk());
                }
                Long staged = inode.cow.remove(l);
                if (staged != null) {
                    space.free(staged);
                }
            }
            inode.seq.incrementAndGet();
        }
    }
}
