package org.iomap4j.s3;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.netfs.BackendUnavailableException;
import org.iomap4j.netfs.NetfsFile;
import org.iomap4j.netfs.ObjectVersion;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsNamespace;

/**
 * The namespace half of {@link S3FileSystem}: create, mkdir, symlink, unlink, rmdir, rename and readdir on keys,
 * prefixes and marker objects, keeping the directory listing cache ({@link S3DirCache}) and the inode table in
 * step with what this mount changes.
 *
 * <p>A create sends nothing: the object is uploaded (one PUT with data and metadata) by the first close, fsync or
 * sync. mkdir and symlink PUT their object; unlink and rmdir DELETE; rename copies and deletes (not atomic).
 *
 * <p>While the server is unreachable (docs/netfs.md, "Disconnected operation"): create and mkdir of a name this
 * mount knows to be absent (a fresh listing, or a lookup within {@link S3Freshness#FRESH_NANOS}) succeed and are
 * kept like written data (the file's upload, the directory's marker object: in the dirty log once fsync'd or
 * closed, uploaded on reconnection); a name that cannot be checked, symlink, unlink, rmdir and rename fail with
 * EIO and change nothing (the fsync'd data of the files involved stays queued).
 *
 * <p>Locks: {@link #namespaceLock} (every namespace change, one at a time) is taken first, before an inode's rwsem
 * (the commit of an open file in rename); the listing cache, inode table and freshness record are leaves.
 */
final class S3Namespace {
    /** The filesystem's upload of a file's changes. */
    interface Committer {
        /** Writes back and uploads {@code i}'s changes now. */
        void commit(S3Inode i) throws IOException;

        /** Waits for the background uploads of {@code i} queued by a close (see {@link S3CloseUploads}). */
        void settle(S3Inode i);
    }

    private final S3MountOptions options;
    private final S3Backend backend;
    private final S3InodeTable inodes;
    private final S3Lookup names;
    private final S3DirCache dirs;
    private final S3Freshness fresh;
    private final Committer committer;
    private final ReentrantLock namespaceLock = new ReentrantLock();
    /** Last listing per directory inode, reused by readdir calls that continue at an offset. */
    private final Map<Long, List<DirEntry>> listings = new ConcurrentHashMap<>();

    S3Namespace(S3MountOptions options, S3Backend backend, S3InodeTable inodes, S3Lookup names, S3DirCache dirs,
            S3Freshness fresh, Committer committer) {
        this.options = options;
        this.backend = backend;
        this.inodes = inodes;
        this.names = names;
        this.dirs = dirs;
        this.fresh = fresh;
        this.committer = committer;
    }

    /**
     * The inode of a new regular file {@code name} in {@code d} (or the existing one without {@code excl}). Checks
     * the name (EEXIST, EISDIR) from what this mount knows — a fresh listing of {@code d}, or a lookup that found
     * it absent within {@link S3Freshness#FRESH_NANOS} — else on the server (EIO when it is unreachable). Sends
     * nothing: the object appears on the server at the first close/fsync/sync, with its data and metadata.
     */
    S3Inode createFile(S3Inode d, String name, int mode, int uid, int gid, boolean excl) throws IOException {
        String path = S3Lookup.child(d.path(), name);
        namespaceLock.lock();
        try {
            S3Inode existing = fresh.recentlyAbsent(path) ? null : names.resolve(path);
            if (existing != null) {
                if (excl) {
                    throw new FsException(Errno.EEXIST, "'" + path + "' exists");
                }
                if (existing.isDirectory()) {
                    throw new FsException(Errno.EISDIR, "'" + path + "' is a directory");
                }
                return existing;
            }
            long now = System.currentTimeMillis() / 1000;
            int fmode = FileMode.S_IFREG | (mode & FileMode.PERM_MASK);
            fresh.changed(path);
            S3Inode i = names.newFileInode(path, fmode, uid, gid, now);
            dirs.added(path, new S3DirCache.Entry(false, 0, null));
            listings.remove(d.ino());
            return i;
        } finally {
            namespaceLock.unlock();
        }
    }

