package org.iomap4j.vfs;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Capability: file contents and attributes can change (the kernel's {@code write_iter}, {@code create} and
 * {@code setattr}). Without it a filesystem is read-only: front ends refuse writes, creates, attribute changes and
 * write-mode opens with EROFS (FUSE answers EROFS, as the kernel does on a read-only mount).
 */
public interface VfsWrite extends Vfs {

    /**
     * Applies {@code changes}; a size change truncates or extends (EISDIR on a directory).
     *
     * @param ino inode number
     * @param changes what to change
     * @return the attributes after the change
     * @throws IOException EPERM/EACCES, EFBIG for a size over the maximum, ENOSPC when extending needs blocks, EIO
     */
    InodeAttr setattr(long ino, SetAttr changes) throws IOException;

    /**
     * Creates and opens a regular file; with O_EXCL an existing name is EEXIST, without it an existing file
     * is opened. Takes a reference like lookup.
     *
     * @param dirIno inode number of the parent directory
     * @param name the new entry name
     * @param mode permission bits (the umask already applied) of the regular file
     * @param openFlags open(2) flags
     * @param uid owner of the new file
     * @param gid group of the new file
     * @return the new (or existing) file's attributes and an open handle
     * @throws IOException EEXIST, ENOSPC (no inode or block), ENAMETOOLONG, ENOTDIR, EROFS, EIO
     */
    Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException;

    /**
     * Writes all of {@code src} at {@code posBytes} (at EOF with O_APPEND); returns bytes written.
     *
     * @param fh open handle (writable)
     * @param posBytes file byte offset of the first byte written (ignored with O_APPEND)
     * @param src the bytes, from its position to its limit
     * @return bytes written: {@code src.remaining()}
     * @throws IOException EBADF, EFBIG past the maximum file size, ENOSPC, EDQUOT, EIO
     */
    int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException;
}
