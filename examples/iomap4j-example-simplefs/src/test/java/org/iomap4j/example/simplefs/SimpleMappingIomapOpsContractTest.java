package org.iomap4j.example.simplefs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.Map;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.Writeback;
import org.iomap4j.pagecache.PageCacheConfig;
import org.iomap4j.testkit.contract.IomapOpsContract;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;

/**
 * The testkit's {@link IomapOpsContract} on {@link SimpleMapping}: mappings cover the asked position, holes read as
 * zeroes, writes get writable storage, unused NEW blocks leave no stale data, REPORT never allocates, and the
 * validity cookie changes when the map does. simplefs has no unlink: {@code remove} truncates to 0, which frees
 * every block the contract checks.
 */
class SimpleMappingIomapOpsContractTest extends IomapOpsContract {

    @Override
    protected Fixture newFixture() throws IOException {
        Path image = tempDir.resolve("iomap.img");
        SimpleFs.mkfs(FileBlockDevice.create(image, 64L << 20), 256);
        SimpleFs fs = SimpleFs.mount(FileBlockDevice.open(image, false), PageCacheConfig.of(8L << 20, 64 << 10));
        Map<IomapInode, FileHandle> handles = new IdentityHashMap<>();
        return new Fixture() {
            private int files;

            @Override
            public IomapOps ops() {
                return fs.mapping;
            }

            @Override
            public BlockDevice device() {
                return fs.device();
            }

            @Override
            public int blockSizeBytes() {
                return SimpleFs.BLOCK;
            }

            @Override
            public IomapInode createFile() throws IOException {
                Vfs.Created c = fs.create(fs.rootIno(), "f" + files++, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0,
                        0);
                SimpleInode i = fs.icache().peek(c.attr().ino()); // held by the open handle: stays this object
                handles.put(i, c.handle());
                return i;
            }

            @Override
            public void write(IomapInode file, long posBytes, byte[] data) throws IOException {
                fs.write(handles.get(file), posBytes, ByteBuffer.wrap(data));
            }

            @Override
            public void truncate(IomapInode file, long sizeBytes) throws IOException {
                fs.setattr(file.ino(), SetAttr.size(sizeBytes));
            }

            @Override
            public void writebackAndDrop(IomapInode file) throws IOException {
                Writeback.writeAndWait(file.mapping(), 0, Long.MAX_VALUE);
                file.mapping().dropClean();
            }

            @Override
            public void remove(IomapInode file) throws IOException {
                truncate(file, 0);
            }

            @Override
            public void close() throws IOException {
                for (FileHandle h : handles.values()) {
                    fs.release(h);
                }
                fs.close();
            }
        };
    }
}
