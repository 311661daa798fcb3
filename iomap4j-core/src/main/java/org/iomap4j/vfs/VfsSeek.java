package org.iomap4j.vfs;

import java.io.IOException;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * Capability: lseek(2) with {@link #SEEK_DATA} / {@link #SEEK_HOLE} that knows the file's holes. Absent: the whole
 * file is data up to its size ({@link #wholeFileIsData}), as the kernel's {@code generic_file_llseek_size} answers
 * (FUSE answers ENOSYS and the kernel falls back to that itself).
 */
public interface VfsSeek extends Vfs {

    /**
     * lseek with {@link #SEEK_DATA} or {@link #SEEK_HOLE}; ENXIO at or past EOF.
     *
     * @param fh open handle
     * @param offsetBytes file byte offset to start at
     * @param whence SEEK_DATA or SEEK_HOLE
     * @return the file byte offset of the next data or hole at or after {@code offsetBytes}
     * @throws IOException ENXIO at or past EOF or for a negative offset, EINVAL for another whence, EIO
     */
    long seekDataHole(FileHandle fh, long offsetBytes, int whence) throws IOException;

    /**
     * The answer of a filesystem without holes: SEEK_DATA returns {@code offsetBytes}, SEEK_HOLE the size.
     *
     * @throws FsException ENXIO for an offset below 0 or at or past {@code sizeBytes}
     * @param sizeBytes the file size in bytes
     * @param offsetBytes file byte offset to start at
     * @param whence SEEK_DATA or SEEK_HOLE
     * @return {@code offsetBytes} for SEEK_DATA, {@code sizeBytes} for SEEK_HOLE
     */
    static long wholeFileIsData(long sizeBytes, long offsetBytes, int whence) throws FsException {
        if (offsetBytes < 0 || offsetBytes >= sizeBytes) {
            throw new FsException(Errno.ENXIO, "offset " + offsetBytes + " at or past EOF " + sizeBytes);
        }
        return whence == SEEK_DATA ? offsetBytes : sizeBytes;
    }
}
