package org.iomap4j;

/**
 * POSIX error numbers with their Linux x86-64 values, carried end to end from the filesystem to the
 * front ends (FUSE answers {@code -errno}; the CLI prints {@link #description()}).
 *
 * <p>Values: Linux include/uapi/asm-generic/errno-base.h and errno.h.
 */
public enum Errno {
    /** Linux errno 1: operation not permitted. */
    EPERM(1, "Operation not permitted"),
    /** Linux errno 2: no such file or directory. */
    ENOENT(2, "No such file or directory"),
    /** Linux errno 4: interrupted system call. */
    EINTR(4, "Interrupted system call"),
    /** Linux errno 5: input/output error. */
    EIO(5, "Input/output error"),
    /** Linux errno 6: no such device or address. */
    ENXIO(6, "No such device or address"),
    /** Linux errno 7: argument list too long. */
    E2BIG(7, "Argument list too long"),
    /** Linux errno 9: bad file descriptor. */
    EBADF(9, "Bad file descriptor"),
    /** Linux errno 11: resource temporarily unavailable. */
    EAGAIN(11, "Resource temporarily unavailable"),
    /** Linux errno 12: cannot allocate memory. */
    ENOMEM(12, "Cannot allocate memory"),
    /** Linux errno 13: permission denied. */
    EACCES(13, "Permission denied"),
    /** Linux errno 15: block device required. */
    ENOTBLK(15, "Block device required"),
    /** Linux errno 16: device or resource busy. */
    EBUSY(16, "Device or resource busy"),
    /** Linux errno 17: file exists. */
    EEXIST(17, "File exists"),
    /** Linux errno 18: invalid cross-device link. */
    EXDEV(18, "Invalid cross-device link"),
    /** Linux errno 19: no such device. */
    ENODEV(19, "No such device"),
    /** Linux errno 20: not a directory. */
    ENOTDIR(20, "Not a directory"),
    /** Linux errno 21: is a directory. */
    EISDIR(21, "Is a directory"),
    /** Linux errno 22: invalid argument. */
    EINVAL(22, "Invalid argument"),
    /** Linux errno 27: file too large. */
    EFBIG(27, "File too large"),
    /** Linux errno 28: no space left on device. */
    ENOSPC(28, "No space left on device"),
    /** Linux errno 29: illegal seek. */
    ESPIPE(29, "Illegal seek"),
    /** Linux errno 30: read-only file system. */
    EROFS(30, "Read-only file system"),
    /** Linux errno 31: too many links. */
    EMLINK(31, "Too many links"),
    /** Linux errno 34: numerical result out of range. */
    ERANGE(34, "Numerical result out of range"),
    /** Linux errno 36: file name too long. */
    ENAMETOOLONG(36, "File name too long"),
    /** Linux errno 38: function not implemented. */
    ENOSYS(38, "Function not implemented"),
    /** Linux errno 39: directory not empty. */
    ENOTEMPTY(39, "Directory not empty"),
    /** Linux errno 40: too many levels of symbolic links. */
    ELOOP(40, "Too many levels of symbolic links"),
    /** Linux errno 61: no data available. */
    ENODATA(61, "No data available"),
    /** Linux errno 75: value too large for defined data type. */
    EOVERFLOW(75, "Value too large for defined data type"),
    /** Linux errno 95: operation not supported. */
    EOPNOTSUPP(95, "Operation not supported"),
    /** Linux errno 116: stale file handle. */
    ESTALE(116, "Stale file handle"),
    /** Linux's EFSCORRUPTED: the on-disk structure is inconsistent. */
    EUCLEAN(117, "Structure needs cleaning");

    private final int code;
    private final String description;

    Errno(int code, String description) {
        this.code = code;
        this.description = description;
    }

    /**
     * The positive Linux errno value.
     *
     * @return the errno value
     */
    public int code() {
        return code;
    }

    /**
     * strerror(3)'s text for this errno.
     *
     * @return the description
     */
    public String description() {
        return description;
    }
}
