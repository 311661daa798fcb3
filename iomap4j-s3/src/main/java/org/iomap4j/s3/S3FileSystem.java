package org.iomap4j.s3;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.netfs.BackendUnavailableException;
import org.iomap4j.netfs.Netfs;
import org.iomap4j.netfs.NetfsConfig;
import org.iomap4j.netfs.NetfsFile;
import org.iomap4j.netfs.NetfsIomapOps;
import org.iomap4j.netfs.ObjectVersion;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.StatFs;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsNamespace;
import org.iomap4j.vfs.VfsWrite;

/**
 * An S3 bucket (or a prefix of one) as a filesystem: keys are paths, directories are common prefixes plus optional
 * marker objects ({@code dir/}), file data goes through the core page cache and the netfs layer (local cache,
 * dirty log, ranged GETs, multipart uploads with part copies), and mode/uid/gid/mtime live in user metadata
 * ({@link S3Attrs}).
 *
 * <p>Semantics (docs/netfs.md has the whole story): close-to-open consistency — {@code open} revalidates a file's
 * ETag, {@code fsync} and the last {@code release} upload; rename is copy + delete, not atomic (a crash in between
 * leaves both names); no hard links, devices, fifos or sockets (EPERM); a server error is EIO, a missing object
 * ENOENT. While the server is unreachable, cached data stays readable, writes and fsync go to the dirty log, and
 * namespace changes fail with EIO.
 *
 * <p>Locks, outermost first: {@code namespaceLock} (every namespace change, one at a time), the inode's rwsem,
 * then the core's page-cache locks, then netfs's; the inode table and inode monitors are leaves.
 */
public final class S3FileSystem implements Vfs, VfsWrite, VfsNamespace {
    private static final System.Logger LOG = System.getLogger(S3FileSystem.class.getName());
    private static final int NAME_MAX = 255;

    private final S3MountOptions options;
    private final S3Backend backend;
    private final Netfs netfs;
    private final PageCache pageCache;
    private final S3InodeTable inodes;
    private final S3Lookup names;
    private final ReentrantLock namespaceLock = new ReentrantLock();
    private final S3Freshness fresh = new S3Freshness();
    /** Last listing per directory inode, reused by readdir calls that continue at an offset. */
    private final Map<Long, List<DirEntry>> listings = new ConcurrentHashMap<>();

    private final S3RequestCounts requestCounts;

    private S3FileSystem(S3MountOptions options, S3Backend backend, Netfs netfs, PageCache pageCache,
            S3RequestCounts requestCounts) {
        this.requestCounts = requestCounts;
        this.options = options;
        this.backend = backend;
        this.netfs = netfs;
        this.pageCache = pageCache;
        long now = System.currentTimeMillis() / 1000;
        this.inodes = new S3InodeTable(new S3Inode(S3InodeTable.ROOT_INO, "", FileMode.S_IFDIR | 0755, options.uid(),
                options.gid(), now));
        this.names = new S3Lookup(options, backend, netfs, pageCache, inodes);
    }

