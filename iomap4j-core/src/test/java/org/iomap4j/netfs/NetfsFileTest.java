package org.iomap4j.netfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.iomap.Writeback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The netfs data path through the core page cache against {@link MemoryBackend}: the oracle is a byte-array model
 * of the file and the backend's stored object.
 */
class NetfsFileTest {
    private static final int G = 64 << 10;
    @TempDir
    Path dir;
    private final MemoryBackend.Store store = new MemoryBackend.Store();
    private final PageCache cache = new PageCache(new PageCacheConfig(64L << 20, 256 << 10, 32L << 20, 0));

    @AfterEach
    void closeCache() {
        cache.close();
    }

    /** A netfs file as a filesystem would hold it. */
    final class Inode implements NetfsInode {
        final NetfsFile file;
        final AddressSpace mapping;
        volatile long size;

        Inode(NetfsFile file) {
            this.file = file;
            this.size = file.sizeBytes();
            this.mapping = cache.createMapping(this, NetfsIomapOps.INSTANCE);
        }

        @Override
        public NetfsFile netfsFile() {
            return file;
        }

        @Override
        public long ino() {
            return 1;
        }

        @Override
        public long sizeBytes() {
            return size;
        }

        @Override
        public void setSizeBytes(long n) {
            size = n;
            file.setSize(n);
        }

        @Override
        public int blockSizeBytes() {
            return 4096;
        }

        @Override
        public AddressSpace mapping() {
            return mapping;
        }

        byte[] read(long pos, int len) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(len);
            int n = BufferedIo.read(this, pos, b, NetfsIomapOps.INSTANCE);
            return Arrays.copyOf(b.array(), n);
        }

        void write(long pos, byte[] data) throws IOException {
            assertThat(BufferedIo.write(this, pos, ByteBuffer.wrap(data), NetfsIomapOps.INSTANCE)).isEqualTo(data.length);
        }

        void truncate(long n) throws IOException {
            long old = size;
            if (n < old) {
                BufferedIo.truncatePage(this, n, NetfsIomapOps.INSTANCE);
                setSizeBytes(n);
                mapping.truncateFrom(n);
            } else if (n > old) {
                BufferedIo.truncatePage(this, old, NetfsIomapOps.INSTANCE);
                setSizeBytes(n);
            }
        }

        void fsync() throws IOException {
            Writeback.fsync(this, 0, Long.MAX_VALUE, null, file.device());
        }

