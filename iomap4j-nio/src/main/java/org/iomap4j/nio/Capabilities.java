package org.iomap4j.nio;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsNamespace;
import org.iomap4j.vfs.VfsWrite;

/**
 * The optional {@link Vfs} capabilities the provider calls, looked up per call through
 * {@link Vfs#capability(Class)}. An absent capability is the errno the kernel's VFS gives for a missing operation:
 * EROFS without {@link VfsWrite} (which {@link Errors} turns into {@link java.nio.file.ReadOnlyFileSystemException}),
 * EPERM without {@link VfsNamespace}.
 */
final class Capabilities {
    private Capabilities() {
    }

    /** write, create, setattr; throws FsException(EROFS) when the filesystem cannot write. */
    static VfsWrite write(Vfs vfs) throws FsException {
        return vfs.capability(VfsWrite.class)
                .orElseThrow(() -> new FsException(Errno.EROFS, "the filesystem does not support writing"));
    }

    /** mkdir, symlink, link, unlink, rmdir, rename; EROFS without write support, else EPERM when absent. */
    static VfsNamespace namespace(Vfs vfs) throws FsException {
        return vfs.capability(VfsNamespace.class).orElseThrow(() -> vfs.capability(VfsWrite.class).isEmpty()
                ? new FsException(Errno.EROFS, "the filesystem does not support writing")
                : new FsException(Errno.EPERM, "the filesystem has no namespace operations"));
    }
}
