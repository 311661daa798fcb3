package org.iomap4j.vfs;

/**
 * An open file, returned by {@link Vfs#open} and {@link VfsWrite#create}; passed back to read/write/fsync/release.
 * Each handle reports a writeback error once through fsync (errseq). Implementations are filesystem-specific;
 * front ends treat it as opaque.
 */
public interface FileHandle {
    /**
     * The inode this handle is open on.
     *
     * @return the inode number
     */
    long ino();

    /**
     * The open(2) flags (O_ACCMODE bits, O_APPEND, O_DIRECT, ...).
     *
     * @return the open flags
     */
    int openFlags();
}
