package org.iomap4j.netfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * One mounted network filesystem's netfs context: the {@link NetfsBackend}, the persistent {@link LocalCache}
 * and {@link DirtyLog} in {@link NetfsConfig#cacheDir()}, and the background uploader of changes the server could
 * not take (disconnected operation). A filesystem opens one per mount with {@link #open} and gets a
 * {@link NetfsFile} per open object from {@link #file}.
 *
 * <p>Crash recovery: {@link #open} uploads every dirty-log entry an earlier mount left (fsync'd data that never
 * reached the server). Entries the server cannot take now stay pending and are adopted by {@link #file} for their
 * key (so the filesystem sees the local data), and retried; entries whose base changed on the server meanwhile
 * (ESTALE) are kept and listed by {@link #unresolved()} — never silently dropped.
 *
 * <p>One mount per cache directory: {@link #open} takes an exclusive lock on {@code cacheDir/lock} (EBUSY
 * otherwise), released by {@link #close()} or by the death of the process.
 *
 * <p>Threads: one daemon uploader, woken every {@link NetfsConfig#retryMillis()} while something is pending.
 */
public final class Netfs implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Netfs.class.getName());
    /** At most this many granules in one server read. */
    private static final int MAX_GRANULES_PER_READ = 8;

    private final NetfsBackend backend;
    private final NetfsConfig config;
    private final LocalCache cache;
    private final DirtyLog dirtyLog;
    /** Recovered entries not yet adopted by a file, by key. */
    private final Map<String, DirtyLog.Entry> recovered = new ConcurrentHashMap<>();
    private final Set<NetfsFile> pending = ConcurrentHashMap.newKeySet();
    private final Map<String, String> unresolved = new ConcurrentHashMap<>();
    private final Object uploaderMonitor = new Object();
    private final Thread uploader;
    private volatile boolean closed;
    /** Exclusive lock on {@code cacheDir/lock}: one mount per cache directory (two would upload each other's log). */
    private final java.nio.channels.FileChannel lockChannel;
    private final java.nio.channels.FileLock lock;

    private Netfs(NetfsBackend backend, NetfsConfig config) throws IOException {
        this.backend = backend;
        this.config = config;
        java.nio.file.Files.createDirectories(config.cacheDir());
        this.lockChannel = java.nio.channels.FileChannel.open(config.cacheDir().resolve("lock"),
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
        java.nio.channels.FileLock l;
        try {
            l = lockChannel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            l = null;
        }
        if (l == null) {
            lockChannel.close();
            throw new FsException(Errno.EBUSY, "cache directory " + config.cacheDir() + " is in use by another mount");
        }
        this.lock = l;
        this.cache = new LocalCache(config.cacheDir(), config.granuleBytes(), config.cacheLimitBytes());
        this.dirtyLog = new DirtyLog(config.cacheDir());
        this.uploader = Thread.ofPlatform().daemon().name("iomap4j-netfs-uploader").unstarted(this::uploadLoop);
    }

    /**
     * Opens the cache directory and recovers the dirty log of an earlier mount (see the class comment).
     *
     * @throws IOException if the cache directory cannot be used or a dirty-log entry is damaged (nothing is
     *                     deleted then: the mount fails so that the data is not lost)
     * @param backend the object store
     * @param config cache directory, granule size, cache bound and retry interval
     * @return the open netfs layer
     */
    public static Netfs open(NetfsBackend backend, NetfsConfig config) throws IOException {
        Netfs n = new Netfs(backend, config);
        try {
            for (DirtyLog.Entry e : n.dirtyLog.recover()) {
                n.recoverEntry(e);
            }
        } catch (IOException | RuntimeException e) {
            n.releaseLock();
            throw e;
        }
        n.uploader.start();
        return n;
    }

    private void releaseLock() {
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cache directory lock: " + e);
        }
    }

    private void recoverEntry(DirtyLog.Entry e) throws IOException {
        DirtyLog.State st = e.recovered();
        try {
            ObjectVersion v = upload(st, e);
            e.delete();
            LOG.log(System.Logger.Level.INFO, "'" + st.key() + "': fsync'd data left by an earlier mount uploaded ("
                    + v.tag() + ")");
        } catch (BackendUnavailableException ex) {
            recovered.put(st.key(), e);
            LOG.log(System.Logger.Level.WARNING, "'" + st.key() + "': server unreachable; data of an earlier mount "
                    + "kept in the dirty log, uploaded on reconnection");
        } catch (IOException ex) {
            recovered.put(st.key(), e);
            unresolved.put(st.key(), "dirty log entry " + e.id() + ": " + ex.getMessage());
            LOG.log(System.Logger.Level.ERROR, "'" + st.key() + "': data of an earlier mount could not be uploaded ("
                    + ex.getMessage() + "); kept in dirty log entry " + e.id());
        }
    }

    /** {@return the object store} */
    public NetfsBackend backend() {
        return backend;
    }

    /** {@return the configuration} */
    public NetfsConfig config() {
        return config;
    }

    /** {@return the persistent local cache of clean granules} */
    public LocalCache cache() {
        return cache;
    }

    DirtyLog dirtyLog() {
        return dirtyLog;
    }

    /**
     * The netfs state of object {@code key}, currently at {@code version} on the server (null if it does not exist
     * there yet), with its stored attributes. If an earlier mount left unsent changes to {@code key}, the file
     * adopts them (its size and attributes are then the local ones) and they are uploaded when possible.
     *
     * @param key the object key
     * @param version its current server version, or null for a new object
     * @param attributes its stored attributes
     * @return the file's netfs state
     */
    public NetfsFile file(String key, ObjectVersion version, Map<String, String> attributes) {
        DirtyLog.Entry e = recovered.remove(key);
        if (e != null) {
            NetfsFile f = new NetfsFile(this, e);
            pending.add(f);
            return f;
        }
        return new NetfsFile(this, key, version, attributes);
    }

    /**
     * Keys with unsent changes an earlier mount left, not yet adopted or uploaded.
     *
     * @return the recovered keys
     */
    public Set<String> recoveredKeys() {
        return Set.copyOf(recovered.keySet());
    }

    /**
     * Keys whose local changes could not be reconciled with the server (with why); they stay in the dirty log.
     *
     * @return reasons by key
     */
    public Map<String, String> unresolved() {
        return Map.copyOf(unresolved);
    }

    /**
     * Number of files and recovered entries waiting for the server.
     *
     * @return the pending count
     */
    public int pendingCount() {
        int n = 0;
        for (NetfsFile f : pending) {
            n += unresolved.containsKey(f.key()) ? 0 : 1;
        }
        for (String k : recovered.keySet()) {
            n += unresolved.containsKey(k) ? 0 : 1;
        }
        return n;
    }

    void markPending(NetfsFile f) {
        pending.add(f);
        synchronized (uploaderMonitor) {
            uploaderMonitor.notifyAll();
        }
    }

    void notPending(NetfsFile f) {
        pending.remove(f);
        unresolved.remove(f.key());
    }

    /**
     * Tries once, now, every pending upload (files and recovered entries).
     *
     * @return true if nothing is pending afterwards
     */
    public boolean retryPending() {
        for (NetfsFile f : List.copyOf(pending)) {
            if (f.retryCommit()) {
                pending.remove(f);
            }
        }
        for (Map.Entry<String, DirtyLog.Entry> e : List.copyOf(recovered.entrySet())) {
            if (unresolved.containsKey(e.getKey())) {
                continue;
            }
            try {
                upload(e.getValue().recovered(), e.getValue());
                if (recovered.remove(e.getKey(), e.getValue())) {
                    e.getValue().delete();
                }
            } catch (BackendUnavailableException ex) {
                // still unreachable
            } catch (IOException ex) {
                unresolved.put(e.getKey(), "dirty log entry " + e.getValue().id() + ": " + ex.getMessage());
            }
        }
        return pendingCount() == 0;
    }

    private void uploadLoop() {
        while (!closed) {
            synchronized (uploaderMonitor) {
                try {
                    uploaderMonitor.wait(config.retryMillis());
                } catch (InterruptedException e) {
                    return;
                }
            }
            if (!closed && pendingCount() > 0) {
                retryPending();
            }
        }
    }

    /**
     * Reads base bytes {@code [posBytes, posBytes + dst.remaining())} of {@code key} in {@code version} (all inside
     * the object) into {@code dst}: cached granules from the local cache, the others from the server in whole
     * granules (several requests in parallel), which are then cached. Leaves dst's position at its limit.
     */
    void readBase(String key, ObjectVersion version, long posBytes, ByteBuffer dst) throws IOException {
        readBase(key, version, posBytes, dst, null);
    }

    /**
     * As {@link #readBase(String, ObjectVersion, long, ByteBuffer)}; every server reply that covered more than
     * {@code dst} (whole granules, or more than asked) is also added to {@code fetched} (if not null), for the
     * caller to paste into the page cache.
     */
    void readBase(String key, ObjectVersion version, long posBytes, ByteBuffer dst, List<RangeData> fetched)
            throws IOException {
        readBase(key, version, posBytes, dst, fetched, 0);
    }

    /** Granules per server request of readahead beyond the asked range (several requests go in parallel). */
    private static final int AHEAD_GRANULES_PER_READ = 2;

    /**
     * As {@link #readBase(String, ObjectVersion, long, ByteBuffer, List)}, and if anything must come from the
     * server, also fetches up to {@code aheadBytes} beyond the asked range (whole granules not in the local cache,
     * in parallel requests of {@link #AHEAD_GRANULES_PER_READ} granules): stored in the local cache and added to
     * {@code fetched}. A failed readahead request is ignored.
     */
    void readBase(String key, ObjectVersion version, long posBytes, ByteBuffer dst, List<RangeData> fetched,
            long aheadBytes) throws IOException {
        if (version == null) {
            throw new FsException(Errno.EIO, "'" + key + "': read of bytes " + posBytes + " of an object with no version");
        }
        long end = posBytes + dst.remaining();
        if (end > version.sizeBytes()) {
            throw new FsException(Errno.EIO, "'" + key + "': read of [" + posBytes + ", " + end + ") past the end of "
                    + version);
        }
        int origin = dst.position();
        long g0 = posBytes / config.granuleBytes();
        long g1 = (end - 1) / config.granuleBytes();
        List<long[]> missRuns = new ArrayList<>();
        for (long g = g0; g <= g1; g++) {
            long gs = g * config.granuleBytes();
            long s = Math.max(posBytes, gs);
            long e = Math.min(end, gs + config.granuleBytes());
            ByteBuffer part = dst.slice(origin + (int) (s - posBytes), (int) (e - s));
            if (!cache.read(key, version, g, (int) (s - gs), part)) {
                long[] last = missRuns.isEmpty() ? null : missRuns.getLast();
                if (last != null && last[1] == g && g - last[0] < MAX_GRANULES_PER_READ) {
                    last[1] = g + 1;
                } else {
                    missRuns.add(new long[] {g, g + 1});
                }
            }
        }
        if (missRuns.isEmpty()) {
            dst.position(dst.limit());
            return;
        }
        int asked = missRuns.size();
        if (aheadBytes > 0) {
            long gsz = config.granuleBytes();
            long gEnd = Math.min((version.sizeBytes() + gsz - 1) / gsz, (end + aheadBytes + gsz - 1) / gsz);
            long lastAsked = missRuns.getLast()[1];
            for (long g = Math.max(g1 + 1, lastAsked); g < gEnd; g++) {
                if (cache.mayHold(key, g)) {
                    continue;
                }
                long[] last = missRuns.size() > asked ? missRuns.getLast() : null;
                if (last != null && last[1] == g && g - last[0] < AHEAD_GRANULES_PER_READ) {
                    last[1] = g + 1;
                } else {
                    missRuns.add(new long[] {g, g + 1});
                }
            }
        }
        List<CompletableFuture<RangeData>> reads = new ArrayList<>();
        for (long[] run : missRuns) {
            long s = run[0] * config.granuleBytes();
            long e = Math.min(version.sizeBytes(), run[1] * config.granuleBytes());
            reads.add(backend.read(key, s, (int) (e - s), version));
        }
        IOException first = null;
        for (int i = 0; i < reads.size(); i++) {
            RangeData rd;
            if (i >= asked) { // readahead: cache and paste what came, ignore what failed
                try {
                    rd = reads.get(i).join();
                } catch (CompletionException | java.util.concurrent.CancellationException ex) {
                    continue;
                }
                if (rd.version().equals(version)) {
                    storeGranules(key, rd);
                    if (fetched != null) {
                        fetched.add(rd);
                    }
                }
                continue;
            }
            try {
                rd = reads.get(i).join();
            } catch (CompletionException | java.util.concurrent.CancellationException ex) {
                IOException io = asIo(ex, key);
                if (first == null) {
                    first = io;
                }
                continue;
            }
            if (!rd.version().equals(version)) {
                IOException io = new FsException(Errno.ESTALE, "'" + key + "' changed on the server: expected "
                        + version + ", got " + rd.version());
                first = first == null ? io : first;
                continue;
            }
            storeGranules(key, rd);
            long[] run = missRuns.get(i);
            long s = Math.max(posBytes, run[0] * config.granuleBytes());
            long e = Math.min(end, run[1] * config.granuleBytes());
            if (rd.posBytes() > s || rd.endBytes() < e) {
                IOException io = new FsException(Errno.EIO, "'" + key + "': server returned [" + rd.posBytes() + ", "
                        + rd.endBytes() + ") for a read of [" + s + ", " + e + ")");
                first = first == null ? io : first;
                continue;
            }
            dst.slice(origin + (int) (s - posBytes), (int) (e - s))
                    .put(rd.data().slice(rd.data().position() + (int) (s - rd.posBytes()), (int) (e - s)));
            if (fetched != null && (rd.posBytes() < posBytes || rd.endBytes() > end)) {
                fetched.add(rd);
            }
        }
        if (first != null) {
            throw first;
        }
        dst.position(dst.limit());
    }

    /** Caches every whole granule {@code rd} covers (a read that returned more than asked included). */
    private void storeGranules(String key, RangeData rd) {
        long gsz = config.granuleBytes();
        for (long g = (rd.posBytes() + gsz - 1) / gsz; ; g++) {
            long gs = g * gsz;
            long len = cache.granuleLength(rd.version().sizeBytes(), g);
            if (len == 0 || gs + len > rd.endBytes()) {
                break;
            }
            cache.store(key, rd.version(), g, rd.data().slice(rd.data().position() + (int) (gs - rd.posBytes()),
                    (int) len));
        }
    }

    static IOException asIo(Throwable t, String key) {
        Throwable c = t;
        while ((c instanceof CompletionException || c instanceof java.util.concurrent.ExecutionException)
                && c.getCause() != null) {
            c = c.getCause();
        }
        return c instanceof IOException io ? io : new FsException(Errno.EIO, "'" + key + "': " + c, c);
    }

    /**
     * Uploads the state {@code st} of a dirty-log entry as a new version: dirty bytes from the entry, unchanged
     * bytes copied on the server or read from the local cache or the server, zeroes elsewhere.
     */
    ObjectVersion upload(DirtyLog.State st, DirtyLog.Entry entry) throws IOException {
        WritePlan.RangeSource source = (pos, dst) -> {
            long end = pos + dst.remaining();
            int origin = dst.position();
            ByteRangeSet ranges = new ByteRangeSet(st.ranges());
            long p = pos;
            for (ByteRange r : ranges.within(pos, end)) {
                fillBaseOrZero(st, p, r.startBytes(), dst, origin, pos);
                entry.read(r.startBytes(), dst.slice(origin + (int) (r.startBytes() - pos), (int) r.lengthBytes()));
                p = r.endBytes();
            }
            fillBaseOrZero(st, p, end, dst, origin, pos);
            dst.position(dst.limit());
        };
        WritePlan plan = new WritePlan(st.key(), st.base(), st.sizeBytes(), st.baseValidBytes(), st.ranges(),
                st.attributes(), source);
        try {
            return backend.write(plan).join();
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
            IOException io = asIo(e, st.key());
            if (FsException.errnoOf(io) == Errno.ESTALE) {
                unresolved.put(st.key(), io.getMessage());
            }
            throw io;
        }
    }

    private void fillBaseOrZero(DirtyLog.State st, long s, long e, ByteBuffer dst, int origin, long dstPos)
            throws IOException {
        if (s >= e) {
            return;
        }
        long baseEnd = Math.min(e, st.base() == null ? 0 : st.baseValidBytes());
        if (s < baseEnd) {
            readBase(st.key(), st.base(), s, dst.slice(origin + (int) (s - dstPos), (int) (baseEnd - s)));
        }
        long z = Math.max(s, baseEnd);
        if (z < e) {
            zero(dst.slice(origin + (int) (z - dstPos), (int) (e - z)));
        }
    }

    private static final byte[] ZEROES = new byte[64 << 10];

    /** Fills the remaining bytes of {@code b} with zeroes. */
    static void zero(ByteBuffer b) {
        while (b.hasRemaining()) {
            b.put(ZEROES, 0, Math.min(ZEROES.length, b.remaining()));
        }
    }

    /** At most this many changed granules are written to the local cache after one upload. */
    private static final int MAX_GRANULES_CACHED_PER_UPLOAD = 64;

    /**
     * Writeback to the cache: the granules an upload of {@code st} changed, built from local data only (the
     * dirty-log entry, cached granules of the base, zeroes), keyed by granule index. A granule that would need the
     * server is left out (it is fetched on demand). Call before the entry is deleted.
     */
    Map<Long, ByteBuffer> changedGranules(DirtyLog.State st, DirtyLog.Entry entry) {
        Map<Long, ByteBuffer> out = new HashMap<>();
        long gsz = config.granuleBytes();
        java.util.TreeSet<Long> touched = new java.util.TreeSet<>();
        for (ByteRange r : st.ranges()) {
            long end = Math.min(r.endBytes(), st.sizeBytes());
            for (long g = r.startBytes() / gsz; g * gsz < end && touched.size() < MAX_GRANULES_CACHED_PER_UPLOAD; g++) {
                touched.add(g);
            }
        }
        for (long g : touched) {
            long len = cache.granuleLength(st.sizeBytes(), g);
            if (len == 0) {
                continue;
            }
            ByteBuffer b = ByteBuffer.allocate((int) len);
            try {
                fillLocal(st, entry, g * gsz, b); // absolute fills: b stays at position 0, limit len
                out.put(g, b);
            } catch (IOException e) {
                // needs the server, or the entry is unreadable: not cached
            }
        }
        return out;
    }

    /** New-version bytes at {@code pos} from the entry, the base's cached granules and zeroes; never the server. */
    private void fillLocal(DirtyLog.State st, DirtyLog.Entry entry, long pos, ByteBuffer dst) throws IOException {
        long end = pos + dst.remaining();
        long gsz = config.granuleBytes();
        ByteRangeSet ranges = new ByteRangeSet(st.ranges());
        List<ByteRange> dirtyParts = ranges.within(pos, end);
        long p = pos;
        java.util.List<ByteRange> gaps = new ArrayList<>();
        for (ByteRange r : dirtyParts) {
            if (r.startBytes() > p) {
                gaps.add(new ByteRange(p, r.startBytes()));
            }
            entry.read(r.startBytes(), dst.slice((int) (r.startBytes() - pos), (int) r.lengthBytes()));
            p = r.endBytes();
        }
        if (p < end) {
            gaps.add(new ByteRange(p, end));
        }
        long valid = st.base() == null ? 0 : st.baseValidBytes();
        for (ByteRange gap : gaps) {
            long s = gap.startBytes();
            long baseEnd = Math.min(gap.endBytes(), valid);
            while (s < baseEnd) {
                long g = s / gsz;
                long e = Math.min(baseEnd, (g + 1) * gsz);
                if (!cache.read(st.key(), st.base(), g, (int) (s - g * gsz), dst.slice((int) (s - pos), (int) (e - s)))) {
                    throw new FsException(Errno.EIO, "granule " + g + " of the base is not cached");
                }
                s = e;
            }
            long z = Math.max(gap.startBytes(), baseEnd);
            if (z < gap.endBytes()) {
                zero(dst.slice((int) (z - pos), (int) (gap.endBytes() - z)));
            }
        }
    }

    /**
     * After an upload of {@code st} produced {@code nv}: cached granules of unchanged ranges follow the version
     * (header re-tag), the others are dropped, and the changed granules built by {@link #changedGranules} are
     * stored under {@code nv}.
     */
    void uploaded(DirtyLog.State st, ObjectVersion nv, Map<Long, ByteBuffer> changed) {
        if (st.base() != null) {
            WritePlan probe = new WritePlan(st.key(), st.base(), st.sizeBytes(), st.baseValidBytes(), st.ranges(),
                    Map.of(), (p, d) -> { });
            long gsz = config.granuleBytes();
            cache.retagAll(st.key(), st.base(), nv, g -> probe.unchanged(g * gsz,
                    cache.granuleLength(st.base().sizeBytes(), g)));
        }
        for (Map.Entry<Long, ByteBuffer> e : changed.entrySet()) {
            if (e.getValue().remaining() == cache.granuleLength(nv.sizeBytes(), e.getKey())) {
                cache.store(st.key(), nv, e.getKey(), e.getValue());
            }
        }
    }

    /**
     * Unmount: stops the uploader and tries pending uploads once more; what still cannot be uploaded stays in the
     * dirty log for the next mount (and is logged). Does not close the backend.
     */
    @Override
    public void close() {
        closed = true;
        synchronized (uploaderMonitor) {
            uploaderMonitor.notifyAll();
        }
        try {
            uploader.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (pendingCount() > 0 && !retryPending()) {
            Map<String, String> left = new HashMap<>(unresolved);
            for (NetfsFile f : pending) {
                left.putIfAbsent(f.key(), "server unreachable");
            }
            for (String k : recovered.keySet()) {
                left.putIfAbsent(k, "server unreachable");
            }
            LOG.log(System.Logger.Level.WARNING, "unmounting with changes not on the server, kept in "
                    + config.cacheDir().resolve("dirty") + " for the next mount: " + left);
        }
        releaseLock();
    }
}
