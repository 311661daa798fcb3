package org.iomap4j.nio;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Caller;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;

/**
 * Name resolution and the namespace operations of a {@link VfsFileSystem}, by inode number through the
 * {@link Vfs}: what the kernel's namei and the *at system calls do.
 *
 * <p>Resolution walks one name at a time from a base directory (the root for absolute paths, the directory of a
 * {@link java.nio.file.SecureDirectoryStream} for its relative paths), follows symbolic links in the middle of a
 * path always and at the end when asked (at most {@link #MAX_SYMLINKS} of them, then ELOOP as Linux's
 * MAXSYMLINKS), and resolves ".." through the directory's own ".." entry, so that ".." after a symbolic link goes
 * to the parent of the link's target as in POSIX.
 *
 * <p>References: every {@link Vfs#lookup} takes one reference on the inode for the caller; a {@link Node} says
 * whether it holds one, and {@link #put} drops it. Nothing is held between operations except by open channels and
 * directory streams (so an unlinked file stays readable while open, as on Linux).
 *
 * <p>Callers: every method runs inside {@link VfsFileSystem#op}, which maps the {@link FsException}s thrown here.
 */
final class Namespace {
    /** Linux's MAXSYMLINKS (include/linux/namei.h). */
    static final int MAX_SYMLINKS = 40;
    /** Modes of new files and directories without a permissions attribute: 0666 and 0777 less a umask of 022. */
    static final int DEFAULT_FILE_MODE = 0644;
    static final int DEFAULT_DIR_MODE = 0755;

    private final Vfs vfs;

    Namespace(Vfs vfs) {
        this.vfs = vfs;
    }

    /** An inode reached by resolution; {@code counted} if it holds a lookup reference that {@link #put} drops. */
    record Node(long ino, InodeAttr attr, boolean counted) {
        Node borrowed() {
            return new Node(ino, attr, false);
        }
    }

    /** Where an operation starts: a base directory (borrowed, not released here) and the names below it. */
    record Loc(Node base, List<String> names) {
    }

    /** A directory (holding a reference) and the last name of a path in it. */
    record Parent(Node dir, String name) {
    }

    Node root() throws IOException {
        long ino = vfs.rootIno();
        return new Node(ino, vfs.getattr(ino), false);
    }

    Loc loc(VfsPath p) throws IOException {
        return new Loc(root(), ((VfsPath) p.toAbsolutePath()).names());
    }

    void put(Node n) throws IOException {
        if (n != null && n.counted()) {
            vfs.forget(n.ino(), 1);
        }
    }

    /** Resolves {@code loc}; the result holds a reference unless it is the base itself. */
    Node walk(Loc loc, boolean followLast) throws IOException {
        Deque<String> todo = new ArrayDeque<>(loc.names());
        Node cur = loc.base().borrowed();
        int links = 0;
        try {
            while (!todo.isEmpty()) {
                String name = todo.pollFirst();
                if (!cur.attr().isDirectory()) {
                    throw new FsException(Errno.ENOTDIR, "inode " + cur.ino() + " is not a directory");
                }
                if (name.equals(".")) {
                    continue;
                }
                InodeAttr a = vfs.lookup(cur.ino(), name);
                Node child = new Node(a.ino(), a, true);
                if (a.isSymlink() && (followLast || !todo.isEmpty())) {
                    if (++links > MAX_SYMLINKS) {
                        put(child);
                        throw new FsException(Errno.ELOOP, "more than " + MAX_SYMLINKS + " symbolic links");
                    }
                    String target;
                    try {
                        target = vfs.readlink(a.ino());
                    } finally {
                        put(child);
                    }
                    List<String> t = VfsPath.of(null, target).names();
                    for (int i = t.size() - 1; i >= 0; i--) {
                        todo.addFirst(t.get(i));
                    }
                    if (target.startsWith("/")) {
                        put(cur);
                        cur = root();
                    }
                    continue;
                }
                put(cur);
                cur = child;
            }
            Node r = cur;
            cur = null;
            return r;
        } finally {
            put(cur);
        }
    }

