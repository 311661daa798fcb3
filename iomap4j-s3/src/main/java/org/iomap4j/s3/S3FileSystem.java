package org.iomap4j.s3;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.netfs.BackendUnavailableException;
import org.iomap4j.netfs.Netfs;
import org.iomap4j.netfs.NetfsConfig;
import org.iomap4j.netfs.NetfsFile;
import org.iomap4j.netfs.NetfsIomapOps;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.pagecache.ErrSeq;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.iomap.Writeback;
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
 * ETag, {@code fsync} and {@code close} upload (close in the background with {@link S3MountOptions#asyncClose()});
 * names, absent names and attributes come from a directory listing cache kept {@link
 * S3MountOptions#metadataTtlMillis()} ({@link S3DirCache}); a create is one PUT at the first close; rename is copy
 * + delete, not atomic (a crash in between leaves both names); no hard links, devices, fifos or sockets (EPERM); a
 * server error is EIO, a missing object ENOENT. While the server is unreachable, cached data stays readable, writes
 * and fsync go to the dirty log, create and mkdir of names known absent are kept too, and other namespace changes
 * fail with EIO ({@link S3Namespace}).
 *
 * <p>Locks, outermost first: {@code S3Namespace.namespaceLock} (every namespace change, one at a time), the
 * inode's rwsem, then the core's page-cache locks, then netfs's; the inode table, inode monitors and listing cache
 * are leaves.
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
    private final S3Freshness fresh = new S3Freshness();
    private final S3DirCache dirs;
    private final S3Namespace namespace;
    private final S3CloseUploads closeUploads;

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
        this.dirs = new S3DirCache(options.metadataTtlMillis());
        this.names = new S3Lookup(options, backend, netfs, pageCache, inodes, dirs);
        this.closeUploads = new S3CloseUploads(this::commit, this::maybeEvict);
        this.namespace = new S3Namespace(options, backend, inodes, names, dirs, fresh, new S3Namespace.Committer() {
            @Override
            public void commit(S3Inode i) throws IOException {
                S3FileSystem.this.commit(i);
            }

            @Override
            public void settle(S3Inode i) {
                closeUploads.await(i);
            }
        });
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
     * The S3 requests this mount made so far with their mean time, one line ("HeadObject 300 (4.1 ms), ...").
     *
     * @return the summary
     */
    public String requestSummary() {
        return requestCounts.summary();
    }

    /**
     * Runs the S3 client's request path (HEAD of a key that does not exist, a one-key LIST, four at a time) for
     * about {@code budget}, so that the JIT has compiled it before the first file operation: a mount is a fresh
     * JVM, and the SDK's first requests run interpreted (a per-request cost the small-file jobs of bench/s3.sh
     * measured). Sends only reads; errors end it early (it is an optimisation).
     *
     * @param budget how long to run
     * @return the requests made
     */
    public int warmUp(java.time.Duration budget) {
        long end = System.nanoTime() + budget.toNanos();
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        String probe = names.key(".iomapfs-warmup-" + Long.toHexString(System.nanoTime()));
        try (var ex = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < 4; t++) {
                ex.submit(() -> {
                    try {
                        while (System.nanoTime() < end) {
                            backend.head(probe);
                            S3Listing.keys(backend.client(), backend.bucket(), probe, 1);
                            n.addAndGet(2);
                        }
                    } catch (IOException | RuntimeException e) {
                        LOG.log(System.Logger.Level.DEBUG, "S3 warm-up stopped: " + e.getMessage());
                    }
                    return null;
                });
            }
        }
        return n.get();
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
        S3Inode i = names.resolve(S3Lookup.child(d.path(), name));
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
            i.attrsChanged = true;
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

    /**
     * Hands the attributes changed here to the next upload; a file whose attributes did not change keeps the
     * object's metadata as it is (a read-only open of another tool's object never rewrites it).
     */
    private static void takeAttributes(S3Inode i, NetfsFile f) {
        Map<String, String> m;
        synchronized (i) {
            if (!i.attrsChanged) {
                return;
            }
            i.attrsChanged = false;
            m = S3Attrs.of(i.mode, i.uid, i.gid, i.mtimeSec);
        }
        f.setAttributes(m);
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
                i.attrsChanged = true;
            }
        } finally {
            i.rwsem.writeLock().unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Vfs: namespace (S3Namespace)

    @Override
    public InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException {
        if (!FileMode.isRegular(mode)) {
            throw new FsException(Errno.EPERM, "S3 keeps regular files, directories and symlinks only: '" + name + "'");
        }
        return referenced(namespace.createFile(dir(dirIno), name, mode, uid, gid, true));
    }

    @Override
    public InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException {
        return referenced(namespace.mkdir(dir(dirIno), name, mode, uid, gid));
    }

    @Override
    public InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException {
        return referenced(namespace.symlink(dir(dirIno), name, target, uid, gid));
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
        namespace.unlink(dir(dirIno), name);
    }

    @Override
    public void rmdir(long dirIno, String name) throws IOException {
        namespace.rmdir(dir(dirIno), name);
    }

    /** Copy and delete per key, not atomic (see {@link S3Namespace#rename}). */
    @Override
    public void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException {
        namespace.rename(dir(oldDirIno), oldName, dir(newDirIno), newName, flags);
    }

    @Override
    public void readdir(long dirIno, long offset, DirSink sink) throws IOException {
        namespace.readdir(dir(dirIno), offset, sink);
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
        NetfsFile local = i.netfsFileOrNull();
        long validated = i.validatedNanos;
        boolean toldSinceClose = validated - i.closedNanos > 0 && S3Freshness.isFresh(validated);
        if ((first || !i.hasData()) && !(i.hasData() && toldSinceClose)
                && !(local != null && local.isDirty())) { // local changes win over the server's version anyway
            // Close-to-open consistency: see the server's current version (a cached one is kept offline), unless
            // the server told it less than S3Freshness.FRESH_NANOS ago and after the file was last closed (the
            // lookup just before this open); a lookup answered from the listing cache tells nothing new.
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
        S3Inode i = namespace.createFile(dir(dirIno), name, mode, uid, gid, (openFlags & O_EXCL) != 0);
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
                i.attrsChanged = true;
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
        takeAttributes(i, f);
        Writeback.fsync(i, 0, Long.MAX_VALUE, ((Handle) fh).cursor(), f.device());
    }

    /** Writes back and uploads a file's changes (close-to-open, rename, chmod): {@link #commit(S3Inode, boolean)}. */
    private void commit(S3Inode i) throws IOException {
        commit(i, false);
    }

    /**
     * Writes back and uploads a file's changes (no error cursor: the caller gets this pass's error). With
     * {@code durable} the dirty-log entry is fsync'd before the upload (fsync, syncfs); else only if the upload
     * fails (a close: one PUT and no local fsync for a small file, see {@link NetfsFile#commit(boolean)}).
     */
    private void commit(S3Inode i, boolean durable) throws IOException {
        NetfsFile f = i.netfsFileOrNull();
        if (f == null) {
            return;
        }
        takeAttributes(i, f);
        IOException wbError = null;
        try {
            Writeback.writeAndWait(i.mapping(), 0, Long.MAX_VALUE);
        } catch (IOException e) {
            wbError = e;
        }
        f.commit(durable);
        if (wbError != null) {
            throw wbError;
        }
    }

    /**
     * close() of a writable handle uploads the file's changes (close-to-open: the data is on the server when close
     * returns; FUSE's release comes after close has returned). Offline the data stays queued in the dirty log.
     */
    @Override
    public void flush(FileHandle fh) throws IOException {
        S3Inode i = inodeOf(fh);
        if ((fh.openFlags() & O_ACCMODE) != O_RDONLY && !i.unlinked) {
            closeUpload(i);
        }
    }

    /** The upload at a close: now, or queued ({@link S3MountOptions#asyncClose()}). */
    private void closeUpload(S3Inode i) throws IOException {
        if (options.asyncClose()) {
            NetfsFile f = i.netfsFileOrNull();
            boolean changed;
            synchronized (i) {
                changed = i.attrsChanged;
            }
            if (f != null && (changed || f.isDirty() || i.mapping().hasDirty(0, Long.MAX_VALUE))) {
                closeUploads.submit(i);
            }
        } else {
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
        if (last) {
            i.closedNanos = System.nanoTime();
        }
        if (last && !i.unlinked) {
            closeUpload(i);
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
        closeUploads.awaitAll();
        IOException first = null;
        for (S3Inode i : inodes.files()) {
            try {
                if (!i.unlinked) {
                    commit(i, true);
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
            closeUploads.close();
            dirs.close();
            netfs.close();
            pageCache.close();
            backend.close();
        }
    }
}
