package org.iomap4j.s3;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.netfs.BackendUnavailableException;
import org.iomap4j.netfs.Netfs;
import org.iomap4j.netfs.NetfsFile;
import org.iomap4j.netfs.NetfsIomapOps;
import org.iomap4j.netfs.ObjectVersion;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.vfs.FileMode;

/**
 * Paths to keys, and inodes from what the server says (HEAD, listings): the lookup half of {@link S3FileSystem}.
 * A file's inode gets its page cache and {@link NetfsFile} here, and a clean file whose ETag changed on the server
 * drops its cached pages (close-to-open consistency). Thread-safe; takes an inode's rwsem only in revalidation.
 */
final class S3Lookup {
    private static final int NAME_MAX = 255;
    /** A lookup in a directory without a fresh listing lists it when it has at most this many children. */
    static final int LOOKUP_LIST_KEYS = 1000;

    private final S3MountOptions options;
    private final S3Backend backend;
    private final Netfs netfs;
    private final PageCache pageCache;
    private final S3InodeTable inodes;
    private final S3DirCache dirs;

    S3Lookup(S3MountOptions options, S3Backend backend, Netfs netfs, PageCache pageCache, S3InodeTable inodes,
            S3DirCache dirs) {
        this.dirs = dirs;
        this.options = options;
        this.backend = backend;
        this.netfs = netfs;
        this.pageCache = pageCache;
        this.inodes = inodes;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Keys

    String key(String path) {
        if (options.prefix().isEmpty()) {
            return path;
        }
        return path.isEmpty() ? options.prefix() : options.prefix() + "/" + path;
    }

    /** Key prefix of a directory's children: "" or "a/b/". */
    String dirPrefix(String path) {
        String k = key(path);
        return k.isEmpty() ? "" : k + "/";
    }

    static String child(String dirPath, String name) throws FsException {
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0) {
            throw new FsException(Errno.EINVAL, "bad name '" + name + "'");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, "name longer than " + NAME_MAX + " bytes: " + name);
        }
        return dirPath.isEmpty() ? name : dirPath + "/" + name;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Inodes from the server

    /** The inode of a file object at {@code path}, its attributes refreshed from {@code info}. */
    S3Inode fileInode(String path, S3Backend.ObjectInfo info) {
        Map<String, String> meta = info.metadata();
        int mode = S3Attrs.intOr(meta, S3Attrs.MODE, FileMode.S_IFREG | 0644);
        if ((mode & FileMode.S_IFMT) == 0 || FileMode.isDirectory(mode)) {
            mode = FileMode.S_IFREG | (mode & FileMode.PERM_MASK);
        }
        int fmode = mode;
        long mtime = S3Attrs.longOr(meta, S3Attrs.MTIME, System.currentTimeMillis() / 1000);
        S3Inode i = inodes.getOrCreate(path, ino -> new S3Inode(ino, path, fmode,
                S3Attrs.intOr(meta, S3Attrs.UID, options.uid()), S3Attrs.intOr(meta, S3Attrs.GID, options.gid()), mtime));
        synchronized (i) {
            NetfsFile f = i.netfsFileOrNull();
            boolean local = f != null && (f.isDirty() || i.openCount > 0);
            if (!local && !i.isDirectory()) {
                i.mode = fmode;
                i.uid = S3Attrs.intOr(meta, S3Attrs.UID, i.uid);
                i.gid = S3Attrs.intOr(meta, S3Attrs.GID, i.gid);
                i.mtimeSec = mtime;
                if (f == null) {
                    i.setSizeFromServer(info.version().sizeBytes());
                }
            }
        }
        attachData(i, info.version(), meta);
        i.serverTag = info.version().tag();
        i.validatedNanos = System.nanoTime();
        return i;
    }

    /**
     * The inode of a regular file this mount creates at {@code path}: nothing is sent now, the object is uploaded
     * (one PUT with its data and metadata) by the first close, fsync or sync ({@link NetfsFile#markChanged}).
     */
    S3Inode newFileInode(String path, int mode, int uid, int gid, long mtimeSec) {
        S3Inode stale = inodes.byPath(path);
        if (stale != null) {
            inodes.unlinkPath(stale); // an inode of an object another client removed: a new one takes the name
        }
        S3Inode i = inodes.getOrCreate(path, ino -> new S3Inode(ino, path, mode, uid, gid, mtimeSec));
        attachData(i, null, S3Attrs.of(mode, uid, gid, mtimeSec));
        i.netfsFileOrNull().markChanged();
        i.validatedNanos = System.nanoTime();
        return i;
    }

