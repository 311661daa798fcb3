package org.iomap4j.ext.disk;

import java.util.ArrayList;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;

/**
 * An htree (dir_index) interior block: the root (logical block 0: "." and ".." entries, then dx_root_info, then
 * the dx entries) or an internal node (a fake empty entry spanning the block, then the dx entries).
 *
 * <ul>
 *   <li>dx_root_info at byte 24: reserved_zero u32, hash_version u8, info_length u8 (= 8), indirect_levels u8,
 *       unused_flags u8; the count/limit header follows at byte 32;</li>
 *   <li>node: inode 0, rec_len = block size, name_len 0, file_type 0; count/limit header at byte 8;</li>
 *   <li>dx_countlimit: limit u16, count u16 (overlaying entry 0's hash), then entry 0's block u32; entries
 *       1..count-1 are dx_entry {hash u32, block u32} sorted by hash;</li>
 *   <li>with metadata_csum, {@code struct dx_tail} {dt_reserved u32, dt_checksum u32} follows the {@code limit}
 *       entries; dt_checksum = crc32c(inode seed, block[0 .. count_offset + count*8) || dt_reserved || 4 zero
 *       bytes) (fs/ext4/namei.c ext4_dx_csum).</li>
 * </ul>
 * Validation follows fs/ext4/namei.c dx_probe: hash version known, no unused_flags bit 0, indirect_levels below
 * 2 (3 with large_dir), limit equal to what the block holds, 0 &lt; count &le; limit.
 *
 * <p>Sources: Documentation/filesystems/ext4/directory.rst "Hash Tree Directories"; fs/ext4/namei.c.
 *
 * @param root           true for the root block
 * @param hashVersion    dx_root_info.hash_version (roots only; -1 for nodes)
 * @param indirectLevels dx_root_info.indirect_levels (roots only; -1 for nodes)
 * @param limit          entries the block holds
 * @param entries        the entries; entry 0's hash is 0 (it covers everything below entry 1)
 */
public record DxBlock(boolean root, int hashVersion, int indirectLevels, int limit, List<Entry> entries) {
    /** One dx_entry: names hashing to at least {@code hash} (up to the next entry's) live under {@code lblk}. */
    public record Entry(int hash, long lblk) {}

    public static final int ROOT_COUNT_OFFSET = 32;
    public static final int NODE_COUNT_OFFSET = 8;
    public static final int ENTRY_BYTES = 8;
    public static final int TAIL_BYTES = 8;
    private static final int ROOT_INFO_OFFSET = 24;

    public DxBlock {
        entries = List.copyOf(entries);
    }

    public int countOffset() {
        return root ? ROOT_COUNT_OFFSET : NODE_COUNT_OFFSET;
    }

    /** Entries a block holds (dx_root_limit / dx_node_limit): room after the header, less the tail with csum. */
    public static int limitFor(boolean root, int blockSizeBytes, boolean metadataCsum) {
        int off = root ? ROOT_COUNT_OFFSET : NODE_COUNT_OFFSET;
        return (blockSizeBytes - off - (metadataCsum ? TAIL_BYTES : 0)) / ENTRY_BYTES;
    }

    /**
     * True if {@code block} is laid out as a dx node (a fake entry with inode 0 and rec_len equal to the
     * block size); false if it looks like a root (rec_len 12 for ".").
     */
    public static boolean looksLikeNode(byte[] block) {
        return Le.u32(block, 0) == 0 && DirEntryCodec.recLen(block, 0, block.length) == block.length;
    }

    /**
     * Decodes and validates a root ({@code root}) or node block.
     *
     * @param largeDir the large_dir feature (3 index levels instead of 2)
     * @throws CorruptFilesystemException naming the directory inode and logical block
     */
    public static DxBlock decode(byte[] block, boolean root, boolean metadataCsum, boolean largeDir, long dirIno,
            long lblk) throws CorruptFilesystemException {
        int bs = block.length;
        int hashVersion = -1;
        int levels = -1;
        if (root) {
            if (DirEntryCodec.recLen(block, 0, bs) != 12 || DirEntryCodec.nameLen(block, 0) != 1 || block[8] != '.'
                    || DirEntryCodec.recLen(block, 12, bs) != bs - 12 || DirEntryCodec.nameLen(block, 12) != 2) {
                throw bad(dirIno, lblk, "root does not start with '.' and '..' entries");
            }
            hashVersion = Le.u8(block, ROOT_INFO_OFFSET + 4);
            int infoLength = Le.u8(block, ROOT_INFO_OFFSET + 5);
            levels = Le.u8(block, ROOT_INFO_OFFSET + 6);
            int unusedFlags = Le.u8(block, ROOT_INFO_OFFSET + 7);
            if (hashVersion > DxHash.TEA) { // the unsigned variants are chosen by s_flags, never stored (dx_probe)
                throw bad(dirIno, lblk, "unknown hash version " + hashVersion);
            }
            if (infoLength != 8) {
                throw bad(dirIno, lblk, "dx_root_info.info_length " + infoLength + " (want 8)");
            }
            if ((unusedFlags & 1) != 0) {
                throw bad(dirIno, lblk, "unimplemented flags " + unusedFlags);
            }
            int maxLevels = largeDir ? 3 : 2;
            if (levels >= maxLevels) {
                throw bad(dirIno, lblk, "indirect_levels " + levels + " >= " + maxLevels);
            }
        } else if (!looksLikeNode(block)) {
            throw bad(dirIno, lblk, "node does not start with an empty block-sized entry");
        }
        int co = root ? ROOT_COUNT_OFFSET : NODE_COUNT_OFFSET;
        int limit = Le.u16(block, co);
        int count = Le.u16(block, co + 2);
        int want = limitFor(root, bs, metadataCsum);
        if (limit != want) {
            throw bad(dirIno, lblk, "limit " + limit + " != " + want + " for a " + bs + "-byte block");
        }
        if (count == 0 || count > limit) {
            throw bad(dirIno, lblk, "count " + count + " outside 1.." + limit);
        }
        List<Entry> list = new ArrayList<>(count);
        int prev = 0;
        for (int i = 0; i < count; i++) {
            int e = co + i * ENTRY_BYTES;
            int hash = i == 0 ? 0 : Le.s32(block, e);
            if (i > 1 && Integer.compareUnsigned(hash, prev) < 0) {
                throw bad(dirIno, lblk, "entry " + i + " hash out of order");
            }
            prev = hash;
            list.add(new Entry(hash, Le.u32(block, e + 4)));
        }
        return new DxBlock(root, hashVersion, levels, limit, list);
    }

