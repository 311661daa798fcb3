package org.iomap4j.block;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/** An I/O error at a device address: {@link Errno#EIO} (or another errno) plus the byte address that failed. */
public class DeviceIOException extends FsException {
    private static final long serialVersionUID = 1L;
    /** Device byte address of the failed request. */
    private final long devAddrBytes;

    /**
     * An EIO failure at {@code devAddrBytes}.
     * @param devAddrBytes device byte address of the failed request
     * @param message what failed; the address is appended
     */
    public DeviceIOException(long devAddrBytes, String message) {
        this(Errno.EIO, devAddrBytes, message, null);
    }

    /**
     * A failure with any errno at {@code devAddrBytes}.
     * @param errno the error reported to callers (EIO, EROFS, EINVAL, ...)
     * @param devAddrBytes device byte address of the failed request
     * @param message what failed; the address is appended
     * @param cause the underlying exception, or null
     */
    public DeviceIOException(Errno errno, long devAddrBytes, String message, Throwable cause) {
        super(errno, message + " (device address " + devAddrBytes + ")", cause);
        this.devAddrBytes = devAddrBytes;
    }

    /**
     * The device byte address of the failed request.
     * @return the device byte address
     */
    public long devAddrBytes() {
        return devAddrBytes;
    }
}
