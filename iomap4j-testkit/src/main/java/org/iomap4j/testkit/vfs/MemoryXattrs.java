package org.iomap4j.testkit.vfs;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.VfsXattr;

/**
 * {@link MemoryVfs}'s extended attributes: one name-to-value map per inode, with the rules of the {@link VfsXattr}
 * contract as Linux applies them (fs/xattr.c): the namespaces "user.", "trusted." and "security." are stored,
 * "system." (POSIX ACLs) and unprefixed names are EOPNOTSUPP; a name of more than 255 bytes is ERANGE, an empty one
 * after its prefix EINVAL; a value of more than 64 KiB (XATTR_SIZE_MAX) does not fit (ENOSPC); XATTR_CREATE on an
 * existing name is EEXIST, XATTR_REPLACE on a missing one ENODATA. Callers hold MemoryVfs's lock.
 */
final class MemoryXattrs {
    private MemoryXattrs() {}

    /** XATTR_SIZE_MAX (include/uapi/linux/limits.h). */
    static final int VALUE_MAX_BYTES = 65536;
    /** XATTR_NAME_MAX. */
    static final int NAME_MAX_BYTES = 255;

    private static void checkName(String name) throws FsException {
        if (name.getBytes(StandardCharsets.UTF_8).length > NAME_MAX_BYTES) {
            throw new FsException(Errno.ERANGE, "xattr name longer than 255 bytes");
        }
        String prefix = name.startsWith("user.") ? "user." : name.startsWith("trusted.") ? "trusted."
                : name.startsWith("security.") ? "security." : null;
        if (prefix == null) {
            throw new FsException(Errno.EOPNOTSUPP, "xattr namespace of '" + name + "' not stored by the memory vfs");
        }
        if (name.length() == prefix.length()) {
            throw new FsException(Errno.EINVAL, "empty xattr name after '" + prefix + "'");
        }
    }

    static byte[] get(Map<String, byte[]> xattrs, String name) throws FsException {
        checkName(name);
        byte[] v = xattrs.get(name);
        if (v == null) {
            throw new FsException(Errno.ENODATA, "no xattr '" + name + "'");
        }
        return v.clone();
    }

    static void set(Map<String, byte[]> xattrs, String name, byte[] value, int flags) throws FsException {
        checkName(name);
        if (value.length > VALUE_MAX_BYTES) {
            throw new FsException(Errno.ENOSPC, "xattr value of " + value.length + " bytes > 64 KiB");
        }
        boolean exists = xattrs.containsKey(name);
        if ((flags & VfsXattr.XATTR_CREATE) != 0 && exists) {
            throw new FsException(Errno.EEXIST, "xattr '" + name + "' exists (XATTR_CREATE)");
        }
        if ((flags & VfsXattr.XATTR_REPLACE) != 0 && !exists) {
            throw new FsException(Errno.ENODATA, "no xattr '" + name + "' (XATTR_REPLACE)");
        }
        xattrs.put(name, value.clone());
    }

    static List<String> list(Map<String, byte[]> xattrs) {
        return new ArrayList<>(xattrs.keySet());
    }

    static void remove(Map<String, byte[]> xattrs, String name) throws FsException {
        checkName(name);
        if (xattrs.remove(name) == null) {
            throw new FsException(Errno.ENODATA, "no xattr '" + name + "'");
        }
    }
}
