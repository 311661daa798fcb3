package org.iomap4j.iomap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link DirectReadahead} against an in-memory file with an inode-style read/write lock and data sequence: every
 * read returns exactly the model's bytes at that moment, whatever the read-ahead did; sequential streams are served
 * from the read-ahead; errors of the caller's own read reach it, read-ahead errors never do.
 */
class DirectReadaheadTest {
    private static final int CHUNK = 64 * 1024;

    /** The "inode": bytes, size, rwsem and data sequence, as ext2 keeps them. */
    static final class ModelFile implements DirectReadahead.Source {
        final ReentrantReadWriteLock rwsem = new ReentrantReadWriteLock();
        volatile long dataSeq;
        byte[] data;
        final AtomicInteger deviceReads = new AtomicInteger();
        volatile IOException failReadAhead;

        ModelFile(byte[] data) {
            this.data = data;
        }

        /** A direct read: caller holds rwsem shared. */
        int read(long pos, ByteBuffer dst) {
            synchronized (deviceReads) {
                deviceReads.incrementAndGet();
                deviceReads.notifyAll();
            }
            if (pos >= data.length) {
                return 0;
            }
            int n = (int) Math.min(dst.remaining(), data.length - pos);
            dst.put(data, (int) pos, n);
            return n;
        }

        void write(long pos, byte[] src) {
            rwsem.writeLock().lock();
            try {
                dataSeq++;
                if (pos + src.length > data.length) {
                    data = Arrays.copyOf(data, (int) (pos + src.length));
                }
                System.arraycopy(src, 0, data, (int) pos, src.length);
            } finally {
                rwsem.writeLock().unlock();
            }
        }

        void truncate(int size) {
            rwsem.writeLock().lock();
            try {
                dataSeq++;
                data = Arrays.copyOf(data, size);
            } finally {
                rwsem.writeLock().unlock();
            }
        }

        @Override
        public long dataSeq() {
            return dataSeq;
        }

        @Override
        public long tryReadShared(long pos, ByteBuffer dst, long expectedSeq) throws IOException {
            if (failReadAhead != null) {
                throw failReadAhead;
            }
            if (!rwsem.readLock().tryLock()) {
                return -1;
            }
            try {
                return dataSeq == expectedSeq ? read(pos, dst) : -1;
            } finally {
                rwsem.readLock().unlock();
            }
        }

        /** What the filesystem's read does: shared lock, then the read-ahead's read. */
        byte[] readThrough(DirectReadahead ra, long pos, int len) throws IOException {
            ByteBuffer dst = ByteBuffer.allocate(len);
            rwsem.readLock().lock();
            try {
                ra.read(pos, dst, dataSeq, data.length, this::read);
            } finally {
                rwsem.readLock().unlock();
            }
            return Arrays.copyOf(dst.array(), dst.position());
        }

        byte[] expect(long pos, int len) {
            rwsem.readLock().lock();
            try {
                int from = (int) Math.min(pos, data.length);
                return Arrays.copyOfRange(data, from, (int) Math.min(data.length, pos + len));
            } finally {
                rwsem.readLock().unlock();
            }
        }
    }

    private final List<ExecutorService> executors = new ArrayList<>();

    private ExecutorService executor(int threads) {
        ExecutorService e = Executors.newFixedThreadPool(threads);
        executors.add(e);
        return e;
    }

