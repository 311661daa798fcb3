package org.iomap4j.ext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.PosixAcl;
import org.iomap4j.ext.disk.PosixAcl.Entry;
import org.iomap4j.vfs.Caller;
import org.iomap4j.vfs.FileMode;

/**
 * The POSIX ACL room (fs/ext4/acl.c over fs/posix_acl.c): {@code system.posix_acl_access} and
 * {@code system.posix_acl_default} stored through {@link ExtXattr} in ext4's on-disk ACL format and served in the
 * VFS's posix_acl_xattr format (version 2, what setfacl sends and getfacl reads), conversion by {@link PosixAcl}.
 * The semantics the kernel applies inside the filesystem:
 * <ul>
 *   <li>set access ACL: validated (posix_acl_valid), the mode's permission bits follow it and an ACL that says
 *       no more than the mode is stored as the mode only (posix_acl_update_mode / posix_acl_equiv_mode); setgid
 *       is dropped when the caller is neither root nor in the file's group;</li>
 *   <li>a default ACL only on directories (EACCES otherwise);</li>
 *   <li>chmod rewrites the access ACL's owner, mask (or group) and other entries (posix_acl_chmod);</li>
 *   <li>create in a directory with a default ACL (posix_acl_create): the new inode's mode is masked by the
 *       default ACL instead of the umask, its access ACL is the default ACL masked by the requested mode (not
 *       stored when equivalent to the mode), a new directory also gets the default ACL; without one the umask
 *       the front end left to the filesystem ({@link Caller#umask()}) applies.</li>
 * </ul>
 * Permission checks against ACLs are the front end's (FUSE: the kernel with FUSE_POSIX_ACL).
 *
 * <p>Lock order: as {@link ExtXattr} (each xattr call takes its lock; the mode is changed under
 * {@link ExtInode#lock} only).
 */
final class ExtAcl {
    static final String ACCESS = "system.posix_acl_access";
    static final String DEFAULT = "system.posix_acl_default";

    private final ExtFileSystem fs;
    private final ExtXattr xattr;

    ExtAcl(ExtFileSystem fs, ExtXattr xattr) {
        this.fs = fs;
        this.xattr = xattr;
    }

    static boolean isAclName(String name) {
        return name.equals(ACCESS) || name.equals(DEFAULT);
    }

    /** The ACL in posix_acl_xattr format; ENODATA if none is stored. */
    byte[] get(ExtInode i, String name) throws IOException {
        return PosixAcl.diskToXattr(xattr.get(i, name), "inode " + i.ino + " " + name);
    }

    /**
     * setxattr of an ACL name with a posix_acl_xattr value ({@code value} null: remove; an absent ACL is no
     * error). {@code flags} are ignored, as vfs_set_acl ignores them.
     *
     * @throws FsException EINVAL for a malformed or invalid ACL, EACCES for a default ACL on a non-directory
     */
    void set(ExtInode i, String name, byte[] value, int flags) throws IOException {
        boolean access = name.equals(ACCESS);
        if (!access && !i.isDir()) {
            if (value == null) {
                return;
            }
            throw new FsException(Errno.EACCES, "default ACL on non-directory inode " + i.ino);
        }
        if (i.isSymlink()) {
            throw new FsException(Errno.EOPNOTSUPP, "ACL on symlink inode " + i.ino);
        }
        if (value == null) {
            xattr.set(i, name, null, 0, true); // removing an absent ACL succeeds (ext4_set_acl with NULL)
            return;
        }
        List<Entry> acl;
        try {
            acl = PosixAcl.decodeXattr(value);
        } catch (IllegalArgumentException e) {
            throw new FsException(Errno.EINVAL, "inode " + i.ino + " " + name + ": " + e.getMessage());
        }
        if (acl.isEmpty()) { // setfacl -k sends an empty ACL to remove the default one
            xattr.set(i, name, null, flags, true);
            return;
        }
        validate(acl, i.ino);
        if (!access) {
            xattr.set(i, name, PosixAcl.encodeDisk(acl), 0, false); // ACL flags are ignored, as vfs_set_acl does
            return;
        }
        int[] mode = {0};
        boolean notEquiv = equivMode(acl, mode);
        // ext4_set_acl: the xattr first, the mode only once it is stored (ENOSPC leaves both as they were).
        xattr.set(i, name, notEquiv ? PosixAcl.encodeDisk(acl) : null, 0, true);
        i.lock.lock();
        try {
            int m = (i.disk.mode() & ~0777) | mode[0];
            Caller c = Caller.current();
            if (c.uid() != 0 && c.gid() != i.disk.gid()) {
                m &= ~02000; // S_ISGID: posix_acl_update_mode's in_group_or_capable check
            }
            i.disk.setMode(m);
            i.disk.setCtime(ExtSuper.now());
        } finally {
            i.lock.unlock();
        }
        fs.markDirty(i);
    }

