package org.iomap4j.netfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;

/**
 * The netfs state of one remote object while a filesystem has it open (the kernel's {@code netfs_inode}): its
 * key, the server version its clean bytes belong to, the size and attributes the next upload will give it, and
 * the ranges written locally since (kept in the {@link DirtyLog}).
 *
 * <p>Data path: the filesystem maps the file's bytes MAPPED onto {@link #device()} at address = file offset, so
 * the core's page cache reads and writes back through this object: a device read is stitched from the dirty log
 * (written, not yet uploaded), the {@link LocalCache} and the server (whole granules, stored in the cache), and
 * zeroes past the valid part of the base; a device write (writeback) goes to the dirty log; a device flush
 * ({@code fsync}) is {@link #commit()}.
 *
 * <p>Locks: {@code commitLock} (one upload at a time) is taken before the object's monitor; the monitor guards
 * the fields and dirty-log I/O and is a leaf otherwise (never held during server I/O or while waiting for a folio).
 * An upload holding {@code commitLock} never waits for a folio lock, so a read (holding folio locks) that met
 * ESTALE may wait on {@code commitLock} for an upload of this file to finish before it reads again.
 * The core may call {@link #setSize} with a folio lock held.
 */
public final class NetfsFile {
    private static final System.Logger LOG = System.getLogger(NetfsFile.class.getName());

    private final Netfs netfs;
    private final NetfsDevice device;
    private final Object commitLock = new Object();
    // Guarded by this.
    private String key;
    private ObjectVersion base;
    private long sizeBytes;
    private long baseValidBytes;
    private long truncatedToSinceSnapshot = Long.MAX_VALUE;
    private final ByteRangeSet dirty = new ByteRangeSet();
    private DirtyLog.Entry log;
    private long changeGen;
    private long committedGen;
    private Map<String, String> attributes;
    private boolean discarded;
    private boolean pending;
    private NetfsInode pageCacheHost;
    /** Where the next read of a sequential reader is expected (end of the last server fetch), or -1. */
    private long seqNextBytes = -1;

    /** Granules fetched ahead of a sequential reader that misses the local cache (pasted into the page cache). */
    static final int READAHEAD_GRANULES = 8;

    NetfsFile(Netfs netfs, String key, ObjectVersion base, Map<String, String> attributes) {
        this.netfs = netfs;
        this.key = key;
        this.base = base;
        this.sizeBytes = base == null ? 0 : base.sizeBytes();
        this.baseValidBytes = this.sizeBytes;
        this.attributes = new HashMap<>(attributes);
        this.device = new NetfsDevice(this);
    }

    /** Adopts a dirty-log entry recovered at mount: the object has unsent changes. */
    NetfsFile(Netfs netfs, DirtyLog.Entry entry) {
        DirtyLog.State st = entry.recovered();
        this.netfs = netfs;
        this.key = st.key();
        this.base = st.base();
        this.sizeBytes = st.sizeBytes();
        this.baseValidBytes = st.baseValidBytes();
        this.attributes = new HashMap<>(st.attributes());
        for (ByteRange r : st.ranges()) {
            dirty.add(r.startBytes(), r.endBytes());
        }
        this.log = entry;
        this.changeGen = 1;
        this.device = new NetfsDevice(this);
    }

    /**
     * The inode whose page cache takes the extra bytes of server reads (whole granules, or more than asked): they
     * are pasted into folios not cached yet ({@link org.iomap4j.iomap.BufferedIo#pasteExtra}), so that the next
     * read of them is a page-cache hit. Without a host the extra only goes to the local cache.
     *
     * @param host the inode
     */
    public synchronized void setPageCacheHost(NetfsInode host) {
        this.pageCacheHost = host;
    }

    /**
     * The device view the filesystem maps this file's bytes onto (address = file offset).
     *
     * @return the device view
     */
    public BlockDevice device() {
        return device;
    }

    /** {@return the object key (changes on rename)} */
    public synchronized String key() {
        return key;
    }

    /**
     * The server version the clean bytes belong to (null for an object not yet uploaded).
     *
     * @return the version, or null
     */
    public synchronized ObjectVersion version() {
        return base;
    }

