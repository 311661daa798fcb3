package org.iomap4j.netfs;

import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.Ioend;
import org.iomap4j.iomap.WritebackOps;

/**
 * The mapping of every netfs file, for buffered I/O and writeback: the file's bytes are MAPPED, block-aligned,
 * onto its {@link NetfsFile#device()} at device address = file offset. Nothing is allocated and a mapping never
 * goes stale (validity cookie 0: the device view does not move), so no filesystem lock is involved; holes,
 * unwritten extents and delalloc do not exist here — the netfs layer answers zeroes itself where the object has
 * no bytes. A netfs filesystem passes {@link #INSTANCE} to {@code BufferedIo} and {@code createMapping}.
 */
public final class NetfsIomapOps implements IomapOps, WritebackOps {
    /** Stateless: one for everybody. */
    public static final NetfsIomapOps INSTANCE = new NetfsIomapOps();

    private NetfsIomapOps() {
    }

    @Override
    public Iomap iomapBegin(IomapInode inode, long posBytes, long lengthBytes, int opFlags) {
        return map(inode, posBytes, lengthBytes);
    }

    @Override
    public Iomap mapBlocks(IomapInode inode, long posBytes, long lengthBytes) {
        return map(inode, posBytes, lengthBytes);
    }

    @Override
    public void ioendCompleted(IomapInode inode, Ioend ioend, Throwable error) {
        // Nothing to convert: the data is in the dirty log; the upload happens at fsync (device flush).
    }

    private static Iomap map(IomapInode inode, long posBytes, long lengthBytes) {
        long bs = inode.blockSizeBytes();
        long start = posBytes & -bs;
        long want = Math.min(NetfsDevice.CAPACITY_BYTES - posBytes, Math.max(1, lengthBytes));
        long end = Math.min(NetfsDevice.CAPACITY_BYTES, (posBytes + want + bs - 1) & -bs);
        NetfsFile file = ((NetfsInode) inode).netfsFile();
        return Iomap.mapped(start, end - start, file.device(), start, 0, 0);
    }
}
