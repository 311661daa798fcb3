package org.iomap4j.s3;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * The mount's directory listing cache: for each directory path whose listing this mount has (a paginated
 * ListObjectsV2 by readdir, or a directory it made itself, empty), the children by name, kept for the mount's
 * metadata TTL ({@link S3MountOptions#metadataTtlMillis()}). While a listing is fresh a lookup in that directory is
 * answered from it: an absent name is ENOENT without a request (the negative-lookup cache), a directory or a file
 * whose attributes this mount already holds for the listed ETag needs no request, another file one HEAD (usually
 * already under way: a listing starts the HEADs of its files in the background, {@link #prefetch}). This mount's
 * own namespace changes update the cached listings ({@link #added}, {@link #removed}, {@link #dropTree}); another
 * client's show once the listing is older than the TTL.
 *
 * <p>Thread-safe: one monitor, a leaf lock (never held during I/O); prefetched HEADs run on virtual threads, at most
 * {@link #PREFETCH_IN_FLIGHT} at a time.
 */
final class S3DirCache {
    /**
     * One child of a cached directory.
     *
     * @param directory true for a common prefix (or a directory made here)
     * @param sizeBytes the object's size (0 for a directory)
     * @param etag      the listed ETag, or null (a directory, or an object not uploaded yet)
     */
    record Entry(boolean directory, long sizeBytes, String etag) {
    }

    /** What a cached listing says about a name: {@code entry} null means absent. */
    record Answer(Entry entry) {
        boolean absent() {
            return entry == null;
        }
    }

    /** HEADs of a listing's files running at once. */
    static final int PREFETCH_IN_FLIGHT = 16;
    /** At most this many HEADs started per listing. */
    static final int PREFETCH_MAX = 10_000;
    /** Cached entries over all directories before everything is dropped (a bound, not an LRU). */
    private static final int MAX_ENTRIES = 1_000_000;

    private static final class Listing {
        final long filledNanos;
        final Map<String, Entry> children;

        Listing(long filledNanos, Map<String, Entry> children) {
            this.filledNanos = filledNanos;
            this.children = children;
        }
    }

    private final long ttlNanos;
    private final Map<String, Listing> byDir = new TreeMap<>();
    private final Map<String, CompletableFuture<S3Backend.ObjectInfo>> heads = new ConcurrentHashMap<>();
    /** Directories found too large for a one-page listing at lookup, with when (System.nanoTime()). */
    private final Map<String, Long> large = new java.util.HashMap<>();
    private final Semaphore inFlight = new Semaphore(PREFETCH_IN_FLIGHT);
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private int entries;

    /** A cache keeping listings {@code ttlMillis} milliseconds (0: nothing is cached). */
    S3DirCache(long ttlMillis) {
        this.ttlNanos = ttlMillis * 1_000_000L;
    }

    private boolean isFresh(Listing l) {
        return l != null && System.nanoTime() - l.filledNanos < ttlNanos;
    }

    /**
     * The fresh listing of {@code dirPath}, or null.
     *
     * @return name -> entry (a sorted copy) or null if there is no listing younger than the TTL
     */
    synchronized Map<String, Entry> listing(String dirPath) {
        Listing l = byDir.get(dirPath);
        return isFresh(l) ? new TreeMap<>(l.children) : null;
    }

    /**
     * What the fresh listing of {@code dirPath} says about {@code name}, or null if there is no fresh listing.
     */
    synchronized Answer lookup(String dirPath, String name) {
        Listing l = byDir.get(dirPath);
        if (!isFresh(l)) {
            return null;
        }
        return new Answer(l.children.get(name));
    }

    /** Stores the complete listing of {@code dirPath} just read (or known: a new directory is empty). */
    synchronized void fill(String dirPath, Map<String, Entry> children) {
        if (ttlNanos == 0) {
            return;
        }
        Listing old = byDir.remove(dirPath);
        if (old != null) {
            entries -= old.children.size();
        }
        if (entries + children.size() > MAX_ENTRIES) {
            byDir.clear();
            entries = 0;
        }
        byDir.put(dirPath, new Listing(System.nanoTime(), new TreeMap<>(children)));
        entries += children.size();
    }

    /** {@code dirPath} has more children than a lookup lists at once: lookups in it ask per name for the TTL. */
    synchronized void markLarge(String dirPath) {
        if (large.size() > 10_000) {
            large.clear();
        }
        large.put(dirPath, System.nanoTime());
    }

    /** True if {@code dirPath} was found large within the TTL (or nothing is cached at all). */
    synchronized boolean isLarge(String dirPath) {
        Long t = large.get(dirPath);
        return ttlNanos == 0 || (t != null && System.nanoTime() - t < ttlNanos);
    }

    /** This mount made {@code path} (or replaced what was there): its parent's listing shows it. */
    synchronized void added(String path, Entry e) {
        Listing l = byDir.get(S3Paths.parent(path));
        if (l != null && l.children.put(S3Paths.name(path), e) == null) {
            entries++;
        }
        heads.remove(path);
    }

    /** This mount removed {@code path}: its parent's listing no longer shows it. */
    synchronized void removed(String path) {
        Listing l = byDir.get(S3Paths.parent(path));
        if (l != null && l.children.remove(S3Paths.name(path)) != null) {
            entries--;
        }
        heads.remove(path);
    }

    /** Forgets the listings of {@code path} and of every directory below it (a directory renamed or removed). */
    synchronized void dropTree(String path) {
        var it = byDir.entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            if (e.getKey().equals(path) || path.isEmpty() || e.getKey().startsWith(path + "/")) {
                entries -= e.getValue().children.size();
                it.remove();
            }
        }
        heads.keySet().removeIf(p -> p.startsWith(path + "/") || path.isEmpty());
        large.keySet().removeIf(p -> p.equals(path) || p.startsWith(path + "/") || path.isEmpty());
    }

    /**
     * Starts HEADs of {@code paths} in the background (the attributes of a listing's files, which a READDIRPLUS or
     * an {@code ls -l} asks for next), at most {@link #PREFETCH_IN_FLIGHT} at a time and {@link #PREFETCH_MAX} per
     * call; {@link #takePrefetched} hands a result to the lookup that needs it.
     *
     * @param paths the file paths
     * @param head  the HEAD of one path (null: no such object)
     */
    void prefetch(List<String> paths, HeadCall head) {
        if (ttlNanos == 0 || paths.isEmpty()) {
            return;
        }
        // In listing order: a READDIRPLUS or a stat loop asks in that order, so the first names are answered first
        // (workers take the next path from a queue; none starts a HEAD out of order).
        java.util.concurrent.ConcurrentLinkedQueue<Map.Entry<String, CompletableFuture<S3Backend.ObjectInfo>>> todo =
                new java.util.concurrent.ConcurrentLinkedQueue<>();
        int n = 0;
        for (String p : paths) {
            if (n++ >= PREFETCH_MAX) {
                break;
            }
            CompletableFuture<S3Backend.ObjectInfo> f = new CompletableFuture<>();
            if (heads.putIfAbsent(p, f) == null) {
                todo.add(Map.entry(p, f));
            }
        }
        int workers = Math.min(PREFETCH_IN_FLIGHT, todo.size());
        for (int w = 0; w < workers; w++) {
            executor.execute(() -> {
                for (var e = todo.poll(); e != null; e = todo.poll()) {
                    inFlight.acquireUninterruptibly();
                    try {
                        e.getValue().complete(head.head(e.getKey()));
                    } catch (java.io.IOException | RuntimeException ex) {
                        e.getValue().completeExceptionally(ex);
                    } finally {
                        inFlight.release();
                    }
                }
            });
        }
    }

    /** The HEAD of one path, for {@link #prefetch}. */
    @FunctionalInterface
    interface HeadCall {
        S3Backend.ObjectInfo head(String path) throws java.io.IOException;
    }

    /**
     * The prefetched HEAD of {@code path} (removed: a result is used once), or null if none was started.
     *
     * @return the running or finished HEAD, or null
     */
    CompletableFuture<S3Backend.ObjectInfo> takePrefetched(String path) {
        return heads.remove(path);
    }

    /** Stops the prefetch threads. */
    void close() {
        executor.shutdownNow();
    }
}
