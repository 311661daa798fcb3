package org.iomap4j.example.simplefs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.iomap.Fiemap;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * simplefs' own format: the bytes a file wrote sit in the device blocks fiemap (the core's, over the mapping)
 * names, read back from the image file directly (the oracle: the raw image, not the filesystem); damaged images are
 * refused with errors that name the block or inode.
 */
class SimpleFsFormatTest {
    @TempDir
    Path tmp;

    private Path image() throws IOException {
        Path image = tmp.resolve("f.img");
        try (FileBlockDevice dev = FileBlockDevice.create(image, 16L << 20)) {
            SimpleFs.mkfs(dev, 16);
        }
        return image;
    }

    private static SimpleFs mount(Path image) throws IOException {
        return SimpleFs.mount(FileBlockDevice.open(image, false), PageCacheConfig.of(4L << 20, 64 << 10));
    }

    @Test
    void fiemapNamesTheImageBlocksThatHoldTheData() throws IOException {
        Path image = image();
        byte[] a = new byte[3 * SimpleFs.BLOCK];
        byte[] b = new byte[SimpleFs.BLOCK];
        new Random(7).nextBytes(a);
        new Random(8).nextBytes(b);
        List<FiemapExtent> extents;
        try (SimpleFs fs = mount(image)) {
            Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
            fs.write(c.handle(), 0, ByteBuffer.wrap(a));
            fs.write(c.handle(), 100L * SimpleFs.BLOCK, ByteBuffer.wrap(b));
            fs.fsync(c.handle(), false);
            SimpleInode i = fs.icache().peek(c.attr().ino());
            extents = Fiemap.fiemap(i, 0, Long.MAX_VALUE, 0, 100, fs.mapping);
            fs.release(c.handle());
        }
        assertThat(extents).hasSize(2);
        assertThat(extents.get(0).logicalBytes()).isZero();
        assertThat(extents.get(0).lengthBytes()).isEqualTo(a.length);
        assertThat(extents.get(1).logicalBytes()).isEqualTo(100L * SimpleFs.BLOCK);
        try (FileBlockDevice raw = FileBlockDevice.open(image, true)) {
            ByteBuffer got = ByteBuffer.allocate(a.length);
            raw.read(extents.get(0).physicalBytes(), got);
            assertThat(got.array()).isEqualTo(a);
            got = ByteBuffer.allocate(b.length);
            raw.read(extents.get(1).physicalBytes(), got);
            assertThat(got.array()).isEqualTo(b);
        }
    }

    @Test
    void damagedImagesAreRefusedNamingWhatIsWrong() throws IOException {
        Path image = image();
        try (SimpleFs fs = mount(image)) {
            for (String name : List.of("x", "y")) {
                Vfs.Created c = fs.create(fs.rootIno(), name, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                fs.write(c.handle(), 0, ByteBuffer.wrap(new byte[SimpleFs.BLOCK]));
                fs.release(c.handle());
            }
        }
        ByteBuffer slot = ByteBuffer.allocate(SimpleInode.SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            dev.read(SimpleFs.BLOCK, slot); // inode 2
            slot.clear();
            dev.write(SimpleFs.BLOCK + SimpleInode.SLOT_BYTES, slot); // inode 3 now claims inode 2's blocks
        }
        assertThatThrownBy(() -> mount(image)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("inode 3").hasMessageContaining("used twice");
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            slot.putInt(48, 1 << 30).clear(); // map block far beyond the device
            dev.write(SimpleFs.BLOCK + SimpleInode.SLOT_BYTES, slot);
        }
        assertThatThrownBy(() -> mount(image)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("inode 3").hasMessageContaining("outside the data area");
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            dev.write(0, ByteBuffer.allocate(8));
        }
        assertThatThrownBy(() -> mount(image)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("superblock");
    }
}
