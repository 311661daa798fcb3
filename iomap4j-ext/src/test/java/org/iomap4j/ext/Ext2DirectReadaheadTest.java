package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.iomap4j.block.Bio;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.ForwardingBlockDevice;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ext2's O_DIRECT read-ahead ({@link org.iomap4j.iomap.DirectReadahead}) and direct image reads
 * ({@link FileBlockDevice#enableDirectReads}): a handle streaming through a file with O_DIRECT reads what an
 * in-memory model of the file holds at each read, while another handle writes (buffered and O_DIRECT), extends and
 * truncates it between the reads; the read-ahead threads really read; e2fsck -fn is clean afterwards.
 */
class Ext2DirectReadaheadTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path tmp;

    /** Counts device reads issued from the read-ahead threads. */
    static final class CountingDevice extends ForwardingBlockDevice {
        final AtomicInteger readaheadReads = new AtomicInteger();

        CountingDevice(FileBlockDevice inner) {
            super(inner);
        }

        private void count() {
            if (Thread.currentThread().getName().startsWith("iomap4j-ext-dio-readahead-")) {
                readaheadReads.incrementAndGet();
            }
        }

        @Override
        public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
            count();
            super.read(devAddrBytes, dst);
        }

        @Override
        public CompletableFuture<Void> submit(Bio bio) {
            if (bio.op() == Bio.Op.READ) {
                count();
            }
            return super.submit(bio);
        }
    }

    private static ByteBuffer aligned(int n) {
        return ByteBuffer.allocateDirect(n + 4096).alignedSlice(4096).limit(n);
    }

    private static byte[] bytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    @Test
    void an_o_direct_stream_reads_the_current_bytes_while_another_handle_changes_the_file() throws Exception {
        long seed = new Random().nextLong();
        try {
            run(seed);
        } catch (AssertionError | Exception e) {
            throw new AssertionError("Ext2DirectReadaheadTest seed " + seed + ": " + e.getMessage(), e);
        }
    }

    private void run(long seed) throws Exception {
        Random rnd = new Random(seed);
        Path img = Ext2Tools.mke2fs(tmp.resolve("ra.img"), 96L << 20, "-b", "4096");
        byte[] model = bytes(rnd, 16 * MIB);
        FileBlockDevice file = FileBlockDevice.open(img, false);
        assertThat(file.enableDirectReads(ExtMountOptions.DEFAULT_DIRECT_READ_MIN_BYTES)).isTrue();
        try (CountingDevice dev = new CountingDevice(file);
                ExtFileSystem fs = ExtFileSystem.mount(dev, ExtMountOptions.defaults())) {
            FileHandle w = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR, 0, 0).handle();
            FileHandle wd = fs.open(fs.lookup(fs.rootIno(), "f").ino(), Vfs.O_RDWR | Vfs.O_DIRECT);
            assertThat(fs.write(w, 0, ByteBuffer.wrap(model))).isEqualTo(model.length);
            fs.fsync(w, false);
            FileHandle r = fs.open(fs.lookup(fs.rootIno(), "f").ino(), Vfs.O_RDONLY | Vfs.O_DIRECT);
            for (int pass = 0; pass < 3; pass++) {
                int changes = 0;
                for (long pos = 0; pos < model.length + MIB; pos += MIB) {
                    ByteBuffer dst = aligned(MIB);
                    int n = fs.read(r, pos, dst);
                    int want = (int) Math.max(0, Math.min(MIB, model.length - pos));
                    assertThat(n).as("pass %d: bytes read at %d", pass, pos).isEqualTo(want);
                    byte[] got = new byte[n];
                    dst.get(0, got);
                    assertThat(Arrays.equals(got, Arrays.copyOfRange(model, (int) pos, (int) pos + n)))
                            .as("pass %d: bytes at %d equal the model", pass, pos).isTrue();
                    if (pass == 0) {
                        continue; // an undisturbed stream: read-ahead must serve it
                    }
                    switch (rnd.nextInt(6)) {
                        case 0 -> { // buffered overwrite right where the read-ahead is reading
                            byte[] patch = bytes(rnd, 1 + rnd.nextInt(8192));
                            long at = pos + MIB + rnd.nextInt(MIB);
                            if (at + patch.length <= model.length) {
                                fs.write(w, at, ByteBuffer.wrap(patch));
                                System.arraycopy(patch, 0, model, (int) at, patch.length);
                                changes++;
                            }
                        }
                        case 1 -> { // O_DIRECT overwrite of the next block
                            long at = (pos + MIB) & -4096L;
                            if (at + 4096 <= model.length) {
                                byte[] patch = bytes(rnd, 4096);
                                ByteBuffer src = aligned(4096);
                                src.put(patch).flip();
                                fs.write(wd, at, src);
                                System.arraycopy(patch, 0, model, (int) at, 4096);
                                changes++;
                            }
                        }
                        case 2 -> { // truncate into the next chunk, then grow back (the tail reads as zeroes)
                            if (rnd.nextInt(4) == 0 && pos + 2 * MIB < model.length) {
                                long cut = pos + MIB + rnd.nextInt(MIB);
                                long ino = fs.lookup(fs.rootIno(), "f").ino();
                                fs.setattr(ino, SetAttr.size(cut));
                                fs.setattr(ino, SetAttr.size(model.length));
                                Arrays.fill(model, (int) cut, model.length, (byte) 0);
                                changes++;
                            }
                        }
                        default -> { }
                    }
                }
                if (pass == 0) {
                    assertThat(dev.readaheadReads.get()).as("read-ahead threads read the device").isPositive();
                    assertThat(file.directReadCount()).as("large reads went O_DIRECT").isPositive();
                } else {
                    assertThat(changes).isPositive();
                }
            }
            fs.release(r);
            fs.release(wd);
            fs.release(w);
        }
        Ext2Tools.assertFsckClean(img);
    }
}
