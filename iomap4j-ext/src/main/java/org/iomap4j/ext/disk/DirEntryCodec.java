package org.iomap4j.ext.disk;

import org.iomap4j.CorruptFilesystemException;

/**
 * Linear ext2 directory entries inside one directory block: {@code inode u32, rec_len u16, name_len u8,
 * file_type u8, name} (with FILETYPE; without it name_len is 16 bits and the type byte reads 0), each entry
 * 4-byte aligned, the entries of a block chaining by rec_len exactly to the block end.
 *
 * <p>Format and checks: Documentation/filesystems/ext2.rst "Directories"; the kernel's fs/ext2/dir.c
 * (ext2_check_folio: rec_len minimum, alignment, name fit, block crossing, inode range).
 */
public final class DirEntryCodec {
    private DirEntryCodec() {}

    /** Bytes before the name. */
    public static final int HEADER_BYTES = 8;
    public static final int NAME_MAX = 255;

    /** EXT2_FT_* directory-entry file types (differ from DT_*): fs/ext2/ext2.h, ext2_fs.h. */
    public static final int FT_UNKNOWN = 0;
    public static final int FT_REG_FILE = 1;
    public static final int FT_DIR = 2;
    public static final int FT_CHRDEV = 3;
    public static final int FT_BLKDEV = 4;
    public static final int FT_FIFO = 5;
    public static final int FT_SOCK = 6;
    public static final int FT_SYMLINK = 7;

    /** The EXT2_FT_* code for an st_mode's file type. */
    public static int fileTypeOfMode(int mode) {
        return switch (mode & 0170000) {
            case 0100000 -> FT_REG_FILE;
            case 0040000 -> FT_DIR;
            case 0020000 -> FT_CHRDEV;
            case 0060000 -> FT_BLKDEV;
            case 0010000 -> FT_FIFO;
            case 0140000 -> FT_SOCK;
            case 0120000 -> FT_SYMLINK;
            default -> FT_UNKNOWN;
        };
    }

    /** The DT_* code (readdir) for an EXT2_FT_* code. */
    public static int dtypeOfFileType(int ft) {
        return switch (ft) {
            case FT_REG_FILE -> 8;
            case FT_DIR -> 4;
            case FT_CHRDEV -> 2;
            case FT_BLKDEV -> 6;
            case FT_FIFO -> 1;
            case FT_SOCK -> 12;
            case FT_SYMLINK -> 10;
            default -> 0;
        };
    }

    /** EXT2_DIR_REC_LEN: the smallest rec_len holding a name of {@code nameLen} bytes. */
    public static int recLenFor(int nameLen) {
        return (nameLen + HEADER_BYTES + 3) & ~3;
    }

    public static long inode(byte[] b, int off) {
        return Le.u32(b, off);
    }

    /** rec_len as stored; 65536-byte blocks store 65535 (or 0) for a whole-block entry. */
    public static int recLen(byte[] b, int off, int blockSizeBytes) {
        int v = Le.u16(b, off + 4);
        if (blockSizeBytes >= 65536 && (v == 65535 || v == 0)) {
            return 65536;
        }
        return v;
    }

    public static int nameLen(byte[] b, int off) {
        return Le.u8(b, off + 6);
    }

    public static int fileType(byte[] b, int off) {
        return Le.u8(b, off + 7);
    }

    /** Writes an entry header and name; {@code fileType} 0 when the filesystem lacks FILETYPE. */
    public static void put(byte[] b, int off, long ino, int recLen, byte[] name, int fileType) {
        Le.put32(b, off, ino);
        setRecLen(b, off, recLen);
        Le.put8(b, off + 6, name.length);
        Le.put8(b, off + 7, fileType);
        System.arraycopy(name, 0, b, off + HEADER_BYTES, name.length);
    }

    public static void setInode(byte[] b, int off, long ino) {
        Le.put32(b, off, ino);
    }

    public static void setRecLen(byte[] b, int off, int recLen) {
        Le.put16(b, off + 4, recLen >= 65536 ? 65535 : recLen);
    }

    public static void setFileType(byte[] b, int off, int fileType) {
        Le.put8(b, off + 7, fileType);
    }

    /** True if the entry's name equals {@code name}. */
    public static boolean nameEquals(byte[] b, int off, byte[] name) {
        int n = nameLen(b, off);
        if (n != name.length) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            if (b[off + HEADER_BYTES + i] != name[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * Checks the entry at {@code off} of a block starting at directory byte {@code blockPosBytes}, returns its
     * rec_len. Ensures the whole-block chain can be walked without leaving the block or looping.
     *
     * @throws CorruptFilesystemException naming the directory inode and byte position
     */
    public static int checkEntry(byte[] b, int off, int blockSizeBytes, long dirIno, long blockPosBytes,
            long inodesCount) throws CorruptFilesystemException {
        if (off + HEADER_BYTES > blockSizeBytes) {
            throw bad(dirIno, blockPosBytes + off, "entry header crosses the end of the block");
        }
        int recLen = recLen(b, off, blockSizeBytes);
        int nameLen = nameLen(b, off);
        String why = null;
        if (recLen < recLenFor(1)) {
            why = "rec_len " + recLen + " smaller than the minimum " + recLenFor(1);
        } else if ((recLen & 3) != 0) {
            why = "rec_len " + recLen + " not a multiple of 4";
        } else if (recLen < recLenFor(nameLen)) {
            why = "rec_len " + recLen + " too small for name_len " + nameLen;
        } else if (off + recLen > blockSizeBytes) {
            why = "rec_len " + recLen + " crosses the end of the " + blockSizeBytes + "-byte block";
        } else if (inode(b, off) > inodesCount) {
            why = "inode " + inode(b, off) + " out of range (" + inodesCount + " inodes)";
        }
        if (why != null) {
            throw bad(dirIno, blockPosBytes + off, why);
        }
        return recLen;
    }

    private static CorruptFilesystemException bad(long dirIno, long posBytes, String why) {
        return new CorruptFilesystemException("directory inode " + dirIno + ": bad entry at byte " + posBytes + ": " + why);
    }
}
