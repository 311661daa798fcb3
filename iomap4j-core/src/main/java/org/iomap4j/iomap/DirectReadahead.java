package org.iomap4j.iomap;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Read-ahead for a sequential stream of O_DIRECT reads on one open file: while the caller is busy with read N
 * (sending it on, waiting for the next request), read N+1 is already on its way from the device. Why: a direct
 * read answered by one synchronous device read at a time is queue depth 1; a FUSE server pays its request
 * round trip and the device's latency one after the other. The kernel has no such thing for O_DIRECT (its
 * callers queue several requests instead); a server answering one request at a time needs it.
 *
 * <p><b>Correctness</b> rests on the filesystem's data sequence ({@link Source#dataSeq()}): a counter that every
 * change of the file's data or block map moves (write, truncate, fallocate, punch), changed only under the
 * inode's exclusive lock. A read-ahead is taken under the inode's shared lock ({@link Source#tryReadShared}, which
 * must not wait for it) and remembers the sequence it saw; a later read uses its bytes only if the sequence is
 * unchanged, so no writer ran in between and the bytes are what a read issued now would return. Anything else (a
 * different position or length, a changed sequence, a failed or refused read-ahead) falls back to the caller's own
 * synchronous read, which reports errors as usual: read-ahead errors are never seen.
 *
 * <p>State is per open file (like the kernel's {@code file->f_ra}). At most one read-ahead is in flight, into one
 * aligned buffer of {@code maxBytes} owned by this object (allocated by the first read-ahead, freed by the GC).
 * Only a reader alone on its handle reads ahead: several reads in flight already keep the device busy.
 * Thread-safe: concurrent reads of one handle each get correct bytes (a read-ahead goes to at most one of them).
 */
public final class DirectReadahead implements AutoCloseable {

    /** How the filesystem reads for a read-ahead. */
    public interface Source {
        /**
         * The file's current data sequence (see the class comment).
         *
         * @return the current data sequence number
         */
        long dataSeq();

        /**
         * Reads {@code dst.remaining()} bytes at {@code posBytes} directly from the device, taking the inode's
         * shared lock without waiting, if {@link #dataSeq()} still equals {@code expectedSeq} under it.
         *
         * @return bytes read (clipped at EOF), or -1 when the lock was not free at once or the sequence moved
         * @param posBytes file byte offset of the first byte read
         * @param dst buffer filled from its position
         * @param expectedSeq the data sequence the read-ahead was started under
         * @throws IOException EIO from the device read
         */
        long tryReadShared(long posBytes, ByteBuffer dst, long expectedSeq) throws IOException;
    }

    /** A synchronous direct read into the caller's buffer (the fallback), returning bytes read. */
    @FunctionalInterface
    public interface SyncRead {
        /**
         * Reads {@code dst.remaining()} bytes at {@code posBytes} directly.
         *
         * @param posBytes file byte offset of the first byte read
         * @param dst buffer filled from its position
         * @return bytes read (0 at/after EOF)
         * @throws IOException what the direct read throws (EIO, EINVAL)
         */
        int read(long posBytes, ByteBuffer dst) throws IOException;
    }

    /** One read-ahead: the range, the sequence it is valid for, and its result in {@link #buf}. */
    private static final class Ahead {
        final long posBytes;
        final int lengthBytes;
        final long seq;
        /** Claimed by whoever comes first: the executor (to run it) or a reader (to drop it unstarted). */
        final AtomicBoolean claimed = new AtomicBoolean();
        final CompletableFuture<Long> done = new CompletableFuture<>();
        /** Set under the lock by the reader that will copy it out (then that reader frees the buffer). */
        boolean taken;

        Ahead(long posBytes, int lengthBytes, long seq) {
            this.posBytes = posBytes;
            this.lengthBytes = lengthBytes;
            this.seq = seq;
        }
    }

    private final Source source;
    private final Executor executor;
    private final int maxBytes;
    private final int alignBytes;
    /** Allocated by the first read-ahead (an O_DIRECT handle that never streams costs nothing); GC-freed. */
    private ByteBuffer buf;
    /** Reads of this handle inside {@link #read} right now. */
    private int readsInFlight;
    /** Guards {@link #buf}, {@link #readsInFlight} and the fields below (bookkeeping only; never held during I/O). */
    private final Object lock = new Object();
    private long nextPosBytes = -1;
    /** The read-ahead waiting for its reader, or null. */
    private Ahead ahead;
    /** The read-ahead whose bytes are in (or going into) {@link #buf}, or null when the buffer is free. */
    private Ahead owner;
    private boolean closed;
    private long hits;

    /**
     * A read-ahead helper for one open file.
     *
     * @param source     the filesystem's reads for this file
     * @param executor   runs read-aheads (platform threads: they block on device I/O)
     * @param maxBytes   largest read that is read ahead, in bytes (the buffer's size; FUSE's max_read)
     * @param alignBytes alignment of the buffer's address, a power of two (the device's direct-I/O memory
     *                   alignment; at least 4096 is used, so that an O_DIRECT image can read into it)
     */
    public DirectReadahead(Source source, Executor executor, int maxBytes, int alignBytes) {
        if (maxBytes <= 0 || alignBytes <= 0 || Integer.bitCount(alignBytes) != 1) {
            throw new IllegalArgumentException("maxBytes " + maxBytes + ", alignBytes " + alignBytes);
        }
        this.source = source;
        this.executor = executor;
        this.maxBytes = maxBytes;
        this.alignBytes = Math.max(alignBytes, 4096);
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code posBytes}: from a matching, still valid read-ahead, else with
     * {@code syncRead}. Then, if this read continued the previous one and did not reach EOF, starts reading the
     * next range of the same length. The caller holds the inode's shared lock and passes the data sequence it sees
     * under it.
     *
     * @param seqNow    {@link Source#dataSeq()} read under the caller's shared lock
     * @param sizeBytes i_size under that lock
     * @return bytes read, as {@code syncRead} would return them; {@code dst}'s position advanced by as many
     * @throws IOException what {@code syncRead} throws
     * @param posBytes file byte offset of the first byte read
     * @param dst buffer filled from its position
     * @param syncRead the direct read used when no read-ahead matches
     */
    public int read(long posBytes, ByteBuffer dst, long seqNow, long sizeBytes, SyncRead syncRead)
            throws IOException {
        int lengthBytes = dst.remaining();
        Ahead mine = null;
        boolean sequential;
        synchronized (lock) {
            readsInFlight++;
            Ahead a = ahead;
            ahead = null;
            if (a != null) {
                if (a.posBytes == posBytes && a.lengthBytes == lengthBytes) {
                    a.taken = true;
                    mine = a;
                } else if (a.claimed.compareAndSet(false, true) || a.done.isDone()) {
                    release(a); // abandoned: never started, or finished (a running one frees itself)
                }
            }
            sequential = posBytes == nextPosBytes;
            nextPosBytes = posBytes + lengthBytes;
        }
        boolean alone;
        int n = -1;
        try {
            if (mine != null) {
                n = take(mine, dst, seqNow);
            }
            if (n < 0) {
                n = syncRead.read(posBytes, dst);
            }
        } finally {
            synchronized (lock) {
                alone = readsInFlight == 1;
                readsInFlight--;
            }
        }
        // Only a lone reader reads ahead: a caller with several reads in flight on the handle (AIO, FUSE's async
        // reads) already keeps the device busy, and its reads arrive out of order.
        if (alone && sequential && n == lengthBytes && lengthBytes <= maxBytes && posBytes + n < sizeBytes) {
            start(posBytes + n, lengthBytes, seqNow);
        }
        return n;
    }

    /** Copies a finished, valid read-ahead into dst and frees the buffer; -1 if unusable (dst untouched). */
    private int take(Ahead a, ByteBuffer dst, long seqNow) {
        try {
            if (a.claimed.compareAndSet(false, true)) {
                return -1; // not started yet (the executor is busy): reading now beats waiting for it
            }
            long got;
            try {
                got = a.done.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -1;
            } catch (ExecutionException e) {
                return -1; // the caller's own read reports any error
            }
            if (got < 0 || a.seq != seqNow || got > dst.remaining()) {
                return -1;
            }
            ByteBuffer b;
            synchronized (lock) {
                b = buf;
            }
            dst.put(b.duplicate().position(0).limit((int) got));
            synchronized (lock) {
                hits++;
            }
            return (int) got;
        } finally {
            synchronized (lock) {
                release(a);
            }
        }
    }

    /** Frees the buffer if {@code a} holds it; caller holds {@link #lock}. */
    private void release(Ahead a) {
        if (owner == a) {
            owner = null;
        }
    }

    private void start(long posBytes, int lengthBytes, long seq) {
        Ahead a = new Ahead(posBytes, lengthBytes, seq);
        synchronized (lock) {
            if (closed || owner != null || ahead != null) {
                return;
            }
            if (buf == null) {
                // Freed by the GC, not by close(): a reader may still be copying out when the handle is released.
                buf = Arena.ofAuto().allocate(maxBytes, alignBytes).asByteBuffer();
            }
            owner = a;
            ahead = a;
        }
        try {
            executor.execute(() -> run(a));
        } catch (RejectedExecutionException e) {
            synchronized (lock) {
                if (ahead == a) {
                    ahead = null;
                }
                release(a);
            }
        }
    }

    private void run(Ahead a) {
        if (!a.claimed.compareAndSet(false, true)) {
            return; // a reader came first and read for itself
        }
        ByteBuffer b;
        synchronized (lock) {
            b = buf;
        }
        try {
            a.done.complete(source.tryReadShared(a.posBytes, b.duplicate().clear().limit(a.lengthBytes), a.seq));
        } catch (IOException | RuntimeException | Error e) {
            a.done.completeExceptionally(e);
        } finally {
            a.done.complete(-1L); // no-op unless completed above
            synchronized (lock) {
                if (ahead != a && !a.taken) {
                    release(a); // dropped while running: nobody will copy it out
                }
            }
        }
    }

    /**
     * Read-aheads that were used, since this object was created.
     *
     * @return the number of reads served from a read-ahead
     */
    public long hits() {
        synchronized (lock) {
            return hits;
        }
    }

    /** Drops any read-ahead; further reads are plain synchronous reads. The buffer is freed by the GC. */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            Ahead a = ahead;
            ahead = null;
            if (a != null && (a.claimed.compareAndSet(false, true) || a.done.isDone())) {
                release(a);
            }
        }
    }
}