    S3Inode mkdir(S3Inode d, String name, int mode, int uid, int gid) throws IOException {
        return newEntry(d, name, path -> {
            long now = System.currentTimeMillis() / 1000;
            Map<String, String> meta = S3Attrs.of(FileMode.S_IFDIR | (mode & FileMode.PERM_MASK), uid, gid, now);
            try {
                backend.put(names.dirPrefix(path), new byte[0], meta);
            } catch (BackendUnavailableException e) {
                names.queueMarker(path, meta); // offline: kept in the dirty log, uploaded on reconnection
            }
            dirs.added(path, new S3DirCache.Entry(true, 0, null));
            dirs.fill(path, Map.of()); // it was checked absent: nothing is below it
            return names.dirInode(path, meta);
        });
    }

    S3Inode symlink(S3Inode d, String name, String target, int uid, int gid) throws IOException {
        return newEntry(d, name, path -> {
            Map<String, String> meta = S3Attrs.of(FileMode.S_IFLNK | 0777, uid, gid, System.currentTimeMillis() / 1000);
            byte[] bytes = target.getBytes(StandardCharsets.UTF_8);
            ObjectVersion v = backend.put(names.key(path), bytes, meta);
            dirs.added(path, new S3DirCache.Entry(false, bytes.length, v.tag()));
            return names.fileInode(path, new S3Backend.ObjectInfo(v, meta));
        });
    }

    /** Makes a new entry of the object {@code make} stores at the child's path: EEXIST if the name is taken. */
    private S3Inode newEntry(S3Inode d, String name, EntryMaker make) throws IOException {
        String path = S3Lookup.child(d.path(), name);
        namespaceLock.lock();
        try {
            if (!fresh.recentlyAbsent(path) && names.resolve(path) != null) {
                throw new FsException(Errno.EEXIST, "'" + path + "' exists");
            }
            fresh.changed(path);
            S3Inode made = make.make(path);
            listings.remove(d.ino());
            return made;
        } finally {
            namespaceLock.unlock();
        }
    }

    /** Stores the object of a new entry at {@code path} and returns its inode. */
    @FunctionalInterface
    private interface EntryMaker {
        S3Inode make(String path) throws IOException;
    }

    void unlink(S3Inode d, String name) throws IOException {
        String path = S3Lookup.child(d.path(), name);
        namespaceLock.lock();
        try {
            S3Inode i = names.resolve(path);
            if (i == null) {
                throw new FsException(Errno.ENOENT, "'" + path + "' not found");
            }
            if (i.isDirectory()) {
                throw new FsException(Errno.EISDIR, "'" + path + "' is a directory");
            }
            committer.settle(i); // an upload after close must not land after the DELETE
            backend.delete(names.key(path));
            NetfsFile f = i.netfsFileOrNull();
            if (f != null) {
                f.discard();
            }
            synchronized (i) {
                i.unlinked = true;
            }
            inodes.unlinkPath(i);
            dirs.removed(path);
            listings.remove(d.ino());
        } finally {
            namespaceLock.unlock();
        }
    }

    void rmdir(S3Inode d, String name) throws IOException {
        String path = S3Lookup.child(d.path(), name);
        namespaceLock.lock();
        try {
            S3Inode i = names.resolve(path);
            if (i == null) {
                throw new FsException(Errno.ENOENT, "'" + path + "' not found");
            }
            if (!i.isDirectory()) {
                throw new FsException(Errno.ENOTDIR, "'" + path + "' is not a directory");
            }
            String prefix = names.dirPrefix(path);
            for (String k : S3Listing.keys(backend.client(), backend.bucket(), prefix, 2)) {
                if (!k.equals(prefix)) {
                    throw new FsException(Errno.ENOTEMPTY, "'" + path + "' is not empty");
                }
            }
            if (hasLocalOnlyBelow(path)) {
                throw new FsException(Errno.ENOTEMPTY, "'" + path + "' is not empty (files not uploaded yet)");
            }
            backend.delete(prefix);
            synchronized (i) {
                i.unlinked = true;
            }
            inodes.unlinkPath(i);
            dirs.removed(path);
            dirs.dropTree(path);
            listings.remove(d.ino());
        } finally {
            namespaceLock.unlock();
        }
    }

