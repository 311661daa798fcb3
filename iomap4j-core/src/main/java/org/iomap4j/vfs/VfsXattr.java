package org.iomap4j.vfs;

import java.io.IOException;
import java.util.List;

/**
 * Capability: extended attributes (getxattr(2), setxattr(2), listxattr(2), removexattr(2); fs/xattr.c). Implemented by
 * ext2/3/4 (ExtFileSystem).
 *
 * <p>Contract: names are full names with their namespace prefix ("user.", "trusted.", "security.", "system.");
 * values are opaque bytes of at most 64 KiB (XATTR_SIZE_MAX, include/uapi/linux/limits.h); a name is at most 255
 * bytes (XATTR_NAME_MAX), else ERANGE. Errors: ENODATA for a missing attribute, EEXIST/ENODATA for
 * {@link #XATTR_CREATE}/{@link #XATTR_REPLACE} violations, ENOSPC when the inode's attribute space is full,
 * EOPNOTSUPP for a namespace the filesystem does not store, EROFS when read-only. The size probes of the system
 * calls (size 0) and ERANGE for a too-small buffer are the front end's job: these methods return whole values.
 *
 * <p>Absent: EOPNOTSUPP, as fs/xattr.c answers for an inode without xattr handlers (FUSE answers ENOSYS, which the
 * kernel remembers and turns into EOPNOTSUPP for every later call).
 */
public interface VfsXattr extends Vfs {
    /** setxattr flags (include/uapi/linux/xattr.h): fail if the attribute exists. */
    int XATTR_CREATE = 1;
    /** setxattr flags: fail if the attribute does not exist. */
    int XATTR_REPLACE = 2;

    /**
     * The value of attribute {@code name} of inode {@code ino}; ENODATA if it has none.
     *
     * @param ino inode number
     * @param name the full attribute name, namespace prefix included ("user.x")
     * @return a copy of the value
     * @throws IOException ENODATA, EOPNOTSUPP for an unsupported namespace, EIO/EUCLEAN
     */
    byte[] getxattr(long ino, String name) throws IOException;

    /**
     * Sets attribute {@code name} to {@code value} ({@code flags}: 0, {@link #XATTR_CREATE}, {@link #XATTR_REPLACE}).
     *
     * @param ino inode number
     * @param name the full attribute name, namespace prefix included
     * @param value the new value
     * @param flags 0, XATTR_CREATE or XATTR_REPLACE
     * @throws IOException EEXIST (CREATE), ENODATA (REPLACE), ENOSPC/E2BIG when it does not fit, EOPNOTSUPP, EROFS, EIO
     */
    void setxattr(long ino, String name, byte[] value, int flags) throws IOException;

    /**
     * The names of the inode's attributes (in any order; empty if none).
     *
     * @param ino inode number
     * @return the full attribute names
     * @throws IOException EIO/EUCLEAN for a device error or corrupt attribute block
     */
    List<String> listxattr(long ino) throws IOException;

    /**
     * Removes attribute {@code name}; ENODATA if it has none.
     *
     * @param ino inode number
     * @param name the full attribute name
     * @throws IOException ENODATA, EROFS, EIO
     */
    void removexattr(long ino, String name) throws IOException;

    /**
     * True if the filesystem stores POSIX ACLs ({@code system.posix_acl_access}/{@code _default} in the
     * posix_acl_xattr format) and applies their semantics on chmod and create (mode from a default ACL, else the
     * umask bound as {@link Caller#UMASK}); a front end may then let its kernel enforce them (FUSE_POSIX_ACL with
     * FUSE_DONT_MASK).
     *
     * @return true if POSIX ACLs are stored and enforced
     */
    default boolean posixAcls() {
        return false;
    }
}
