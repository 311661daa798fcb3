package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.iomap.IomapDioOps;
import org.iomap4j.iomap.IomapInode;

/**
 * ext2's direct-I/O hooks (fs/ext2/file.c ext2_dio_write_end_io): alignment is the device's logical block size;
 * at completion an extending write sets i_size (which marks the inode dirty) before the core invalidates the page
 * cache again. Unwritten extents (extent files) that the write filled are converted first. No copy-on-write.
 */
final class ExtDioOps implements IomapDioOps {
    private final ExtFileSystem fs;

    ExtDioOps(ExtFileSystem fs) {
        this.fs = fs;
    }

    @Override
    public int dioAlignmentBytes(IomapInode inode) {
        return fs.device.logicalBlockSize();
    }

    /** Memory needs aligning only for a device that requires it (O_DIRECT image, DAX); a buffered image: none. */
    @Override
    public int dioMemoryAlignmentBytes(IomapInode inode) {
        return fs.device.requiresAlignment() ? fs.device.logicalBlockSize() : 1;
    }

    @Override
    public void endIo(IomapInode inode, long posBytes, long sizeBytes, Throwable error, int flags)
            throws IOException {
        if ((flags & DIO_UNWRITTEN) != 0 && error == null && sizeBytes > 0) {
            // ext4_dio_write_end_io: the written blocks of unwritten extents become initialized first.
            int bits = fs.geo.blockBits();
            long first = posBytes >>> bits;
            long end = (posBytes + sizeBytes + fs.geo.blockSizeBytes() - 1) >>> bits;
            fs.iomapOps.convert((ExtInode) inode, first, end - first);
        }
        if ((flags & DIO_WRITE) != 0 && sizeBytes > 0 && posBytes + sizeBytes > inode.sizeBytes()) {
            inode.setSizeBytes(posBytes + sizeBytes);
        }
    }
}
