package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Filling the disk through a real {@code iomapfs mount} with the default options (the FUSE writeback cache on):
 * every write(2) that returned success must be on the image after unmount and remount, ENOSPC must come from a
 * write(2) (never first from fsync or close), and e2fsck -fn must find the image clean. The oracle is the list of
 * bytes each write(2) reported written, regenerated from the seed and compared with what the remount reads.
 *
 * <p>Writers: two handles opened while space is plentiful (so with the kernel's cache; one O_WRONLY, one O_RDWR)
 * write 1 MiB per call until write(2) fails; the mount's {@code --writeback-reserve 16M} (as root it also lowers
 * the kernel's per-mount dirty limit to 4 MiB) makes them hit ENOSPC with space still free. A handle opened
 * afterwards gets FOPEN_DIRECT_IO and fills the reserve but for what the kernel may still hold for the cached handles,
 * again to ENOSPC at write(2); fsync then succeeds on all three, and once the cached handles are closed a last
 * handle fills the disk to the end.
 */
class MountWritebackEnospcTest {
    private static final int CHUNK = 1 << 20;

    @TempDir
    Path tmp;

    /** One writer's oracle: how many bytes its write calls reported, and the pattern's seed. */
    private record Written(String name, long seed, long bytes) {
    }

    private static byte[] chunk(long seed, long index) {
        byte[] b = new byte[CHUNK];
        new Random(seed * 1_000_003L + index).nextBytes(b);
        return b;
    }

    /** Writes one chunk; returns the bytes written, or -1 at ENOSPC (any other failure is thrown). */
    private static long writeChunk(FileChannel ch, long seed, long posBytes) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(chunk(seed, posBytes / CHUNK), (int) (posBytes % CHUNK),
                CHUNK - (int) (posBytes % CHUNK));
        try {
            return ch.write(buf);
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains("No space left on device")) {
                return -1;
            }
            throw e;
        }
    }

    /** Writes 1 MiB calls to a new file until ENOSPC, fsyncs (which must not fail), returns the bytes written. */
    private static long fill(Path f, long seed) throws IOException {
        long bytes = 0;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            long n;
            while ((n = writeChunk(ch, seed, bytes)) >= 0) {
                bytes += n;
            }
            ch.force(true);
        }
        return bytes;
    }

    private static long freeBytes(Path mnt) throws IOException {
        return Files.getFileStore(mnt).getUsableSpace();
    }

    @Test
    void fillingTheDiskWithTheDefaultWritebackCache_failsAtWrite_andKeepsEveryWrittenByte() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("MountWritebackEnospcTest seed " + seed);
        Path img = tmp.resolve("full.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "160M").exit()).isZero();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        List<Written> written = new ArrayList<>();
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0", "--writeback-reserve", "16M")) {
            assertThat(m.mountEntry()).contains("fuse.iomapfs");
            long freeAtStart = freeBytes(mnt);
            FileChannel early1 = FileChannel.open(mnt.resolve("early1"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            FileChannel early2 = FileChannel.open(mnt.resolve("early2"), StandardOpenOption.CREATE,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
            long[] pos = new long[2];
            boolean[] full = new boolean[2];
            long[] freeAtEnospc = new long[2];
            FileChannel[] early = {early1, early2};
            while (!full[0] || !full[1]) {
                for (int i = 0; i < 2; i++) {
                    if (full[i]) {
                        continue;
                    }
                    long n = writeChunk(early[i], seed + i, pos[i]);
                    if (n < 0) {
                        full[i] = true;
                        freeAtEnospc[i] = freeBytes(mnt);
                    } else {
                        pos[i] += n;
                    }
                }
            }
            // A handle opened now: direct I/O; while the cached ones are open it may not take what the kernel may
            // still hold for them.
            long freeBeforeLate = freeBytes(mnt);
            long late = fill(mnt.resolve("late"), seed + 2);
            long freeAfterLate = freeBytes(mnt);
            // fsync and close of the cached handles report no writeback error: what they were told is written fits.
            for (FileChannel ch : early) {
                ch.force(true);
                ch.close();
            }
            // With no cached writer open, a new handle fills the disk to the end.
            long last = fill(mnt.resolve("last"), seed + 3);
            written.add(new Written("early1", seed, pos[0]));
            written.add(new Written("early2", seed + 1, pos[1]));
            written.add(new Written("late", seed + 2, late));
            written.add(new Written("last", seed + 3, last));
            System.out.printf("MountWritebackEnospcTest: free at start %d KiB; cached writers wrote %d and %d KiB,"
                    + " ENOSPC with %d / %d KiB free; a direct writer then wrote %d KiB of %d KiB free (%d KiB left"
                    + " for the kernel's cache), and after close another wrote %d KiB%n",
                    freeAtStart >> 10, pos[0] >> 10, pos[1] >> 10, freeAtEnospc[0] >> 10, freeAtEnospc[1] >> 10,
                    late >> 10, freeBeforeLate >> 10, freeAfterLate >> 10, last >> 10);
            assertThat(m.output.toString()).as("the guard logged its bounds").contains("writeback cache: bdi");
            assertThat(pos[0] + pos[1]).as("the cached writers wrote most of the disk, seed " + seed)
                    .isGreaterThan(freeAtStart / 2);
            assertThat(freeAtEnospc[0]).as("the cached writer hit ENOSPC with the reserve still free")
                    .isGreaterThan(4L << 20);
            assertThat(late).as("the late, direct writer used the reserve").isGreaterThan(4L << 20);
            assertThat(last).as("the last writer took what the cached writers' dirty pages no longer need")
                    .isPositive();
            assertThat(freeBytes(mnt)).as("the disk is full at the end").isLessThan(CHUNK);
        }
        Ext2Tools.assertFsckClean(img);
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0", "--ro")) {
            for (Written w : written) {
                Path f = mnt.resolve(w.name());
                assertThat(Files.size(f)).as(w.name() + " size, seed " + seed).isEqualTo(w.bytes());
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    ByteBuffer buf = ByteBuffer.allocate(CHUNK);
                    for (long off = 0; off < w.bytes(); off += CHUNK) {
                        buf.clear();
                        int want = (int) Math.min(CHUNK, w.bytes() - off);
                        buf.limit(want);
                        int got = 0;
                        while (buf.hasRemaining() && (got = ch.read(buf, off + buf.position())) > 0) {
                            assertThat(got).isPositive();
                        }
                        byte[] expect = Arrays.copyOf(chunk(w.seed(), off / CHUNK), want);
                        if (!Arrays.equals(Arrays.copyOf(buf.array(), want), expect)) {
                            throw new AssertionError(w.name() + ": bytes at " + off + " differ after remount, seed "
                                    + seed);
                        }
                    }
                }
            }
        }
        Ext2Tools.assertFsckClean(img);
    }
}
