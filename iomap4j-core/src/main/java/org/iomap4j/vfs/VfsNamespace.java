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

    /** Creates a regular file, device node, fifo or socket ({@code mode} carries the type). */
    InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException;

    InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException;

    InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException;

    /** Adds a hard link {@code newName} in {@code newDirIno} to {@code ino}; EPERM for directories. */
    InodeAttr link(long ino, long newDirIno, String newName) throws IOException;

    void unlink(long dirIno, String name) throws IOException;

    void rmdir(long dirIno, String name) throws IOException;

    /** rename/renameat2 with {@link #RENAME_NOREPLACE} or {@link #RENAME_EXCHANGE} flags. */
    void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException;
}