    /** posix_acl_valid: one each of USER_OBJ, GROUP_OBJ, OTHER; MASK with named entries; no duplicate ids. */
    static void validate(List<Entry> acl, long ino) throws FsException {
        int userObj = 0;
        int groupObj = 0;
        int other = 0;
        int mask = 0;
        boolean named = false;
        Set<Long> users = new HashSet<>();
        Set<Long> groups = new HashSet<>();
        int lastTag = 0;
        for (Entry e : acl) {
            if ((e.perm() & ~7) != 0 || e.tag() < lastTag) {
                throw new FsException(Errno.EINVAL, "inode " + ino + ": ACL entry " + e + " invalid or out of order");
            }
            lastTag = e.tag();
            switch (e.tag()) {
                case PosixAcl.TAG_USER_OBJ -> userObj++;
                case PosixAcl.TAG_GROUP_OBJ -> groupObj++;
                case PosixAcl.TAG_OTHER -> other++;
                case PosixAcl.TAG_MASK -> mask++;
                case PosixAcl.TAG_USER -> {
                    named = true;
                    if (!users.add(e.id())) {
                        throw new FsException(Errno.EINVAL, "inode " + ino + ": ACL names user " + e.id() + " twice");
                    }
                }
                case PosixAcl.TAG_GROUP -> {
                    named = true;
                    if (!groups.add(e.id())) {
                        throw new FsException(Errno.EINVAL, "inode " + ino + ": ACL names group " + e.id() + " twice");
                    }
                }
                default -> throw new FsException(Errno.EINVAL, "inode " + ino + ": ACL tag " + e.tag());
            }
        }
        if (userObj != 1 || groupObj != 1 || other != 1 || mask > 1 || (named && mask == 0)) {
            throw new FsException(Errno.EINVAL, "inode " + ino + ": ACL lacks or repeats a required entry");
        }
    }

    /**
     * posix_acl_equiv_mode: the permission bits the ACL implies into {@code modeOut[0]}; true if the ACL says
     * more than a mode can (named entries or a mask).
     */
    static boolean equivMode(List<Entry> acl, int[] modeOut) {
        int mode = 0;
        boolean notEquiv = false;
        for (Entry e : acl) {
            int p = e.perm() & 7;
            switch (e.tag()) {
                case PosixAcl.TAG_USER_OBJ -> mode |= p << 6;
                case PosixAcl.TAG_GROUP_OBJ -> mode |= p << 3;
                case PosixAcl.TAG_OTHER -> mode |= p;
                case PosixAcl.TAG_MASK -> {
                    mode = (mode & ~070) | p << 3;
                    notEquiv = true;
                }
                default -> notEquiv = true;
            }
        }
        modeOut[0] = mode;
        return notEquiv;
    }

    /** posix_acl_chmod: after a mode change, the access ACL (if any) follows the new permission bits. */
    void chmod(ExtInode i) throws IOException {
        if (i.isSymlink()) {
            return;
        }
        xattr.lock.lock();
        try {
            if (!xattr.has(i, ACCESS)) {
                return;
            }
            List<Entry> acl = PosixAcl.decodeDisk(xattr.get(i, ACCESS), "inode " + i.ino + " " + ACCESS);
            int mode;
            i.lock.lock();
            try {
                mode = i.disk.mode();
            } finally {
                i.lock.unlock();
            }
            xattr.set(i, ACCESS, PosixAcl.encodeDisk(chmodEntries(acl, mode)), 0, false);
        } finally {
            xattr.lock.unlock();
        }
    }

