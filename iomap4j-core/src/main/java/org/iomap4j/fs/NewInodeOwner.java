package org.iomap4j.fs;

import org.iomap4j.vfs.FileMode;

/**
 * Owner and mode of a new inode as the kernel's {@code inode_init_owner} (fs/inode.c) gives them: the creator's
 * uid; the creator's gid, unless the parent directory has S_ISGID, in which case the new inode takes the
 * directory's gid and a new directory also gets S_ISGID (BSD group semantics, which ext2/3/4 apply without
 * the grpid mount option).
 *
 * <p>Not done here: clearing S_ISGID from a new non-directory whose creator is not in its group. The kernel
 * does that in the VFS ({@code vfs_prepare_mode} / {@code mode_strip_sgid}) before a filesystem's create is
 * called, so a FUSE server receives the mode already stripped; a library caller passes the mode it wants.
 *
 * @param mode full st_mode (file type and permission bits)
 * @param uid  owner uid
 * @param gid  owner gid
 */
public record NewInodeOwner(int mode, int uid, int gid) {
    /**
     * The owner of an inode created by {@code uid}/{@code gid} with {@code mode} in a directory of mode
     * {@code dirMode} (full st_mode) and group {@code dirGid}.
     *
     * @param dirMode st_mode of the parent directory
     * @param dirGid group of the parent directory
     * @param mode st_mode asked for the new inode
     * @param uid the creating user
     * @param gid the creating user's group
     * @return the new inode's mode, uid and gid
     */
    public static NewInodeOwner of(int dirMode, int dirGid, int mode, int uid, int gid) {
        if ((dirMode & FileMode.S_ISGID) == 0) {
            return new NewInodeOwner(mode, uid, gid);
        }
        int m = FileMode.isDirectory(mode) ? mode | FileMode.S_ISGID : mode;
        return new NewInodeOwner(m, uid, dirGid);
    }
}