    /** Resolves all but the last name (following links); the last name must not be "" (the root or the base). */
    Parent parent(Loc loc) throws IOException {
        List<String> names = loc.names();
        if (names.isEmpty()) {
            throw new FsException(Errno.EEXIST, "the root (or the directory itself) has no parent entry");
        }
        Node dir = walk(new Loc(loc.base(), names.subList(0, names.size() - 1)), true);
        if (!dir.attr().isDirectory()) {
            put(dir);
            throw new FsException(Errno.ENOTDIR, "inode " + dir.ino() + " is not a directory");
        }
        return new Parent(dir, names.getLast());
    }

    /**
     * Where open(2) with O_CREAT creates a file named by {@code loc}: {@code loc} itself, or, if its last name is a
     * symbolic link to nothing, the link's target (followed through further dangling links, at most
     * {@link #MAX_SYMLINKS}).
     */
    Loc danglingTarget(Loc loc) throws IOException {
        Loc cur = loc;
        for (int links = 0; ; links++) {
            List<String> names = cur.names();
            if (names.isEmpty()) {
                return cur;
            }
            Parent p = parent(cur);
            String target;
            try {
                InodeAttr a;
                try {
                    a = vfs.lookup(p.dir().ino(), p.name());
                } catch (FsException e) {
                    if (e.errno() == Errno.ENOENT) {
                        return cur;
                    }
                    throw e;
                }
                try {
                    if (!a.isSymlink()) {
                        return cur;
                    }
                    target = vfs.readlink(a.ino());
                } finally {
                    vfs.forget(a.ino(), 1);
                }
            } finally {
                put(p.dir());
            }
            if (links >= MAX_SYMLINKS) {
                throw new FsException(Errno.ELOOP, "more than " + MAX_SYMLINKS + " symbolic links");
            }
            List<String> t = VfsPath.of(null, target).names();
            if (target.startsWith("/")) {
                cur = new Loc(root(), t);
            } else {
                List<String> next = new ArrayList<>(names.subList(0, names.size() - 1));
                next.addAll(t);
                cur = new Loc(cur.base(), next);
            }
        }
    }

    InodeAttr stat(Loc loc, boolean follow) throws IOException {
        Node n = walk(loc, follow);
        put(n);
        return n.attr();
    }

    /** The absolute path of {@code p} with no ".", "..", or (if {@code follow}) symbolic link; ENOENT if absent. */
    VfsPath realPath(VfsPath p, boolean follow) throws IOException {
        Deque<String> todo = new ArrayDeque<>(((VfsPath) p.toAbsolutePath()).names());
        List<String> out = new ArrayList<>();
        Deque<Node> stack = new ArrayDeque<>();
        stack.push(root());
        int links = 0;
        try {
            while (!todo.isEmpty()) {
                String name = todo.pollFirst();
                Node cur = stack.peek();
                if (!cur.attr().isDirectory()) {
                    throw new FsException(Errno.ENOTDIR, "inode " + cur.ino() + " is not a directory");
                }
                if (name.equals(".")) {
                    continue;
                }
                if (name.equals("..")) {
                    if (stack.size() > 1) {
                        put(stack.pop());
                        out.removeLast();
                    }
                    continue;
                }
                InodeAttr a = vfs.lookup(cur.ino(), name);
                Node child = new Node(a.ino(), a, true);
                if (a.isSymlink() && (follow || !todo.isEmpty())) {
                    String target;
                    try {
                        if (++links > MAX_SYMLINKS) {
                            throw new FsException(Errno.ELOOP, "more than " + MAX_SYMLINKS + " symbolic links");
                        }
                        target = vfs.readlink(a.ino());
                    } finally {
                        put(child);
                    }
                    List<String> t = VfsPath.of(null, target).names();
                    for (int i = t.size() - 1; i >= 0; i--) {
                        todo.addFirst(t.get(i));
                    }
                    if (target.startsWith("/")) {
                        while (stack.size() > 1) {
                            put(stack.pop());
                        }
                        out.clear();
                    }
                    continue;
                }
                stack.push(child);
                out.add(name);
            }
        } finally {
            for (Node n : stack) {
                put(n);
            }
        }
        return new VfsPath(p.getFileSystem(), "/" + String.join("/", out));
    }

    void mkdir(Loc loc, Integer perm) throws IOException {
        Parent p = parent(loc);
        try {
            checkNewName(p.name());
            Caller c = Caller.current();
            InodeAttr a = Capabilities.namespace(vfs).mkdir(p.dir().ino(), p.name(), perm != null ? perm : DEFAULT_DIR_MODE, c.uid(), c.gid());
            vfs.forget(a.ino(), 1);
        } finally {
            put(p.dir());
        }
    }

