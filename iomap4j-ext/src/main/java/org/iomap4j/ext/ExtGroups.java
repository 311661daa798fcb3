package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.ext.disk.GroupDescriptor;

/**
 * The block groups' descriptors in memory (Documentation/filesystems/ext2.rst "Block Groups"): free block and
 * inode counts per group and in total, written back into the primary descriptor table by
 * {@link #writeDescriptors}; the geometry helpers and bitmap bit operations shared by {@link ExtBalloc} and
 * {@link ExtIalloc}.
 *
 * <p>Lock: this object's monitor guards every descriptor's counts and the totals; {@link ExtBalloc} and
 * {@link ExtIalloc} hold it for each whole allocation or free (bitmap buffer locks nest inside it). It nests inside
 * inode locks and outside {@code ExtSuper}'s superblock lock and buffer locks (lock order in
 * {@link ExtFileSystem}).
 */
final class ExtGroups {
    final BufferCache bcache;
    final GroupDescriptor[] gds;
    final ExtGeometry geo;
    /** Guarded by this. */
    long freeBlocks;
    /** Guarded by this. */
    long freeInodes;

    ExtGroups(BufferCache bcache, GroupDescriptor[] gds, ExtGeometry geo) {
        this.bcache = bcache;
        this.gds = gds;
        this.geo = geo;
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

    /** First block of group {@code g}. */
    long groupStart(int g) {
        return geo.firstDataBlock() + g * geo.blocksPerGroup();
    }

    /** Blocks in group {@code g} (the last group may be short). */
    long groupBlocks(int g) {
        return Math.min(geo.blocksPerGroup(), geo.blocksCount() - groupStart(g));
    }

    int groupOfBlock(long pblk) {
        return (int) ((pblk - geo.firstDataBlock()) / geo.blocksPerGroup());
    }

    /** Writes every group descriptor into the primary descriptor table (through the buffer cache). */
    synchronized void writeDescriptors() throws IOException {
        int bs = bcache.blockSizeBytes();
        int perBlock = bs / GroupDescriptor.SIZE;
        for (int first = 0; first < gds.length; first += perBlock) {
            long pblk = geo.firstDataBlock() + 1 + first / perBlock;
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

    static boolean test(byte[] b, long bit) {
        return (b[(int) (bit >>> 3)] & (1 << (bit & 7))) != 0;
    }

    static void set(byte[] b, long bit) {
        b[(int) (bit >>> 3)] |= (byte) (1 << (bit & 7));
    }

    static void clear(byte[] b, long bit) {
        b[(int) (bit >>> 3)] &= (byte) ~(1 << (bit & 7));
    }

    /** Little-endian 64-bit words of a bitmap block (ext bitmaps are little-endian bit strings). */
    private static final java.lang.invoke.VarHandle BITMAP_WORD =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    /** First clear bit in [from, limit), or -1; whole 64-bit words are skipped at once where they are all set. */
    static long findZero(byte[] b, long from, long limit) {
        long end = Math.min(limit, (long) b.length * 8);
        long bit = Math.max(0, from);
        while (bit < end) {
            int byteIdx = (int) (bit >>> 3);
            if ((bit & 63) == 0 && byteIdx + Long.BYTES <= b.length) {
                // 64 bits at once: bit i of an ext bitmap is bit (i % 8) of byte i / 8, so a little-endian word
                // read at a multiple of 8 bytes holds bits [bit, bit + 64) in order.
                long word = (long) BITMAP_WORD.get(b, byteIdx);
                if (word == -1L) {
                    bit += 64;
                    continue;
                }
                long zero = bit + Long.numberOfTrailingZeros(~word);
                return zero < end ? zero : -1;
            }
            if (!test(b, bit)) {
                return bit;
            }
            bit++;
        }
        return -1;
    }
}
