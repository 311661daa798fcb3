package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.Map;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.testkit.contract.IomapOpsContract;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;

/**
 * {@link IomapOpsContract} against ext's block map as iomaps ({@link ExtIomapOps}) on a fresh 1 KiB-block image:
 * files are made, written, truncated and removed through the {@code Vfs}, and the contract calls the ops with the
 * cached inode ({@code iget}). The image is {@code e2fsck -fn} clean after every case.
 */
class ExtIomapOpsContractTest extends IomapOpsContract {
    private Path image;

    @Override
    protected Fixture newFixture() throws IOException {
        image = Ext2Tools.sparseImage(tempDir.resolve("iomap.img"), 64L << 20);
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            ExtFormat.format(dev, ExtFormatOptions.defaults().withBlockSize(1024));
        }
        ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults());
        Map<IomapInode, FileHandle> handles = new IdentityHashMap<>();
        Map<IomapInode, String> namesOf = new IdentityHashMap<>();
        return new Fixture() {
            private int files;

            @Override
            public IomapOps ops() {
                return fs.iomapOps;
            }

            @Override
            public BlockDevice device() {
                return fs.device;
            }

            @Override
            public int blockSizeBytes() {
                return fs.geo.blockSizeBytes();
            }

            @Override
            public IomapInode createFile() throws IOException {
                String name = "f" + files++;
                Vfs.Created c = fs.create(fs.rootIno(), name, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
                ExtInode inode = fs.iget(c.attr().ino()); // a pin never dropped: this object stays the cached one
                handles.put(inode, c.handle());
                namesOf.put(inode, name);
                return inode;
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
                fs.fsync(handles.get(file), true);
                file.mapping().invalidateRange(0, Long.MAX_VALUE);
            }

            @Override
            public void remove(IomapInode file) throws IOException {
                fs.release(handles.remove(file));
                fs.unlink(fs.rootIno(), namesOf.remove(file));
                fs.forget(file.ino(), 1);
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

    @Override
    protected void afterFixtureClosed() {
        Ext2Tools.assertFsckClean(image);
    }
}
