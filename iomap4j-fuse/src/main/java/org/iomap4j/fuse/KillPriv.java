package org.iomap4j.fuse;

import java.io.IOException;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsWrite;
import org.iomap4j.vfs.VfsXattr;

/**
 * FUSE_HANDLE_KILLPRIV_V2 (node layer): with it negotiated the kernel no longer strips privileges itself before a
 * write, truncate or chown; it asks the server to, with FUSE_WRITE_KILL_SUIDGID on a WRITE, FATTR_KILL_SUIDGID on a
 * SETATTR and FUSE_OPEN_KILL_SUIDGID on an O_TRUNC OPEN (include/uapi/linux/fuse.h, 7.33). The rule is the
 * kernel's setattr_should_drop_suidgid (fs/attr.c): S_ISUID always goes; S_ISGID goes with S_IXGRP, and without
 * it (a file marked for mandatory locking) only when the caller is neither in the file's group nor privileged
 * (in_group_or_capable: here uid 0, or the request's gid — supplementary groups are not known to a FUSE server);
 * and security.capability is removed (as cap_inode_killpriv does). Kernel ext2 on loop is the oracle
 * (MountKillPrivTest).
 *
 * <p>Not atomic with the write it precedes: the mode is read and then changed, as the kernel's own
 * file_remove_privs does before it takes the write. Stateless; thread-safe.
 */
final class KillPriv {
    static final int S_ISUID = 04000;
    static final int S_ISGID = 02000;
    static final int S_IXGRP = 00010;
    static final String SECURITY_CAPABILITY = "security.capability";

    private final Vfs vfs;
    private final VfsWrite writer;
    private final VfsXattr xattrs;

    KillPriv(Vfs vfs, VfsWrite writer, VfsXattr xattrs) {
        this.vfs = vfs;
        this.writer = writer;
        this.xattrs = xattrs;
    }

    /**
     * The mode with setuid cleared, and setgid when group-executable or when the caller is outside the file's group
     * and not root: setattr_should_drop_suidgid.
     */
    static int killedMode(int mode, int fileGid, int callerUid, int callerGid) {
        int killed = mode & ~S_ISUID;
        if ((mode & S_ISGID) != 0 && ((mode & S_IXGRP) != 0 || (callerUid != 0 && callerGid != fileGid))) {
            killed &= ~S_ISGID;
        }
        return killed;
    }

    /**
     * Strips setuid/setgid and security.capability from regular file {@code ino} if it has any of them, for a
     * request by {@code callerUid}/{@code callerGid} (the request header's fsuid/fsgid).
     *
     * @return whether anything changed (the kernel's cached attributes are then stale: WRITE and OPEN replies
     *         carry none, and the kernel does not drop its cached mode after them)
     * @throws FsException as {@link VfsWrite#setattr} and {@link VfsXattr#removexattr}
     */
    boolean kill(long ino, int callerUid, int callerGid) throws IOException {
        InodeAttr a = vfs.getattr(ino);
        if (!a.isRegular()) {
            return false;
        }
        int killed = killedMode(a.mode(), a.gid(), callerUid, callerGid);
        if (killed != a.mode()) {
            writer.setattr(ino, SetAttr.mode(killed & 07777));
        }
        return removeCapability(ino) || killed != a.mode();
    }

    /** The SETATTR changes with the kill folded in: the kernel's explicit mode wins if it sent one. */
    SetAttr fold(long ino, SetAttr changes, int callerUid, int callerGid) throws IOException {
        InodeAttr a = vfs.getattr(ino);
        if (!a.isRegular()) {
            return changes;
        }
        removeCapability(ino);
        if (changes != null && changes.mode() != null) {
            return changes;
        }
        int killed = killedMode(a.mode(), a.gid(), callerUid, callerGid);
        if (killed == a.mode()) {
            return changes;
        }
        int mode = killed & 07777;
        return changes == null ? SetAttr.mode(mode)
                : new SetAttr(mode, changes.uid(), changes.gid(), changes.sizeBytes(), changes.atimeSec(),
                        changes.mtimeSec(), changes.atimeNow(), changes.mtimeNow(), changes.atimeNsec(), changes.mtimeNsec(),
                        changes.ctimeSec(), changes.ctimeNsec());
    }

    /** Removes security.capability; whether there was one. */
    private boolean removeCapability(long ino) throws IOException {
        if (xattrs == null) {
            return false;
        }
        try {
            xattrs.getxattr(ino, SECURITY_CAPABILITY);
        } catch (FsException e) {
            if (e.errno() == Errno.ENODATA || e.errno() == Errno.EOPNOTSUPP) {
                return false;
            }
            throw e;
        }
        try {
            xattrs.removexattr(ino, SECURITY_CAPABILITY);
        } catch (FsException e) {
            if (e.errno() != Errno.ENODATA) {
                throw e;
            }
        }
        return true;
    }
}
