package org.iomap4j.s3;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How long what the server said stays usable without asking again: {@link #FRESH_NANOS} (1 s, the FUSE default
 * attribute timeout). Two uses, both to save round trips right after the server answered:
 * <ul>
 * <li>an open does not HEAD an object whose attributes came from the server (HEAD, create, upload) less than
 * {@link #FRESH_NANOS} ago ({@link #isFresh}) — typically the lookup just before the open;</li>
 * <li>a create or mkdir does not look its name up again (HEAD + LIST) when a lookup by this mount found the name
 * absent less than {@link #FRESH_NANOS} ago and no namespace change of this mount that could have made the name
 * (mkdir, symlink, rename, create) happened since ({@link #recentlyAbsent}).</li>
 * </ul>
 * Another client's change within that window is not seen (as with any attribute or entry cache). Thread-safe.
 */
final class S3Freshness {
    /** What the server said stays fresh this long. */
    static final long FRESH_NANOS = 1_000_000_000L;

    private record Absent(long atNanos, long gen) {
    }

    private final Map<String, Absent> absent = new ConcurrentHashMap<>();
    private volatile long gen;

    /** True if {@code validatedNanos} (a {@link System#nanoTime()} of a server answer, 0 for never) is recent. */
    static boolean isFresh(long validatedNanos) {
        return validatedNanos != 0 && System.nanoTime() - validatedNanos < FRESH_NANOS;
    }

    /** The namespace generation now: read it before asking the server about a name. */
    long generation() {
        return gen;
    }

    /** A lookup that started at generation {@code genBefore} found {@code path} absent on the server. */
    void absent(String path, long genBefore) {
        if (absent.size() > 10_000) {
            absent.clear(); // bounded: only recent answers matter
        }
        absent.put(path, new Absent(System.nanoTime(), genBefore));
    }

    /** True if {@code path} was found absent recently and nothing this mount did since could have made it. */
    boolean recentlyAbsent(String path) {
        Absent a = absent.get(path);
        return a != null && a.gen == gen && isFresh(a.atNanos);
    }

    /** A namespace change that may create names (under the namespace lock): earlier absences are void. */
    void changed(String path) {
        gen++; // volatile; writers hold the filesystem's namespace lock
        if (path != null) {
            absent.remove(path);
        }
    }
}