    @AfterEach
    void stop() throws InterruptedException {
        for (ExecutorService e : executors) {
            e.shutdownNow();
            assertThat(e.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    private static byte[] random(long seed, int bytes) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void a_sequential_stream_is_served_from_read_ahead_and_returns_the_files_bytes() throws IOException {
        ModelFile f = new ModelFile(random(1, 16 * CHUNK + 100));
        // An executor that runs the read-ahead at once (as if it finished during the caller's round trip).
        DirectReadahead ra = new DirectReadahead(f, Runnable::run, CHUNK, 4096);
        for (long pos = 0; pos < f.data.length; pos += CHUNK) {
            assertThat(f.readThrough(ra, pos, CHUNK)).as("read at %d", pos).isEqualTo(f.expect(pos, CHUNK));
        }
        // 17 reads: the first two are the reader's own (the second makes the stream sequential), the other 15
        // come from read-ahead, the last one short (EOF), with no read-ahead past it.
        assertThat(ra.hits()).isEqualTo(15);
        assertThat(f.deviceReads.get()).isEqualTo(17);
        assertThat(f.readThrough(ra, f.data.length, CHUNK)).isEmpty();
    }

    @Test
    void a_write_between_two_reads_of_a_stream_is_seen_by_the_second() throws Exception {
        ModelFile f = new ModelFile(random(2, 8 * CHUNK));
        DirectReadahead ra = new DirectReadahead(f, executor(1), CHUNK, 4096);
        f.readThrough(ra, 0, CHUNK);
        f.readThrough(ra, CHUNK, CHUNK); // sequential: a read-ahead of [2, 3) chunks starts
        waitIdle(f, 3);
        byte[] patch = random(3, 100);
        f.write(2L * CHUNK + 10, patch); // the read-ahead now holds old bytes
        byte[] got = f.readThrough(ra, 2L * CHUNK, CHUNK);
        assertThat(got).isEqualTo(f.expect(2L * CHUNK, CHUNK));
        assertThat(Arrays.copyOfRange(got, 10, 110)).isEqualTo(patch);
        assertThat(ra.hits()).isZero();

        // And a truncate below the read-ahead's range: the next read sees EOF, not the old bytes.
        waitIdle(f, 5);
        f.truncate(3 * CHUNK);
        assertThat(f.readThrough(ra, 3L * CHUNK, CHUNK)).isEmpty();
    }

    /** Waits (bounded) until the file has seen {@code reads} device reads, i.e. the planned read-ahead ran. */
    private static void waitIdle(ModelFile f, int reads) throws InterruptedException {
        synchronized (f.deviceReads) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (f.deviceReads.get() < reads && System.nanoTime() < deadline) {
                f.deviceReads.wait(1000);
            }
        }
        assertThat(f.deviceReads.get()).as("device reads (read-ahead ran)").isGreaterThanOrEqualTo(reads);
    }

    @Test
    void a_read_ahead_never_started_is_dropped_and_the_reader_reads_itself() throws IOException {
        ModelFile f = new ModelFile(random(4, 4 * CHUNK));
        List<Runnable> queued = new ArrayList<>();
        DirectReadahead ra = new DirectReadahead(f, queued::add, CHUNK, 4096); // an executor that never runs
        for (long pos = 0; pos < 4 * CHUNK; pos += CHUNK) {
            assertThat(f.readThrough(ra, pos, CHUNK)).isEqualTo(f.expect(pos, CHUNK));
        }
        assertThat(ra.hits()).isZero();
        assertThat(queued).isNotEmpty();
        queued.forEach(Runnable::run); // late: they find themselves claimed and do nothing
        assertThat(f.deviceReads.get()).isEqualTo(4);
    }

    @Test
    void no_read_ahead_while_another_read_of_the_handle_is_in_flight() throws Exception {
        ModelFile f = new ModelFile(random(7, 8 * CHUNK));
        List<Runnable> queued = java.util.Collections.synchronizedList(new ArrayList<>());
        DirectReadahead ra = new DirectReadahead(f, queued::add, CHUNK, 4096);
        f.readThrough(ra, 0, CHUNK);
        java.util.concurrent.CountDownLatch inside = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        Thread slow = new Thread(() -> {
            try {
                ra.read(CHUNK, ByteBuffer.allocate(CHUNK), f.dataSeq, f.data.length, (p, d) -> {
                    inside.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        throw new java.io.InterruptedIOException();
                    }
                    return f.read(p, d);
                });
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        slow.start();
        assertThat(inside.await(20, TimeUnit.SECONDS)).isTrue();
        // Sequential (after the read at 1 chunk), but that read is still in flight: no read-ahead.
        assertThat(f.readThrough(ra, 2L * CHUNK, CHUNK)).isEqualTo(f.expect(2L * CHUNK, CHUNK));
        assertThat(queued).isEmpty();
        release.countDown();
        slow.join();
        // The slow read ended alone: it read ahead (chunk 2, now stale for the stream, dropped below).
        assertThat(queued).hasSize(1);
        assertThat(f.readThrough(ra, 3L * CHUNK, CHUNK)).isEqualTo(f.expect(3L * CHUNK, CHUNK));
        assertThat(queued).hasSize(2);
    }

    @Test
    void read_ahead_errors_are_not_seen_and_the_readers_own_errors_are() throws Exception {
        ModelFile f = new ModelFile(random(5, 6 * CHUNK));
        f.failReadAhead = new FsException(Errno.EIO, "read-ahead failed");
        DirectReadahead ra = new DirectReadahead(f, executor(1), CHUNK, 4096);
        for (long pos = 0; pos < 6 * CHUNK; pos += CHUNK) {
            assertThat(f.readThrough(ra, pos, CHUNK)).isEqualTo(f.expect(pos, CHUNK));
        }
        assertThat(ra.hits()).isZero();
        ByteBuffer dst = ByteBuffer.allocate(CHUNK);
        assertThatThrownBy(() -> ra.read(0, dst, f.dataSeq, f.data.length, (p, d) -> {
            throw new FsException(Errno.EIO, "device failed at " + p);
        })).isInstanceOf(FsException.class).hasMessageContaining("device failed at 0");
    }

    @Test
    void jumps_and_different_lengths_stay_correct_and_close_stops_read_ahead() throws IOException {
        ModelFile f = new ModelFile(random(6, 32 * CHUNK));
        DirectReadahead ra = new DirectReadahead(f, executor(2), CHUNK, 4096);
        assertThat(f.readThrough(ra, 0, CHUNK)).isEqualTo(f.expect(0, CHUNK));
        assertThat(f.readThrough(ra, CHUNK, CHUNK)).isEqualTo(f.expect(CHUNK, CHUNK));
        assertThat(f.readThrough(ra, 10L * CHUNK, CHUNK)).isEqualTo(f.expect(10L * CHUNK, CHUNK)); // a jump
        assertThat(f.readThrough(ra, 11L * CHUNK, CHUNK / 2)).isEqualTo(f.expect(11L * CHUNK, CHUNK / 2));
        ra.close();
        int before = f.deviceReads.get();
        assertThat(f.readThrough(ra, 11L * CHUNK + CHUNK / 2, CHUNK / 2))
                .isEqualTo(f.expect(11L * CHUNK + CHUNK / 2, CHUNK / 2));
        assertThat(f.readThrough(ra, 12L * CHUNK, CHUNK / 2)).isEqualTo(f.expect(12L * CHUNK, CHUNK / 2));
        assertThat(f.deviceReads.get() - before).as("after close: only the readers' own reads").isLessThanOrEqualTo(3);
    }

    /**
     * A seeded model run: two reader threads stream through the file (each with its own handle, as two O_DIRECT
     * opens) while a writer overwrites, extends and truncates it; every read must equal the model at some moment
     * the read could have happened: checked by holding the shared lock across read and comparison.
     */
    @Test
    void concurrent_streams_and_writers_always_read_current_bytes() throws Exception {
        long seed = new Random().nextLong();
        try {
            runModel(seed);
        } catch (AssertionError | Exception e) {
            throw new AssertionError("DirectReadaheadTest seed " + seed + ": " + e.getMessage(), e);
        }
    }

    private void runModel(long seed) throws Exception {
        Random rnd = new Random(seed);
        ModelFile f = new ModelFile(random(seed, 24 * CHUNK));
        ExecutorService ex = executor(2);
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> readers = new ArrayList<>();
        AtomicInteger readsDone = new AtomicInteger();
        for (int r = 0; r < 2; r++) {
            long readerSeed = rnd.nextLong();
            Thread t = new Thread(() -> {
                Random rr = new Random(readerSeed);
                DirectReadahead ra = new DirectReadahead(f, ex, CHUNK, 4096);
                try {
                    for (int pass = 0; pass < 30; pass++) {
                        long pos = rr.nextInt(4) == 0 ? rr.nextInt(24) * (long) CHUNK : 0;
                        for (int k = 0; k < 12; k++, pos += CHUNK) {
                            ByteBuffer dst = ByteBuffer.allocate(CHUNK);
                            f.rwsem.readLock().lock();
                            try {
                                ra.read(pos, dst, f.dataSeq, f.data.length, f::read);
                                byte[] got = Arrays.copyOf(dst.array(), dst.position());
                                int from = (int) Math.min(pos, f.data.length);
                                byte[] want = Arrays.copyOfRange(f.data, from,
                                        (int) Math.min(f.data.length, pos + CHUNK));
                                if (!Arrays.equals(got, want)) {
                                    throw new AssertionError("read at " + pos + " returned stale or wrong bytes");
                                }
                            } finally {
                                f.rwsem.readLock().unlock();
                            }
                            readsDone.incrementAndGet();
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                } finally {
                    ra.close();
                }
            });
            readers.add(t);
            t.start();
        }
        int seen = 0;
        while (readers.stream().anyMatch(Thread::isAlive)) {
            // Paced by the readers: one change per read that completed since the last one (no sleeping).
            if (readsDone.get() == seen) {
                Thread.onSpinWait();
                continue;
            }
            seen = readsDone.get();
            int op = rnd.nextInt(10);
            if (op < 7) {
                f.write(rnd.nextInt(24 * CHUNK), random(rnd.nextLong(), 1 + rnd.nextInt(3 * CHUNK)));
            } else if (op < 9) {
                f.truncate(rnd.nextInt(30 * CHUNK));
            }
        }
        for (Thread t : readers) {
            t.join();
        }
        if (!failures.isEmpty()) {
            throw new AssertionError(failures.get(0));
        }
    }
}
