package org.iomap4j;

/**
 * The on-disk structures are inconsistent (bad magic, a pointer outside the device, a size that cannot be, a
 * directory entry crossing its block). Carries {@link Errno#EUCLEAN} (Linux's EFSCORRUPTED); the message names
 * the block or inode. Thrown instead of ever trusting a size or index read off disk.
 */
public class CorruptFilesystemException extends FsException {
    private static final long serialVersionUID = 1L;

    /**
     * A corruption (EUCLEAN) described by {@code message}.
     *
     * @param message what is inconsistent, naming the block or inode
     */
    public CorruptFilesystemException(String message) {
        super(Errno.EUCLEAN, message);
    }

    /**
     * A corruption (EUCLEAN) found while handling {@code cause}.
     *
     * @param message what is inconsistent, naming the block or inode
     * @param cause the underlying exception (e.g. a decoding error)
     */
    public CorruptFilesystemException(String message, Throwable cause) {
        super(Errno.EUCLEAN, message, cause);
    }
}
