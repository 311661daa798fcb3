package org.iomap4j.ext.disk;

import java.util.ArrayList;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;

/**
 * One node of an ext4 extent tree: the 12-byte header followed by leaf extents (depth 0) or index entries
 * (depth &gt; 0), either in the inode's 60-byte i_block (the root, at most 4 entries) or in a tree block (at
 * most (block size - 12) / 12 entries, then a 4-byte {@code ext4_extent_tail} checksum right after eh_max
 * entries when metadata_csum is on).
 *
 * <ul>
 *   <li>ext4_extent_header: eh_magic u16 = 0xF30A, eh_entries u16, eh_max u16, eh_depth u16, eh_generation u32;</li>
 *   <li>ext4_extent (leaf): ee_block u32 (first logical block), ee_len u16 (&gt; 32768: unwritten, length
 *       ee_len - 32768), ee_start_hi u16, ee_start_lo u32;</li>
 *   <li>ext4_extent_idx: ei_block u32, ei_leaf_lo u32, ei_leaf_hi u16, ei_unused u16;</li>
 *   <li>tail checksum: crc32c(inode seed, block bytes before the tail) (ext4_extent_block_csum).</li>
 * </ul>
 * Validation follows fs/ext4/extents.c __ext4_ext_check and ext4_valid_extent_entries: magic, eh_max not zero
 * and within the space, eh_entries &le; eh_max, depth as expected and &le; 5, entries sorted without overlap,
 * lengths non-zero, physical blocks within the filesystem.
 *
 * <p>Sources: Documentation/filesystems/ext4/ifork.rst; fs/ext4/ext4_extents.h. Immutable.
 *
 * @param depth      eh_depth (0 = leaves)
 * @param max        eh_max
 * @param generation eh_generation (preserved)
 * @param leaves     the leaf extents (empty unless depth is 0)
 * @param indexes    the index entries (empty when depth is 0)
 */
public record ExtentNode(int depth, int max, long generation, List<ExtentLeaf> leaves, List<ExtentIndex> indexes) {
    public static final int MAGIC = 0xF30A;
    public static final int HEADER_BYTES = 12;
    public static final int ENTRY_BYTES = 12;
    /** Entries the 60-byte i_block holds. */
    public static final int ROOT_MAX_ENTRIES = 4;
    /** EXT4_MAX_EXTENT_DEPTH. */
    public static final int MAX_DEPTH = 5;
    /** Largest initialized extent (EXT_INIT_MAX_LEN). */
    public static final int INIT_MAX_LEN = 32768;
    /** Largest unwritten extent (EXT_UNWRITTEN_MAX_LEN). */
    public static final int UNWRITTEN_MAX_LEN = 32767;

    public ExtentNode {
        leaves = List.copyOf(leaves);
        indexes = List.copyOf(indexes);
    }

    /** Entries in use. */
    public int entries() {
        return depth == 0 ? leaves.size() : indexes.size();
    }

    /** Entries that fit a tree block of {@code blockSizeBytes} (ext4_ext_space_block). */
    public static int maxEntriesInBlock(int blockSizeBytes) {
        return (blockSizeBytes - HEADER_BYTES) / ENTRY_BYTES;
    }

    /** Byte offset of the ext4_extent_tail in a tree block with this eh_max. */
    public static int tailOffset(int ehMax) {
        return HEADER_BYTES + ENTRY_BYTES * ehMax;
    }

    /** An empty root (as a new extent-mapped inode's i_block, eh_max 4, depth 0). */
    public static ExtentNode emptyRoot() {
        return new ExtentNode(0, ROOT_MAX_ENTRIES, 0, List.of(), List.of());
    }

