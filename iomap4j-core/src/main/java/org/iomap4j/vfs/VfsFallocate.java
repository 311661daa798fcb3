package org.iomap4j.vfs;

import java.io.IOException;

/**
 * Capability: fallocate(2) (preallocate, {@link #FALLOC_FL_PUNCH_HOLE}, {@link #FALLOC_FL_ZERO_RANGE}, with or
 * without {@link #FALLOC_FL_KEEP_SIZE}). Absent: EOPNOTSUPP, as fs/open.c {@code vfs_fallocate} answers for a file
 * without {@code fallocate} (FUSE answers ENOSYS, which the kernel remembers and turns into EOPNOTSUPP).
 */
public interface VfsFallocate extends Vfs {

    /**
     * fallocate(2) on {@code [offsetBytes, offsetBytes + lengthBytes)}; EOPNOTSUPP for modes it does not support.
     *
     * @param fh open handle (writable)
     * @param mode 0 (allocate, extending the size), or FALLOC_FL_* bits
     * @param offsetBytes file byte offset of the range
     * @param lengthBytes range length in bytes (&gt; 0)
     * @throws IOException EOPNOTSUPP, EINVAL, ENOSPC (blocks given back), EFBIG, EIO
     */
    void fallocate(FileHandle fh, int mode, long offsetBytes, long lengthBytes) throws IOException;
}