    static List<Entry> chmodEntries(List<Entry> acl, int mode) {
        boolean hasMask = acl.stream().anyMatch(e -> e.tag() == PosixAcl.TAG_MASK);
        List<Entry> out = new ArrayList<>();
        for (Entry e : acl) {
            int p = switch (e.tag()) {
                case PosixAcl.TAG_USER_OBJ -> (mode >> 6) & 7;
                case PosixAcl.TAG_OTHER -> mode & 7;
                case PosixAcl.TAG_MASK -> (mode >> 3) & 7;
                case PosixAcl.TAG_GROUP_OBJ -> hasMask ? e.perm() : (mode >> 3) & 7;
                default -> e.perm();
            };
            out.add(new Entry(e.tag(), p, e.id()));
        }
        return out;
    }

    /**
     * posix_acl_create + ext4_init_acl for a new inode {@code i} in {@code dir} (called before its entry is
     * added): applies the directory's default ACL, or else the caller's umask, to the new inode's mode, and
     * stores the inherited ACLs. Symlinks are left alone.
     */
    void initNewInode(ExtInode dir, ExtInode i) throws IOException {
        if (i.isSymlink()) {
            return;
        }
        List<Entry> def = null;
        xattr.lock.lock();
        try {
            if (xattr.has(dir, DEFAULT)) {
                def = PosixAcl.decodeDisk(xattr.get(dir, DEFAULT), "directory inode " + dir.ino + " " + DEFAULT);
            }
            if (def == null || def.isEmpty()) {
                int umask = Caller.umask();
                if (umask != 0) {
                    i.lock.lock();
                    try {
                        i.disk.setMode(i.disk.mode() & ~(umask & 0777));
                    } finally {
                        i.lock.unlock();
                    }
                    fs.markDirty(i);
                }
                return;
            }
            if (i.isDir()) {
                xattr.set(i, DEFAULT, PosixAcl.encodeDisk(def), 0, false);
            }
            int[] mode = new int[1];
            i.lock.lock();
            try {
                mode[0] = i.disk.mode();
            } finally {
                i.lock.unlock();
            }
            List<Entry> access = new ArrayList<>(def);
            boolean notEquiv = createMasq(access, mode);
            i.lock.lock();
            try {
                i.disk.setMode(mode[0]);
            } finally {
                i.lock.unlock();
            }
            fs.markDirty(i);
            if (notEquiv) {
                xattr.set(i, ACCESS, PosixAcl.encodeDisk(access), 0, false);
            }
        } finally {
            xattr.lock.unlock();
        }
    }

    /**
     * posix_acl_create_masq: masks the entries of {@code acl} (in place) by the permission bits of
     * {@code modeInOut[0]} and the mode by the ACL; true if the ACL is not equivalent to the resulting mode.
     */
    static boolean createMasq(List<Entry> acl, int[] modeInOut) {
        int mode = modeInOut[0];
        boolean notEquiv = false;
        int groupObj = -1;
        int maskObj = -1;
        for (int k = 0; k < acl.size(); k++) {
            Entry e = acl.get(k);
            switch (e.tag()) {
                case PosixAcl.TAG_USER_OBJ -> {
                    int p = e.perm() & (mode >> 6) & 7;
                    acl.set(k, new Entry(e.tag(), p, e.id()));
                    mode &= (p << 6) | ~0700;
                }
                case PosixAcl.TAG_USER, PosixAcl.TAG_GROUP -> notEquiv = true;
                case PosixAcl.TAG_GROUP_OBJ -> groupObj = k;
                case PosixAcl.TAG_OTHER -> {
                    int p = e.perm() & mode & 7;
                    acl.set(k, new Entry(e.tag(), p, e.id()));
                    mode &= p | ~07;
                }
                case PosixAcl.TAG_MASK -> {
                    maskObj = k;
                    notEquiv = true;
                }
                default -> { }
            }
        }
        int k = maskObj >= 0 ? maskObj : groupObj;
        if (k >= 0) {
            Entry e = acl.get(k);
            int p = e.perm() & (mode >> 3) & 7;
            acl.set(k, new Entry(e.tag(), p, e.id()));
            mode &= (p << 3) | ~070;
        }
        modeInOut[0] = (modeInOut[0] & ~0777) | (mode & 0777);
        return notEquiv;
    }
}