        void dropCache() {
            mapping.dropClean();
        }
    }

    private Netfs netfs(MemoryBackend backend) throws IOException {
        return netfs(backend, dir.resolve("cache"));
    }

    private static Netfs netfs(MemoryBackend backend, Path cacheDir) throws IOException {
        return Netfs.open(backend, new NetfsConfig(cacheDir, G, 256L * G, 60_000));
    }

    /**
     * What a crash leaves: a copy of the cache directory as it is on disk now (the crashed mount's process, its
     * lock and its threads are gone with it; here they live on, cut off from the server, on the original).
     */
    private Path crashImage() throws IOException {
        Path src = dir.resolve("cache");
        Path dst = dir.resolve("after-crash");
        try (var walk = java.nio.file.Files.walk(src)) {
            for (Path p : walk.toList()) {
                Path t = dst.resolve(src.relativize(p).toString());
                if (java.nio.file.Files.isDirectory(p)) {
                    java.nio.file.Files.createDirectories(t);
                } else if (!p.getFileName().toString().equals("lock")) {
                    try {
                        java.nio.file.Files.copy(p, t);
                    } catch (java.nio.file.NoSuchFileException e) {
                        // a temporary file the live process renamed meanwhile: its result is copied instead
                    }
                }
            }
        }
        return dst;
    }

    @Test
    void oneMountPerCacheDirectory() throws Exception {
        try (Netfs first = netfs(new MemoryBackend(store))) {
            assertThatThrownBy(() -> netfs(new MemoryBackend(store))).isInstanceOf(FsException.class)
                    .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.EBUSY));
        }
        netfs(new MemoryBackend(store)).close();
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    @Test
    void randomWritesReadsTruncatesAndFsyncsMatchTheModelAndTheServer() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        Random r = new Random(seed);
        byte[] initial = random(r, 700_000);
        ObjectVersion v0 = store.put("f", initial, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        try (Netfs nf = netfs(backend)) {
            Inode ino = new Inode(nf.file("f", v0, Map.of()));
            byte[] model = initial.clone();
            for (int op = 0; op < 300; op++) {
                int kind = r.nextInt(10);
                if (kind < 4) {
                    long pos = r.nextInt(1_200_000);
                    byte[] data = random(r, 1 + r.nextInt(r.nextBoolean() ? 300 : 90_000));
                    ino.write(pos, data);
                    if (pos + data.length > model.length) {
                        model = Arrays.copyOf(model, (int) (pos + data.length));
                    }
                    System.arraycopy(data, 0, model, (int) pos, data.length);
                } else if (kind < 7) {
                    int pos = r.nextInt(model.length + 10);
                    int len = 1 + r.nextInt(200_000);
                    byte[] want = pos >= model.length ? new byte[0]
                            : Arrays.copyOfRange(model, pos, Math.min(model.length, pos + len));
                    assertThat(ino.read(pos, len)).as("op %d read %d+%d (seed %d)", op, pos, len, seed).isEqualTo(want);
                } else if (kind == 7) {
                    int n = r.nextInt(1_000_000);
                    ino.truncate(n);
                    model = Arrays.copyOf(model, n);
                } else if (kind == 8) {
                    ino.fsync();
                    assertThat(store.get("f").data()).as("server after fsync, op %d (seed %d)", op, seed).isEqualTo(model);
                    assertThat(ino.file.isDirty()).isFalse();
                } else {
                    ino.dropCache();
                }
            }
            ino.fsync();
            assertThat(store.get("f").data()).as("seed %d", seed).isEqualTo(model);
            ino.dropCache();
            assertThat(ino.read(0, model.length + 5)).isEqualTo(model);
        }
    }

    @Test
    void aReadThatReturnsMoreFillsTheLocalCacheAndLaterFillsNeedNoServer() throws Exception {
        byte[] data = random(new Random(1), 3 << 20);
        ObjectVersion v = store.put("big", data, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        backend.overRead = true;
        try (Netfs nf = netfs(backend)) {
            Inode ino = new Inode(nf.file("big", v, Map.of()));
            assertThat(ino.read(10_000, 100)).isEqualTo(Arrays.copyOfRange(data, 10_000, 10_100));
            long afterFirst = backend.readRequests.get();
            assertThat(nf.cache().granuleCount()).as("the whole 2 MiB window was cached").isEqualTo((2 << 20) / G);
            assertThat(ino.read(1_500_000, 200_000)).isEqualTo(Arrays.copyOfRange(data, 1_500_000, 1_700_000));
            assertThat(backend.readRequests.get()).isEqualTo(afterFirst);
        }
    }

    @Test
    void aSequentialColdReadFetchesGranulesAheadAndARandomReadDoesNot() throws Exception {
        byte[] data = random(new Random(5), 4 << 20);
        ObjectVersion v = store.put("seq", data, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        try (Netfs nf = netfs(backend)) {
            NetfsFile file = nf.file("seq", v, Map.of());
            Inode ino = new Inode(file);
            file.setPageCacheHost(ino);
            assertThat(ino.read(0, 4096)).isEqualTo(Arrays.copyOf(data, 4096));
            int window = nf.cache().granuleCount();
            System.out.println("granules cached after a 4 KiB read at 0: " + window + ", requests "
                    + backend.readRequests.get());
            assertThat(window).as("at least " + NetfsFile.READAHEAD_GRANULES + " granules ahead of the read")
                    .isGreaterThanOrEqualTo(NetfsFile.READAHEAD_GRANULES + 1);
            long pasted = ino.mapping().cachedBytes();
            assertThat(pasted).as("the readahead is in the page cache").isGreaterThanOrEqualTo(
                    (long) NetfsFile.READAHEAD_GRANULES * G);
            // the whole object, read sequentially: right, and in far fewer requests than granules
            for (int pos = 4096; pos < data.length; pos += 128 << 10) {
                int n = Math.min(128 << 10, data.length - pos);
                assertThat(ino.read(pos, n)).isEqualTo(Arrays.copyOfRange(data, pos, pos + n));
            }
            assertThat(nf.cache().granuleCount()).isEqualTo(data.length / G);
            long seqRequests = backend.readRequests.get();
            System.out.println("sequential read of " + data.length / G + " granules: " + seqRequests + " requests");

            // a random read elsewhere (another file, cold): only its own granules
            ObjectVersion v2 = store.put("rand", data, Map.of());
            NetfsFile f2 = nf.file("rand", v2, Map.of());
            Inode i2 = new Inode(f2);
            int before = nf.cache().granuleCount();
            assertThat(i2.read(2_500_000, 100)).isEqualTo(Arrays.copyOfRange(data, 2_500_000, 2_500_100));
            assertThat(nf.cache().granuleCount() - before).as("no readahead for a read in the middle")
                    .isLessThanOrEqualTo((int) (i2.mapping().cachedBytes() / G) + 2);
        }
    }

    @Test
    void theExtraOfAReadIsPastedIntoThePageCacheExceptWhereWrittenLocally() throws Exception {
        int size = (3 << 20) + 1234; // the last window ends at EOF, mid-block
        byte[] data = random(new Random(2), size);
        ObjectVersion v = store.put("big", data, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        backend.overRead = true;
        try (Netfs nf = netfs(backend)) {
            NetfsFile file = nf.file("big", v, Map.of());
            Inode ino = new Inode(file);
            file.setPageCacheHost(ino);
            // Local bytes the server does not have: written back (in the dirty log), then dropped from the page
            // cache; a later server read must not paste the server's old bytes over them.
            byte[] mine = random(new Random(3), 8192);
            ino.write(1_000_000 & ~4095, mine);
            ino.fsync(); // uploads; write again and keep it local
            byte[] model = data.clone();
            System.arraycopy(mine, 0, model, 1_000_000 & ~4095, mine.length);
            ObjectVersion v2 = file.version();
            byte[] local = random(new Random(4), 4096);
            ino.write(1_500_000 & ~4095, local);
            System.arraycopy(local, 0, model, 1_500_000 & ~4095, local.length);
            Writeback.writeAndWait(ino.mapping(), 0, Long.MAX_VALUE); // into the dirty log, no upload (no fsync)
            assertThat(file.isDirty()).isTrue();
            ino.dropCache();
            nf.cache().invalidate("big"); // every base byte must come from the server again
            assertThat(ino.mapping().cachedBytes()).isZero();

            long before = backend.readRequests.get();
            assertThat(ino.read(10_000, 100)).isEqualTo(Arrays.copyOfRange(model, 10_000, 10_100));
            assertThat(backend.readRequests.get() - before).as("one server read of a 2 MiB window").isEqualTo(1);
            assertThat(ino.mapping().cachedBytes()).as("the window's extra bytes are in the page cache")
                    .isGreaterThanOrEqualTo((2L << 20) - 8192);
            assertThat(v2).isEqualTo(file.version());
            // Reading the whole window from the page cache needs no server and no local cache, and shows the
            // local bytes, not the server's.
            long reads = backend.readRequests.get();
            nf.cache().invalidate("big");
            // (not at 0, not where the last read ended: no readahead past the window)
            assertThat(ino.read(4096, (2 << 20) - 8192)).isEqualTo(Arrays.copyOfRange(model, 4096, (2 << 20) - 4096));
            assertThat(backend.readRequests.get()).isEqualTo(reads);
            // The window holding EOF: pasted up to EOF, the rest of the last folio zeroes.
            assertThat(ino.read((3 << 20) - 10, 5000)).isEqualTo(Arrays.copyOfRange(model, (3 << 20) - 10, size));
            reads = backend.readRequests.get();
            nf.cache().invalidate("big");
            assertThat(ino.read(2 << 20, size - (2 << 20))).isEqualTo(Arrays.copyOfRange(model, 2 << 20, size));
            assertThat(backend.readRequests.get()).isEqualTo(reads);
        }
    }

    @Test
    void unreachableServerCachedReadsWorkUncachedReadsFailWritesAreKeptAndUploadedLater() throws Exception {
        Random r = new Random(2);
        byte[] data = random(r, 1 << 20);
        ObjectVersion v = store.put("f", data, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        try (Netfs nf = netfs(backend)) {
            Inode ino = new Inode(nf.file("f", v, Map.of()));
            assertThat(ino.read(0, 100_000)).isEqualTo(Arrays.copyOf(data, 100_000)); // granules 0, 1 cached
            ino.dropCache();
            backend.down = true;
            assertThat(ino.read(5_000, 60_000)).as("from the local cache").isEqualTo(Arrays.copyOfRange(data, 5_000, 65_000));
            assertThatThrownBy(() -> ino.read(900_000, 10)).isInstanceOf(FsException.class)
                    .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.EIO));
            byte[] w = random(r, 8192);
            ino.write(8192, w);
            System.arraycopy(w, 0, data, 8192, w.length);
            ino.fsync(); // durable in the dirty log: no error while disconnected
            assertThat(ino.file.isPending()).isTrue();
            assertThat(store.get("f").version()).isEqualTo(v);
            assertThat(nf.retryPending()).isFalse();
            backend.down = false;
            assertThat(nf.retryPending()).isTrue();
            assertThat(store.get("f").data()).isEqualTo(data);
            assertThat(backend.bytesCopied.get()).as("unchanged ranges copied on the server").isGreaterThan(0);
            ino.dropCache();
            assertThat(ino.read(0, 1 << 20)).isEqualTo(data);
        }
    }

    private long metaFiles() throws IOException {
        try (var l = java.nio.file.Files.list(dir.resolve("cache").resolve("dirty"))) {
            return l.filter(x -> x.getFileName().toString().endsWith(".meta")).count();
        }
    }

    @Test
    void aNonDurableCommitUploadsWithoutPersistingAndAFailedOneKeepsTheDataLikeAnFsync() throws Exception {
        Random r = new Random(11);
        MemoryBackend backend = new MemoryBackend(store);
        Netfs nf = netfs(backend);
        // a new object (no base), created here: nothing written yet, the commit still uploads it (empty)
        Inode ino = new Inode(nf.file("new", null, Map.of("mode", "420")));
        ino.file.markChanged();
        java.util.concurrent.atomic.AtomicLong metaDuringUpload = new java.util.concurrent.atomic.AtomicLong(-1);
        backend.afterStore = () -> {
            try {
                metaDuringUpload.set(metaFiles());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        ino.file.commit(false);
        assertThat(store.get("new").data()).isEmpty();
        assertThat(metaDuringUpload.get()).as("no dirty-log state persisted for a close's upload").isZero();
        byte[] data = random(r, 5000);
        ino.write(0, data);
        Writeback.writeAndWait(ino.mapping, 0, Long.MAX_VALUE);
        ino.file.commit(false);
        assertThat(store.get("new").data()).isEqualTo(data);
        assertThat(metaDuringUpload.get()).isZero();
        assertThat(ino.file.isDirty()).isFalse();
        // the server is down: the failed close persists the entry (as an fsync would) and a crash keeps it
        backend.down = true;
        byte[] w = random(r, 3000);
        ino.write(1000, w);
        Writeback.writeAndWait(ino.mapping, 0, Long.MAX_VALUE);
        ino.file.commit(false);
        assertThat(ino.file.isPending()).isTrue();
        assertThat(metaFiles()).isEqualTo(1);
        byte[] model = data.clone();
        System.arraycopy(w, 0, model, 1000, w.length);
        Path image = crashImage();
        try (Netfs second = netfs(new MemoryBackend(store), image)) {
            assertThat(second.pendingCount()).isZero();
            assertThat(store.get("new").data()).isEqualTo(model);
        }
        nf.close();
    }

    @Test
    void fsyncdDataOfACrashedMountIsUploadedAtTheNextMount() throws Exception {
        Random r = new Random(3);
        byte[] data = random(r, 300_000);
        ObjectVersion v = store.put("f", data, Map.of("mode", "420"));
        MemoryBackend crashed = new MemoryBackend(store);
        Netfs first = netfs(crashed);
        Inode ino = new Inode(first.file("f", v, Map.of("mode", "420")));
        ino.read(0, 300_000);
        crashed.down = true; // the crashed process never reaches the server again
        byte[] w = random(r, 5000);
        ino.write(123_456, w);
        ino.truncate(400_000);
        ino.file.setAttributes(Map.of("mode", "384"));
        ino.fsync();
        byte[] model = Arrays.copyOf(data, 400_000);
        System.arraycopy(w, 0, model, 123_456, w.length);
        byte[] unsynced = random(r, 4096);
        ino.write(0, unsynced); // written but never fsync'd: may be lost
        // crash: no close
        Path image = crashImage();

        MemoryBackend second = new MemoryBackend(store);
        try (Netfs nf = netfs(second, image)) {
            assertThat(nf.pendingCount()).isZero();
            assertThat(store.get("f").data()).isEqualTo(model);
            assertThat(store.get("f").attrs()).containsEntry("mode", "384");
        }
    }

    @Test
    void aCrashedMountsDataIsKeptWhileTheServerIsDownAndAdoptedByTheFile() throws Exception {
        byte[] data = random(new Random(4), 200_000);
        ObjectVersion v = store.put("f", data, Map.of());
        MemoryBackend crashed = new MemoryBackend(store);
        Netfs first = netfs(crashed);
        Inode ino = new Inode(first.file("f", v, Map.of()));
        crashed.down = true;
        byte[] block = Arrays.copyOf("local".getBytes(), 4096); // a whole block: no read-modify-write needed
        ino.write(4096, block);
        assertThatThrownBy(() -> ino.write(100_000, new byte[10])).as("a partial block of an uncached range needs "
                + "the server").isInstanceOf(FsException.class);
        ino.fsync();
        System.arraycopy(block, 0, data, 4096, block.length);
        Path image = crashImage();

        MemoryBackend second = new MemoryBackend(store);
        second.down = true;
        try (Netfs nf = netfs(second, image)) {
            assertThat(nf.recoveredKeys()).containsExactly("f");
            Inode again = new Inode(nf.file("f", v, Map.of()));
            assertThat(again.read(4096, 5)).isEqualTo("local".getBytes());
            second.down = false;
            assertThat(nf.retryPending()).isTrue();
            assertThat(store.get("f").data()).isEqualTo(data);
        }
    }

    @Test
    void aChangedObjectIsNeverServedFromStaleGranulesAndAConflictIsReportedNotLost() throws Exception {
        byte[] data = random(new Random(5), 500_000);
        ObjectVersion v = store.put("f", data, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        try (Netfs nf = netfs(backend)) {
            Inode ino = new Inode(nf.file("f", v, Map.of()));
            ino.read(0, 500_000);
            byte[] other = random(new Random(6), 500_000);
            ObjectVersion v2 = store.put("f", other, Map.of()); // another client
            assertThat(ino.file.revalidate(v2)).isTrue();
            ino.dropCache();
            assertThat(ino.read(0, 500_000)).isEqualTo(other);

            backend.down = true;
            ino.write(0, new byte[4096]);
            ino.fsync();
            store.put("f", data, Map.of()); // changed again while we were cut off
            backend.down = false;
            nf.retryPending();
            assertThat(nf.unresolved()).containsKey("f");
            assertThat(ino.file.isDirty()).as("kept in the dirty log").isTrue();
        }
    }

    @Test
    void writeAmplificationOfASmallWriteIntoALargeObjectIsBoundedByChunksNotTheObject() throws Exception {
        byte[] data = random(new Random(7), 8 << 20);
        ObjectVersion v = store.put("f", data, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        AtomicLong before = new AtomicLong();
        try (Netfs nf = netfs(backend)) {
            Inode ino = new Inode(nf.file("f", v, Map.of()));
            ino.write(5 << 20, new byte[4096]);
            before.set(backend.bytesSent.get());
            ino.fsync();
            assertThat(backend.bytesSent.get() - before.get()).isEqualTo(256 << 10);
            assertThat(backend.bytesCopied.get()).isEqualTo((8 << 20) - (256 << 10));
        }
    }

    @Test
    void aReadRacingItsOwnFilesUploadReadsTheNewVersionInsteadOfFailingStale() throws Exception {
        byte[] data = random(new Random(8), 1 << 20);
        ObjectVersion v = store.put("f", data, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        try (Netfs nf = netfs(backend)) {
            Inode ino = new Inode(nf.file("f", v, Map.of()));
            ino.write(0, new byte[4096]);
            System.arraycopy(new byte[4096], 0, data, 0, 4096);
            java.util.concurrent.atomic.AtomicReference<byte[]> racing = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicBoolean raced = new java.util.concurrent.atomic.AtomicBoolean();
            // Once the server holds the new version, and before this mount learns it, an uncached read starts.
            Thread reader = new Thread(() -> {
                try {
                    racing.set(ino.read(900_000, 1000));
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            backend.afterStore = () -> {
                backend.afterStore = null;
                reader.start();
                try {
                    // Hold the upload until the reader has met ESTALE (the server has the new version, this
                    // mount does not know it yet); bounded, so a reader that never races cannot hang the test.
                    raced.set(backend.staleReads.tryAcquire(30, java.util.concurrent.TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            ino.fsync();
            reader.join();
            assertThat(raced.get()).as("the read met the new version before this mount learned it").isTrue();
            assertThat(failed.get()).isNull();
            assertThat(racing.get()).isEqualTo(Arrays.copyOfRange(data, 900_000, 901_000));
        }
    }

    @Test
    void writebackGoesToTheServerAndTheLocalCache() throws Exception {
        byte[] data = random(new Random(9), 512 << 10);
        ObjectVersion v = store.put("f", data, Map.of());
        MemoryBackend backend = new MemoryBackend(store);
        try (Netfs nf = netfs(backend)) {
            Inode ino = new Inode(nf.file("f", v, Map.of()));
            assertThat(ino.read(0, 512 << 10)).isEqualTo(data); // every granule cached
            byte[] w = random(new Random(10), 100_000);
            ino.write(70_000, w); // changes granules 1 and 2 (64 KiB granules)
            byte[] tail = random(new Random(11), 5000);
            ino.write(512 << 10, tail); // a new granule past the old end
            ino.fsync();
            byte[] model = Arrays.copyOf(data, (512 << 10) + 5000);
            System.arraycopy(w, 0, model, 70_000, w.length);
            System.arraycopy(tail, 0, model, 512 << 10, tail.length);
            assertThat(store.get("f").data()).isEqualTo(model);
            ino.dropCache();
            long reads = backend.readRequests.get();
            backend.down = true;
            assertThat(ino.read(0, model.length + 10)).as("changed and unchanged granules from the local cache")
                    .isEqualTo(model);
            assertThat(backend.readRequests.get()).isEqualTo(reads);
        }
    }
}
