package org.iomap4j.block;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/** An I/O error at a device address: {@link Errno#EIO} (or another errno) plus the byte address that failed. */
public class DeviceIOException extends FsException {
    private static final long serialVersionUID = 1L;
    private final long devAddrBytes;

    public DeviceIOException(long devAddrBytes, String message) {
        this(Errno.EIO, devAddrBytes, message, null);
    }

    public DeviceIOException(Errno errno, long devAddrBytes, String message, Throwable cause) {
        super(errno, message + " (device address " + devAddrBytes + ")", cause);
        this.devAddrBytes = devAddrBytes;
    }

    /** The device byte address of the failed request. */
    public long devAddrBytes() {
        return devAddrBytes;
    }
}