    /**
     * The size the object has locally (what the next upload stores).
     *
     * @return the local size in bytes
     */
    public synchronized long sizeBytes() {
        return sizeBytes;
    }

    /** {@return the attributes stored with the object at the next upload} */
    public synchronized Map<String, String> attributes() {
        return Map.copyOf(attributes);
    }

    /**
     * True if there are local changes not yet on the server.
     *
     * @return true if dirty
     */
    public synchronized boolean isDirty() {
        return changeGen != committedGen;
    }

    /**
     * True if an upload failed because the server was unreachable and is being retried.
     *
     * @return true if pending
     */
    public synchronized boolean isPending() {
        return pending;
    }

    /**
     * Records a new size (an extending write or a truncate): bytes past a smaller size are forgotten, and read
     * as zeroes if the file grows again.
     *
     * @param newSizeBytes the new size in bytes
     */
    public synchronized void setSize(long newSizeBytes) {
        if (newSizeBytes == sizeBytes) {
            return;
        }
        if (newSizeBytes < sizeBytes) {
            baseValidBytes = Math.min(baseValidBytes, newSizeBytes);
            truncatedToSinceSnapshot = Math.min(truncatedToSinceSnapshot, newSizeBytes);
            dirty.clipTo(newSizeBytes);
        }
        sizeBytes = newSizeBytes;
        changeGen++;
    }

    /**
     * Records a change that has no bytes (an object created here and not uploaded yet, even if nothing is written to
     * it): the next {@link #commit()} uploads the object.
     */
    public synchronized void markChanged() {
        changeGen++;
    }

    /**
     * Replaces the attributes stored with the object at the next upload.
     *
     * @param newAttributes the attributes
     */
    public synchronized void setAttributes(Map<String, String> newAttributes) {
        if (!newAttributes.equals(attributes)) {
            attributes = new HashMap<>(newAttributes);
            changeGen++;
        }
    }

    /**
     * Close-to-open revalidation: {@code current} is the server's version now. A clean file whose version changed
     * adopts it (its cached granules no longer match and are never served).
     *
     * @return true if the contents changed: the caller drops its page cache of the file
     * @param current the server's current version
     */
    public synchronized boolean revalidate(ObjectVersion current) {
        if (current == null || current.equals(base) || changeGen != committedGen) {
            return false;
        }
        ObjectVersion old = base;
        base = current;
        sizeBytes = current.sizeBytes();
        baseValidBytes = sizeBytes;
        if (old != null) {
            netfs.cache().invalidate(key);
        }
        return true;
    }

    /**
     * The object was renamed on the server to {@code newKey}, now at {@code version}. The file must be clean.
     *
     * @param newKey the new key
     * @param version the object's version after the rename
     */
    public synchronized void renamed(String newKey, ObjectVersion version) {
        netfs.cache().invalidate(key);
        key = newKey;
        base = version;
        baseValidBytes = Math.min(sizeBytes, version.sizeBytes());
    }

    /**
     * The object is deleted: local changes are dropped, no upload will happen.
     *
     * @throws IOException if the dirty log entry cannot be deleted
     */
    public void discard() throws IOException {
        synchronized (commitLock) {
            synchronized (this) {
                discarded = true;
                committedGen = changeGen;
                dirty.clear();
                if (log != null) {
                    log.delete();
                    log = null;
                }
                netfs.cache().invalidate(key);
            }
        }
        netfs.notPending(this);
    }

    /**
     * Fills {@code dst} with object bytes at {@code posBytes}: dirty log, then base (local cache, server), then
     * zeroes.
     *
     * @throws IOException EIO when the server is needed and fails (or is unreachable), ESTALE if the object
     *                     changed on the server under a clean cached version
     */
    void readRange(long posBytes, ByteBuffer dst) throws IOException {
        // A read that took its snapshot just before an upload of this file finished asks the server for the old
        // version and gets ESTALE: it is read again from the new state (bounded: uploads do not come that fast).
        for (int attempt = 0; ; attempt++) {
            ObjectVersion before = version();
            try {
                readRangeOnce(posBytes, dst.duplicate());
                dst.position(dst.limit());
                return;
            } catch (FsException e) {
                if (e.errno() != Errno.ESTALE || attempt >= 3) {
                    throw e;
                }
                // An upload of ours may have replaced the version on the server and not yet here: wait for it (the
                // uploader never waits for a folio lock, so a reader holding folio locks may wait for it).
                synchronized (commitLock) {
                    if (java.util.Objects.equals(before, version())) {
                        throw e; // changed by somebody else
                    }
                }
            }
        }
    }

