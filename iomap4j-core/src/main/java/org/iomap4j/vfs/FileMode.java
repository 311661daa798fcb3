package org.iomap4j.vfs;

/**
 * st_mode file-type bits and helpers (Linux include/uapi/linux/stat.h), and the directory-entry type codes
 * that ext2 stores with FILETYPE and that readdir reports (DT_* in dirent.h).
 */
public final class FileMode {
    private FileMode() {}

    public static final int S_IFMT = 0170000;
    public static final int S_IFSOCK = 0140000;
    public static final int S_IFLNK = 0120000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFIFO = 0010000;
    /** Permission and set-id/sticky bits. */
    public static final int PERM_MASK = 07777;
    /** Set-user-ID bit. */
    public static final int S_ISUID = 04000;
    /** Set-group-ID bit (on a directory: new entries inherit its group). */
    public static final int S_ISGID = 02000;
    /** Sticky bit (on a directory: only owners may remove or rename entries). */
    public static final int S_ISVTX = 01000;
    /** Group execute permission. */
    public static final int S_IXGRP = 00010;

    public static final int DT_UNKNOWN = 0;
    public static final int DT_FIFO = 1;
    public static final int DT_CHR = 2;
    public static final int DT_DIR = 4;
    public static final int DT_BLK = 6;
    public static final int DT_REG = 8;
    public static final int DT_LNK = 10;
    public static final int DT_SOCK = 12;

    public static boolean isDirectory(int mode) {
        return (mode & S_IFMT) == S_IFDIR;
    }

    public static boolean isRegular(int mode) {
        return (mode & S_IFMT) == S_IFREG;
    }

    public static boolean isSymlink(int mode) {
        return (mode & S_IFMT) == S_IFLNK;
    }

    /** The DT_* code for a mode's file type. */
    public static int dtype(int mode) {
        return switch (mode & S_IFMT) {
            case S_IFREG -> DT_REG;
            case S_IFDIR -> DT_DIR;
            case S_IFLNK -> DT_LNK;
            case S_IFCHR -> DT_CHR;
            case S_IFBLK -> DT_BLK;
            case S_IFIFO -> DT_FIFO;
            case S_IFSOCK -> DT_SOCK;
            default -> DT_UNKNOWN;
        };
    }
}
