package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DirEntryCodec;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.fs.NewInodeOwner;
import org.iomap4j.fs.Pins;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;

/**
 * The namespace room (fs/ext2/namei.c, fs/namei.c's checks): lookup, create, mknod, mkdir, symlink, readlink,
 * link, unlink, rmdir, rename and readdir over {@link Directories}, plus the library's path resolution
 * ({@link #lookupPath}, {@link #walkTree}). Each operation opens one {@link Pins} scope for the inodes it gets.
 *
 * <p>Per-directory locking, as the kernel's VFS does (fs/namei.c lock_rename, vfs_rmdir): a directory's
 * {@link org.iomap4j.fs.Inode#rwsem} is its i_rwsem — shared for lookup and readdir, exclusive for a change of its
 * entries — so operations in different directories run in parallel. Lock order, outermost first:
 * <ol>
 *   <li>{@link ExtFileSystem#nsLock} shared by every namespace operation (exclusive only for freeing an unlinked
 *       inode and at unmount, which must not overlap any of them);</li>
 *   <li>{@link #renameLock} (s_vfs_rename_mutex; renames only). While holding it alone, a rename reads the ".."
 *       chains of both parents, one directory's shared lock at a time;</li>
 *   <li>parent directories: one for create/mknod/mkdir/symlink/link/unlink/rmdir; for rename both parents, an
 *       ancestor before its descendant, otherwise old before new;</li>
 *   <li>child directories, after their parents: rmdir's victim; rename's source directory when it changes
 *       parent and a replaced target directory, by inode number (a target that is an ancestor of the source is
 *       ENOTEMPTY before it is locked, the source's subtree holding the new parent is EINVAL);</li>
 *   <li>{@link ExtInode#lock} (link counts: a new hard link checks and counts under it, see {@link #takeLink})
 *       → {@link ExtGroups} monitor (allocators) → buffer locks.</li>
 * </ol>
 * A non-directory's i_rwsem is not taken (its data writers hold it).
 *
 * <p>Pins are dropped after the locks are released; modifying operations then write back pending evictions if
 * too many wait (no lock held).
 */
final class ExtNamei {
    /** Most hard links to a non-directory (EXT2_LINK_MAX, as the ext2 semantics tests expect). */
    static final int LINK_MAX = ExtFileSystem.LINK_MAX;
    /**
     * EXT4_LINK_MAX (fs/ext4/ext4.h): most links a directory counts; an indexed directory with more
     * subdirectories keeps i_links_count 1 instead (dir_nlink), a linear one refuses more (EMLINK).
     */
    static final int DIR_LINK_MAX = 65000;

    private final ExtFileSystem fs;
    /** s_vfs_rename_mutex: one rename at a time, so ".." chains are stable while a rename looks at them. */
    private final java.util.concurrent.locks.ReentrantLock renameLock = new java.util.concurrent.locks.ReentrantLock();

    ExtNamei(ExtFileSystem fs) {
        this.fs = fs;
    }