    /**
     * Decodes and validates the node at {@code buf[off .. off+spaceBytes)} (60 for the root in i_block, the
     * block size for a tree block).
     *
     * @param expectedDepth  the depth the parent promised, or -1 at the root
     * @param blocksCount    blocks in the filesystem (physical block numbers must be below it), or 0 to skip
     * @param where          names the node in errors, e.g. "inode 12 extent root" or "inode 12 extent block 1234"
     * @throws CorruptFilesystemException naming {@code where} and what is wrong
     */
    public static ExtentNode decode(byte[] buf, int off, int spaceBytes, int expectedDepth, long blocksCount,
            String where) throws CorruptFilesystemException {
        if (off < 0 || spaceBytes < HEADER_BYTES || off + spaceBytes > buf.length) {
            throw new CorruptFilesystemException(where + ": node of " + spaceBytes + " bytes does not fit its buffer");
        }
        int magic = Le.u16(buf, off);
        int entries = Le.u16(buf, off + 2);
        int max = Le.u16(buf, off + 4);
        int depth = Le.u16(buf, off + 6);
        long gen = Le.u32(buf, off + 8);
        int space = (spaceBytes - HEADER_BYTES) / ENTRY_BYTES;
        String why = null;
        if (magic != MAGIC) {
            why = String.format("bad magic 0x%04x (want 0xf30a)", magic);
        } else if (depth > MAX_DEPTH) {
            why = "eh_depth " + depth + " > " + MAX_DEPTH;
        } else if (expectedDepth >= 0 && depth != expectedDepth) {
            why = "eh_depth " + depth + " where the parent expects " + expectedDepth;
        } else if (max == 0) {
            why = "eh_max is 0";
        } else if (max > space) {
            why = "eh_max " + max + " exceeds the " + space + " entries that fit";
        } else if (entries > max) {
            why = "eh_entries " + entries + " > eh_max " + max;
        }
        if (why != null) {
            throw new CorruptFilesystemException(where + ": " + why);
        }
        List<ExtentLeaf> leaves = new ArrayList<>();
        List<ExtentIndex> indexes = new ArrayList<>();
        long nextLblk = 0;
        for (int i = 0; i < entries; i++) {
            int e = off + HEADER_BYTES + i * ENTRY_BYTES;
            long lblk = Le.u32(buf, e);
            if (i > 0 && lblk < nextLblk) {
                throw new CorruptFilesystemException(where + ": entry " + i + " (logical block " + lblk
                        + ") overlaps or is out of order");
            }
            if (depth == 0) {
                int rawLen = Le.u16(buf, e + 4);
                long pblk = Le.u32(buf, e + 8) | (long) Le.u16(buf, e + 6) << 32;
                boolean unwritten = rawLen > INIT_MAX_LEN;
                int len = unwritten ? rawLen - INIT_MAX_LEN : rawLen;
                if (len == 0) {
                    throw new CorruptFilesystemException(where + ": extent " + i + " has length 0");
                }
                if (lblk + len > 1L << 32) {
                    throw new CorruptFilesystemException(where + ": extent " + i + " runs past logical block 2^32");
                }
                checkPblk(pblk, len, blocksCount, where, "extent " + i);
                leaves.add(new ExtentLeaf(lblk, len, pblk, unwritten));
                nextLblk = lblk + len;
            } else {
                long leaf = Le.u32(buf, e + 4) | (long) Le.u16(buf, e + 8) << 32;
                checkPblk(leaf, 1, blocksCount, where, "index " + i);
                indexes.add(new ExtentIndex(lblk, leaf));
                nextLblk = lblk + 1;
            }
        }
        return new ExtentNode(depth, max, gen, leaves, indexes);
    }

    private static void checkPblk(long pblk, long len, long blocksCount, String where, String what)
            throws CorruptFilesystemException {
        if (blocksCount > 0 && (pblk == 0 || pblk + len > blocksCount)) {
            throw new CorruptFilesystemException(where + ": " + what + " points at blocks " + pblk + "+" + len
                    + " outside the filesystem (" + blocksCount + " blocks)");
        }
    }

    /**
     * Writes header and entries into {@code buf[off ..]}. Slots past eh_entries are left as they are (the kernel
     * leaves stale entries there, so a decoded node re-encodes to its bytes; pass a zeroed buffer for a new node).
     *
     * @throws IllegalArgumentException if there are more entries than eh_max or an extent is out of range
     */
    public void encodeInto(byte[] buf, int off) {
        if (entries() > max) {
            throw new IllegalArgumentException(entries() + " entries > eh_max " + max);
        }
        Le.put16(buf, off, MAGIC);
        Le.put16(buf, off + 2, entries());
        Le.put16(buf, off + 4, max);
        Le.put16(buf, off + 6, depth);
        Le.put32(buf, off + 8, generation);
        for (int i = 0; i < entries(); i++) {
            int e = off + HEADER_BYTES + i * ENTRY_BYTES;
            if (depth == 0) {
                ExtentLeaf x = leaves.get(i);
                Le.put32(buf, e, x.lblk());
                Le.put16(buf, e + 4, x.rawLen());
                Le.put16(buf, e + 6, (int) (x.pblk() >>> 32));
                Le.put32(buf, e + 8, x.pblk());
            } else {
                ExtentIndex x = indexes.get(i);
                Le.put32(buf, e, x.lblk());
                Le.put32(buf, e + 4, x.leafPblk());
                Le.put16(buf, e + 8, (int) (x.leafPblk() >>> 32));
                Le.put16(buf, e + 10, 0);
            }
        }
    }

    /** crc32c(inode seed, block[0 .. tail offset)) for a tree block whose header says eh_max {@code ehMax}. */
    public static int computeTailChecksum(int inodeSeed, byte[] block, int ehMax) {
        return Crc32c.of(inodeSeed, block, 0, tailOffset(ehMax));
    }

    /** Stores the tail checksum of a tree block (after {@link #encodeInto}). */
    public static void updateTailChecksum(int inodeSeed, byte[] block) {
        int ehMax = Le.u16(block, 4);
        Le.put32(block, tailOffset(ehMax), computeTailChecksum(inodeSeed, block, ehMax));
    }

    /**
     * Verifies a tree block's tail checksum (call after {@link #decode}, which bounds eh_max).
     *
     * @throws CorruptFilesystemException naming {@code where}
     */
    public static void verifyTailChecksum(int inodeSeed, byte[] block, String where) throws CorruptFilesystemException {
        int ehMax = Le.u16(block, 4);
        int tail = tailOffset(ehMax);
        if (tail + 4 > block.length) {
            throw new CorruptFilesystemException(where + ": eh_max " + ehMax + " leaves no room for the checksum tail");
        }
        int stored = Le.s32(block, tail);
        int want = computeTailChecksum(inodeSeed, block, ehMax);
        if (stored != want) {
            throw new CorruptFilesystemException(String.format("%s: extent block checksum 0x%08x does not match the computed 0x%08x",
                    where, stored, want));
        }
    }
}
