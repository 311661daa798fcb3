package org.iomap4j.block;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FileBlockDevice#enableDirectReads}: large aligned reads go through the O_DIRECT descriptor and still see
 * what the buffered descriptor wrote (not yet flushed); everything else stays buffered; a short direct read at an
 * unaligned end of file is finished by the buffered path. The oracle is the bytes written, compared whole.
 */
class FileBlockDeviceDirectReadTest {
    private static final int MIB = 1 << 20;
    private static final int MIN_BYTES = 64 * 1024;

    @TempDir
    Path dir;
    private Path image;
    private final Arena arena = Arena.ofAuto();

    @BeforeEach
    void createImage() throws IOException {
        image = dir.resolve("image");
        try (FileBlockDevice dev = FileBlockDevice.create(image, 4L * MIB)) {
            assertThat(dev.sizeBytes()).isEqualTo(4L * MIB);
        }
    }

    private ByteBuffer aligned(int bytes) {
        return arena.allocate(bytes, 4096).asByteBuffer();
    }

    private static byte[] random(long seed, int bytes) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] bytesOf(ByteBuffer b) {
        byte[] out = new byte[b.limit()];
        b.get(0, out);
        return out;
    }

    @Test
    void large_aligned_reads_go_direct_and_see_unflushed_buffered_writes() throws IOException {
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            assertThat(dev.enableDirectReads(MIN_BYTES)).as("O_DIRECT on the test's temp directory").isTrue();
            byte[] data = random(1, MIB);
            dev.write(MIB, ByteBuffer.wrap(data)); // buffered, no flush: dirty in the host's page cache
            ByteBuffer dst = aligned(MIB);
            dev.read(MIB, dst);
            assertThat(dev.directReadCount()).isEqualTo(1);
            assertThat(dst.hasRemaining()).isFalse();
            assertThat(Arrays.equals(bytesOf(dst), data)).as("direct read returns the buffered write").isTrue();

            // Overwrite part of it and read again: still coherent.
            byte[] patch = random(2, 8192);
            dev.write(MIB + 4096, ByteBuffer.wrap(patch));
            System.arraycopy(patch, 0, data, 4096, patch.length);
            dev.read(MIB, dst.clear());
            assertThat(dev.directReadCount()).isEqualTo(2);
            assertThat(Arrays.equals(bytesOf(dst), data)).isTrue();
        }
    }

    @Test
    void small_unaligned_or_heap_reads_stay_buffered() throws IOException {
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            assertThat(dev.enableDirectReads(MIN_BYTES)).isTrue();
            byte[] data = random(3, 2 * MIB);
            dev.write(0, ByteBuffer.wrap(data));

            ByteBuffer small = aligned(MIN_BYTES - 4096);
            dev.read(4096, small);
            ByteBuffer oddAddress = aligned(MIN_BYTES);
            dev.read(512, oddAddress);
            ByteBuffer heap = ByteBuffer.allocate(MIN_BYTES);
            dev.read(0, heap);
            MemorySegment seg = arena.allocate(MIN_BYTES + 4096, 4096);
            ByteBuffer oddMemory = seg.asSlice(512, MIN_BYTES).asByteBuffer();
            dev.read(0, oddMemory);

            assertThat(dev.directReadCount()).isZero();
            assertThat(Arrays.equals(bytesOf(small), Arrays.copyOfRange(data, 4096, MIN_BYTES))).isTrue();
            assertThat(Arrays.equals(bytesOf(oddAddress), Arrays.copyOfRange(data, 512, 512 + MIN_BYTES))).isTrue();
            assertThat(Arrays.equals(heap.array(), Arrays.copyOf(data, MIN_BYTES))).isTrue();
            assertThat(Arrays.equals(bytesOf(oddMemory), Arrays.copyOf(data, MIN_BYTES))).isTrue();
        }
    }

    @Test
    void a_short_direct_read_at_an_unaligned_end_of_file_is_finished_buffered() throws IOException {
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            assertThat(dev.enableDirectReads(MIN_BYTES)).isTrue();
            byte[] data = random(4, MIB);
            dev.write(MIB, ByteBuffer.wrap(data));
            dev.flush();
            // The file shrinks behind the device's back to end 512 bytes into the range read below; the device
            // still claims 4 MiB, and reads past the file's end return zeroes (a sparse tail).
            try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
                raf.setLength(MIB + 512);
            }
            ByteBuffer dst = aligned(MIN_BYTES);
            dev.read(MIB, dst);
            byte[] expect = new byte[MIN_BYTES];
            System.arraycopy(data, 0, expect, 0, 512);
            assertThat(Arrays.equals(bytesOf(dst), expect)).isTrue();
            assertThat(dev.directReadCount()).isEqualTo(1);
        }
    }

    /**
     * A front end locks the image through {@link FileBlockDevice#channel()} (a POSIX record lock, which closing any
     * descriptor of the file would drop): direct reads must leave it held. Checked from another process.
     */
    @Test
    void direct_reads_keep_a_posix_lock_taken_through_the_main_channel() throws Exception {
        try (FileBlockDevice dev = FileBlockDevice.open(image, false);
                java.nio.channels.FileLock lock = dev.channel().lock()) {
            assertThat(dev.enableDirectReads(MIN_BYTES)).isTrue();
            dev.read(0, aligned(MIB));
            assertThat(dev.directReadCount()).isEqualTo(1);
            String py = "import fcntl,sys\nf=open(sys.argv[1],'r+b')\ntry:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n"
                    + " print('free')\nexcept OSError:\n print('held')\n";
            Process p = new ProcessBuilder("python3", "-c", py, image.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            assertThat(p.waitFor()).isZero();
            assertThat(out).as("the image lock seen from another process").isEqualTo("held");
            assertThat(lock.isValid()).isTrue();
        }
    }

    @Test
    void the_threshold_must_be_positive_and_close_turns_direct_reads_off() throws IOException {
        FileBlockDevice dev = FileBlockDevice.open(image, true);
        try {
            assertThatThrownBy(() -> dev.enableDirectReads(0)).isInstanceOf(IllegalArgumentException.class);
            assertThat(dev.directReadsEnabled()).isFalse();
            assertThat(dev.enableDirectReads(MIN_BYTES)).isTrue();
            assertThat(dev.directReadsEnabled()).isTrue();
        } finally {
            dev.close();
        }
        assertThat(dev.directReadsEnabled()).isFalse();
        assertThat(Files.size(image)).isEqualTo(4L * MIB);
    }
}