    /**
     * Queues the marker object of a directory made while the server is unreachable: an empty object with the
     * directory's metadata, persisted in the dirty log like fsync'd data and uploaded by the netfs uploader on
     * reconnection (or by the next mount after a crash).
     *
     * @throws IOException if the dirty log cannot be written
     */
    void queueMarker(String path, Map<String, String> meta) throws IOException {
        NetfsFile marker = netfs.file(dirPrefix(path), null, meta);
        marker.markChanged();
        marker.commit(); // persists, tries the upload, and queues it (the server is unreachable)
    }

    /**
     * True if {@code i} is a file this mount created and has not uploaded yet (the server does not know it).
     */
    static boolean isLocalOnly(S3Inode i) {
        NetfsFile f = i.netfsFileOrNull();
        return f != null && f.version() == null && f.isDirty() && !i.unlinked;
    }

    /**
     * Resolves {@code path} like {@link #find} but from the directory listing cache when the parent's listing is
     * fresh: an absent name, a directory, or a file whose attributes this mount holds for the listed ETag cost no
     * request; another listed file one HEAD (usually prefetched). Without a fresh listing it is {@link #find}.
     *
     * @return the inode, or null if there is no such name
     */
    S3Inode resolve(String path) throws IOException {
        S3Inode known = inodes.byPath(path);
        if (known != null && isLocalOnly(known)) {
            return known;
        }
        String parent = S3Paths.parent(path);
        S3DirCache.Answer a = dirs.lookup(parent, S3Paths.name(path));
        if (a == null && !dirs.isLarge(parent)) {
            // No listing of the parent: list it if it is small (one page), so that the lookups of its other names
            // (a build, an untar, a script walking it) cost no request.
            try {
                List<S3Listing.Child> few = S3Listing.childrenIfFew(backend.client(), backend.bucket(),
                        dirPrefix(parent), LOOKUP_LIST_KEYS);
                if (few == null) {
                    dirs.markLarge(parent);
                } else {
                    dirs.fill(parent, entries(parent, few));
                    a = dirs.lookup(parent, S3Paths.name(path));
                }
            } catch (BackendUnavailableException e) {
                S3Inode k = inodes.byPath(path);
                if (k != null) {
                    return k;
                }
                throw e;
            }
        }
        if (a == null) {
            return find(path);
        }
        if (a.absent()) {
            return null;
        }
        S3DirCache.Entry e = a.entry();
        if (e.directory()) {
            if (known != null && known.isDirectory()) {
                return known;
            }
            S3Backend.ObjectInfo marker = null;
            try {
                marker = backend.head(dirPrefix(path));
            } catch (IOException ignored) {
                // the marker only gives attributes: without it the directory has the defaults
            }
            return dirInode(path, marker == null ? Map.of() : marker.metadata());
        }
        if (known != null && !known.isDirectory() && holdsAttributes(known, e)) {
            return known;
        }
        CompletableFuture<S3Backend.ObjectInfo> pre = dirs.takePrefetched(path);
        S3Backend.ObjectInfo info = pre != null ? join(pre) : backend.head(key(path));
        if (info == null) {
            return find(path); // gone since the listing (or a directory now)
        }
        return fileInode(path, info);
    }

    /**
     * The listing-cache entries of directory {@code dirPath} from its listed children: names that are no POSIX
     * name are left out, a directory wins over an object of the same name, and the files this mount created and
     * has not uploaded yet are added.
     */
    Map<String, S3DirCache.Entry> entries(String dirPath, List<S3Listing.Child> listed) {
        Map<String, S3DirCache.Entry> children = new java.util.TreeMap<>();
        java.util.Set<String> dirNames = new java.util.HashSet<>();
        for (S3Listing.Child c : listed) {
            if (c.directory()) {
                dirNames.add(c.name());
            }
        }
        for (S3Listing.Child c : listed) {
            if (c.name().contains("/") || c.name().equals(".") || c.name().equals("..")
                    || (!c.directory() && dirNames.contains(c.name()))) {
                continue; // keys that are no POSIX name ("a/./b", "a//b"); "a" beside "a/": the directory wins
            }
            children.put(c.name(), new S3DirCache.Entry(c.directory(), c.sizeBytes(), c.etag()));
        }
        for (S3Inode f : inodes.files()) {
            if (isLocalOnly(f) && S3Paths.parent(f.path()).equals(dirPath)) {
                children.putIfAbsent(S3Paths.name(f.path()), new S3DirCache.Entry(false, f.sizeBytes(), null));
            }
        }
        return children;
    }

