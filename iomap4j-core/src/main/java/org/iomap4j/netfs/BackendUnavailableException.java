package org.iomap4j.netfs;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * The server could not be reached (connection refused or reset, timeout): EIO for the caller, but it tells the
 * netfs layer to keep fsync'd data in the dirty log and upload it on reconnection instead of failing the fsync.
 */
public class BackendUnavailableException extends FsException {
    private static final long serialVersionUID = 1L;

    /**
     * The server could not be reached (EIO).
     *
     * @param message what failed, naming the object
     * @param cause the transport error
     */
    public BackendUnavailableException(String message, Throwable cause) {
        super(Errno.EIO, message, cause);
    }
}