    /**
     * Mounts the bucket: opens the local cache (uploading what a crashed earlier mount left in its dirty log, see
     * {@link Netfs#open}) and checks that the bucket answers.
     *
     * @param options where the bucket is, how to sign, the caches
     * @return the mounted filesystem (close it to unmount)
     * @throws IOException ENOENT if the bucket does not exist, EIO if the server cannot be reached or the cache
     *                     directory is unusable
     */
    public static S3FileSystem mount(S3MountOptions options) throws IOException {
        S3RequestCounts counts = new S3RequestCounts();
        S3Backend backend = new S3Backend(S3Clients.create(options, counts), options.bucket(), options.partBytes());
        try {
            try {
                backend.client().headBucket(b -> b.bucket(options.bucket()));
            } catch (RuntimeException e) {
                throw S3Errors.map("HEAD bucket " + options.bucket(), e);
            }
            Netfs netfs = Netfs.open(backend, new NetfsConfig(options.cacheDir(), options.granuleBytes(),
                    options.cacheLimitBytes(), options.retryMillis()));
            PageCache pc = new PageCache(PageCacheConfig.of(options.pageCacheBytes(), 2 << 20));
            return new S3FileSystem(options, backend, netfs, pc, counts);
        } catch (IOException | RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    /**
     * The S3 requests this mount made so far, by SDK operation name ("HeadObject", "PutObject", "ListObjectsV2"...).
     *
     * @return a sorted snapshot of the counts
     */
    public Map<String, Long> requestCounts() {
        return requestCounts.snapshot();
    }

    /**
     * The netfs context (pending uploads, unresolved conflicts, local cache statistics).
     *
     * @return the netfs context of this mount
     */
    public Netfs netfs() {
        return netfs;
    }

    /**
     * Drops every clean page of the page cache (like {@code echo 1 > /proc/sys/vm/drop_caches}): later reads come
     * from the local cache or the server.
     */
    public void dropPageCache() {
        pageCache.dropCleanCaches();
    }

    private S3Inode inode(long ino) throws FsException {
        S3Inode i = inodes.get(ino);
        if (i == null) {
            throw new FsException(Errno.ENOENT, "no inode " + ino);
        }
        return i;
    }

    private S3Inode dir(long ino) throws FsException {
        S3Inode d = inode(ino);
        if (!d.isDirectory()) {
            throw new FsException(Errno.ENOTDIR, "inode " + ino + " is not a directory");
        }
        return d;
    }

    private InodeAttr attr(S3Inode i) {
        synchronized (i) {
            long size = i.isDirectory() ? 0 : i.sizeBytes();
            return new InodeAttr(i.ino(), i.mode, i.isDirectory() ? 2 : 1, i.uid, i.gid, 0, size, (size + 511) / 512,
                    S3Inode.BLOCK_BYTES, i.mtimeSec, i.mtimeNsec, i.mtimeSec, i.mtimeNsec, i.ctimeSec, 0, 0);
        }
    }

    private InodeAttr referenced(S3Inode i) {
        synchronized (i) {
            i.lookups++;
        }
        return attr(i);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Vfs: lookups and attributes

    @Override
    public long rootIno() {
        return S3InodeTable.ROOT_INO;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public InodeAttr lookup(long dirIno, String name) throws IOException {
        S3Inode d = dir(dirIno);
        long gen = fresh.generation();
        S3Inode i = names.find(S3Lookup.child(d.path(), name));
        if (i == null) {
            fresh.absent(S3Lookup.child(d.path(), name), gen);
            throw new FsException(Errno.ENOENT, "'" + S3Lookup.child(d.path(), name) + "' not found in s3://"
                    + options.bucket() + "/" + options.prefix());
        }
        return referenced(i);
    }

    @Override
    public InodeAttr getattr(long ino) throws IOException {
        return attr(inode(ino));
    }

    @Override
    public InodeAttr setattr(long ino, SetAttr changes) throws IOException {
        S3Inode i = inode(ino);
        long now = System.currentTimeMillis() / 1000;
        if (changes.sizeBytes() != null) {
            if (i.isDirectory()) {
                throw new FsException(Errno.EISDIR, "inode " + ino + " is a directory");
            }
            truncate(i, changes.sizeBytes());
        }
        synchronized (i) {
            if (changes.mode() != null) {
                i.mode = (i.mode & FileMode.S_IFMT) | (changes.mode() & FileMode.PERM_MASK);
            }
            if (changes.uid() != null) {
                i.uid = changes.uid();
            }
            if (changes.gid() != null) {
                i.gid = changes.gid();
            }
            if (changes.mtimeNow()) {
                i.mtimeSec = now;
            } else if (changes.mtimeSec() != null) {
                i.mtimeSec = changes.mtimeSec();
            }
            i.ctimeSec = now;
        }
        boolean metaChanged = changes.mode() != null || changes.uid() != null || changes.gid() != null
                || changes.mtimeNow() || changes.mtimeSec() != null || changes.sizeBytes() != null;
        if (metaChanged) {
            storeAttributes(i);
        }
        return attr(i);
    }

    /** Writes the attributes to the server: a directory's marker object, or a file's object at its next commit. */
    private void storeAttributes(S3Inode i) throws IOException {
        if (i.isDirectory()) {
            if (i.ino() != S3InodeTable.ROOT_INO || !options.prefix().isEmpty()) {
                backend.put(names.dirPrefix(i.path()), new byte[0], meta(i));
            }
            return;
        }
        NetfsFile f = i.netfsFileOrNull();
        if (f != null) {
            f.setAttributes(meta(i));
            boolean open;
            synchronized (i) {
                open = i.openCount > 0;
            }
            if (!open) {
                commit(i); // a closed file: upload now (the data is unchanged: part copies or a small PUT)
            }
        }
    }

    private static Map<String, String> meta(S3Inode i) {
        synchronized (i) {
            return S3Attrs.of(i.mode, i.uid, i.gid, i.mtimeSec);
        }
    }

    private void truncate(S3Inode i, long newSize) throws IOException {
        if (newSize < 0) {
            throw new FsException(Errno.EINVAL, "negative size " + newSize);
        }
        if (!i.hasData()) {
            throw new FsException(Errno.EINVAL, "inode " + i.ino() + " is not a regular file");
        }
        i.rwsem.writeLock().lock();
        try {
            long old = i.sizeBytes();
            if (newSize < old) {
                BufferedIo.truncatePage(i, newSize, NetfsIomapOps.INSTANCE);
                i.setSizeBytes(newSize);
                i.mapping().truncateFrom(newSize);
            } else if (newSize > old) {
                BufferedIo.truncatePage(i, old, NetfsIomapOps.INSTANCE);
                i.setSizeBytes(newSize);
            }
            synchronized (i) {
                i.mtimeSec = System.currentTimeMillis() / 1000;
            }
        } finally {
            i.rwsem.writeLock().unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Vfs: namespace

    @Override
    public InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException {
        if (!FileMode.isRegular(mode)) {
            throw new FsException(Errno.EPERM, "S3 keeps regular files, directories and symlinks only: '" + name + "'");
        }
        return referenced(createFile(dir(dirIno), name, mode, uid, gid, true));
    }

    /** Creates an empty object (so that other clients and listings see it at once) and its inode. */
    private S3Inode createFile(S3Inode d, String name, int mode, int uid, int gid, boolean excl) throws IOException {
        String path = S3Lookup.child(d.path(), name);
        namespaceLock.lock();
        try {
            S3Inode existing = fresh.recentlyAbsent(path) ? null : names.find(path);
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
            Map<String, String> meta = S3Attrs.of(fmode, uid, gid, now);
            ObjectVersion v = backend.put(names.key(path), new byte[0], meta);
            fresh.changed(path);
            S3Inode i = names.fileInode(path, new S3Backend.ObjectInfo(v, meta));
            listings.remove(d.ino());
            return i;
        } finally {
            namespaceLock.unlock();
        }
    }

    @Override
    public InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException {
        return newEntry(dir(dirIno), name, path -> {
            long now = System.currentTimeMillis() / 1000;
            Map<String, String> meta = S3Attrs.of(FileMode.S_IFDIR | (mode & FileMode.PERM_MASK), uid, gid, now);
            backend.put(names.dirPrefix(path), new byte[0], meta);
            return names.dirInode(path, meta);
        });
    }

    /** Makes a new entry of the object {@code make} stores at the child's path: EEXIST if the name is taken. */
    private InodeAttr newEntry(S3Inode d, String name, EntryMaker make) throws IOException {
        String path = S3Lookup.child(d.path(), name);
        namespaceLock.lock();
        try {
            if (!fresh.recentlyAbsent(path) && names.find(path) != null) {
                throw new FsException(Errno.EEXIST, "'" + path + "' exists");
            }
            fresh.changed(path);
            S3Inode made = make.make(path);
            listings.remove(d.ino());
            return referenced(made);
        } finally {
            namespaceLock.unlock();
        }
    }

    /** Stores the object of a new entry at {@code path} and returns its inode. */
    @FunctionalInterface
    private interface EntryMaker {
        S3Inode make(String path) throws IOException;
    }

    @Override
    public InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException {
        return newEntry(dir(dirIno), name, path -> {
            Map<String, String> meta = S3Attrs.of(FileMode.S_IFLNK | 0777, uid, gid, System.currentTimeMillis() / 1000);
            ObjectVersion v = backend.put(names.key(path), target.getBytes(StandardCharsets.UTF_8), meta);
            return names.fileInode(path, new S3Backend.ObjectInfo(v, meta));
        });
    }

    @Override
    public String readlink(long ino) throws IOException {
        S3Inode i = inode(ino);
        if (!FileMode.isSymlink(i.mode)) {
            throw new FsException(Errno.EINVAL, "inode " + ino + " is not a symlink");
        }
        long size = i.sizeBytes();
        if (size == 0) {
            return "";
        }
        try {
            var rd = backend.read(names.key(i.path()), 0, (int) Math.min(size, 4096), null).join();
            return StandardCharsets.UTF_8.decode(rd.data()).toString();
        } catch (java.util.concurrent.CompletionException e) {
            throw S3Errors.map("readlink '" + i.path() + "'", e.getCause());
        }
    }

    @Override
    public InodeAttr link(long ino, long newDirIno, String newName) throws IOException {
        throw new FsException(Errno.EPERM, "S3 has no hard links");
    }

    @Override
    public void unlink(long dirIno, String name) throws IOException {
        S3Inode d = dir(dirIno);
        String path = S3Lookup.child(d.path(), name);
        namespaceLock.lock();
        try {
            S3Inode i = names.find(path);
            if (i == null) {
                throw new FsException(Errno.ENOENT, "'" + path + "' not found");
            }
            if (i.isDirectory()) {
                throw new FsException(Errno.EISDIR, "'" + path + "' is a directory");
            }
            backend.delete(names.key(path));
            NetfsFile f = i.netfsFileOrNull();
            if (f != null) {
                f.discard();
            }
            synchronized (i) {
                i.unlinked = true;
            }
            inodes.unlinkPath(i);
            listings.remove(d.ino());
        } finally {
            namespaceLock.unlock();
        }
    }

    @Override
    public void rmdir(long dirIno, String name) throws IOException {
        S3Inode d = dir(dirIno);
        String path = S3Lookup.child(d.path(), name);
        namespaceLock.lock();
        try {
            S3Inode i = names.find(path);
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
            backend.delete(prefix);
            synchronized (i) {
                i.unlinked = true;
            }
            inodes.unlinkPath(i);
            listings.remove(d.ino());
        } finally {
            namespaceLock.unlock();
        }
    }

    /**
     * Rename as S3 allows it: every object is copied to its new key, then the old keys are deleted. Not atomic: a
     * crash or an unreachable server part-way leaves some objects under both names (never under neither). Open
     * files are uploaded first so that the copy carries their data.
     */
    @Override
    public void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException {
        if ((flags & RENAME_EXCHANGE) != 0) {
            throw new FsException(Errno.EINVAL, "RENAME_EXCHANGE is not possible on S3");
        }
        S3Inode od = dir(oldDirIno);
        S3Inode nd = dir(newDirIno);
        String from = S3Lookup.child(od.path(), oldName);
        String to = S3Lookup.child(nd.path(), newName);
        namespaceLock.lock();
        try {
            fresh.changed(to);
            S3Inode src = names.find(from);
            if (src == null) {
                throw new FsException(Errno.ENOENT, "'" + from + "' not found");
            }
            if (from.equals(to)) {
                return;
            }
            if (src.isDirectory() && to.startsWith(from + "/")) {
                throw new FsException(Errno.EINVAL, "cannot move '" + from + "' into itself");
            }
            S3Inode dst = names.find(to);
            if (dst != null) {
                if ((flags & RENAME_NOREPLACE) != 0) {
                    throw new FsException(Errno.EEXIST, "'" + to + "' exists");
                }
                if (dst.isDirectory() != src.isDirectory()) {
                    throw new FsException(dst.isDirectory() ? Errno.EISDIR : Errno.ENOTDIR, "cannot replace '" + to
                            + "' by '" + from + "'");
                }
                if (dst.isDirectory() && !S3Listing.keys(backend.client(), backend.bucket(), names.dirPrefix(to), 2).stream()
                        .allMatch(k -> k.equals(names.dirPrefix(to)))) {
                    throw new FsException(Errno.ENOTEMPTY, "'" + to + "' is not empty");
                }
            }
            if (src.isDirectory()) {
                renameDirectory(from, to);
            } else {
                commit(src);
                ObjectVersion v = backend.copy(names.key(from), names.key(to), null);
                backend.delete(names.key(from));
                NetfsFile f = src.netfsFileOrNull();
                if (f != null) {
                    f.renamed(names.key(to), v);
                }
                if (dst != null && dst.netfsFileOrNull() != null) {
                    dst.netfsFileOrNull().discard();
                }
            }
            if (dst != null) {
                synchronized (dst) {
                    dst.unlinked = true;
                }
                inodes.unlinkPath(dst);
            }
            inodes.rename(from, to);
            listings.remove(od.ino());
            listings.remove(nd.ino());
        } finally {
            namespaceLock.unlock();
        }
    }

    private void renameDirectory(String from, String to) throws IOException {
        for (S3Inode f : inodes.files()) {
            if (f.path().startsWith(from + "/")) {
                commit(f);
            }
        }
        String fromPrefix = names.dirPrefix(from);
        String toPrefix = names.dirPrefix(to);
        List<String> keys = new java.util.ArrayList<>(S3Listing.allKeys(backend.client(), backend.bucket(),
                fromPrefix));
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
                }
            }
        }
    }

    @Override
    public void readdir(long dirIno, long offset, DirSink sink) throws IOException {
        S3Inode d = dir(dirIno);
        List<DirEntry> entries = offset == 0 ? null : listings.get(dirIno);
        if (entries == null) {
            entries = list(d);
            listings.put(dirIno, entries);
        }
        for (int n = (int) Math.min(offset, entries.size()); n < entries.size(); n++) {
            if (!sink.accept(entries.get(n))) {
                return;
            }
        }
    }

    private List<DirEntry> list(S3Inode d) throws IOException {
        List<DirEntry> out = new java.util.ArrayList<>();
        out.add(new DirEntry(".", d.ino(), FileMode.DT_DIR, 1));
        S3Inode parent = d.path().isEmpty() ? d : inodes.byPath(d.path().contains("/")
                ? d.path().substring(0, d.path().lastIndexOf('/')) : "");
        out.add(new DirEntry("..", parent == null ? S3InodeTable.ROOT_INO : parent.ino(), FileMode.DT_DIR, 2));
        java.util.Set<String> dirs = new java.util.HashSet<>();
        List<S3Listing.Child> children = S3Listing.children(backend.client(), backend.bucket(), names.dirPrefix(d.path()));
        for (S3Listing.Child c : children) {
            if (c.directory()) {
                dirs.add(c.name());
            }
        }
        for (S3Listing.Child c : children) {
            if (c.name().contains("/") || c.name().equals(".") || c.name().equals("..")
                    || (!c.directory() && dirs.contains(c.name()))) {
                continue; // keys that are no POSIX name ("a/./b", "a//b"); "a" beside "a/": the directory wins
            }
            String path = d.path().isEmpty() ? c.name() : d.path() + "/" + c.name();
            S3Inode i;
            if (c.directory()) {
                i = names.dirInode(path, Map.of());
            } else {
                i = inodes.getOrCreate(path, ino -> new S3Inode(ino, path, FileMode.S_IFREG | 0644, options.uid(),
                        options.gid(), System.currentTimeMillis() / 1000));
                if (!i.hasData()) {
                    i.setSizeFromServer(c.sizeBytes());
                }
            }
            out.add(new DirEntry(c.name(), i.ino(), FileMode.dtype(i.mode), out.size() + 1));
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Vfs: data

    /** An open file: its inode and a writeback-error cursor (errseq). */
    private record Handle(S3Inode inode, int openFlags, ErrSeq.Cursor cursor) implements FileHandle {
        @Override
        public long ino() {
            return inode.ino();
        }
    }

    private static S3Inode inodeOf(FileHandle fh) throws FsException {
        if (fh instanceof Handle h) {
            return h.inode();
        }
        throw new FsException(Errno.EBADF, "not a handle of this filesystem: " + fh);
    }

    @Override
    public FileHandle open(long ino, int openFlags) throws IOException {
        S3Inode i = inode(ino);
        if (i.isDirectory()) {
            throw new FsException(Errno.EISDIR, "inode " + ino + " is a directory");
        }
        if (!FileMode.isRegular(i.mode)) {
            throw new FsException(Errno.EINVAL, "inode " + ino + " is not a regular file");
        }
        boolean first;
        synchronized (i) {
            first = i.openCount == 0;
        }
        if ((first || !i.hasData()) && !(i.hasData() && S3Freshness.isFresh(i.validatedNanos))) {
            // Close-to-open consistency: see the server's current version (a cached one is kept offline), unless
            // the server told it less than S3Freshness.FRESH_NANOS ago (typically the lookup just before).
            try {
                S3Backend.ObjectInfo info = backend.head(names.key(i.path()));
                if (info == null && !i.hasData()) {
                    throw new FsException(Errno.ENOENT, "'" + i.path() + "' is gone from the server");
                }
                if (info != null) {
                    names.fileInode(i.path(), info);
                }
            } catch (BackendUnavailableException e) {
                if (!i.hasData()) {
                    throw e;
                }
            }
        }
        synchronized (i) {
            i.openCount++;
        }
        Handle h = new Handle(i, openFlags, i.mapping().errors().newCursor());
        if ((openFlags & O_TRUNC) != 0 && (openFlags & O_ACCMODE) != O_RDONLY) {
            truncate(i, 0);
        }
        return h;
    }

    @Override
    public Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException {
        S3Inode i = createFile(dir(dirIno), name, mode, uid, gid, (openFlags & O_EXCL) != 0);
        InodeAttr a = referenced(i);
        FileHandle h = open(i.ino(), openFlags);
        return new Created(a, h);
    }

    @Override
    public int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException {
        S3Inode i = inodeOf(fh);
        i.rwsem.readLock().lock();
        try {
            return BufferedIo.read(i, posBytes, dst, NetfsIomapOps.INSTANCE);
        } finally {
            i.rwsem.readLock().unlock();
        }
    }

    @Override
    public int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException {
        S3Inode i = inodeOf(fh);
        i.rwsem.writeLock().lock();
        try {
            long pos = (fh.openFlags() & O_APPEND) != 0 ? i.sizeBytes() : posBytes;
            int n = BufferedIo.write(i, pos, src, NetfsIomapOps.INSTANCE);
            synchronized (i) {
                i.mtimeSec = System.currentTimeMillis() / 1000;
                i.ctimeSec = i.mtimeSec;
            }
            return n;
        } finally {
            i.rwsem.writeLock().unlock();
        }
    }

    /**
     * Writes the file's dirty pages to the dirty log and uploads them with its attributes (see
     * {@link NetfsFile#commit()}: while the server is unreachable the data is durable locally and this succeeds).
     */
    @Override
    public void fsync(FileHandle fh, boolean dataOnly) throws IOException {
        S3Inode i = inodeOf(fh);
        NetfsFile f = i.netfsFile();
        f.setAttributes(meta(i));
        Writeback.fsync(i, 0, Long.MAX_VALUE, ((Handle) fh).cursor(), f.device());
    }

    /** Writes back and uploads a file's changes (no error cursor: the caller gets this pass's error). */
    private void commit(S3Inode i) throws IOException {
        NetfsFile f = i.netfsFileOrNull();
        if (f == null) {
            return;
        }
        f.setAttributes(meta(i));
        Writeback.fsync(i, 0, Long.MAX_VALUE, null, f.device());
    }

    /**
     * close() of a writable handle uploads the file's changes (close-to-open: the data is on the server when close
     * returns; FUSE's release comes after close has returned). Offline the data stays queued in the dirty log.
     */
    @Override
    public void flush(FileHandle fh) throws IOException {
        S3Inode i = inodeOf(fh);
        if ((fh.openFlags() & O_ACCMODE) != O_RDONLY && !i.unlinked) {
            commit(i);
        }
    }

    /** The last close of a changed file uploads it (close-to-open); offline it stays queued in the dirty log. */
    @Override
    public void release(FileHandle fh) throws IOException {
        S3Inode i = inodeOf(fh);
        boolean last;
        synchronized (i) {
            i.openCount--;
            last = i.openCount == 0;
        }
        if (last && !i.unlinked) {
            commit(i);
        }
        maybeEvict(i);
    }

    @Override
    public void forget(long ino, long count) {
        S3Inode i = inodes.get(ino);
        if (i == null || ino == S3InodeTable.ROOT_INO) {
            return;
        }
        synchronized (i) {
            i.lookups = Math.max(0, i.lookups - count);
        }
        maybeEvict(i);
    }

    /** Drops an inode nobody references whose data is on the server (its local cache stays on disk). */
    private void maybeEvict(S3Inode i) {
        NetfsFile f = i.netfsFileOrNull();
        synchronized (i) {
            if (i.lookups > 0 || i.openCount > 0 || (f != null && (f.isDirty() && !i.unlinked))) {
                return;
            }
        }
        inodes.evict(i);
        if (f != null) {
            pageCache.removeMapping(i.mapping());
        }
    }

    @Override
    public StatFs statfs() {
        long blocks = 1L << 40; // S3 has no capacity: report 4 PiB, all free
        return new StatFs(S3Inode.BLOCK_BYTES, blocks, blocks, blocks, 1L << 32, 1L << 32, NAME_MAX);
    }

    /** Uploads every changed file; offline, they are durable in the dirty log and uploaded on reconnection. */
    @Override
    public void sync() throws IOException {
        IOException first = null;
        for (S3Inode i : inodes.files()) {
            try {
                if (!i.unlinked) {
                    commit(i);
                }
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * Unmounts: uploads everything it can; what the server cannot take now stays in the dirty log of the cache
     * directory and is uploaded by the next mount (logged, never dropped).
     */
    @Override
    public void close() throws IOException {
        try {
            sync();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "unmount: " + e.getMessage() + " (kept in the dirty log)");
        } finally {
            netfs.close();
            pageCache.close();
            backend.close();
        }
    }
}