    /**
     * Resolves an absolute path ("/", "/a/b") without following symlinks and without taking a reference.
     *
     * @throws FsException ENOENT, ENOTDIR, EINVAL for a relative path
     */
    InodeAttr lookupPath(String absPath) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            return fs.inodes.attr(resolve(pins, absPath));
        }
    }

    private ExtInode resolve(Pins pins, String absPath) throws IOException {
        if (!absPath.startsWith("/")) {
            throw new FsException(Errno.EINVAL, "not an absolute path: " + absPath);
        }
        ExtInode cur = fs.inodes.iget(pins, ExtFileSystem.ROOT_INO);
        for (String comp : absPath.split("/")) {
            if (comp.isEmpty() || comp.equals(".")) {
                continue;
            }
            if (!cur.isDir()) {
                throw new FsException(Errno.ENOTDIR, absPath + ": a component before '" + comp + "' is not a directory");
            }
            byte[] nb = nameBytes(comp);
            Directories.Slot s;
            fs.nsLock.readLock().lock();
            cur.rwsem.readLock().lock();
            try {
                s = fs.dirs.find(cur, nb);
            } finally {
                cur.rwsem.readLock().unlock();
                fs.nsLock.readLock().unlock();
            }
            if (s == null) {
                throw new FsException(Errno.ENOENT, absPath + ": '" + comp + "' not found");
            }
            cur = fs.inodes.igetChild(pins, s.ino(), cur);
        }
        return cur;
    }

    /**
     * Visits {@code absPath} and everything below it, parents before children, "." and ".." excluded. A directory
     * reached twice (a loop in the tree, or a directory hard link) is corruption.
     *
     * @throws CorruptFilesystemException naming the directory inode reached twice
     */
    void walkTree(String absPath, ExtFileSystem.TreeVisitor visitor) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            walk(pins, absPath, visitor);
        }
    }

    private void walk(Pins pins, String absPath, ExtFileSystem.TreeVisitor visitor) throws IOException {
        ExtInode top = resolve(pins, absPath);
        Set<Long> seenDirs = new HashSet<>();
        Deque<Map.Entry<String, ExtInode>> stack = new ArrayDeque<>();
        stack.push(Map.entry(absPath, top));
        while (!stack.isEmpty()) {
            var e = stack.pop();
            ExtInode inode = e.getValue();
            visitor.visit(e.getKey(), fs.inodes.attr(inode));
            if (!inode.isDir()) {
                continue;
            }
            if (!seenDirs.add(inode.ino)) {
                throw new CorruptFilesystemException("directory inode " + inode.ino + " reached twice (again at "
                        + e.getKey() + "): a loop in the directory tree");
            }
            List<Map.Entry<String, ExtInode>> children = new ArrayList<>();
            String prefix = e.getKey().endsWith("/") ? e.getKey() : e.getKey() + "/";
            fs.nsLock.readLock().lock();
            inode.rwsem.readLock().lock();
            try {
                fs.dirs.iterate(inode, 0, (pos, recLen, ino, block, off) -> {
                    int nl = DirEntryCodec.nameLen(block, off);
                    String name = new String(block, off + DirEntryCodec.HEADER_BYTES, nl, StandardCharsets.UTF_8);
                    if (!name.equals(".") && !name.equals("..")) {
                        children.add(Map.entry(prefix + name, fs.inodes.igetChild(pins, ino, inode)));
                    }
                    return true;
                });
            } finally {
                inode.rwsem.readLock().unlock();
                fs.nsLock.readLock().unlock();
            }
            for (int i = children.size() - 1; i >= 0; i--) {
                ExtInode c = children.get(i).getValue();
                if (c.isDir() && seenDirs.contains(c.ino)) {
                    throw new CorruptFilesystemException("directory inode " + c.ino + " reached twice (at "
                            + children.get(i).getKey() + "): a loop in the directory tree");
                }
                stack.push(children.get(i));
            }
        }
    }

    /**
     * The bytes of one path component.
     *
     * @throws FsException ENOENT for an empty name, EINVAL for '/' or NUL in it, ENAMETOOLONG above 255 bytes
     */
    static byte[] nameBytes(String name) throws FsException {
        if (name.isEmpty()) {
            throw new FsException(Errno.ENOENT, "empty name");
        }
        if (name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
            throw new FsException(Errno.EINVAL, "name contains '/' or NUL: " + name);
        }
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > DirEntryCodec.NAME_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, "name of " + b.length + " bytes (max 255)");
        }
        return b;
    }

    InodeAttr lookup(long dirIno, String name) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            ExtInode dir = fs.inodes.dirInode(pins, dirIno);
            byte[] nb = nameBytes(name);
            ExtInode child;
            fs.nsLock.readLock().lock();
            dir.rwsem.readLock().lock();
            try {
                Directories.Slot s = fs.dirs.find(dir, nb);
                if (s == null) {
                    throw new FsException(Errno.ENOENT, "'" + name + "' not found in directory inode " + dirIno);
                }
                child = fs.inodes.igetChild(pins, s.ino(), dir);
                fs.icache.ref(child);
            } finally {
                dir.rwsem.readLock().unlock();
                fs.nsLock.readLock().unlock();
            }
            return fs.inodes.attr(child);
        }
    }
    InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException {
        int type = mode & FileMode.S_IFMT;
        if (type == 0) {
            mode |= FileMode.S_IFREG;
            type = FileMode.S_IFREG;
        }
        if (type != FileMode.S_IFREG && type != FileMode.S_IFCHR && type != FileMode.S_IFBLK
                && type != FileMode.S_IFIFO && type != FileMode.S_IFSOCK) {
            throw new FsException(Errno.EINVAL, "mknod of mode 0" + Integer.toOctalString(mode));
        }
        final int m = type | (mode & FileMode.PERM_MASK);
        final boolean isDevice = type == FileMode.S_IFCHR || type == FileMode.S_IFBLK;
        return createNode(dirIno, name, m, uid, gid, i -> {
            if (isDevice) {
                i.lock.lock();
                try {
                    if ((rdev & ~0xFFFFL) == 0) {
                        i.disk.setBlock(0, rdev);
                    } else {
                        i.disk.setBlock(1, rdev & 0xFFFF_FFFFL);
                    }
                } finally {
                    i.lock.unlock();
                }
            }
        });
    }

    @FunctionalInterface
    private interface InodeInit {
        void init(ExtInode inode) throws IOException;
    }

    private InodeAttr createNode(long dirIno, String name, int mode, int uid, int gid, InodeInit init)
            throws IOException {
        fs.checkWritable();
        InodeAttr a;
        try (Pins pins = fs.icache.pins()) {
            ExtInode dir = fs.inodes.dirInode(pins, dirIno);
            byte[] nb = nameBytes(name);
            ExtInode inode;
            lockDir(dir);
            try {
                inode = createLocked(pins, dir, nb, mode, uid, gid, init);
                fs.icache.ref(inode);
            } finally {
                unlockDir(dir);
            }
            a = fs.inodes.attr(inode);
        }
        fs.icache.writeback().writebackPendingEvictions();
        return a;
    }

    private ExtInode createLocked(Pins pins, ExtInode dir, byte[] nb, int mode, int uid, int gid, InodeInit init)
            throws IOException {
        if (fs.dirs.find(dir, nb) != null) {
            throw new FsException(Errno.EEXIST, "'" + new String(nb, StandardCharsets.UTF_8)
                    + "' exists in directory inode " + dir.ino);
        }
        if (fs.inodes.links(dir) == 0) {
            throw new FsException(Errno.ENOENT, "directory inode " + dir.ino + " was removed");
        }
        boolean isDir = FileMode.isDirectory(mode);
        if (isDir && dirLinkMax(dir)) {
            throw new FsException(Errno.EMLINK, "directory inode " + dir.ino + " has " + DIR_LINK_MAX + " links");
        }
        NewInodeOwner owner = NewInodeOwner.of(dir.disk.mode(), dir.disk.gid(), mode, uid, gid);
        ExtInode inode = fs.inodes.newInode(pins, dir, owner.mode(), owner.uid(), owner.gid());
        try {
            fs.acl.initNewInode(dir, inode);
            init.init(inode);
            fs.dirs.add(dir, nb, inode.ino, DirEntryCodec.fileTypeOfMode(mode));
            fs.fsyncRoom.noteNewEntry(inode, dir);
        } catch (IOException | RuntimeException e) {
            fs.inodes.discardNewInode(inode, e);
            throw e;
        }
        if (isDir) {
            incCount(dir);
        }
        fs.inodes.touchMtimeCtime(dir);
        return inode;
    }

    InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException {
        return createNode(dirIno, name, FileMode.S_IFDIR | (mode & FileMode.PERM_MASK), uid, gid,
                i -> fs.dirs.init(i, dirIno));
    }

    InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException {
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        if (t.length == 0) {
            throw new FsException(Errno.ENOENT, "empty symlink target");
        }
        if (t.length + 1 > fs.geo.blockSizeBytes()) {
            throw new FsException(Errno.ENAMETOOLONG, "symlink target of " + t.length + " bytes");
        }
        return createNode(dirIno, name, FileMode.S_IFLNK | 0777, uid, gid, i -> {
            if (t.length < DiskInode.I_BLOCK_BYTES) {
                i.lock.lock();
                try {
                    i.disk.setFlags(i.disk.flags() & ~DiskInode.FL_EXTENTS); // ext4_symlink: fast ones have none
                    i.disk.setBlockBytes(t);
                } finally {
                    i.lock.unlock();
                }
                i.setFastSymlink(true);
                i.setSizeBytes(t.length);
            } else {
                i.setFastSymlink(false);
                ByteBuffer src = ByteBuffer.wrap(t);
                while (src.hasRemaining()) {
                    if (BufferedIo.write(i, src.position(), src, fs.iomapOps) <= 0) {
                        throw new FsException(Errno.EIO, "short write of symlink inode " + i.ino);
                    }
                }
            }
        });
    }

    String readlink(long ino) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            return readlinkPinned(fs.inodes.iget(pins, ino));
        }
    }

    private String readlinkPinned(ExtInode i) throws IOException {
        long ino = i.ino;
        if (!i.isSymlink()) {
            throw new FsException(Errno.EINVAL, "inode " + ino + " is not a symlink");
        }
        int size = (int) i.sizeBytes();
        if (ExtInline.isInline(i)) {
            return new String(fs.inline.content(i), StandardCharsets.UTF_8);
        }
        if (i.isFastSymlink()) {
            byte[] b;
            i.lock.lock();
            try {
                b = i.disk.blockBytes();
            } finally {
                i.lock.unlock();
            }
            return new String(b, 0, Math.min(size, b.length), StandardCharsets.UTF_8);
        }
        ByteBuffer dst = ByteBuffer.allocate(size);
        while (dst.hasRemaining()) {
            if (BufferedIo.read(i, dst.position(), dst, fs.iomapOps) <= 0) {
                throw new CorruptFilesystemException("symlink inode " + ino + ": data shorter than its size " + size);
            }
        }
        return new String(dst.array(), StandardCharsets.UTF_8);
    }

    InodeAttr link(long ino, long newDirIno, String newName) throws IOException {
        fs.checkWritable();
        InodeAttr a;
        try (Pins pins = fs.icache.pins()) {
            ExtInode i = fs.inodes.iget(pins, ino);
            if (i.isDir()) {
                throw new FsException(Errno.EPERM, "hard link to directory inode " + ino);
            }
            ExtInode dir = fs.inodes.dirInode(pins, newDirIno);
            byte[] nb = nameBytes(newName);
            lockDir(dir);
            try {
                if (fs.dirs.find(dir, nb) != null) {
                    throw new FsException(Errno.EEXIST, "'" + newName + "' exists in directory inode " + newDirIno);
                }
                takeLink(i);
                try {
                    fs.dirs.add(dir, nb, ino, DirEntryCodec.fileTypeOfMode(i.mode()));
                } catch (IOException | RuntimeException e) {
                    fs.inodes.addLinks(i, -1, true);
                    throw e;
                }
                fs.inodes.touchMtimeCtime(dir);
                fs.icache.ref(i);
            } finally {
                unlockDir(dir);
            }
            a = fs.inodes.attr(i);
        }
        fs.icache.writeback().writebackPendingEvictions();
        return a;
    }

    void unlink(long dirIno, String name) throws IOException {
        fs.checkWritable();
        try (Pins pins = fs.icache.pins()) {
            ExtInode dir = fs.inodes.dirInode(pins, dirIno);
            byte[] nb = nameBytes(name);
            lockDir(dir);
            try {
                Directories.Slot s = fs.dirs.find(dir, nb);
                if (s == null) {
                    throw new FsException(Errno.ENOENT, "'" + name + "' not found in directory inode " + dirIno);
                }
                ExtInode i = fs.inodes.igetChild(pins, s.ino(), dir);
                if (i.isDir()) {
                    throw new FsException(Errno.EISDIR, "'" + name + "' is a directory");
                }
                fs.dirs.remove(dir, s);
                fs.inodes.touchMtimeCtime(dir);
                fs.inodes.addLinks(i, -1, true);
                fs.inodes.maybeFree(i);
            } finally {
                unlockDir(dir);
            }
        }
        fs.icache.writeback().writebackPendingEvictions();
    }

    void rmdir(long dirIno, String name) throws IOException {
        fs.checkWritable();
        try (Pins pins = fs.icache.pins()) {
            ExtInode dir = fs.inodes.dirInode(pins, dirIno);
            byte[] nb = nameBytes(name);
            if (name.equals(".")) {
                throw new FsException(Errno.EINVAL, "rmdir of '.'");
            }
            if (name.equals("..")) {
                throw new FsException(Errno.ENOTEMPTY, "rmdir of '..'");
            }
            lockDir(dir);
            try {
                Directories.Slot s = fs.dirs.find(dir, nb);
                if (s == null) {
                    throw new FsException(Errno.ENOENT, "'" + name + "' not found in directory inode " + dirIno);
                }
                ExtInode victim = fs.inodes.igetChild(pins, s.ino(), dir);
                if (!victim.isDir()) {
                    throw new FsException(Errno.ENOTDIR, "'" + name + "' is not a directory");
                }
                victim.rwsem.writeLock().lock(); // parent before child
                try {
                    if (!fs.dirs.isEmpty(victim)) {
                        throw new FsException(Errno.ENOTEMPTY, "directory '" + name + "' (inode " + victim.ino
                                + ") not empty");
                    }
                    fs.dirs.remove(dir, s);
                    fs.inodes.touchMtimeCtime(dir);
                    fs.inodes.addLinks(victim, -fs.inodes.links(victim), true);
                    decCount(dir);
                    fs.inodes.maybeFree(victim);
                } finally {
                    victim.rwsem.writeLock().unlock();
                }
            } finally {
                unlockDir(dir);
            }
        }
        fs.icache.writeback().writebackPendingEvictions();
    }

    void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException {
        fs.checkWritable();
        if ((flags & ~Vfs.RENAME_NOREPLACE) != 0) {
            throw new FsException(Errno.EINVAL, "rename flags 0x" + Integer.toHexString(flags) + " not supported by ext2");
        }
        try (Pins pins = fs.icache.pins()) {
            renamePinned(pins, oldDirIno, oldName, newDirIno, newName, flags);
        }
        fs.icache.writeback().writebackPendingEvictions();
    }

    private void renamePinned(Pins pins, long oldDirIno, String oldName, long newDirIno, String newName, int flags)
            throws IOException {
        ExtInode oldDir = fs.inodes.dirInode(pins, oldDirIno);
        ExtInode newDir = fs.inodes.dirInode(pins, newDirIno);
        byte[] oldNb = nameBytes(oldName);
        byte[] newNb = nameBytes(newName);
        if (oldName.equals(".") || oldName.equals("..") || newName.equals(".") || newName.equals("..")) {
            throw new FsException(Errno.EINVAL, "rename of '.' or '..'");
        }
        fs.nsLock.readLock().lock();
        renameLock.lock();
        List<ExtInode> locked = new ArrayList<>(4);
        try {
            // Every rename holds renameLock, so the ".." chains cannot change under us (lock_rename's premise).
            List<ExtInode> oldChain = ancestors(pins, oldDir);
            List<ExtInode> newChain = oldDir == newDir ? oldChain : ancestors(pins, newDir);
            // Parents: an ancestor before its descendant, else old before new (renameLock excludes the cycle).
            boolean newFirst = oldDir != newDir && oldChain.contains(newDir);
            lockAll(locked, newFirst ? newDir : oldDir, newFirst ? oldDir : newDir);
            if (fs.inodes.links(oldDir) == 0 || fs.inodes.links(newDir) == 0) {
                throw new FsException(Errno.ENOENT, "directory inode " + (fs.inodes.links(oldDir) == 0 ? oldDirIno
                        : newDirIno) + " was removed");
            }
            Directories.Slot os = fs.dirs.find(oldDir, oldNb);
            if (os == null) {
                throw new FsException(Errno.ENOENT, "'" + oldName + "' not found in directory inode " + oldDirIno);
            }
            ExtInode src = fs.inodes.igetChild(pins, os.ino(), oldDir);
            Directories.Slot ns = fs.dirs.find(newDir, newNb);
            ExtInode target = ns == null ? null : fs.inodes.igetChild(pins, ns.ino(), newDir);
            if (target != null && (flags & Vfs.RENAME_NOREPLACE) != 0) {
                throw new FsException(Errno.EEXIST, "'" + newName + "' exists (Vfs.RENAME_NOREPLACE)");
            }
            if (target == src) {
                return; // same inode under both names: POSIX says do nothing
            }
            boolean srcDir = src.isDir();
            // The VFS's order of checks (fs/namei.c do_renameat2): EINVAL for a move into the own subtree
            // comes before the type and emptiness checks on the target.
            if (srcDir && oldDir != newDir && newChain.contains(src)) {
                throw new FsException(Errno.EINVAL, "cannot move directory inode " + src.ino + " into its own subtree");
            }
            if (target != null && target.isDir() && oldChain.contains(target)) {
                // lock_rename's trap: the target is an ancestor of the source, so it is not empty.
                throw new FsException(Errno.ENOTEMPTY, "directory '" + newName + "' not empty");
            }
            // Children after parents: a directory moving to another parent (its ".." changes), a replaced one.
            ExtInode c1 = srcDir && oldDir != newDir ? src : null;
            ExtInode c2 = target != null && target.isDir() ? target : null;
            if (c1 != null && c2 != null && c2.ino < c1.ino) {
                ExtInode t = c1;
                c1 = c2;
                c2 = t;
            }
            lockAll(locked, c1, c2);
            if (target != null) {
                if (srcDir && !target.isDir()) {
                    throw new FsException(Errno.ENOTDIR, "'" + newName + "' is not a directory");
                }
                if (!srcDir && target.isDir()) {
                    throw new FsException(Errno.EISDIR, "'" + newName + "' is a directory");
                }
                if (target.isDir() && !fs.dirs.isEmpty(target)) {
                    throw new FsException(Errno.ENOTEMPTY, "directory '" + newName + "' not empty");
                }
            }
            if (srcDir && oldDir != newDir) {
                if (target == null && dirLinkMax(newDir)) {
                    throw new FsException(Errno.EMLINK, "directory inode " + newDirIno + " has " + DIR_LINK_MAX + " links");
                }
            }
            int ft = DirEntryCodec.fileTypeOfMode(src.mode());
            if (target != null) {
                fs.dirs.retarget(newDir, ns, src.ino, ft);
                if (target.isDir()) {
                    fs.inodes.addLinks(target, -fs.inodes.links(target), true);
                } else {
                    fs.inodes.addLinks(target, -1, true);
                }
            } else {
                fs.dirs.add(newDir, newNb, src.ino, ft);
                if (srcDir) {
                    incCount(newDir);
                }
            }
            // Adding may have split the entry before the old one: find it again.
            Directories.Slot again = fs.dirs.find(oldDir, oldNb);
            if (again == null || again.ino() != src.ino) {
                throw new CorruptFilesystemException("directory inode " + oldDirIno + ": entry '" + oldName
                        + "' changed during rename");
            }
            fs.dirs.remove(oldDir, again);
            if (srcDir) {
                if (oldDir != newDir) {
                    Directories.Slot dd = fs.dirs.find(src, new byte[] {'.', '.'});
                    if (dd == null) {
                        throw new CorruptFilesystemException("directory inode " + src.ino + " has no '..' entry");
                    }
                    fs.dirs.retarget(src, dd, newDir.ino, DirEntryCodec.FT_DIR);
                }
                decCount(oldDir);
            }
            fs.inodes.addLinks(src, 0, true);
            fs.inodes.touchMtimeCtime(oldDir);
            fs.inodes.touchMtimeCtime(newDir);
            if (target != null) {
                fs.inodes.maybeFree(target);
            }
        } finally {
            for (int i = locked.size() - 1; i >= 0; i--) {
                locked.get(i).rwsem.writeLock().unlock();
            }
            renameLock.unlock();
            fs.nsLock.readLock().unlock();
        }
    }

    /** Locks the non-null directories, in the order given, recording them for the unlock. */
    private static void lockAll(List<ExtInode> locked, ExtInode a, ExtInode b) {
        for (ExtInode d : new ExtInode[] {a, b}) {
            if (d != null && !locked.contains(d)) {
                d.rwsem.writeLock().lock();
                locked.add(d);
            }
        }
    }

    /**
     * {@code dir} and its ancestors up to the root, read through the ".." entries, one directory's lock (shared)
     * at a time; the caller holds {@link #renameLock}, so the chain is stable.
     *
     * @throws CorruptFilesystemException if the chain does not reach the root or meets a non-directory
     */
    private List<ExtInode> ancestors(Pins pins, ExtInode dir) throws IOException {
        List<ExtInode> chain = new ArrayList<>();
        ExtInode cur = dir;
        for (long steps = 0; steps <= fs.geo.inodesCount(); steps++) {
            chain.add(cur);
            if (cur.ino == ExtFileSystem.ROOT_INO) {
                return chain;
            }
            Directories.Slot dd;
            cur.rwsem.readLock().lock();
            try {
                dd = fs.dirs.find(cur, new byte[] {'.', '.'});
            } finally {
                cur.rwsem.readLock().unlock();
            }
            if (dd == null) {
                throw new CorruptFilesystemException("directory inode " + cur.ino + " has no '..' entry");
            }
            ExtInode up = fs.inodes.igetChild(pins, dd.ino(), cur);
            if (!up.isDir()) {
                throw new CorruptFilesystemException("'..' of a directory is inode " + up.ino + ", not a directory");
            }
            cur = up;
        }
        throw new CorruptFilesystemException("'..' chain from directory inode " + dir.ino + " does not reach the root");
    }

    /** Takes the shared namespace lock and the directory's i_rwsem exclusively (a change in that directory). */
    private void lockDir(ExtInode dir) {
        fs.nsLock.readLock().lock();
        dir.rwsem.writeLock().lock();
    }

    private void unlockDir(ExtInode dir) {
        dir.rwsem.writeLock().unlock();
        fs.nsLock.readLock().unlock();
    }

    /**
     * A new link to a non-directory: ENOENT once its count reached 0 (an unlink elsewhere freed it), EMLINK at
     * {@link #LINK_MAX}; checked and counted under the inode's lock, since its other names live in directories
     * this operation does not lock (vfs_link takes the inode's i_rwsem for this).
     */
    private void takeLink(ExtInode i) throws FsException {
        i.lock.lock();
        try {
            int n = i.disk.linksCount();
            if (n == 0) {
                throw new FsException(Errno.ENOENT, "inode " + i.ino + " was removed");
            }
            if (n >= LINK_MAX) {
                throw new FsException(Errno.EMLINK, "inode " + i.ino + " has " + LINK_MAX + " links");
            }
            i.setLinksCount(n + 1);
            i.disk.setCtime(ExtSuper.now());
        } finally {
            i.lock.unlock();
        }
        fs.markDirty(i);
    }

    /**
     * EXT4_DIR_LINK_MAX: a linear directory at {@link #DIR_LINK_MAX} links takes no more subdirectories; an indexed
     * one always can (its count goes to 1, {@link #incCount}).
     */
    private boolean dirLinkMax(ExtInode dir) {
        return !fs.dirs.isDx(dir) && fs.inodes.links(dir) >= DIR_LINK_MAX;
    }

    /**
     * ext4_inc_count for a directory gaining a subdirectory: an indexed directory whose count would pass
     * {@link #DIR_LINK_MAX}, or is already 1 (not counted), gets 1, and the filesystem the dir_nlink feature.
     */
    private void incCount(ExtInode dir) throws IOException {
        int n = fs.inodes.links(dir) + 1;
        if (fs.dirs.isDx(dir) && (n > DIR_LINK_MAX || n == 2)) {
            fs.inodes.addLinks(dir, 1 - (n - 1), false);
            fs.sup.noteDirNlink();
        } else {
            fs.inodes.addLinks(dir, 1, false);
        }
    }

    /** ext4_dec_count for a directory losing a subdirectory: a count of 2 or less (1: not counted) stays. */
    private void decCount(ExtInode dir) throws IOException {
        if (fs.inodes.links(dir) > 2) {
            fs.inodes.addLinks(dir, -1, false);
        }
    }


    void readdir(long dirIno, long offset, Vfs.DirSink sink) throws IOException {
        try (Pins pins = fs.icache.pins()) {
            ExtInode dir = fs.inodes.dirInode(pins, dirIno);
            fs.nsLock.readLock().lock();
            dir.rwsem.readLock().lock();
            try {
                fs.dirs.iterate(dir, offset, (pos, recLen, ino, block, off) -> {
                    int nl = DirEntryCodec.nameLen(block, off);
                    String name = new String(block, off + DirEntryCodec.HEADER_BYTES, nl, StandardCharsets.UTF_8);
                    int dtype = fs.geo.hasFiletype() ? DirEntryCodec.dtypeOfFileType(DirEntryCodec.fileType(block, off))
                            : FileMode.dtype(fs.inodes.iget(pins, ino).mode());
                    return sink.accept(new DirEntry(name, ino, dtype, pos + recLen));
                });
            } finally {
                dir.rwsem.readLock().unlock();
                fs.nsLock.readLock().unlock();
            }
            fs.inodes.touchAtime(dir);
        }
    }

    /**
     * create(2) with O_CREAT: opens the existing entry (EEXIST with O_EXCL) or creates a regular file, takes a
     * lookup reference and opens a handle ({@link ExtFile#openInode}); an open failure drops the reference again.
     */
    Vfs.Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException {
        fs.checkWritable();
        Vfs.Created c;
        try (Pins pins = fs.icache.pins()) {
            ExtInode dir = fs.inodes.dirInode(pins, dirIno);
            byte[] nb = nameBytes(name);
            ExtInode inode;
            boolean existed = false;
            lockDir(dir);
            try {
                Directories.Slot s = fs.dirs.find(dir, nb);
                if (s != null) {
                    if ((openFlags & Vfs.O_EXCL) != 0) {
                        throw new FsException(Errno.EEXIST, "'" + name + "' exists in directory inode " + dirIno);
                    }
                    inode = fs.inodes.igetChild(pins, s.ino(), dir);
                    existed = true;
                } else {
                    inode = createLocked(pins, dir, nb, FileMode.S_IFREG | (mode & FileMode.PERM_MASK), uid, gid,
                            i -> { });
                }
                fs.icache.ref(inode);
            } finally {
                unlockDir(dir);
            }
            ExtFile.Handle h;
            try {
                h = fs.file.openInode(inode, existed ? openFlags : openFlags & ~Vfs.O_TRUNC);
            } catch (IOException | RuntimeException e) {
                fs.icache.forget(inode.ino, 1);
                throw e;
            }
            c = new Vfs.Created(fs.inodes.attr(inode), h);
        }
        fs.icache.writeback().writebackPendingEvictions();
        return c;
    }
}
