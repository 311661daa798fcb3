package org.iomap4j.vfs;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Capability: file contents and attributes can change (the kernel's {@code write_iter}, {@code create} and
 * {@code setattr}). Without it a filesystem is read-only: front ends refuse writes, creates, attribute changes and
 * write-mode opens with EROFS (FUSE answers EROFS, as the kernel does on a read-only mount).
 */
public interface VfsWrite extends Vfs {

    /** Applies {@code changes}; a size change truncates or extends (EISDIR on a directory). */
    InodeAttr setattr(long ino, SetAttr changes) throws IOException;

    /**
     * Creates and opens a regular file; with O_EXCL an existing name is EEXIST, without it an existing file
     * is opened. Takes a reference like lookup.
     */
    Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException;

    /** Writes all of {@code src} at {@code posBytes} (at EOF with O_APPEND); returns bytes written. */
    int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException;
}