    private boolean hasLocalOnlyBelow(String path) {
        for (S3Inode f : inodes.files()) {
            if (f.path().startsWith(path + "/") && S3Lookup.isLocalOnly(f)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Rename as S3 allows it: every object is copied to its new key, then the old keys are deleted. Not atomic: a
     * crash or an unreachable server part-way leaves some objects under both names (never under neither). Open
     * files are uploaded first so that the copy carries their data.
     */
    void rename(S3Inode od, String oldName, S3Inode nd, String newName, int flags) throws IOException {
        if ((flags & VfsNamespace.RENAME_EXCHANGE) != 0) {
            throw new FsException(Errno.EINVAL, "RENAME_EXCHANGE is not possible on S3");
        }
        String from = S3Lookup.child(od.path(), oldName);
        String to = S3Lookup.child(nd.path(), newName);
        namespaceLock.lock();
        try {
            fresh.changed(to);
            S3Inode src = names.resolve(from);
            if (src == null) {
                throw new FsException(Errno.ENOENT, "'" + from + "' not found");
            }
            if (from.equals(to)) {
                return;
            }
            if (src.isDirectory() && to.startsWith(from + "/")) {
                throw new FsException(Errno.EINVAL, "cannot move '" + from + "' into itself");
            }
            S3Inode dst = names.resolve(to);
            if (dst != null) {
                if ((flags & VfsNamespace.RENAME_NOREPLACE) != 0) {
                    throw new FsException(Errno.EEXIST, "'" + to + "' exists");
                }
                if (dst.isDirectory() != src.isDirectory()) {
                    throw new FsException(dst.isDirectory() ? Errno.EISDIR : Errno.ENOTDIR, "cannot replace '" + to
                            + "' by '" + from + "'");
                }
                if (dst.isDirectory() && (hasLocalOnlyBelow(to) || !S3Listing.keys(backend.client(),
                        backend.bucket(), names.dirPrefix(to), 2).stream().allMatch(k -> k.equals(names.dirPrefix(to))))) {
                    throw new FsException(Errno.ENOTEMPTY, "'" + to + "' is not empty");
                }
            }
            S3DirCache.Entry moved;
            if (src.isDirectory()) {
                renameDirectory(from, to);
                moved = new S3DirCache.Entry(true, 0, null);
            } else {
                committer.commit(src);
                ObjectVersion v = backend.copy(names.key(from), names.key(to), null);
                backend.delete(names.key(from));
                NetfsFile f = src.netfsFileOrNull();
                if (f != null) {
                    f.renamed(names.key(to), v);
                }
                src.serverTag = null; // CopyObject may give another ETag: the next listing HEADs it once
                if (dst != null && dst.netfsFileOrNull() != null) {
                    dst.netfsFileOrNull().discard();
                }
                moved = new S3DirCache.Entry(false, v.sizeBytes(), v.tag());
            }
            if (dst != null) {
                synchronized (dst) {
                    dst.unlinked = true;
                }
                inodes.unlinkPath(dst);
            }
            inodes.rename(from, to);
            dirs.removed(from);
            dirs.dropTree(from);
            dirs.dropTree(to);
            dirs.added(to, moved);
            listings.remove(od.ino());
            listings.remove(nd.ino());
        } finally {
            namespaceLock.unlock();
        }
    }

    private void renameDirectory(String from, String to) throws IOException {
        for (S3Inode f : inodes.files()) {
            if (f.path().startsWith(from + "/")) {
                committer.commit(f);
            }
        }
        String fromPrefix = names.dirPrefix(from);
        String toPrefix = names.dirPrefix(to);
        List<String> keys = new ArrayList<>(S3Listing.allKeys(backend.client(), backend.bucket(), fromPrefix));
        // The directory's own marker: S3 lists it under its prefix, but some servers (s3proxy's filesystem store)
        // list it only in the parent's listing; look it up so that it moves too (and is not left behind).
        if (!keys.contains(fromPrefix) && backend.head(fromPrefix) != null) {
            keys.addFirst(fromPrefix);
        }
        for (String k : keys) {
            backend.copy(k, toPrefix + k.substring(fromPrefix.length()), null);
        }
        if (keys.isEmpty()) {
            backend.put(toPrefix, new byte[0], Map.of());
        }
        // Deepest keys first, each directory's marker after what is below it: a crash part-way still shows every
        // old directory that has entries left (and filesystem-backed servers drop a directory once it is empty).
        for (String k : keys.reversed()) {
            backend.delete(k);
        }
        for (S3Inode f : inodes.files()) {
            String p = f.path();
            if (p.startsWith(from + "/")) {
                String np = to + p.substring(from.length());
                S3Backend.ObjectInfo info = backend.head(names.key(np));
                if (info != null && f.netfsFileOrNull() != null) {
                    f.netfsFileOrNull().renamed(names.key(np), info.version());
                    f.serverTag = info.version().tag();
                }
            }
        }
    }

    void readdir(S3Inode d, long offset, Vfs.DirSink sink) throws IOException {
        List<DirEntry> entries = offset == 0 ? null : listings.get(d.ino());
        if (entries == null) {
            entries = list(d);
            listings.put(d.ino(), entries);
        }
        for (int n = (int) Math.min(offset, entries.size()); n < entries.size(); n++) {
            if (!sink.accept(entries.get(n))) {
                return;
            }
        }
    }

    /**
     * The entries of {@code d}: from its cached listing while fresh, else from a paginated LIST (which refills the
     * cache, adds the files this mount created and has not uploaded yet, and starts the HEADs of the listed files
     * whose attributes this mount does not hold).
     */
    private List<DirEntry> list(S3Inode d) throws IOException {
        Map<String, S3DirCache.Entry> children = dirs.listing(d.path());
        if (children == null) {
            children = fetch(d);
        }
        List<DirEntry> out = new ArrayList<>();
        out.add(new DirEntry(".", d.ino(), FileMode.DT_DIR, 1));
        S3Inode parent = d.path().isEmpty() ? d : inodes.byPath(S3Paths.parent(d.path()));
        out.add(new DirEntry("..", parent == null ? S3InodeTable.ROOT_INO : parent.ino(), FileMode.DT_DIR, 2));
        List<String> prefetch = new ArrayList<>();
        for (Map.Entry<String, S3DirCache.Entry> c : children.entrySet()) {
            String path = d.path().isEmpty() ? c.getKey() : d.path() + "/" + c.getKey();
            S3DirCache.Entry e = c.getValue();
            S3Inode i;
            if (e.directory()) {
                i = names.dirInode(path, Map.of());
            } else {
                i = inodes.getOrCreate(path, ino -> new S3Inode(ino, path, FileMode.S_IFREG | 0644, options.uid(),
                        options.gid(), System.currentTimeMillis() / 1000));
                if (!i.hasData()) {
                    i.setSizeFromServer(e.sizeBytes());
                }
                if (!S3Lookup.holdsAttributes(i, e)) {
                    prefetch.add(path);
                }
            }
            out.add(new DirEntry(c.getKey(), i.ino(), FileMode.dtype(i.mode), out.size() + 1));
        }
        dirs.prefetch(prefetch, p -> backend.head(names.key(p)));
        return out;
    }

    /** LISTs {@code d} on the server (every page) and caches the result. */
    private Map<String, S3DirCache.Entry> fetch(S3Inode d) throws IOException {
        Map<String, S3DirCache.Entry> children = names.entries(d.path(), S3Listing.children(backend.client(),
                backend.bucket(), names.dirPrefix(d.path())));
        dirs.fill(d.path(), children);
        return children;
    }
}
