package org.iomap4j.ext.disk;

import java.util.Arrays;
import org.iomap4j.CorruptFilesystemException;

/**
 * One block of the orphan file (compat orphan_file; the inode is s_orphan_file_inum): an array of le32 inode
 * numbers (0 = free slot) filling the block but its last 8 bytes, which are {@code ext4_orphan_block_tail}
 * {ob_magic u32 = 0x0B10CA04, ob_checksum u32}. With metadata_csum, ob_checksum = crc32c(orphan file inode's seed,
 * le64 physical block number || the entry array) (fs/ext4/orphan.c ext4_orphan_file_block_csum_verify).
 *
 * <p>Sources: Documentation/filesystems/ext4/orphan.rst; fs/ext4/ext4.h {@code struct ext4_orphan_block_tail};
 * fs/ext4/orphan.c. Thread-safe (stateless).
 */
public final class OrphanBlock {
    private OrphanBlock() {}

    public static final int MAGIC = 0x0B10CA04;
    public static final int TAIL_BYTES = 8;

    /** Inode slots per block: (block size - 8) / 4 (ext4_inodes_per_orphan_block). */
    public static int slotsPerBlock(int blockSizeBytes) {
        return (blockSizeBytes - TAIL_BYTES) / 4;
    }

    /**
     * The slots of an orphan block (zeros included), after checking the magic and, when {@code verify}, the
     * checksum.
     *
     * @param orphanInodeSeed the orphan file inode's checksum seed ({@link DiskInode#csumSeed(int, long)})
     * @param pblk            the block's physical number (part of the checksum)
     * @throws CorruptFilesystemException naming the block
     */
    public static long[] decode(byte[] block, long pblk, int orphanInodeSeed, boolean verify)
            throws CorruptFilesystemException {
        int n = slotsPerBlock(block.length);
        int tail = block.length - TAIL_BYTES;
        if (Le.s32(block, tail) != MAGIC) {
            throw new CorruptFilesystemException(String.format("orphan file block %d: bad magic 0x%08x", pblk, Le.s32(block, tail)));
        }
        if (verify) {
            int want = computeChecksum(block, pblk, orphanInodeSeed);
            int stored = Le.s32(block, tail + 4);
            if (stored != want) {
                throw new CorruptFilesystemException(String.format(
                        "orphan file block %d: checksum 0x%08x does not match the computed 0x%08x", pblk, stored, want));
            }
        }
        long[] slots = new long[n];
        for (int i = 0; i < n; i++) {
            slots[i] = Le.u32(block, 4 * i);
        }
        return slots;
    }

    /** Encodes slots (at most {@link #slotsPerBlock}; missing ones are 0), the magic and, if seeded, the checksum. */
    public static byte[] encode(long[] slots, int blockSizeBytes, long pblk, int orphanInodeSeed, boolean checksum) {
        int n = slotsPerBlock(blockSizeBytes);
        if (slots.length > n) {
            throw new IllegalArgumentException(slots.length + " slots > " + n);
        }
        byte[] block = new byte[blockSizeBytes];
        for (int i = 0; i < slots.length; i++) {
            Le.put32(block, 4 * i, slots[i]);
        }
        Le.put32(block, blockSizeBytes - TAIL_BYTES, MAGIC);
        if (checksum) {
            Le.put32(block, blockSizeBytes - 4, computeChecksum(block, pblk, orphanInodeSeed));
        }
        return block;
    }

    /** ob_checksum for {@code block} at physical block {@code pblk}. */
    public static int computeChecksum(byte[] block, long pblk, int orphanInodeSeed) {
        return Crc32c.seeded(orphanInodeSeed).updateLe64(pblk).update(block, 0, 4 * slotsPerBlock(block.length)).value();
    }

    /** The non-zero inode numbers of decoded slots. */
    public static long[] inodes(long[] slots) {
        return Arrays.stream(slots).filter(s -> s != 0).toArray();
    }
}
