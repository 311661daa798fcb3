package org.iomap4j.ext.disk;

import java.util.Arrays;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;

/**
 * Inline data (incompat inline_data, inode flag INLINE_DATA_FL): a small file's bytes live in the inode, the
 * first 60 in i_block and the rest in the value of the in-inode xattr {@code system.data} (name index 7, name
 * "data"), which exists (possibly empty) for every inline inode. i_size gives the length. An inline directory
 * starts with the parent's inode number (le32) in i_block's first 4 bytes, then directory entries (without "."
 * and "..") fill the rest of i_block; more entries continue in the system.data value as their own rec_len chain.
 *
 * <p>Sources: Documentation/filesystems/ext4/inlinedata.rst; fs/ext4/inline.c (EXT4_MIN_INLINE_DATA_SIZE = 60,
 * EXT4_INLINE_DOTDOT_SIZE = 4). Thread-safe (stateless).
 */
public final class InlineData {
    private InlineData() {}

    /** Bytes of data kept in i_block. */
    public static final int IBLOCK_BYTES = DiskInode.I_BLOCK_BYTES;
    /** Bytes of an inline directory's parent inode number at the start of i_block. */
    public static final int DOTDOT_BYTES = 4;
    /** The xattr holding the rest. */
    public static final String XATTR_NAME = "system.data";

    /**
     * The contents of an inline inode.
     *
     * @param sizeBytes i_size (use {@link DiskInode#sizeBytes})
     * @param ibody     the inode's in-inode xattrs ({@link XattrCodec#decodeIbody})
     * @throws CorruptFilesystemException naming the inode if system.data is missing or shorter than i_size needs
     */
    public static byte[] read(DiskInode inode, long ino, long sizeBytes, List<XattrEntry> ibody)
            throws CorruptFilesystemException {
        XattrEntry data = XattrCodec.find(ibody, XATTR_NAME);
        if (data == null) {
            throw new CorruptFilesystemException("inode " + ino + ": inline data without a system.data xattr");
        }
        long max = IBLOCK_BYTES + (long) data.value().length;
        if (sizeBytes < 0 || sizeBytes > max) {
            throw new CorruptFilesystemException("inode " + ino + ": i_size " + sizeBytes + " exceeds the " + max
                    + " inline bytes");
        }
        byte[] out = new byte[(int) sizeBytes];
        byte[] iblock = inode.blockBytes();
        int head = (int) Math.min(sizeBytes, IBLOCK_BYTES);
        System.arraycopy(iblock, 0, out, 0, head);
        if (sizeBytes > IBLOCK_BYTES) {
            System.arraycopy(data.value(), 0, out, IBLOCK_BYTES, (int) sizeBytes - IBLOCK_BYTES);
        }
        return out;
    }

    /** The 60 bytes for i_block holding the start of {@code content} (zero-padded). */
    public static byte[] iblockPart(byte[] content) {
        return Arrays.copyOf(content, IBLOCK_BYTES);
    }

    /** The system.data value for {@code content}: the bytes past the first 60 (empty if none). */
    public static byte[] xattrPart(byte[] content) {
        return content.length <= IBLOCK_BYTES ? new byte[0] : Arrays.copyOfRange(content, IBLOCK_BYTES, content.length);
    }

    /**
     * Largest inline size for an inode: 60 plus what the in-inode xattr area can give system.data after the other
     * entries (ext4_get_max_inline_size, without its reservation for future xattrs).
     */
    public static int maxInlineBytes(int inodeSizeBytes, int extraIsize, List<XattrEntry> otherIbodyEntries) {
        int cap = XattrCodec.ibodyCapacity(inodeSizeBytes, extraIsize);
        int used = XattrCodec.spaceNeeded(otherIbodyEntries) + XattrCodec.entryLen("data".length());
        return IBLOCK_BYTES + Math.max(0, (cap - used) & ~3);
    }

    /** An inline directory's parent inode number (the first 4 bytes of i_block). */
    public static long dirParent(DiskInode inode) {
        return Le.u32(inode.blockBytes(), 0);
    }
}
