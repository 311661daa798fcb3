package org.iomap4j.netfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * A test backend: objects in memory ({@link Store}, shared like a server), reached through clients with their own
 * reachability switch (a crashed mount's client stays cut off for ever). Copies of unchanged ranges check the
 * base version as S3's x-amz-copy-source-if-match does (ESTALE). Counts bytes read, sent and copied.
 */
final class MemoryBackend implements NetfsBackend {

    /** The "server": key -> object. Thread-safe through its monitor. */
    static final class Store {
        record Obj(byte[] data, ObjectVersion version, Map<String, String> attrs) {
        }

        private final Map<String, Obj> objects = new HashMap<>();
        private final AtomicLong tags = new AtomicLong();

        synchronized ObjectVersion put(String key, byte[] data, Map<String, String> attrs) {
            ObjectVersion v = new ObjectVersion("v" + tags.incrementAndGet(), data.length);
            objects.put(key, new Obj(data.clone(), v, Map.copyOf(attrs)));
            return v;
        }

        synchronized Obj get(String key) {
            return objects.get(key);
        }
    }

    final Store store;
    volatile boolean down;
    /** Reads return whole 2 MiB-aligned windows (more than asked), like a compressed or large-granule server. */
    volatile boolean overRead;
    /** Runs after an upload is stored and before its future completes (race forcing). */
    volatile Runnable afterStore;
    final AtomicLong readRequests = new AtomicLong();
    /** Released once for every read refused with ESTALE (the object changed under the reader). */
    final java.util.concurrent.Semaphore staleReads = new java.util.concurrent.Semaphore(0);
    final AtomicLong bytesSent = new AtomicLong();
    final AtomicLong bytesCopied = new AtomicLong();

    MemoryBackend(Store store) {
        this.store = store;
    }

    private void checkUp(String key) throws IOException {
        if (down) {
            throw new BackendUnavailableException("'" + key + "': connection refused (test)", null);
        }
    }

    @Override
    public CompletableFuture<RangeData> read(String key, long posBytes, int lengthBytes, ObjectVersion expect) {
        try {
            checkUp(key);
            readRequests.incrementAndGet();
            Store.Obj o = store.get(key);
            if (o == null) {
                throw new FsException(Errno.ENOENT, "'" + key + "' not found");
            }
            if (expect != null && !expect.tag().equals(o.version().tag())) {
                staleReads.release();
                throw new FsException(Errno.ESTALE, "'" + key + "' is " + o.version() + ", not " + expect);
            }
            long s = posBytes;
            long e = Math.min(o.data().length, posBytes + lengthBytes);
            if (overRead) {
                s = posBytes & -(2L << 20);
                e = Math.min(o.data().length, ((posBytes + lengthBytes) + (2L << 20) - 1) & -(2L << 20));
            }
            byte[] part = Arrays.copyOfRange(o.data(), (int) s, (int) e);
            return CompletableFuture.completedFuture(new RangeData(s, ByteBuffer.wrap(part), o.version()));
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<ObjectVersion> write(WritePlan plan) {
        try {
            checkUp(plan.key());
            byte[] out = new byte[(int) plan.sizeBytes()];
            int chunk = 256 << 10;
            Store.Obj cur = store.get(plan.key());
            for (long p = 0; p < plan.sizeBytes(); p += chunk) {
                int n = (int) Math.min(chunk, plan.sizeBytes() - p);
                if (plan.unchanged(p, n)) {
                    if (cur == null || !cur.version().tag().equals(plan.base().tag())) {
                        throw new FsException(Errno.ESTALE, "'" + plan.key() + "': copy source is not " + plan.base());
                    }
                    System.arraycopy(cur.data(), (int) p, out, (int) p, n);
                    bytesCopied.addAndGet(n);
                } else {
                    plan.source().read(p, ByteBuffer.wrap(out, (int) p, n));
                    bytesSent.addAndGet(n);
                }
            }
            checkUp(plan.key());
            ObjectVersion v = store.put(plan.key(), out, plan.attributes());
            Runnable hook = afterStore;
            if (hook != null) {
                hook.run();
            }
            return CompletableFuture.completedFuture(v);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public void close() {
    }
}
