package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.Bio;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.ForwardingBlockDevice;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The race that made {@link ExerciseExtentTest} flaky (issue 13), replayed in a fixed order: FALLOC_FL_ZERO_RANGE
 * over blocks whose dirty data sits over an unwritten extent while writeback of those blocks is in flight.
 *
 * <p>The zeroing maps the range (UNWRITTEN: reads as zeroes, nothing to do unless the cache holds data), then asks
 * the page cache whether the range is dirty; that question waits for folios under writeback. While it waited the
 * ioend wrote the data and converted the extent to written, so the answer was "not dirty" and the zeroing skipped
 * the range on the strength of an UNWRITTEN mapping that was no longer true: the old data stayed, in the cache
 * and on disk. The fix revalidates the mapping's cookie after that wait and maps again.
 *
 * <p>Order without timing: a device gate holds the writeback's data write (its folio locked and under writeback,
 * conversion not yet done); the ZERO_RANGE thread runs until it waits for that folio inside the page cache's dirty
 * query (observed through its thread state and stack); then the gate opens.
 */
class UnwrittenConversionRaceTest {
    private static final int DATA_BYTES = 8192;
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "delalloc={0}")
    @ValueSource(booleans = {false, true})
    void zeroRangeWaitingForAnIoendThatConvertsTheRange_stillZeroes(boolean delalloc) throws Exception {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
        Path img = Ext4TestImages.mkfsExt4(tmp.resolve("race.img"), 16L << 20, 1024);
        byte[] data = new byte[DATA_BYTES];
        new Random(13).nextBytes(data);
        byte[] expect = data.clone();
        Arrays.fill(expect, 1000, 3000, (byte) 0);
        ExtMountOptions opts = ExtMountOptions.defaults().withNoatime(true).withDelalloc(delalloc);
        try (FileBlockDevice file = FileBlockDevice.open(img, false)) {
            WriteGate gate = new WriteGate(file, DATA_BYTES);
            try (ExtFileSystem fs = ExtFileSystem.mount(gate, opts)) {
                Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                FileHandle h = c.handle();
                if (!delalloc) {
                    fs.fallocate(h, 0, 0, DATA_BYTES); // unwritten extents, i_size 8192
                }
                fs.sync(); // only the file's data is dirty from here on
                gate.armed = true;
                ExtentTreeTest.writeFully(fs, h, 0, data); // dirty cache over UNWRITTEN (or DELALLOC)
                CompletableFuture<Void> writeback = CompletableFuture.runAsync(() -> {
                    try {
                        fs.pageCache().syncAll();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                assertThat(gate.arrived.await(60, TimeUnit.SECONDS)).as("writeback reached its data write").isTrue();
                AtomicReference<Throwable> zeroError = new AtomicReference<>();
                Thread zero = Thread.ofPlatform().name("zero-range").start(() -> {
                    try {
                        fs.fallocate(h, Vfs.FALLOC_FL_ZERO_RANGE | Vfs.FALLOC_FL_KEEP_SIZE, 1000, 2000);
                    } catch (Throwable e) {
                        zeroError.set(e);
                    }
                });
                try {
                    awaitWaitingInPageCache(zero);
                } finally {
                    gate.open.countDown(); // the ioend completes: data on disk, extent converted
                }
                zero.join(TimeUnit.SECONDS.toMillis(60));
                assertThat(zero.isAlive()).as("ZERO_RANGE finished").isFalse();
                assertThat(zeroError.get()).as("ZERO_RANGE error").isNull();
                try {
                    writeback.get(60, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    throw new AssertionError("writeback failed", e.getCause());
                }
                assertSame(ExtentTreeTest.readAll(fs, h, DATA_BYTES), expect, "read through the cache");
                fs.release(h);
            }
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(img, opts)) {
            FileHandle h = fs.open(fs.lookup(fs.rootIno(), "f").ino(), Vfs.O_RDONLY);
            assertSame(ExtentTreeTest.readAll(fs, h, DATA_BYTES), expect, "read after remount");
            fs.release(h);
        }
        Ext2Tools.assertFsckClean(img);
    }

    /** Equal bytes, or a failure naming the first differing offset (the zeroed range is [1000, 3000)). */
    private static void assertSame(byte[] actual, byte[] expect, String what) {
        assertThat(actual.length).as(what + ": length").isEqualTo(expect.length);
        int diff = Arrays.mismatch(actual, expect);
        assertThat(diff).as(what + ": first differing offset (-1: none); actual byte there %s", diff < 0 ? "-"
                : Integer.toHexString(actual[diff] & 0xff)).isEqualTo(-1);
    }

    /**
     * Waits until {@code t} is parked on a lock inside the page cache (the folio lock held by the writeback), the
     * only lock the gated writeback holds that ZERO_RANGE takes.
     */
    private static void awaitWaitingInPageCache(Thread t) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            Thread.State s = t.getState();
            if (s == Thread.State.TERMINATED) {
                return; // finished without waiting: the assertions on the data judge it
            }
            if (s == Thread.State.WAITING && Arrays.stream(t.getStackTrace())
                    .anyMatch(f -> f.getClassName().equals("org.iomap4j.pagecache.AddressSpace"))) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("ZERO_RANGE never waited for the folio under writeback: "
                        + s + " " + Arrays.toString(t.getStackTrace()));
            }
            Thread.sleep(1);
        }
    }

    /** Holds the first armed data write of {@code lengthBytes} (the writeback's ioend) until {@link #open}. */
    private static final class WriteGate extends ForwardingBlockDevice {
        final CountDownLatch arrived = new CountDownLatch(1);
        final CountDownLatch open = new CountDownLatch(1);
        volatile boolean armed;
        private final long lengthBytes;

        WriteGate(BlockDevice inner, long lengthBytes) {
            super(inner);
            this.lengthBytes = lengthBytes;
        }

        @Override
        public CompletableFuture<Void> submit(Bio bio) {
            if (armed && bio.op() == Bio.Op.WRITE && bio.lengthBytes() == lengthBytes && arrived.getCount() > 0) {
                arrived.countDown();
                try {
                    if (!open.await(120, TimeUnit.SECONDS)) {
                        return CompletableFuture.failedFuture(new IOException("test gate never opened"));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return CompletableFuture.failedFuture(new IOException("interrupted at the test gate", e));
                }
            }
            return inner.submit(bio);
        }
    }
}