    void symlink(Loc loc, String target) throws IOException {
        Parent p = parent(loc);
        try {
            checkNewName(p.name());
            Caller c = Caller.current();
            InodeAttr a = Capabilities.namespace(vfs).symlink(p.dir().ino(), p.name(), target, c.uid(), c.gid());
            vfs.forget(a.ino(), 1);
        } finally {
            put(p.dir());
        }
    }

    /** link(2): a new name {@code link} for the inode {@code existing} names (not following a final link). */
    void link(Loc link, Loc existing) throws IOException {
        Node target = walk(existing, false);
        try {
            Parent p = parent(link);
            try {
                checkNewName(p.name());
                InodeAttr a = Capabilities.namespace(vfs).link(target.ino(), p.dir().ino(), p.name());
                vfs.forget(a.ino(), 1);
            } finally {
                put(p.dir());
            }
        } finally {
            put(target);
        }
    }

    String readlink(Loc loc) throws IOException {
        Node n = walk(loc, false);
        try {
            if (!n.attr().isSymlink()) {
                throw new FsException(Errno.EINVAL, "inode " + n.ino() + " is not a symbolic link");
            }
            return vfs.readlink(n.ino());
        } finally {
            put(n);
        }
    }

    /** What {@link #delete} may remove. */
    enum DeleteKind { ANY, FILE, DIRECTORY }

    /**
     * Removes the entry (a directory with rmdir, anything else with unlink; a final symbolic link itself).
     *
     * @return false if it did not exist and {@code ifExists}
     */
    boolean delete(Loc loc, DeleteKind kind, boolean ifExists) throws IOException {
        Parent p;
        try {
            p = parent(loc);
        } catch (FsException e) {
            if (ifExists && e.errno() == Errno.ENOENT) {
                return false;
            }
            throw e;
        }
        try {
            if (p.name().equals(".") || p.name().equals("..")) {
                throw new FsException(Errno.EINVAL, "cannot remove '" + p.name() + "'");
            }
            InodeAttr a;
            try {
                a = vfs.lookup(p.dir().ino(), p.name());
            } catch (FsException e) {
                if (ifExists && e.errno() == Errno.ENOENT) {
                    return false;
                }
                throw e;
            }
            vfs.forget(a.ino(), 1);
            if (a.isDirectory()) {
                if (kind == DeleteKind.FILE) {
                    throw new FsException(Errno.EISDIR, "inode " + a.ino() + " is a directory");
                }
                Capabilities.namespace(vfs).rmdir(p.dir().ino(), p.name());
            } else {
                if (kind == DeleteKind.DIRECTORY) {
                    throw new FsException(Errno.ENOTDIR, "inode " + a.ino() + " is not a directory");
                }
                Capabilities.namespace(vfs).unlink(p.dir().ino(), p.name());
            }
            return true;
        } finally {
            put(p.dir());
        }
    }

    /** rename(2)/renameat2 of {@code src} to {@code dst} with Vfs RENAME_* flags. */
    void rename(Loc src, Loc dst, int flags) throws IOException {
        Parent s = parent(src);
        try {
            Parent d = parent(dst);
            try {
                if (s.name().equals(".") || s.name().equals("..") || d.name().equals(".") || d.name().equals("..")) {
                    throw new FsException(Errno.EINVAL, "cannot rename '.' or '..'");
                }
                Capabilities.namespace(vfs).rename(s.dir().ino(), s.name(), d.dir().ino(), d.name(), flags);
            } finally {
                put(d.dir());
            }
        } finally {
            put(s.dir());
        }
    }

    InodeAttr setattr(Loc loc, boolean follow, SetAttr changes) throws IOException {
        Node n = walk(loc, follow);
        try {
            return Capabilities.write(vfs).setattr(n.ino(), changes);
        } finally {
            put(n);
        }
    }

    private static void checkNewName(String name) throws FsException {
        if (name.equals(".") || name.equals("..")) {
            throw new FsException(Errno.EEXIST, "'" + name + "' always exists");
        }
    }

    /** A FileAlreadyExistsException or NoSuchFileException for a path string, for checks made here. */
    static FileSystemException exists(String path, boolean exists) {
        return exists ? new FileAlreadyExistsException(path) : new NoSuchFileException(path);
    }
}