    private void readRangeOnce(long posBytes, ByteBuffer dst) throws IOException {
        long end = posBytes + dst.remaining();
        int origin = dst.position();
        String k;
        ObjectVersion b;
        long valid;
        List<ByteRange> fromBase;
        List<RangeData> fetched = new java.util.ArrayList<>();
        long gsz = netfs.cache().granuleBytes();
        long ahead;
        synchronized (this) {
            // Sequential: from the start, or near where the last fetch (with its readahead) ended.
            boolean seq = posBytes == 0 || (seqNextBytes >= 0 && Math.abs(posBytes - seqNextBytes) <= gsz);
            ahead = seq ? READAHEAD_GRANULES * gsz : 0;
            seqNextBytes = end + ahead;
            k = key;
            b = base;
            valid = baseValidBytes;
            // Dirty bytes come from the log now (under the monitor: commit may delete the log right after).
            for (ByteRange r : dirty.within(posBytes, end)) {
                log.read(r.startBytes(), dst.slice(origin + (int) (r.startBytes() - posBytes), (int) r.lengthBytes()));
            }
            fromBase = complement(posBytes, end, dirty.within(posBytes, end));
        }
        for (ByteRange r : fromBase) {
            long s = r.startBytes();
            long e = r.endBytes();
            long baseEnd = Math.min(e, valid);
            if (s < baseEnd) {
                netfs.readBase(k, b, s, dst.slice(origin + (int) (s - posBytes), (int) (baseEnd - s)), fetched,
                        ahead);
            }
            long zs = Math.max(s, baseEnd);
            if (zs < e) {
                Netfs.zero(dst.slice(origin + (int) (zs - posBytes), (int) (e - zs)));
            }
        }
        dst.position(dst.limit());
        pasteFetched(b, fetched);
    }

    /**
     * Pastes what server reads returned beyond the asked range into the page cache: only bytes of version
     * {@code b} that are still the file's contents (the base is still {@code b}, below the valid part of the base
     * and the size, not written locally). Under the monitor, so that no write-back of newer bytes slips in between
     * the check and the paste; the paste never waits for a lock (it only creates folios), so holding the monitor
     * keeps the lock order.
     */
    private void pasteFetched(ObjectVersion b, List<RangeData> fetched) {
        if (fetched.isEmpty()) {
            return;
        }
        synchronized (this) {
            if (pageCacheHost == null || discarded || !java.util.Objects.equals(base, b)) {
                return;
            }
            long limit = Math.min(baseValidBytes, sizeBytes);
            for (RangeData rd : fetched) {
                long s = rd.posBytes();
                long e = Math.min(rd.endBytes(), limit);
                if (s >= e) {
                    continue;
                }
                for (ByteRange r : complement(s, e, dirty.within(s, e))) {
                    ByteBuffer part = rd.data().slice(rd.data().position() + (int) (r.startBytes() - s),
                            (int) r.lengthBytes());
                    org.iomap4j.iomap.BufferedIo.pasteExtra(pageCacheHost, r.startBytes(), part);
                }
            }
        }
    }

    private static List<ByteRange> complement(long start, long end, List<ByteRange> covered) {
        List<ByteRange> out = new java.util.ArrayList<>();
        long p = start;
        for (ByteRange r : covered) {
            if (r.startBytes() > p) {
                out.add(new ByteRange(p, r.startBytes()));
            }
            p = Math.max(p, r.endBytes());
        }
        if (p < end) {
            out.add(new ByteRange(p, end));
        }
        return out;
    }

    /** Writeback: records {@code src} at {@code posBytes} in the dirty log (durable at the next commit). */
    void writeRange(long posBytes, ByteBuffer src) throws IOException {
        synchronized (this) {
            if (discarded) {
                src.position(src.limit()); // writeback racing an unlink: the object is gone
                return;
            }
            if (log == null) {
                log = netfs.dirtyLog().create();
            }
            long end = posBytes + src.remaining();
            log.write(posBytes, src);
            dirty.add(posBytes, end);
            changeGen++;
        }
    }

