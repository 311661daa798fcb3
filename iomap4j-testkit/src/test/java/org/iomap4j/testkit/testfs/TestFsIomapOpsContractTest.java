package org.iomap4j.testkit.testfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.contract.IomapOpsContract;

/**
 * {@link IomapOpsContract} against the reference {@link TestFs}, in the hole-filling mode of each subclass
 * (MAPPED|NEW, UNWRITTEN, DELALLOC, copy-on-write), 1 KiB blocks with BOUNDARY every 12 blocks.
 */
abstract class TestFsIomapOpsContractTest extends IomapOpsContract {
    private static final int BS = 1024;

    abstract TestFs.Mode mode();

    @Override
    protected Fixture newFixture() {
        MemoryBlockDevice dev = new MemoryBlockDevice(32L << 20, 512);
        PageCache cache = new PageCache(new PageCacheConfig(16L << 20, 64 << 10, 8L << 20, 0));
        TestFs fs = new TestFs(dev, BS, cache);
        fs.setBoundaryEvery(12);
        fs.setReuseFreedFirst(true); // freed (scribbled) blocks come back: stale contents are really there
        return new Fixture() {
            @Override
            public IomapOps ops() {
                return fs;
            }

            @Override
            public BlockDevice device() {
                return dev;
            }

            @Override
            public int blockSizeBytes() {
                return BS;
            }

            @Override
            public IomapInode createFile() {
                return fs.create(mode());
            }

            @Override
            public void write(IomapInode file, long posBytes, byte[] data) throws IOException {
                fs.write((TestInode) file, posBytes, ByteBuffer.wrap(data));
            }

            @Override
            public void truncate(IomapInode file, long sizeBytes) throws IOException {
                fs.truncate((TestInode) file, sizeBytes);
            }

            @Override
            public void writebackAndDrop(IomapInode file) throws IOException {
                file.mapping().invalidateRange(0, Long.MAX_VALUE);
            }

            @Override
            public void remove(IomapInode file) {
                fs.evict((TestInode) file);
            }

            @Override
            public void close() {
                cache.close();
                dev.close();
            }
        };
    }
}
