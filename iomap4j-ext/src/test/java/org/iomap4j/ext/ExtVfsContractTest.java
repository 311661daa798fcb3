package org.iomap4j.ext;

import java.io.IOException;
import java.nio.file.Path;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.testkit.contract.VfsContract;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.AfterEach;

/**
 * {@link VfsContract} against ext on a fresh {@link ExtFormat} image (1 KiB blocks, so indirect blocks and
 * several block groups are in play), remount included; after every case the unmounted image must be
 * {@code e2fsck -fn} clean.
 */
class ExtVfsContractTest extends VfsContract {
    private Path image;

    /** The block size of the image in bytes. */
    int blockSizeBytes() {
        return 1024;
    }

    @Override
    protected Vfs mount() throws IOException {
        image = Ext2Tools.sparseImage(tempDir.resolve("contract.img"), 64L << 20);
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            ExtFormat.format(dev, ExtFormatOptions.defaults().withBlockSize(blockSizeBytes()));
        }
        return ExtFileSystem.mount(image, ExtMountOptions.defaults());
    }

    @Override
    protected Vfs remount(Vfs vfs) throws IOException {
        vfs.close();
        return ExtFileSystem.mount(image, ExtMountOptions.defaults());
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