    /**
     * Makes the local changes durable and uploads them: the dirty-log entry is persisted (data and state fsync'd)
     * first, so that once this returns the data survives a crash of the mount; then the new version is uploaded.
     * If the server is unreachable the upload is retried in the background and this returns normally: the data is
     * in the dirty log (disconnected operation).
     *
     * @throws IOException EIO for a server error (the data stays in the dirty log and is retried at the next
     *                     commit), ESTALE if the base changed on the server (reported in {@link Netfs#unresolved()})
     */
    public void commit() throws IOException {
        commit(true);
    }

    /**
     * Uploads the local changes as {@link #commit()} does; with {@code durable} false (a close, not an fsync) the
     * dirty-log entry is persisted (fsync'd) only if the upload fails — then the changes wait for the server as
     * after an fsync — so that a close of a small file costs one upload and no local fsync. A crash during such an
     * upload loses what was never fsync'd, as on any filesystem.
     *
     * @param durable true to persist the entry before the upload (fsync), false to persist it only on failure
     * @throws IOException as {@link #commit()}
     */
    public void commit(boolean durable) throws IOException {
        synchronized (commitLock) {
            DirtyLog.State st;
            long gen;
            DirtyLog.Entry entry;
            synchronized (this) {
                if (discarded || changeGen == committedGen) {
                    return;
                }
                if (log == null) {
                    log = netfs.dirtyLog().create();
                }
                gen = changeGen;
                List<ByteRange> ranges = dirty.within(0, sizeBytes);
                st = new DirtyLog.State(key, base, sizeBytes, baseValidBytes, ranges, attributes);
                entry = log;
                if (durable) {
                    entry.persist(st);
                }
                truncatedToSinceSnapshot = Long.MAX_VALUE;
            }
            ObjectVersion nv;
            try {
                nv = netfs.upload(st, entry);
            } catch (IOException e) {
                if (!durable) {
                    synchronized (this) {
                        if (log == entry && !discarded) {
                            entry.persist(st); // kept like fsync'd data: retried, and uploaded after a crash
                        }
                    }
                }
                if (!(e instanceof BackendUnavailableException)) {
                    throw e;
                }
                boolean already;
                synchronized (this) {
                    already = pending;
                    pending = true;
                }
                netfs.markPending(this);
                LOG.log(already ? System.Logger.Level.DEBUG : System.Logger.Level.INFO, "'" + st.key()
                        + "': server unreachable, " + st.ranges().size()
                        + " written ranges kept in the dirty log for upload on reconnection");
                return;
            }
            // Built from the entry before it goes; kept only if nothing was written since the snapshot (else the
            // entry may hold bytes that are not in nv).
            java.util.Map<Long, ByteBuffer> changed = netfs.changedGranules(st, entry);
            synchronized (this) {
                pending = false;
                base = nv;
                baseValidBytes = Math.min(nv.sizeBytes(), truncatedToSinceSnapshot);
                if (changeGen != gen) {
                    changed = java.util.Map.of();
                }
                if (changeGen == gen) {
                    committedGen = gen;
                    dirty.clear();
                    log.delete();
                    log = null;
                } else {
                    // Changed during the upload: every range stays dirty (re-sent next time) over the new base.
                    log.persist(new DirtyLog.State(key, base, sizeBytes, baseValidBytes, dirty.toList(), attributes));
                }
            }
            netfs.uploaded(st, nv, changed);
            netfs.notPending(this);
        }
    }

    /** For the background uploader: commit, logging instead of throwing. */
    boolean retryCommit() {
        try {
            commit();
            synchronized (this) {
                return !pending;
            }
        } catch (IOException e) {
            if (FsException.errnoOf(e) == Errno.ESTALE) {
                return true; // reported as unresolved; stop retrying
            }
            LOG.log(System.Logger.Level.WARNING, "upload of '" + key() + "' failed: " + e.getMessage());
            return false;
        }
    }

    @Override
    public String toString() {
        return "NetfsFile[" + key() + "]";
    }
}
