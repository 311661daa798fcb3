package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.testkit.contract.VfsContract;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.AfterEach;

/**
 * {@link VfsContract} against ext on a fresh {@link ExtFormat} image (1 KiB blocks, so deep extent trees and
 * several block groups are in play) with the {@code extent} feature switched on, so new files are extent-mapped
 * and fallocate KEEP_SIZE preallocates unwritten extents; remount included; after every case the unmounted image
 * must be {@code e2fsck -fn} clean. {@link ExtIndirectVfsContractTest} runs the same on ext2's indirect map.
 */
class ExtVfsContractTest extends VfsContract {
    private Path image;

    /** The block size of the image in bytes. */
    int blockSizeBytes() {
        return 1024;
    }

    /** Whether the image gets the extent feature (new files extent-mapped). */
    boolean extents() {
        return true;
    }

    @Override
    protected boolean supportsFallocateMode(int mode) {
        return extents() || (mode & (Vfs.FALLOC_FL_KEEP_SIZE | Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_ZERO_RANGE))
                != Vfs.FALLOC_FL_KEEP_SIZE;
    }

    /** Sets INCOMPAT_EXTENTS in the primary superblock of an {@link ExtFormat} image (no checksums there). */
    static void enableExtentFeature(Path image) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, 1024 + 96);
            int incompat = b.getInt(0) | org.iomap4j.ext.disk.Features.INCOMPAT_EXTENTS;
            b.clear();
            b.putInt(0, incompat);
            ch.write(b, 1024 + 96);
        }
    }

    /** The mount options every case mounts with (a subclass varies them). */
    protected ExtMountOptions mountOptions() {
        return ExtMountOptions.defaults();
    }

    @Override
    protected Vfs mount() throws IOException {
        image = Ext2Tools.sparseImage(tempDir.resolve("contract.img"), 64L << 20);
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            ExtFormat.format(dev, ExtFormatOptions.defaults().withBlockSize(blockSizeBytes()));
        }
        if (extents()) {
            enableExtentFeature(image);
        }
        return ExtFileSystem.mount(image, mountOptions());
    }

    @Override
    protected Vfs remount(Vfs vfs) throws IOException {
        vfs.close();
        return ExtFileSystem.mount(image, mountOptions());
    }

    @AfterEach
    void imageIsFsckClean() throws IOException {
        if (vfs != null) { // runs before VfsContractSupport's unmount: unmount here, then check
            vfs.close();
            vfs = null;
        }
        Ext2Tools.assertFsckClean(image);
    }
}
