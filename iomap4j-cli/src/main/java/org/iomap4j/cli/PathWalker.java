package org.iomap4j.cli;

import java.io.IOException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;

/**
 * Resolves "/"-separated absolute paths inside a mounted {@link Vfs} to inodes, following symlinks in
 * intermediate components (and in the last one when asked), with Linux's limit of 40 symlink expansions (ELOOP).
 */
final class PathWalker {
    static final int MAX_SYMLINKS = 40;

    private PathWalker() {}

    /** The inode at {@code path}; the last component is followed if it is a symlink and {@code followLast}. */
    static InodeAttr resolve(Vfs vfs, String path, boolean followLast) throws IOException {
        return resolve(vfs, path, followLast, path);
    }

    /** As {@link #resolve(Vfs, String, boolean)}; errors name {@code label} (e.g. {@code IMAGE:/PATH}). */
    static InodeAttr resolve(Vfs vfs, String path, boolean followLast, String label) throws IOException {
        int[] budget = {MAX_SYMLINKS};
        try {
            return walk(vfs, vfs.rootIno(), path, followLast, budget, path);
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT) {
                // Name the path the user gave, not the directory inode where the lookup failed.
                throw new FsException(Errno.ENOENT, label + ": no such file or directory", e);
            }
            throw e;
        }
    }

    /** The parent directory of {@code path} (followed) and the last name, for creating entries. */
    static Parent parent(Vfs vfs, String path) throws IOException {
        String p = trimTrailingSlashes(path);
        int slash = p.lastIndexOf('/');
        String dir = slash <= 0 ? "/" : p.substring(0, slash);
        String name = p.substring(slash + 1);
        if (name.isEmpty()) {
            throw new FsException(Errno.EEXIST, path + ": is the root directory");
        }
        InodeAttr d = resolve(vfs, dir, true);
        if (!d.isDirectory()) {
            throw new FsException(Errno.ENOTDIR, dir + ": not a directory");
        }
        return new Parent(d, name);
    }

    /** A directory and a name in it. */
    record Parent(InodeAttr dir, String name) {
    }

    private static String trimTrailingSlashes(String p) {
        String s = p;
        while (s.length() > 1 && s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        return s;
    }

    private static InodeAttr walk(Vfs vfs, long startIno, String path, boolean followLast, int[] budget,
            String original) throws IOException {
        InodeAttr cur = path.startsWith("/") ? vfs.getattr(vfs.rootIno()) : vfs.getattr(startIno);
        String[] parts = path.split("/");
        for (int i = 0; i < parts.length; i++) {
            String name = parts[i];
            if (name.isEmpty() || name.equals(".")) {
                continue;
            }
            if (!cur.isDirectory()) {
                throw new FsException(Errno.ENOTDIR, original + ": a path component is not a directory");
            }
            InodeAttr next = vfs.lookup(cur.ino(), name);
            boolean last = isLast(parts, i);
            if (next.isSymlink() && (!last || followLast)) {
                if (--budget[0] < 0) {
                    throw new FsException(Errno.ELOOP, original + ": too many levels of symbolic links");
                }
                String target = vfs.readlink(next.ino());
                next = walk(vfs, cur.ino(), target, true, budget, original);
            }
            cur = next;
        }
        return cur;
    }

    private static boolean isLast(String[] parts, int i) {
        for (int j = i + 1; j < parts.length; j++) {
            if (!parts[j].isEmpty() && !parts[j].equals(".")) {
                return false;
            }
        }
        return true;
    }
}
