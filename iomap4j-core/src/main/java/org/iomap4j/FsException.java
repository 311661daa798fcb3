package org.iomap4j;

import java.io.IOException;

/**
 * An I/O failure that carries a POSIX {@link Errno}: the one exception type that crosses from the core and the
 * filesystems to the front ends. Every message names what failed (path, inode, block or device address).
 */
public class FsException extends IOException {
    private static final long serialVersionUID = 1L;
    private final Errno errno;

    public FsException(Errno errno, String message) {
        super(message);
        this.errno = errno;
    }

    public FsException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    /** The errno a system call would return for this failure. */
    public Errno errno() {
        return errno;
    }

    /**
     * The errno for any throwable: an {@link FsException}'s own, else {@link Errno#EIO}.
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
