package org.iomap4j.testkit.vfs;

import org.iomap4j.testkit.contract.VfsContract;
import org.iomap4j.vfs.Vfs;

/** {@link VfsContract} against {@link MemoryVfs}, remount included. */
class MemoryVfsContractTest extends VfsContract {
    @Override
    protected Vfs mount() {
        return new MemoryVfs(256L << 20, 100_000);
    }

    @Override
    protected Vfs remount(Vfs vfs) throws java.io.IOException {
        vfs.close();
        return ((MemoryVfs) vfs).remount();
    }
}