    /** True if {@code i}'s attributes are current for the listed {@code e}: same ETag, or local changes. */
    static boolean holdsAttributes(S3Inode i, S3DirCache.Entry e) {
        NetfsFile f = i.netfsFileOrNull();
        if (f != null) {
            synchronized (i) {
                if (f.isDirty() || i.openCount > 0) {
                    return true;
                }
            }
            ObjectVersion v = f.version();
            if (e.etag() == null || (v != null && S3Paths.sameTag(v.tag(), e.etag()))) {
                return true; // an entry this mount made, or the version it holds (its own upload, or a HEAD)
            }
        }
        return S3Paths.sameTag(i.serverTag, e.etag());
    }

    /** Gives a regular file its page cache and netfs state (once), and revalidates a clean one against the server. */
    void attachData(S3Inode i, ObjectVersion version, Map<String, String> meta) {
        if (!FileMode.isRegular(i.mode)) {
            return;
        }
        NetfsFile created = null;
        synchronized (i) {
            if (!i.hasData()) {
                created = netfs.file(key(i.path()), version, meta);
                i.attach(created, pageCache.createMapping(i, NetfsIomapOps.INSTANCE));
            }
        }
        if (created != null) {
            // Outside the inode's monitor: the file's monitor comes first (it takes the inode's when pasting).
            created.setPageCacheHost(i);
            return;
        }
        revalidate(i, version);
    }

    /** Close-to-open: a clean file whose ETag changed on the server drops its cached pages. */
    void revalidate(S3Inode i, ObjectVersion current) {
        NetfsFile f = i.netfsFileOrNull();
        if (f == null || current == null) {
            return;
        }
        i.rwsem.writeLock().lock();
        try {
            if (f.revalidate(current)) {
                i.mapping().truncateFrom(0);
                i.setSizeFromServer(current.sizeBytes());
            }
        } finally {
            i.rwsem.writeLock().unlock();
        }
    }

    S3Inode dirInode(String path, Map<String, String> markerMeta) {
        S3Inode i = inodes.getOrCreate(path, ino -> new S3Inode(ino, path,
                FileMode.S_IFDIR | (S3Attrs.intOr(markerMeta, S3Attrs.MODE, 0755) & FileMode.PERM_MASK),
                S3Attrs.intOr(markerMeta, S3Attrs.UID, options.uid()), S3Attrs.intOr(markerMeta, S3Attrs.GID,
                        options.gid()), S3Attrs.longOr(markerMeta, S3Attrs.MTIME, System.currentTimeMillis() / 1000)));
        return i;
    }

    /**
     * Finds {@code path} on the server: an object is a file (or symlink), else a non-empty prefix is a directory.
     * Returns null if neither. While the server is unreachable, an inode the mount knows is answered from memory.
     */
    S3Inode find(String path) throws IOException {
        try {
            // The three questions go out at once (one round trip of latency, not three): the object, the first key
            // below the prefix, and the directory marker (which some servers leave out of listings).
            String prefix = dirPrefix(path);
            CompletableFuture<S3Backend.ObjectInfo> object = async(() -> backend.head(key(path)));
            CompletableFuture<List<String>> below = async(() -> S3Listing.keys(backend.client(), backend.bucket(),
                    prefix, 1));
            CompletableFuture<S3Backend.ObjectInfo> markerHead = prefix.isEmpty()
                    ? CompletableFuture.completedFuture(null) : async(() -> backend.head(prefix));
            S3Backend.ObjectInfo info = join(object);
            if (info != null) {
                return fileInode(path, info);
            }
            List<String> keys = join(below);
            // The marker's answer only counts when the listing does not settle it (an error of an unneeded HEAD,
            // e.g. of "x/" where x is a file on a filesystem-backed server, is ignored).
            S3Backend.ObjectInfo marker = keys.isEmpty() || keys.getFirst().equals(prefix) ? join(markerHead) : null;
            if (keys.isEmpty() && marker == null) {
                return null;
            }
            return dirInode(path, marker == null ? Map.of() : marker.metadata());
        } catch (BackendUnavailableException e) {
            S3Inode known = inodes.byPath(path);
            if (known != null) {
                return known;
            }
            throw e;
        }
    }

    @FunctionalInterface
    private interface IoCall<T> {
        T call() throws IOException;
    }

    private static final java.util.concurrent.ExecutorService LOOKUPS =
            java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

    private static <T> CompletableFuture<T> async(IoCall<T> c) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return c.call();
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, LOOKUPS);
    }

    /** The result, or the IOException the call threw (BackendUnavailableException included). */
    private static <T> T join(CompletableFuture<T> f) throws IOException {
        try {
            return f.join();
        } catch (java.util.concurrent.CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new FsException(Errno.EIO, "lookup: " + c, c);
        }
    }
}
