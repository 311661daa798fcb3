package org.iomap4j.s3;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongFunction;

/**
 * A minimal inode cache for the S3 filesystem: inode numbers for paths, stable while the inode is referenced.
 * MOVE ONTO org.iomap4j.fs: this is the part of the generic VFS layer (inode cache, lookup references) being
 * written in parallel; once it lands the S3 filesystem keeps only its path field in a subclass of its inode.
 *
 * <p>Thread-safe: one monitor, a leaf lock (never held during I/O).
 */
final class S3InodeTable {
    static final long ROOT_INO = 1;

    private final Map<Long, S3Inode> byIno = new HashMap<>();
    private final Map<String, S3Inode> byPath = new HashMap<>();
    private long nextIno = ROOT_INO + 1;

    S3InodeTable(S3Inode root) {
        byIno.put(root.ino(), root);
        byPath.put(root.path(), root);
    }

    synchronized S3Inode get(long ino) {
        return byIno.get(ino);
    }

    synchronized S3Inode byPath(String path) {
        return byPath.get(path);
    }

    /** The inode of {@code path}, made by {@code make} (given a new inode number) if there is none. */
    synchronized S3Inode getOrCreate(String path, LongFunction<S3Inode> make) {
        S3Inode i = byPath.get(path);
        if (i == null) {
            i = make.apply(nextIno++);
            byIno.put(i.ino(), i);
            byPath.put(path, i);
        }
        return i;
    }

    /** Forgets the path of an inode (unlinked or replaced); the inode stays reachable by number while in use. */
    synchronized void unlinkPath(S3Inode inode) {
        byPath.remove(inode.path(), inode);
    }

    /** Drops an inode that nobody references. */
    synchronized void evict(S3Inode inode) {
        byIno.remove(inode.ino(), inode);
        byPath.remove(inode.path(), inode);
    }

    /**
     * Moves {@code oldPath} and every path below it to {@code newPath}; an inode already at a target path loses
     * its path (it was replaced).
     */
    synchronized void rename(String oldPath, String newPath) {
        List<S3Inode> moved = new ArrayList<>();
        for (S3Inode i : byPath.values()) {
            String p = i.path();
            if (p.equals(oldPath) || p.startsWith(oldPath + "/")) {
                moved.add(i);
            }
        }
        for (S3Inode i : moved) {
            byPath.remove(i.path(), i);
        }
        for (S3Inode i : moved) {
            String np = newPath + i.path().substring(oldPath.length());
            S3Inode displaced = byPath.remove(np);
            if (displaced != null) {
                displaced.setPath(np); // keeps its (now stale) path, reachable only by number
            }
            i.setPath(np);
            byPath.put(np, i);
        }
    }

    /** Inodes with data attached (regular files the mount has touched). */
    synchronized List<S3Inode> files() {
        List<S3Inode> out = new ArrayList<>();
        for (S3Inode i : byIno.values()) {
            if (i.hasData()) {
                out.add(i);
            }
        }
        return out;
    }

    synchronized int size() {
        return byIno.size();
    }
}
