package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.iomap.IomapDioOps;
import org.iomap4j.iomap.IomapInode;

/**
 * ext2's direct-I/O hooks (fs/ext2/file.c ext2_dio_write_end_io): alignment is the device's logical block size;
 * at completion an extending write sets i_size (which marks the inode dirty) before the core invalidates the page
 * cache again. ext2 has no unwritten extents to convert and no copy-on-write.
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
        if ((flags & DIO_WRITE) != 0 && sizeBytes > 0 && posBytes + sizeBytes > inode.sizeBytes()) {
            inode.setSizeBytes(posBytes + sizeBytes);
        }
    }
}