    /**
     * Writes the count/limit header and entries (and, for a root, dx_root_info) into {@code block}; the "." and
     * ".." entries of a root, or a node's fake entry, are the caller's ({@link #initNodeHeader}).
     */
    public void encodeInto(byte[] block) {
        int co = countOffset();
        if (root) {
            Le.put32(block, ROOT_INFO_OFFSET, 0);
            Le.put8(block, ROOT_INFO_OFFSET + 4, hashVersion);
            Le.put8(block, ROOT_INFO_OFFSET + 5, 8);
            Le.put8(block, ROOT_INFO_OFFSET + 6, indirectLevels);
            Le.put8(block, ROOT_INFO_OFFSET + 7, 0);
        }
        for (int i = 0; i < entries.size(); i++) {
            int e = co + i * ENTRY_BYTES;
            if (i > 0) {
                Le.put32(block, e, entries.get(i).hash());
            }
            Le.put32(block, e + 4, entries.get(i).lblk());
        }
        Le.put16(block, co, limit);
        Le.put16(block, co + 2, entries.size());
    }

    /** Writes a node's fake entry (inode 0, rec_len = block size). */
    public static void initNodeHeader(byte[] block) {
        Le.put32(block, 0, 0);
        DirEntryCodec.setRecLen(block, 0, block.length);
        Le.put8(block, 6, 0);
        Le.put8(block, 7, 0);
    }

    /** The index of the entry whose subtree holds {@code hash} (the last entry with entry.hash &le; hash). */
    public int find(int hash) {
        int lo = 1;
        int hi = entries.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Integer.compareUnsigned(entries.get(mid).hash(), hash) > 0) {
                hi = mid - 1;
            } else {
                lo = mid + 1;
            }
        }
        return lo - 1;
    }

    /** Byte offset of the dx_tail in a block with this count offset and limit. */
    public static int tailOffset(int countOffset, int limit) {
        return countOffset + limit * ENTRY_BYTES;
    }

    /** The dx tail checksum of {@code block} as laid out (count and limit read from the block). */
    public static int computeChecksum(int inodeSeed, byte[] block, boolean root) {
        int co = root ? ROOT_COUNT_OFFSET : NODE_COUNT_OFFSET;
        int limit = Le.u16(block, co);
        int count = Le.u16(block, co + 2);
        int tail = tailOffset(co, limit);
        return Crc32c.seeded(inodeSeed).update(block, 0, co + count * ENTRY_BYTES).update(block, tail, 4).updateZeros(4)
                .value();
    }

    /** Stores the dx tail checksum (dt_reserved zeroed first, as ext4_dx_csum_set leaves it). */
    public static void updateChecksum(int inodeSeed, byte[] block, boolean root) {
        int co = root ? ROOT_COUNT_OFFSET : NODE_COUNT_OFFSET;
        int tail = tailOffset(co, Le.u16(block, co));
        Le.put32(block, tail + 4, computeChecksum(inodeSeed, block, root));
    }

    /**
     * Verifies the dx tail checksum (after {@link #decode}, which bounds limit and count).
     *
     * @throws CorruptFilesystemException naming the directory inode and logical block
     */
    public static void verifyChecksum(int inodeSeed, byte[] block, boolean root, long dirIno, long lblk)
            throws CorruptFilesystemException {
        int co = root ? ROOT_COUNT_OFFSET : NODE_COUNT_OFFSET;
        int tail = tailOffset(co, Le.u16(block, co));
        if (tail + TAIL_BYTES > block.length) {
            throw bad(dirIno, lblk, "no room for the dx tail");
        }
        int stored = Le.s32(block, tail + 4);
        int want = computeChecksum(inodeSeed, block, root);
        if (stored != want) {
            throw bad(dirIno, lblk, String.format("dx checksum 0x%08x does not match the computed 0x%08x", stored, want));
        }
    }

    private static CorruptFilesystemException bad(long dirIno, long lblk, String why) {
        return new CorruptFilesystemException("directory inode " + dirIno + " htree block " + lblk + ": " + why);
    }
}
