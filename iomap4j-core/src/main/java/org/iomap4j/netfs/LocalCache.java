package org.iomap4j.netfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * The persistent local cache of clean object data (the kernel's fscache/cachefiles, as far as netfs needs it): one
 * file per granule of an object, bounded in total size with least-recently-used eviction, every granule tagged
 * with the object version it was read from.
 *
 * <p>Layout: {@code DIR/granules/HH/SHA256(key).G} where {@code G} is the granule index (object offset /
 * granule size). A granule file is a fixed {@value #HEADER_BYTES}-byte header then the granule's bytes:
 * <pre>
 *   0  int    magic 'NFSG'
 *   4  int    granule size in bytes (the cache's, so that a cache made with another granule is never misread)
 *   8  long   object size in bytes of the version
 *  16  int    data length (granule size, or less for the object's last granule)
 *  20  int    CRC32C of the data
 *  24  short  version tag length (UTF-8 bytes, &le; {@value #MAX_TAG_BYTES})
 *  26  bytes  version tag
 * </pre>
 * A granule is served only to a reader that expects the same version tag and object size, and only if its data
 * length and CRC check out: a changed object is never served stale, and a torn or damaged file is a miss (and
 * removed), never wrong data. Granules are written to a temporary name and renamed into place; they are not
 * fsync'd (a lost granule is a miss).
 *
 * <p>LRU: the order is kept in memory; at start it is rebuilt from the files' modification times, i.e. store order
 * (hits of an earlier mount are not remembered). Thread-safe: the index is guarded by its monitor, file I/O runs outside
 * it; a reader racing an eviction sees a miss.
 */
public final class LocalCache {
    private static final System.Logger LOG = System.getLogger(LocalCache.class.getName());
    static final int HEADER_BYTES = 256;
    static final int MAX_TAG_BYTES = HEADER_BYTES - 26;
    private static final int MAGIC = 0x4e465347; // "NFSG"

    private final Path dir;
    private final int granuleBytes;
    private final long limitBytes;
    /** granule file name -> bytes on disk, in LRU order (access order). Guarded by itself. */
    private final LinkedHashMap<String, Long> lru = new LinkedHashMap<>(64, 0.75f, true);
    private long totalBytes;
    /** Granule names whose CRC was checked (or that this mount wrote): later hits read only the asked bytes. */
    private final java.util.Set<String> verified = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private final AtomicLong tmpCounter = new AtomicLong();

    /**
     * Opens (creating) the cache under {@code dir}/granules, indexing the granules already there.
     *
     * @throws IOException if the directory cannot be created or listed
     * @param dir the netfs cache directory
     * @param granuleBytes granule size in bytes (a power of two)
     * @param limitBytes bound of the granule bytes on disk
     */
    public LocalCache(Path dir, int granuleBytes, long limitBytes) throws IOException {
        this.dir = dir.resolve("granules");
        this.granuleBytes = granuleBytes;
        this.limitBytes = limitBytes;
        Files.createDirectories(this.dir);
        scan();
    }

    private void scan() throws IOException {
        record Found(String name, long sizeBytes, long mtimeMillis) {
        }
        List<Found> found = new ArrayList<>();
        try (DirectoryStream<Path> subs = Files.newDirectoryStream(dir)) {
            for (Path sub : subs) {
                if (!Files.isDirectory(sub)) {
                    continue;
                }
                try (DirectoryStream<Path> files = Files.newDirectoryStream(sub)) {
                    for (Path f : files) {
                        String name = sub.getFileName() + "/" + f.getFileName();
                        if (f.getFileName().toString().startsWith("tmp-")) {
                            Files.deleteIfExists(f); // an interrupted store
                            continue;
                        }
                        found.add(new Found(name, Files.size(f), Files.getLastModifiedTime(f).toMillis()));
                    }
                }
            }
        }
        found.sort((a, b) -> Long.compare(a.mtimeMillis, b.mtimeMillis));
        synchronized (lru) {
            for (Found f : found) {
                lru.put(f.name, f.sizeBytes);
                totalBytes += f.sizeBytes;
            }
        }
        evict(0);
    }

    /** {@return the granule size in bytes} */
    public int granuleBytes() {
        return granuleBytes;
    }

    /**
     * Bytes of granule files on disk now.
     *
     * @return the bytes on disk
     */
    public long totalBytes() {
        synchronized (lru) {
            return totalBytes;
        }
    }

    /**
     * Number of granules cached now.
     *
     * @return the granule count
     */
    public int granuleCount() {
        synchronized (lru) {
            return lru.size();
        }
    }

    /** {@return reads served from the cache since it was opened} */
    public long hits() {
        return hits.get();
    }

    /** {@return reads the cache could not serve since it was opened} */
    public long misses() {
        return misses.get();
    }

    /**
     * Length in bytes of granule {@code granule} of an object of {@code objectSizeBytes} (0 past its end).
     *
     * @param objectSizeBytes the object's size in bytes
     * @param granule the granule index (object offset / granule size)
     * @return the granule's length in bytes
     */
    public long granuleLength(long objectSizeBytes, long granule) {
        long start = granule * granuleBytes;
        return Math.max(0, Math.min(granuleBytes, objectSizeBytes - start));
    }

    /**
     * Copies {@code dst.remaining()} bytes at {@code offsetInGranule} of granule {@code granule} of {@code key}
     * in {@code version} into {@code dst}, if that granule is cached for that version and intact.
     *
     * @return true on a hit (dst filled); false on a miss (dst untouched)
     * @param key the object key
     * @param version the version the reader expects
     * @param granule the granule index
     * @param offsetInGranule byte offset in the granule
     * @param dst buffer filled from its position
     */
    public boolean read(String key, ObjectVersion version, long granule, int offsetInGranule, ByteBuffer dst) {
        String name = nameOf(key, granule);
        synchronized (lru) {
            if (lru.get(name) == null) {
                misses.incrementAndGet();
                return false;
            }
        }
        Path p = dir.resolve(name);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
            readFully(ch, header, 0);
            header.flip();
            Header h = Header.decode(header);
            long expectLen = granuleLength(version.sizeBytes(), granule);
            if (h == null || h.granuleBytes != granuleBytes || !h.tag.equals(version.tag())
                    || h.objectSizeBytes != version.sizeBytes() || h.dataBytes != expectLen
                    || offsetInGranule + (long) dst.remaining() > h.dataBytes) {
                if (h == null || h.granuleBytes != granuleBytes) {
                    drop(name); // damaged or foreign
                }
                misses.incrementAndGet();
                return false; // another version: a reader of that version may still want it
            }
            if (verified.contains(name)) {
                readFully(ch, dst.duplicate(), HEADER_BYTES + offsetInGranule);
                dst.position(dst.limit());
            } else {
                ByteBuffer data = ByteBuffer.allocate(h.dataBytes);
                readFully(ch, data, HEADER_BYTES);
                data.flip();
                CRC32C crc = new CRC32C();
                crc.update(data.duplicate());
                if ((int) crc.getValue() != h.crc) {
                    LOG.log(System.Logger.Level.WARNING, "local cache granule " + p + " of '" + key
                            + "' fails its CRC: dropped");
                    drop(name);
                    misses.incrementAndGet();
                    return false;
                }
                verified.add(name);
                dst.put(data.slice(offsetInGranule, dst.remaining()));
            }
            hits.incrementAndGet();
            return true;
        } catch (NoSuchFileException e) {
            drop(name);
            misses.incrementAndGet();
            return false;
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "local cache read of " + p + " failed: " + e + "; treated as a miss");
            drop(name);
            misses.incrementAndGet();
            return false;
        }
    }

    /**
     * Stores granule {@code granule} of {@code key} in {@code version}: {@code data} must hold exactly the
     * granule's bytes ({@link #granuleLength}). Failures (disk full) are logged and leave the granule uncached.
     *
     * @param key the object key
     * @param version the version the bytes belong to
     * @param granule the granule index
     * @param data the granule's bytes, position to limit
     */
    public void store(String key, ObjectVersion version, long granule, ByteBuffer data) {
        long expect = granuleLength(version.sizeBytes(), granule);
        if (data.remaining() != expect || expect == 0) {
            throw new IllegalArgumentException("granule " + granule + " of '" + key + "' needs " + expect
                    + " bytes, got " + data.remaining());
        }
        byte[] tag = version.tag().getBytes(StandardCharsets.UTF_8);
        if (tag.length > MAX_TAG_BYTES) {
            return; // not cacheable; reads go to the server
        }
        String name = nameOf(key, granule);
        Path target = dir.resolve(name);
        Path tmp = target.resolveSibling("tmp-" + tmpCounter.incrementAndGet() + "-" + target.getFileName());
        long fileBytes = HEADER_BYTES + expect;
        try {
            Files.createDirectories(target.getParent());
            CRC32C crc = new CRC32C();
            crc.update(data.duplicate());
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
            header.putInt(MAGIC).putInt(granuleBytes).putLong(version.sizeBytes()).putInt((int) expect)
                    .putInt((int) crc.getValue()).putShort((short) tag.length).put(tag);
            header.clear();
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writeFully(ch, header, 0);
                writeFully(ch, data.duplicate(), HEADER_BYTES);
            }
            evict(fileBytes);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            verified.add(name);
            synchronized (lru) {
                Long old = lru.put(name, fileBytes);
                totalBytes += fileBytes - (old == null ? 0 : old);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "local cache store of granule " + granule + " of '" + key
                    + "' failed: " + e);
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort: scan() removes tmp- files at the next start
            }
        }
    }

    /**
     * After an upload turned version {@code from} of {@code key} into {@code to}: every cached granule of
     * {@code from} for which {@code unchanged} says its bytes are the same in {@code to} (and whose length is the
     * same in both) is re-tagged to {@code to} by rewriting its header in place; every other granule of the key is
     * dropped. Costs one header write per kept granule.
     *
     * @param key the object key
     * @param from the version before the upload
     * @param to the version the upload made
     * @param unchanged true for a granule index whose bytes the upload did not change
     */
    public void retagAll(String key, ObjectVersion from, ObjectVersion to, java.util.function.LongPredicate unchanged) {
        for (String name : namesOf(key)) {
            long g = Long.parseLong(name.substring(name.lastIndexOf('.') + 1));
            long len = granuleLength(from.sizeBytes(), g);
            byte[] tag = to.tag().getBytes(StandardCharsets.UTF_8);
            boolean keep = len > 0 && len == granuleLength(to.sizeBytes(), g) && unchanged.test(g)
                    && tag.length <= MAX_TAG_BYTES;
            if (keep) {
                Path p = dir.resolve(name);
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
                    readFully(ch, header, 0);
                    header.flip();
                    Header h = Header.decode(header);
                    if (h != null && h.granuleBytes == granuleBytes && h.tag.equals(from.tag())
                            && h.objectSizeBytes == from.sizeBytes() && h.dataBytes == len) {
                        ByteBuffer nh = ByteBuffer.allocate(HEADER_BYTES);
                        nh.putInt(MAGIC).putInt(granuleBytes).putLong(to.sizeBytes()).putInt((int) len)
                                .putInt(h.crc).putShort((short) tag.length).put(tag);
                        nh.clear();
                        writeFully(ch, nh, 0);
                        continue;
                    }
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "local cache: re-tag of " + p + " failed: " + e);
                }
            }
            drop(name);
        }
    }

    /**
     * Whether a granule file of {@code key} is indexed, whatever its version (a hint for readahead: a stale or
     * damaged granule is still a miss at {@link #read}).
     */
    public boolean mayHold(String key, long granule) {
        String n = nameOf(key, granule);
        synchronized (lru) {
            return lru.containsKey(n);
        }
    }

    /**
     * Removes one granule of {@code key}, whatever its version.
     *
     * @param key the object key
     * @param granule the granule index
     */
    public void dropGranule(String key, long granule) {
        drop(nameOf(key, granule));
    }

    /**
     * Removes every granule of {@code key} (object deleted or renamed).
     *
     * @param key the object key
     */
    public void invalidate(String key) {
        for (String n : namesOf(key)) {
            drop(n);
        }
    }

    /** The cached granule files of {@code key} (a scan of the index: caches hold thousands, not millions). */
    private List<String> namesOf(String key) {
        String prefix = nameOf(key, 0);
        prefix = prefix.substring(0, prefix.length() - 1); // "HH/hash."
        List<String> names = new ArrayList<>();
        synchronized (lru) {
            for (String n : lru.keySet()) {
                if (n.startsWith(prefix)) {
                    names.add(n);
                }
            }
        }
        return names;
    }

    private void drop(String name) {
        verified.remove(name);
        synchronized (lru) {
            Long sz = lru.remove(name);
            if (sz != null) {
                totalBytes -= sz;
            }
        }
        try {
            Files.deleteIfExists(dir.resolve(name));
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "local cache: cannot remove " + name + ": " + e);
        }
    }

    /** Evicts least recently used granules until {@code incomingBytes} more fit under the bound. */
    private void evict(long incomingBytes) {
        List<String> victims = new ArrayList<>();
        synchronized (lru) {
            long projected = totalBytes + incomingBytes;
            Iterator<Map.Entry<String, Long>> it = lru.entrySet().iterator();
            while (projected > limitBytes && it.hasNext()) {
                Map.Entry<String, Long> e = it.next();
                victims.add(e.getKey());
                verified.remove(e.getKey());
                projected -= e.getValue();
                totalBytes -= e.getValue();
                it.remove();
            }
        }
        for (String v : victims) {
            try {
                Files.deleteIfExists(dir.resolve(v));
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "local cache: cannot evict " + v + ": " + e);
            }
        }
    }

    /** "HH/SHA256HEX.G": the file of granule {@code granule} of {@code key}. */
    static String nameOf(String key, long granule) {
        String hex = sha256Hex(key);
        return hex.substring(0, 2) + "/" + hex + "." + granule;
    }

    private static String sha256Hex(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is a required JDK algorithm", e);
        }
    }

    static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
        long p = pos;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, p);
            if (n < 0) {
                throw new IOException("short file: " + dst.remaining() + " bytes missing at " + p);
            }
            p += n;
        }
    }

    static void writeFully(FileChannel ch, ByteBuffer src, long pos) throws IOException {
        long p = pos;
        while (src.hasRemaining()) {
            p += ch.write(src, p);
        }
    }

    /** A decoded granule header, or null from {@link #decode} when the magic or the lengths are wrong. */
    private record Header(int granuleBytes, long objectSizeBytes, int dataBytes, int crc, String tag) {
        static Header decode(ByteBuffer b) {
            if (b.remaining() < HEADER_BYTES || b.getInt() != MAGIC) {
                return null;
            }
            int granule = b.getInt();
            long size = b.getLong();
            int len = b.getInt();
            int crc = b.getInt();
            int tagLen = b.getShort();
            if (tagLen <= 0 || tagLen > MAX_TAG_BYTES || len < 0 || len > granule || size < 0) {
                return null;
            }
            byte[] tag = new byte[tagLen];
            b.get(tag);
            return new Header(granule, size, len, crc, new String(tag, StandardCharsets.UTF_8));
        }
    }
}
