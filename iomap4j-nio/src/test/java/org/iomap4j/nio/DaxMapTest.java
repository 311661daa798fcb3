package org.iomap4j.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.NonWritableChannelException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code FileChannel.map} on a {@code dax} mount: the segment is the image itself (the oracle: the image file read
 * raw at the address debugfs reports, and the channel reading what the segment stored), and everything that is not
 * one contiguous run of written blocks is refused with UnsupportedOperationException. e2fsck -fn after each test.
 */
class DaxMapTest {
    @TempDir
    Path tmp;
    private Path image;

    private FileSystem open(boolean dax) throws IOException {
        image = tmp.resolve("dax.img");
        boolean create = !Files.exists(image);
        return FileSystems.newFileSystem(URI.create("ext:" + image.toUri()), Map.of("create", create, "size", "16M",
                "blockSize", 4096, "dax", dax));
    }

    @AfterEach
    void fsckClean() throws Exception {
        HostTools.Result r = HostTools.fsck(image);
        assertThat(r.exit()).as(r.output()).isZero();
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void aContiguousWrittenRangeMapsOntoTheImageBothWays() throws Exception {
        byte[] data = random(12 * 4096, 1); // ext2's 12 direct blocks: contiguous on a fresh image
        byte[] stored = new byte[4096];
        try (FileSystem fs = open(true)) {
            Path f = fs.getPath("/f");
            Files.write(f, data);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE);
                    Arena arena = Arena.ofConfined()) {
                MemorySegment seg = ch.map(MapMode.READ_WRITE, 4096, 8 * 4096, arena);
                assertThat(seg.byteSize()).isEqualTo(8 * 4096);
                assertThat(seg.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(Arrays.copyOfRange(data, 4096, 9 * 4096));
                // a store through the segment is what the channel reads next: one copy of the data, the image
                new Random(2).nextBytes(stored);
                MemorySegment.copy(MemorySegment.ofArray(stored), 0, seg, 4096, 4096);
                ByteBuffer back = ByteBuffer.allocate(4096);
                ch.read(back, 2 * 4096);
                assertThat(back.array()).isEqualTo(stored);
                // and a write through the channel is what the segment shows
                ch.write(ByteBuffer.wrap(new byte[] {42, 43}), 4096);
                assertThat(seg.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 42);
                MappedByteBuffer ro = ch.map(MapMode.READ_ONLY, 0, 4096);
                assertThat(ro.isReadOnly()).isTrue();
                assertThat(ro.get(0)).isEqualTo(data[0]);
                assertThat(ch.map(MapMode.READ_ONLY, 0, 4096, arena).isReadOnly()).isTrue();
            }
            try (FileChannel ro = FileChannel.open(f, StandardOpenOption.READ)) {
                assertThatThrownBy(() -> ro.map(MapMode.READ_WRITE, 0, 4096, Arena.global()))
                        .isInstanceOf(NonWritableChannelException.class);
            }
        }
        // The raw image at the file's first block (debugfs's block map) holds what the segment stored.
        HostTools.Result blocks = HostTools.run(List.of("debugfs", "-R", "blocks /f", image.toString()));
        List<String> lines = blocks.output().lines().filter(l -> l.matches("[0-9 ]+")).toList(); // after the banner
        long firstBlock = Long.parseLong(lines.getLast().trim().split("\\s+")[0]);
        try (FileChannel raw = FileChannel.open(image)) {
            ByteBuffer got = ByteBuffer.allocate(4096);
            raw.read(got, (firstBlock + 2) * 4096);
            assertThat(got.array()).isEqualTo(stored);
        }
    }

    @Test
    void holesUnalignedRangesPrivateMapsAndNonDaxMountsAreRefused() throws Exception {
        try (FileSystem fs = open(true)) {
            Path f = fs.getPath("/sparse");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(random(4096, 3)), 0);
                ch.write(ByteBuffer.wrap(random(4096, 4)), 8 * 4096); // blocks 1..7 are a hole
                assertThatThrownBy(() -> ch.map(MapMode.READ_ONLY, 0, 3 * 4096, Arena.global()))
                        .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("contiguous");
                assertThatThrownBy(() -> ch.map(MapMode.READ_ONLY, 100, 4096, Arena.global()))
                        .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("block size");
                assertThatThrownBy(() -> ch.map(MapMode.PRIVATE, 0, 4096, Arena.global()))
                        .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("PRIVATE");
                assertThatThrownBy(() -> ch.map(MapMode.READ_ONLY, 64 * 4096, 4096, Arena.global()))
                        .as("past EOF: no blocks").isInstanceOf(UnsupportedOperationException.class);
                assertThat(ch.map(MapMode.READ_ONLY, 0, 4096, Arena.global()).toArray(ValueLayout.JAVA_BYTE))
                        .isEqualTo(random(4096, 3));
            }
        }
        try (FileSystem fs = open(false); FileChannel ch = FileChannel.open(fs.getPath("/sparse"))) {
            assertThatThrownBy(() -> ch.map(MapMode.READ_ONLY, 0, 4096, Arena.global()))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("dax");
        }
    }
}
