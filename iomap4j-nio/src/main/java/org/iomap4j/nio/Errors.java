package org.iomap4j.nio;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.ReadOnlyFileSystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * Maps the {@link FsException} errno of a {@link org.iomap4j.vfs.Vfs} call to the exception the JDK's default
 * provider throws for the same errno (sun.nio.fs.UnixException#translateToIOException and the provider's special
 * cases), naming the file(s) the caller passed:
 * ENOENT NoSuchFileException, EEXIST FileAlreadyExistsException, ENOTEMPTY DirectoryNotEmptyException,
 * ENOTDIR NotDirectoryException, EACCES/EPERM AccessDeniedException, EROFS ReadOnlyFileSystemException,
 * ELOOP FileSystemLoopException-like FileSystemException; anything else a FileSystemException whose reason is
 * strerror's text plus the filesystem's message (which names the inode or block).
 */
final class Errors {
    private Errors() {}

    static IOException translate(FsException e, String file, String other) {
        Errno errno = e.errno();
        IOException x = switch (errno) {
            case ENOENT -> new NoSuchFileException(file, other, null);
            case EEXIST -> new FileAlreadyExistsException(file, other, null);
            case ENOTEMPTY -> new DirectoryNotEmptyException(file);
            case ENOTDIR -> new NotDirectoryException(file);
            case EACCES, EPERM -> new AccessDeniedException(file, other, errno.description());
            case EROFS -> throw readOnly(e);
            case ELOOP -> new FileSystemLoopException(file);
            default -> new FileSystemException(file, other, errno.description() + " (" + e.getMessage() + ")");
        };
        x.initCause(e);
        return x;
    }

    static ReadOnlyFileSystemException readOnly(Throwable cause) {
        ReadOnlyFileSystemException r = new ReadOnlyFileSystemException();
        if (cause != null) {
            r.initCause(cause);
        }
        return r;
    }

    /** A FileSystemException for {@code errno} without a Vfs call behind it. */
    static IOException of(Errno errno, String file, String other, String detail) {
        return translate(new FsException(errno, detail), file, other);
    }

    static NotLinkException notLink(String file) {
        return new NotLinkException(file);
    }
}
