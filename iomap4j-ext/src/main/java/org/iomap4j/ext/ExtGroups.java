package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.GroupDescriptor;

/**
 * The block groups' descriptors in memory (Documentation/filesystems/ext2.rst "Block Groups"): free block and
 * inode counts per group and in total, written back into the primary descriptor table by
 * {@link #writeDescriptors}; the geometry helpers and bitmap bit operations shared by {@link ExtBalloc} and
 * {@link ExtIalloc}.
 *
 * <p>ext4 additions (Documentation/filesystems/ext4/group_descr.rst; fs/ext4/balloc.c, ialloc.c, bitmap.c): with
 * group descriptor checksums (metadata_csum or gdt_csum) a group may be BLOCK_UNINIT (its block bitmap is not on
 * disk: {@link #blockBitmap} computes it as ext4_init_block_bitmap does) or INODE_UNINIT (inode bitmap all free);
 * the first change writes the bitmap and clears the flag. With metadata_csum each bitmap's crc32c lives in its
 * descriptor: verified when the bitmap is first read (a mismatch is a {@link CorruptFilesystemException} naming
 * the group and block), recomputed on every change. Descriptor checksums are recomputed whenever the descriptors
 * are written ({@link #writeDescriptors}).
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

    /** The superblock as mounted (uuid, features, checksum seed): the parameters of every descriptor checksum. */
    private final DiskSuperblock csumSb;
    /** Per group: bitmap checksum verified since mount (metadata_csum; the kernel's BH_verified). Guarded by this. */
    private final boolean[] blockBitmapVerified;
    private final boolean[] inodeBitmapVerified;

    ExtGroups(BufferCache bcache, GroupDescriptor[] gds, ExtGeometry geo, DiskSuperblock sb) {
        this.bcache = bcache;
        this.gds = gds;
        this.geo = geo;
        this.csumSb = sb.copy();
        this.blockBitmapVerified = new boolean[gds.length];
        this.inodeBitmapVerified = new boolean[gds.length];
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

    /**
     * Writes every group descriptor into the primary descriptor table (through the buffer cache), each with its
     * bg_checksum recomputed (ext4_group_desc_csum_set); only blocks whose bytes changed are marked dirty.
     */
    synchronized void writeDescriptors() throws IOException {
        int bs = bcache.blockSizeBytes();
        int descSize = geo.descSizeBytes();
        int perBlock = bs / descSize;
        for (int first = 0; first < gds.length; first += perBlock) {
            long pblk = geo.firstDataBlock() + 1 + first / perBlock;
            try (Buffer buf = bcache.read(pblk)) {
                buf.lock();
                try {
                    int end = Math.min(gds.length, first + perBlock);
                    byte[] before = java.util.Arrays.copyOf(buf.array(), (end - first) * descSize);
                    for (int g = first; g < end; g++) {
                        if (geo.hasGroupDescCsum()) {
                            gds[g].updateChecksum(csumSb, g);
                        }
                        gds[g].encodeInto(buf.array(), (g - first) * descSize);
                    }
                    // Only a changed block is dirtied: a journal then logs just the descriptors that changed (a
                    // clean buffer already equals the disk, a dirty one stays dirty).
                    if (!java.util.Arrays.equals(before, 0, before.length, buf.array(), 0, before.length)) {
                        buf.markDirty();
                    }
                } finally {
                    buf.unlock();
                }
            }
        }
    }

    // ---------------------------------------------------------------- bitmaps (caller holds this monitor)

    /**
     * Group {@code g}'s block bitmap: read and (metadata_csum, first time) verified, or computed for a
     * BLOCK_UNINIT group. The caller closes it and, after changing it under its lock, calls
     * {@link #blockBitmapChanged}.
     *
     * @throws CorruptFilesystemException when the bitmap's checksum does not match its descriptor's
     */
    Buffer blockBitmap(int g) throws IOException {
        GroupDescriptor gd = gds[g];
        if (geo.hasGroupDescCsum() && gd.hasFlag(GroupDescriptor.FLAG_BLOCK_UNINIT)) {
            Buffer b = bcache.getZeroed(gd.blockBitmap());
            b.lock();
            try {
                initBlockBitmap(g, b.array());
            } finally {
                b.unlock();
            }
            return b;
        }
        Buffer b = bcache.read(gd.blockBitmap());
        if (geo.metadataCsum() && !blockBitmapVerified[g]) {
            int len = blockBitmapCsumBytes();
            int want = GroupDescriptor.bitmapChecksum(csumSb, b.array(), len);
            if (!gd.blockBitmapChecksumMatches(want)) {
                b.close();
                throw new CorruptFilesystemException(String.format("block group %d: block bitmap (block %d) checksum"
                        + " 0x%08x does not match the computed 0x%08x", g, gd.blockBitmap(), gd.blockBitmapChecksum(),
                        want));
            }
            blockBitmapVerified[g] = true;
        }
        return b;
    }

    /** Group {@code g}'s inode bitmap: read and verified, or all free (padding set) for an INODE_UNINIT group. */
    Buffer inodeBitmap(int g) throws IOException {
        GroupDescriptor gd = gds[g];
        if (geo.hasGroupDescCsum() && gd.hasFlag(GroupDescriptor.FLAG_INODE_UNINIT)) {
            Buffer b = bcache.getZeroed(gd.inodeBitmap());
            b.lock();
            try {
                markBitmapEnd(geo.inodesPerGroup(), b.array());
            } finally {
                b.unlock();
            }
            return b;
        }
        Buffer b = bcache.read(gd.inodeBitmap());
        if (geo.metadataCsum() && !inodeBitmapVerified[g]) {
            int len = (int) (geo.inodesPerGroup() / 8);
            int want = GroupDescriptor.bitmapChecksum(csumSb, b.array(), len);
            if (!gd.inodeBitmapChecksumMatches(want)) {
                b.close();
                throw new CorruptFilesystemException(String.format("block group %d: inode bitmap (block %d) checksum"
                        + " 0x%08x does not match the computed 0x%08x", g, gd.inodeBitmap(), gd.inodeBitmapChecksum(),
                        want));
            }
            inodeBitmapVerified[g] = true;
        }
        return b;
    }

    /**
     * The block bitmap of group {@code g} was changed (caller holds its lock): clears BLOCK_UNINIT, stores its
     * checksum in the descriptor and marks it dirty (ext4_block_bitmap_csum_set).
     */
    void blockBitmapChanged(int g, Buffer bm) {
        GroupDescriptor gd = gds[g];
        if (geo.hasGroupDescCsum()) {
            gd.setFlags(gd.flags() & ~GroupDescriptor.FLAG_BLOCK_UNINIT);
        }
        if (geo.metadataCsum()) {
            gd.setBlockBitmapChecksum(GroupDescriptor.bitmapChecksum(csumSb, bm.array(), blockBitmapCsumBytes()));
            blockBitmapVerified[g] = true;
        }
        bm.markDirty();
    }

    /** As {@link #blockBitmapChanged} for the inode bitmap: clears INODE_UNINIT, checksum, dirty. */
    void inodeBitmapChanged(int g, Buffer bm) {
        GroupDescriptor gd = gds[g];
        if (geo.hasGroupDescCsum()) {
            gd.setFlags(gd.flags() & ~GroupDescriptor.FLAG_INODE_UNINIT);
        }
        if (geo.metadataCsum()) {
            gd.setInodeBitmapChecksum(GroupDescriptor.bitmapChecksum(csumSb, bm.array(),
                    (int) (geo.inodesPerGroup() / 8)));
            inodeBitmapVerified[g] = true;
        }
        bm.markDirty();
    }

    /**
     * Writes out a BLOCK_UNINIT group's computed bitmap and clears the flag (__ext4_new_inode does this before
     * using a group's inode table, so that e2fsck never sees used inodes in a group whose blocks are "uninit").
     */
    void materializeBlockBitmap(int g) throws IOException {
        if (!geo.hasGroupDescCsum() || !gds[g].hasFlag(GroupDescriptor.FLAG_BLOCK_UNINIT)) {
            return;
        }
        try (Buffer bm = blockBitmap(g)) {
            bm.lock();
            try {
                blockBitmapChanged(g, bm);
            } finally {
                bm.unlock();
            }
        }
    }

    private int blockBitmapCsumBytes() {
        return (int) (geo.blocksPerGroup() / 8);
    }

    /**
     * The block bitmap of a BLOCK_UNINIT group as fs/ext4/balloc.c ext4_init_block_bitmap computes it: the
     * superblock copy, descriptor table and reserved GDT blocks at the group's start, the group's own bitmaps and
     * inode table where they lie inside the group (flex_bg may put them elsewhere), and the bits past the group's
     * last block up to the end of the bitmap block set.
     */
    void initBlockBitmap(int g, byte[] b) {
        java.util.Arrays.fill(b, (byte) 0);
        long base = Layout.baseMetaBlocks(csumSb, geo, g);
        for (long bit = 0; bit < base; bit++) {
            set(b, bit);
        }
        GroupDescriptor gd = gds[g];
        long start = groupStart(g);
        long n = groupBlocks(g);
        setIfInGroup(b, start, n, gd.blockBitmap());
        setIfInGroup(b, start, n, gd.inodeBitmap());
        for (long t = gd.inodeTable(); t < gd.inodeTable() + geo.itableBlocks(); t++) {
            setIfInGroup(b, start, n, t);
        }
        markBitmapEnd(n, b);
    }

    private static void setIfInGroup(byte[] b, long start, long n, long pblk) {
        if (pblk >= start && pblk < start + n) {
            set(b, pblk - start);
        }
    }

    /** ext4_mark_bitmap_end: bits from {@code usedBits} to the end of the block are set. */
    static void markBitmapEnd(long usedBits, byte[] b) {
        long end = (long) b.length * 8;
        long bit = usedBits;
        for (; bit < end && (bit & 7) != 0; bit++) {
            set(b, bit);
        }
        if (bit < end) {
            java.util.Arrays.fill(b, (int) (bit >>> 3), b.length, (byte) 0xff);
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
