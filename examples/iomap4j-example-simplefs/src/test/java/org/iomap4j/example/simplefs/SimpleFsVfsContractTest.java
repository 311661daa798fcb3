package org.iomap4j.example.simplefs;

import java.io.IOException;
import java.nio.file.Path;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.contract.VfsContract;
import org.iomap4j.vfs.Vfs;

/**
 * The testkit's {@link VfsContract} on simplefs over an image file, remount included. Cases that need a capability
 * simplefs lacks ({@code VfsNamespace}: directories, unlink, rename, links) skip by the contract's assumptions.
 */
class SimpleFsVfsContractTest extends VfsContract {
    /** simplefs punches and zeroes; it has no preallocation (EOPNOTSUPP, which the contract checks). */
    @Override
    protected boolean supportsFallocateMode(int mode) {
        int zeroRange = org.iomap4j.vfs.Vfs.FALLOC_FL_ZERO_RANGE;
        int keep = org.iomap4j.vfs.Vfs.FALLOC_FL_KEEP_SIZE;
        return mode == (org.iomap4j.vfs.Vfs.FALLOC_FL_PUNCH_HOLE | keep) || (mode & ~keep) == zeroRange;
    }

    private Path image;

    @Override
    protected Vfs mount() throws IOException {
        image = tempDir.resolve("simplefs.img");
        SimpleFs.mkfs(FileBlockDevice.create(image, 64L << 20), 256);
        return SimpleFs.mount(FileBlockDevice.open(image, false), PageCacheConfig.of(8L << 20, 64 << 10));
    }

    @Override
    protected Vfs remount(Vfs vfs) throws IOException {
        vfs.close();
        return SimpleFs.mount(FileBlockDevice.open(image, false), PageCacheConfig.of(8L << 20, 64 << 10));
    }
}
