package org.iomap4j.vfs;

/**
 * st_mode file-type bits and helpers (Linux include/uapi/linux/stat.h), and the directory-entry type codes
 * that ext2 stores with FILETYPE and that readdir reports (DT_* in dirent.h).
 */
public final class FileMode {
    private FileMode() {}

    /** Mask of the file type bits. */
    public static final int S_IFMT = 0170000;
    /** Socket. */
    public static final int S_IFSOCK = 0140000;
    /** Symbolic link. */
    public static final int S_IFLNK = 0120000;
    /** Regular file. */
    public static final int S_IFREG = 0100000;
    /** Block device. */
    public static final int S_IFBLK = 0060000;
    /** Directory. */
    public static final int S_IFDIR = 0040000;
    /** Character device. */
    public static final int S_IFCHR = 0020000;
    /** FIFO (named pipe). */
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

    /** Unknown type. */
    public static final int DT_UNKNOWN = 0;
    /** FIFO. */
    public static final int DT_FIFO = 1;
    /** Character device. */
    public static final int DT_CHR = 2;
    /** Directory. */
    public static final int DT_DIR = 4;
    /** Block device. */
    public static final int DT_BLK = 6;
    /** Regular file. */
    public static final int DT_REG = 8;
    /** Symbolic link. */
    public static final int DT_LNK = 10;
    /** Socket. */
    public static final int DT_SOCK = 12;

    /**
     * {@return true if {@code mode} is a directory}
     *
     * @param mode st_mode bits
     */
    public static boolean isDirectory(int mode) {
        return (mode & S_IFMT) == S_IFDIR;
    }

    /**
     * {@return true if {@code mode} is a regular file}
     *
     * @param mode st_mode bits
     */
    public static boolean isRegular(int mode) {
        return (mode & S_IFMT) == S_IFREG;
    }

    /**
     * {@return true if {@code mode} is a symbolic link}
     *
     * @param mode st_mode bits
     */
    public static boolean isSymlink(int mode) {
        return (mode & S_IFMT) == S_IFLNK;
    }

    /**
     * The DT_* code for a mode's file type.
     *
     * @param mode st_mode bits
     * @return the DT_* value (DT_UNKNOWN for an unknown type)
     */
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
