package org.iomap4j.ext.disk;

import org.iomap4j.CorruptFilesystemException;

/**
 * The checksum tail of a linear directory leaf block with metadata_csum ({@code struct ext4_dir_entry_tail}): the
 * last 12 bytes of the block look like an empty directory entry (inode 0, rec_len 12, name_len 0, file_type
 * 0xDE) followed by det_checksum = crc32c(inode seed, block bytes before the tail). The preceding entries'
 * rec_len chain ends where the tail begins.
 *
 * <p>Sources: Documentation/filesystems/ext4/directory.rst "Checksums" and checksums.rst; fs/ext4/ext4.h
 * {@code struct ext4_dir_entry_tail}; fs/ext4/namei.c ext4_dirblock_csum. Thread-safe (stateless).
 */
public final class DirBlockTail {
    private DirBlockTail() {}

    /** Bytes of the tail. */
    public static final int SIZE = 12;
    /** det_reserved_ft: the fake file type marking a tail. */
    public static final int FT_TAIL = 0xDE;

    /** True if the last 12 bytes of {@code block} are a dirent tail (by its fixed fields). */
    public static boolean present(byte[] block) {
        int t = block.length - SIZE;
        return t >= 0 && Le.u32(block, t) == 0 && Le.u16(block, t + 4) == SIZE && Le.u8(block, t + 6) == 0
                && Le.u8(block, t + 7) == FT_TAIL;
    }

    /** Writes an empty tail (checksum 0) into the last 12 bytes (ext4_initialize_dirent_tail). */
    public static void init(byte[] block) {
        int t = block.length - SIZE;
        java.util.Arrays.fill(block, t, block.length, (byte) 0);
        Le.put16(block, t + 4, SIZE);
        Le.put8(block, t + 7, FT_TAIL);
    }

    /** crc32c(inode seed, block[0 .. size - 12)). */
    public static int compute(int inodeSeed, byte[] block) {
        return Crc32c.of(inodeSeed, block, 0, block.length - SIZE);
    }

    public static int stored(byte[] block) {
        return Le.s32(block, block.length - 4);
    }

    /** Stores the checksum into an initialized tail. */
    public static void update(int inodeSeed, byte[] block) {
        Le.put32(block, block.length - 4, compute(inodeSeed, block));
    }

    /**
     * Verifies the tail's presence and checksum.
     *
     * @throws CorruptFilesystemException naming the directory inode and block
     */
    public static void verify(int inodeSeed, byte[] block, long dirIno, long lblk) throws CorruptFilesystemException {
        if (!present(block)) {
            throw new CorruptFilesystemException("directory inode " + dirIno + " block " + lblk
                    + ": no checksum tail (metadata_csum)");
        }
        int want = compute(inodeSeed, block);
        if (stored(block) != want) {
            throw new CorruptFilesystemException(String.format(
                    "directory inode %d block %d: leaf checksum 0x%08x does not match the computed 0x%08x", dirIno, lblk,
                    stored(block), want));
        }
    }
}
