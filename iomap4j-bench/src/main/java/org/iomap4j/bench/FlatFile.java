package org.iomap4j.bench;

import java.io.IOException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapFlags;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.WritebackOps;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.PageCache;

/**
 * The simplest filesystem there is, for benchmarks: one file whose byte {@code pos} lives at device byte
 * {@code pos} (fully preallocated, one MAPPED extent). It measures iomap4j's own cost, with no allocator and no
 * metadata, against raw device access on the same file.
 */
final class FlatFile implements IomapInode, IomapOps, WritebackOps {
    private final BlockDevice device;
    private final int blockSizeBytes;
    private final AddressSpace mapping;
    private volatile long sizeBytes;

    FlatFile(BlockDevice device, int blockSizeBytes, PageCache cache) {
        this.device = device;
        this.blockSizeBytes = blockSizeBytes;
        this.mapping = cache.createMapping(this, this);
    }

    @Override
    public long ino() {
        return 12;
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public void setSizeBytes(long newSizeBytes) {
        sizeBytes = newSizeBytes;
    }

    @Override
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    @Override
    public AddressSpace mapping() {
        return mapping;
    }

    BlockDevice device() {
        return device;
    }

    @Override
    public Iomap iomapBegin(IomapInode inode, long posBytes, long lengthBytes, int opFlags) throws IOException {
        return map(posBytes);
    }

    @Override
    public Iomap mapBlocks(IomapInode inode, long posBytes, long lengthBytes) throws IOException {
        return map(posBytes);
    }

    private Iomap map(long posBytes) throws IOException {
        long cap = device.sizeBytes();
        if (posBytes >= cap) {
            throw new FsException(Errno.EFBIG, "flat file ends at " + cap + " bytes");
        }
        return Iomap.mapped(0, cap, device, 0, IomapFlags.MERGED, 0);
    }
}
