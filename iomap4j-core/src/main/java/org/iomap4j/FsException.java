package org.iomap4j;

import java.io.IOException;

/**
 * An I/O failure that carries a POSIX {@link Errno}: the one exception type that crosses from the core and the
 * filesystems to the front ends. Every message names what failed (path, inode, block or device address).
 */
public class FsException extends IOException {
    private static final long serialVersionUID = 1L;
    /** The errno reported for this failure. */
    private final Errno errno;

    /**
     * A failure with errno {@code errno}.
     *
     * @param errno what a system call would return
     * @param message what failed, naming the inode, block or range
     */
    public FsException(Errno errno, String message) {
        super(message);
        this.errno = errno;
    }

    /**
     * A failure with errno {@code errno} caused by {@code cause}.
     *
     * @param errno what a system call would return
     * @param message what failed, naming the inode, block or range
     * @param cause the underlying exception
     */
    public FsException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    /**
     * The errno a system call would return for this failure.
     *
     * @return the errno
     */
    public Errno errno() {
        return errno;
    }

    /**
     * The errno for any throwable: an {@link FsException}'s own, else {@link Errno#EIO}.
     *
     * @param t any throwable
     * @return its errno
     */
    public static Errno errnoOf(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof FsException fe) {
                return fe.errno();
            }
        }
        return Errno.EIO;
    }
}
