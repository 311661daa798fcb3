package org.iomap4j.vfs;

/**
 * What {@code stat(2)} shows of an inode. Times are seconds since the epoch plus nanoseconds (ext2 keeps
 * seconds only: the nanoseconds are 0).
 *
 * @param ino         inode number (st_ino)
 * @param mode        file type and permission bits (st_mode, see {@link FileMode})
 * @param nlink       hard links
 * @param uid         owner (32-bit, ext2 high bits included)
 * @param gid         group
 * @param rdev        device number for character/block devices (Linux encoding), else 0
 * @param sizeBytes   size in bytes
 * @param blocks512   storage in 512-byte units, metadata blocks included (st_blocks)
 * @param blockSizeBytes preferred I/O size (st_blksize)
 * @param generation  inode generation (NFS/FUSE)
 * @param atimeSec last access, seconds since the epoch
 * @param atimeNsec nanoseconds of the last access
 * @param mtimeSec last data modification, seconds since the epoch
 * @param mtimeNsec nanoseconds of the last data modification
 * @param ctimeSec last inode change, seconds since the epoch
 * @param ctimeNsec nanoseconds of the last inode change
 */
public record InodeAttr(long ino, int mode, int nlink, int uid, int gid, long rdev, long sizeBytes, long blocks512,
        int blockSizeBytes, long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec, long ctimeSec, int ctimeNsec,
        long generation) {

    /** {@return true if {@link #mode()} is a directory (S_IFDIR)} */
    public boolean isDirectory() {
        return FileMode.isDirectory(mode);
    }

    /** {@return true if {@link #mode()} is a regular file (S_IFREG)} */
    public boolean isRegular() {
        return FileMode.isRegular(mode);
    }

    /** {@return true if {@link #mode()} is a symbolic link (S_IFLNK)} */
    public boolean isSymlink() {
        return FileMode.isSymlink(mode);
    }
}
