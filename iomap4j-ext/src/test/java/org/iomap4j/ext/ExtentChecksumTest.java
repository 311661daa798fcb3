package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.ext.disk.ExtentIndex;
import org.iomap4j.ext.disk.ExtentNode;
import org.iomap4j.fs.Pins;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Extent block checksums ({@code ext4_extent_tail}, metadata_csum) at the tree level, on a kernel-made
 * metadata_csum image (mounted read-only in this branch: the other ext4 features are another helper's): every
 * tree block of a kernel-made depth-2 tree verifies on read; the tree's own encoding of each block
 * ({@link ExtentTree#writeNode}, the write path) carries a checksum that {@code e2fsck -fn} accepts when the block
 * is put back on disk; a flipped checksum byte is a {@link CorruptFilesystemException} naming the inode and the
 * block, and e2fsck agrees that it is damage.
 */
class ExtentChecksumTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void tools() {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
        String why = Ext4TestImages.ext4MountUnavailableReason();
        Assumptions.assumeTrue(why == null, "no ext4 loop mount: " + why);
    }

    private Path kernelDeepTreeImage() throws IOException {
        Path img = tmp.resolve("csum.img");
        Ext2Tools.sparseImage(img, 32L << 20);
        Ext2Tools.run("mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal,^64bit,^flex_bg,metadata_csum",
                "-b", "1024", img.toString()).ok();
        try (Ext4TestImages.Ext4Mount m = new Ext4TestImages.Ext4Mount(img, tmp, false)) {
            Path d = m.root.resolve("deep");
            List<String> args = new ArrayList<>(List.of("xfs_io", "-f", "-c", "falloc 0 1m"));
            for (long blk = 1; blk < 1024; blk += 2) {
                args.add("-c");
                args.add("fpunch " + blk * 1024 + " 1024");
            }
            args.add(d.toString());
            Ext2Tools.run(args.toArray(String[]::new)).ok();
        }
        assertThat(Ext4TestImages.debugfsDepth(img, "/deep")).isEqualTo(2);
        Ext2Tools.assertFsckClean(img);
        return img;
    }

    /** Every tree block of the inode's tree, root first down, with its bytes as the tree re-encodes them. */
    private static Map<Long, byte[]> reencodedTreeBlocks(ExtFileSystem fs, long ino) throws IOException {
        Map<Long, byte[]> out = new LinkedHashMap<>();
        try (Pins pins = fs.icache.pins()) {
            ExtInode i = fs.inodes.iget(pins, ino);
            i.lock.lock();
            try {
                ExtentTree t = fs.extentTree;
                List<long[]> todo = new ArrayList<>();
                ExtentNode root = t.readRoot(i);
                for (ExtentIndex x : root.indexes()) {
                    todo.add(new long[] {x.leafPblk(), root.depth() - 1});
                }
                while (!todo.isEmpty()) {
                    long[] n = todo.removeFirst();
                    ExtentNode node = t.readNode(i, n[0], (int) n[1]); // verifies the kernel's checksum
                    for (ExtentIndex x : node.indexes()) {
                        todo.add(new long[] {x.leafPblk(), node.depth() - 1});
                    }
                    t.writeNode(i, n[0], node, false); // the write path: re-encoded, checksummed, in the cache
                    try (Buffer b = fs.bcache.read(n[0])) {
                        out.put(n[0], b.array().clone());
                    }
                }
            } finally {
                i.lock.unlock();
            }
        }
        return out;
    }

    @Test
    void treeBlocksVerifyOnReadAndTheTreeWritesChecksumsE2fsckAccepts() throws IOException {
        Path img = kernelDeepTreeImage();
        byte[] kernelBytes;
        Map<Long, byte[]> blocks;
        long ino;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.readOnlyReason()).as("metadata_csum is served read-write").isNull();
            ino = fs.lookup(ExtFileSystem.ROOT_INO, "deep").ino();
            FileHandle h = fs.open(ino, Vfs.O_RDONLY);
            kernelBytes = ExtentTreeTest.readAll(fs, h, 2 << 20);
            fs.release(h);
            assertThat(kernelBytes).hasSize(1 << 20).containsOnly(0);
            assertThat(ExtentTreeTest.treeOf(fs, ino)).isEqualTo(Ext4TestImages.debugfsLeaves(img, "/deep"));
            blocks = reencodedTreeBlocks(fs, ino);
        }
        assertThat(blocks).hasSizeGreaterThan(2);
        // Stale slots past eh_entries are zero in the tree's encoding: zero them on disk too, put the tree's
        // blocks back, and let e2fsck judge the checksums (the old ones would no longer match).
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            for (Map.Entry<Long, byte[]> e : blocks.entrySet()) {
                ch.write(ByteBuffer.wrap(e.getValue()), e.getKey() * 1024);
            }
        }
        Ext2Tools.assertFsckClean(img);
        // One flipped byte in a leaf's checksum tail: iomap4j names inode and block; e2fsck sees the damage.
        long leaf = blocks.keySet().stream().reduce((a, b) -> b).orElseThrow();
        byte[] bad = blocks.get(leaf).clone();
        int tail = ExtentNode.tailOffset(ExtentNode.maxEntriesInBlock(1024));
        bad[tail] ^= 0x5a;
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bad), leaf * 1024);
        }
        assertThat(Ext2Tools.e2fsck(img).exitCode()).isNotZero();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            FileHandle h = fs.open(ino, Vfs.O_RDONLY);
            assertThatThrownBy(() -> ExtentTreeTest.readAll(fs, h, 2 << 20))
                    .isInstanceOf(CorruptFilesystemException.class)
                    .hasMessageContaining("inode " + ino).hasMessageContaining("extent block " + leaf)
                    .hasMessageContaining("checksum");
            fs.release(h);
        }
    }
}
