package org.iomap4j.vfs;

import java.io.IOException;

/**
 * Capability: names can be made and removed (the kernel's {@code mknod}, {@code mkdir}, {@code symlink},
 * {@code link}, {@code unlink}, {@code rmdir}, {@code rename} inode operations). Each call that returns an
 * {@link InodeAttr} takes one reference, as {@link Vfs#lookup}.
 *
 * <p>Absent: the kernel's VFS answers EPERM for a directory inode without these operations (fs/namei.c
 * {@code vfs_mkdir}, {@code vfs_unlink}...); front ends answer EPERM, or EROFS when the filesystem has no
 * {@link VfsWrite} either (it is read-only as a whole).
 */
public interface VfsNamespace extends Vfs {

    /**
     * Creates a regular file, device node, fifo or socket ({@code mode} carries the type).
     *
     * @param dirIno inode number of the parent directory
     * @param name the new entry name
     * @param mode file type and permission bits
     * @param rdev device number (Linux encoding) for a device node, else 0
     * @param uid owner
     * @param gid group
     * @return the new inode's attributes (one reference taken)
     * @throws IOException EEXIST, ENOSPC, ENAMETOOLONG, ENOTDIR, EROFS, EIO
     */
    InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException;

    /**
     * Creates a directory with "." and "..".
     *
     * @param dirIno inode number of the parent directory
     * @param name the new entry name
     * @param mode permission bits
     * @param uid owner
     * @param gid group
     * @return the new directory's attributes (one reference taken)
     * @throws IOException EEXIST, ENOSPC, EMLINK (parent link count at its maximum), ENAMETOOLONG, EROFS, EIO
     */
    InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException;

    /**
     * Creates a symbolic link to {@code target}.
     *
     * @param dirIno inode number of the parent directory
     * @param name the new entry name
     * @param target the link target, stored as given
     * @param uid owner
     * @param gid group
     * @return the new link's attributes (one reference taken)
     * @throws IOException EEXIST, ENOSPC, ENAMETOOLONG (name or target too long), EROFS, EIO
     */
    InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException;

    /**
     * Adds a hard link {@code newName} in {@code newDirIno} to {@code ino}; EPERM for directories.
     *
     * @param ino inode number of the existing file
     * @param newDirIno inode number of the directory getting the new name
     * @param newName the new entry name
     * @return the inode's attributes, link count raised (one reference taken)
     * @throws IOException EPERM, EEXIST, EMLINK, ENOSPC, EROFS, EIO
     */
    InodeAttr link(long ino, long newDirIno, String newName) throws IOException;

    /**
     * Removes the name {@code name} of a non-directory; the inode is freed when its last link and reference go.
     *
     * @param dirIno inode number of the directory
     * @param name the entry name
     * @throws IOException ENOENT, EISDIR, EROFS, EIO
     */
    void unlink(long dirIno, String name) throws IOException;

    /**
     * Removes the empty directory {@code name}.
     *
     * @param dirIno inode number of the parent directory
     * @param name the entry name
     * @throws IOException ENOENT, ENOTDIR, ENOTEMPTY, EROFS, EIO
     */
    void rmdir(long dirIno, String name) throws IOException;

    /**
     * rename/renameat2 with {@link #RENAME_NOREPLACE} or {@link #RENAME_EXCHANGE} flags.
     *
     * @param oldDirIno inode number of the source directory
     * @param oldName the source entry name
     * @param newDirIno inode number of the target directory
     * @param newName the target entry name
     * @param flags 0, RENAME_NOREPLACE or RENAME_EXCHANGE
     * @throws IOException ENOENT, EEXIST (NOREPLACE), EINVAL (a directory into itself), ENOTEMPTY, EISDIR, ENOTDIR,
     *     EROFS, EIO
     */
    void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException;
}
