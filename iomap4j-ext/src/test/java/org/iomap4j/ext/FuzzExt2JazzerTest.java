package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing of damaged ext2 images with Jazzer: the fuzzer's bytes choose where and how to damage a
 * populated 1 MiB image (superblock, group descriptors, bitmaps, inode table, directory, indirect and data
 * blocks); the image is then mounted read-only, walked, every file read and mapped (the same walk as
 * {@link FuzzCorruptImageTest}). Allowed outcomes: success or an {@link IOException} (FsException,
 * CorruptFilesystemException); anything else, a hang past 10 s or an OOM is a finding.
 *
 * <p>In {@code mvn test} (regression mode) it replays the inputs kept under
 * {@code src/test/resources/org/iomap4j/ext2/FuzzExt2JazzerTestInputs/}; {@code JAZZER_FUZZ=1 ./build.sh -pl
 * iomap4j-ext test -Dtest=FuzzExt2JazzerTest} fuzzes for {@code maxDuration} and stores new findings there.
 */
class FuzzExt2JazzerTest {
    private static Path dir;
    private static byte[] base;
    private static final AtomicLong EXECUTIONS = new AtomicLong();
    private static final AtomicLong REFUSED = new AtomicLong();

    @BeforeAll
    static void buildBaseImage() throws IOException {
        dir = Files.createTempDirectory("iomap4j-jazzer");
        Path img = Ext2Tools.mke2fs(dir.resolve("base.img"), 1L << 20, "-b", "1024", "-N", "64");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long d = fs.mkdir(fs.rootIno(), "dir", 0755, 0, 0).ino();
            int[] sizes = {0, 100, 13 * 1024, 300 * 1024};
            for (int i = 0; i < sizes.length; i++) {
                Vfs.Created c = fs.create(i % 2 == 0 ? fs.rootIno() : d, "file" + i, 0644, Vfs.O_RDWR, 0, 0);
                byte[] data = new byte[sizes[i]];
                java.util.Arrays.fill(data, (byte) (i + 1));
                fs.write(c.handle(), 0, ByteBuffer.wrap(data));
                fs.release(c.handle());
            }
            fs.symlink(d, "link", "../file0", 0, 0);
        }
        base = Files.readAllBytes(img);
    }

    @AfterAll
    static void report() throws IOException {
        System.out.println("jazzer ext2 images: " + EXECUTIONS.get() + " executions, " + REFUSED.get()
                + " refused with an IOException");
        Ext2Tools.run("rm", "-rf", dir.toString());
    }

    @FuzzTest(maxDuration = "60s")
    void damagedImage_mountsReadOnlyOrFailsWithIoException(FuzzedDataProvider data) {
        byte[] img = base.clone();
        int n = data.consumeInt(1, 12);
        ByteBuffer le = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n && data.remainingBytes() > 0; i++) {
            int off = switch (data.consumeInt(0, 2)) {
                case 0 -> 1024 + data.consumeInt(0, 1023);   // superblock
                case 1 -> data.consumeInt(0, (64 << 10) - 4); // descriptors, bitmaps, inode table
                default -> data.consumeInt(0, img.length - 4);
            };
            if (data.consumeBoolean()) {
                img[off] = data.consumeByte();
            } else {
                le.putInt(off, data.consumeInt());
            }
        }
        EXECUTIONS.incrementAndGet();
        try {
            Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () -> FuzzCorruptImageTest.exercise(img));
        } catch (Throwable t) { // assertTimeoutPreemptively rethrows the body's checked exceptions as they are
            if (!(t instanceof IOException documented)) {
                throw new AssertionError("undocumented failure on a damaged image", t);
            }
            REFUSED.incrementAndGet();
            assertThat(documented.getMessage()).as("errors say what failed").isNotBlank();
        }
    }
}
