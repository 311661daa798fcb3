package org.iomap4j.vfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * A mounted filesystem as front ends see it (the kernel's VFS inode operations, by inode number): FUSE, the CLI and
 * the exerciser drive a filesystem through this, and it is all they know of it.
 *
 * <p>Core and capabilities: this interface is the required core every filesystem implements (names, attributes,
 * directories, open/read/release, fsync, forget, statfs, sync, close). Optional operations are capability
 * interfaces that extend it, as the kernel's optional {@code inode_operations}/{@code file_operations} members:
 * {@link VfsWrite} (write, create, setattr), {@link VfsNamespace} (mknod, mkdir, symlink, link, unlink, rmdir,
 * rename), {@link VfsFallocate}, {@link VfsSeek} (SEEK_DATA/SEEK_HOLE) and {@link VfsXattr}. A front end asks
 * {@link #capability(Class)} (by default {@code instanceof}; a wrapper may hide or forward capabilities) and, when
 * one is absent, answers as the kernel does for a missing operation (see each interface).
 *
 * <p>Errors: every method throws {@link org.iomap4j.FsException} with the errno Linux would return (ENOENT,
 * EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ENOSPC, EROFS, ENAMETOOLONG, EFBIG, EMLINK, EINVAL, EIO, EUCLEAN for
 * corruption); other {@link IOException}s mean EIO.
 *
 * <p>References: every method that returns an {@link InodeAttr} for a name (lookup, create, mkdir, mknod,
 * symlink, link) takes one reference on that inode for the caller, as the kernel's lookup count;
 * {@link #forget(long, long)} drops them. An inode whose link count reached 0 is freed only when it has no
 * references and no open handles (an unlinked file stays readable while open). The root is never freed.
 *
 * <p>Modes: {@code mode} arguments of mkdir, create and setattr carry permission bits
 * ({@link FileMode#PERM_MASK}); type bits in them are ignored (the kernel passes {@code S_IFDIR|perm} to mkdir and
 * the full st_mode to setattr) and an inode never changes type. mknod takes the type from {@code mode}.
 *
 * <p>Open flags ({@code O_*} below) are this contract's own bits, not a kernel ABI: their values equal Linux's on
 * x86-64, riscv64 and the other asm-generic architectures (include/uapi/asm-generic/fcntl.h), so translation is the
 * identity there, but a front end that receives flags from a kernel (FUSE OPEN/CREATE) must translate them from
 * that architecture's values (arm64 and arm place O_DIRECTORY, O_NOFOLLOW, O_DIRECT and O_LARGEFILE elsewhere:
 * arch/arm64/include/uapi/asm/fcntl.h). Bits a filesystem does not know it ignores.
 *
 * <p>Thread-safe: front ends call concurrently from many threads.
 */
public interface Vfs extends AutoCloseable {

    /** Open flags of this contract (values of Linux asm-generic/x86-64; see the class comment). */
    int O_RDONLY = 0;
    /** Open for writing only. */
    int O_WRONLY = 1;
    /** Open for reading and writing. */
    int O_RDWR = 2;
    /** Mask of the access mode bits (O_RDONLY, O_WRONLY, O_RDWR). */
    int O_ACCMODE = 3;
    /** Create the file if it does not exist. */
    int O_CREAT = 0100;
    /** With O_CREAT: fail with EEXIST if the name exists. */
    int O_EXCL = 0200;
    /** Do not make a terminal the controlling terminal (accepted, no effect). */
    int O_NOCTTY = 0400;
    /** Truncate a regular file to 0 bytes on open. */
    int O_TRUNC = 01000;
    /** Every write goes to end of file. */
    int O_APPEND = 02000;
    /** Non-blocking I/O (accepted; file I/O does not block on data). */
    int O_NONBLOCK = 04000;
    /** Each write is durable (data and the metadata needed to read it) when it returns. */
    int O_DSYNC = 010000;
    /** FASYNC: signal-driven I/O (fcntl F_SETFL). */
    int O_ASYNC = 020000;
    /** Direct I/O: bypass the page cache (aligned to the filesystem's direct I/O alignment). */
    int O_DIRECT = 040000;
    /** Allow files over 2 GiB (always allowed here). */
    int O_LARGEFILE = 0100000;
    /** Fail with ENOTDIR unless the path is a directory. */
    int O_DIRECTORY = 0200000;
    /** Fail with ELOOP if the last path component is a symlink. */
    int O_NOFOLLOW = 0400000;
    /** Do not update the access time on reads. */
    int O_NOATIME = 01000000;
    /** Close on exec (a descriptor flag; no effect on the file). */
    int O_CLOEXEC = 02000000;
    /** O_SYNC is __O_SYNC (04000000) plus O_DSYNC, as in Linux. */
    int O_SYNC = 04010000;
    /** A handle for path operations only; no I/O. */
    int O_PATH = 010000000;
    /** Every open flag bit this contract defines. */
    int O_KNOWN = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC
            | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH;

    /** renameat2 flags (include/uapi/linux/fs.h). */
    int RENAME_NOREPLACE = 1;
    /** Swap the two names atomically; both must exist. */
    int RENAME_EXCHANGE = 2;

    /** fallocate modes (include/uapi/linux/falloc.h). */
    int FALLOC_FL_KEEP_SIZE = 0x01;
    /** Deallocate the range; reads return zeroes; the size does not change (needs KEEP_SIZE). */
    int FALLOC_FL_PUNCH_HOLE = 0x02;
    /** Make the range read as zeroes, keeping (or allocating) its blocks. */
    int FALLOC_FL_ZERO_RANGE = 0x10;

    /** lseek whence (include/uapi/linux/fs.h). */
    int SEEK_DATA = 3;
    /** Seek to the next hole at or after the offset (EOF counts as a hole). */
    int SEEK_HOLE = 4;

    /**
     * This filesystem as capability {@code type} ({@link VfsWrite}, {@link VfsNamespace}, {@link VfsFallocate},
     * {@link VfsSeek}, {@link VfsXattr}), or empty when it does not offer it. The default is {@code instanceof};
     * a wrapper overrides it to forward or hide capabilities of what it wraps.
     *
     * @param <T> the capability interface
     * @param type the capability interface's class
     * @return this filesystem as {@code type}, or empty
     */
    default <T> Optional<T> capability(Class<T> type) {
        return type.isInstance(this) ? Optional.of(type.cast(this)) : Optional.empty();
    }

    /**
     * The root directory's inode number (2 for ext2).
     *
     * @return the root directory's inode number
     */
    long rootIno();

    /** {@return true if the filesystem was mounted read-only; every change fails with EROFS} */
    boolean isReadOnly();

    /**
     * Looks {@code name} up in directory {@code dirIno}; ENOENT if absent, ENOTDIR if not a directory.
     *
     * @param dirIno inode number of the directory searched
     * @param name the entry name (one path component, no '/')
     * @return the attributes of the inode found; the call takes one reference on it (see {@link #forget})
     * @throws IOException ENOENT, ENOTDIR, ENAMETOOLONG, or EIO/EUCLEAN for a device error or corrupt directory
     */
    InodeAttr lookup(long dirIno, String name) throws IOException;

    /**
     * The attributes of inode {@code ino} (stat).
     *
     * @param ino inode number
     * @return its attributes
     * @throws IOException ENOENT for a free inode, EIO/EUCLEAN for a device error or corrupt inode
     */
    InodeAttr getattr(long ino) throws IOException;

    /**
     * The target of a symlink; EINVAL if not a symlink. In the core because path resolution needs it; a filesystem
     * without symlinks never reports S_IFLNK and answers EINVAL, as the kernel does for an inode without
     * {@code get_link}.
     *
     * @param ino inode number of the symlink
     * @return the link target, as stored
     * @throws IOException EINVAL if not a symlink, EIO/EUCLEAN for a device error or corrupt inode
     */
    String readlink(long ino) throws IOException;

    /**
     * Lists directory entries starting at {@code offset} (0 = the start; else a {@link DirEntry#nextOffset()}),
     * "." and ".." included, feeding them to {@code sink} until it returns false or the directory ends.
     *
     * @param dirIno inode number of the directory
     * @param offset where to resume: 0, or a {@link DirEntry#nextOffset()} from an earlier call
     * @param sink receives the entries; returning false stops the listing
     * @throws IOException ENOTDIR, or EIO/EUCLEAN for a device error or corrupt directory block
     */
    void readdir(long dirIno, long offset, DirSink sink) throws IOException;

    /** Receives readdir entries; returns false to stop (buffer full). */
    @FunctionalInterface
    interface DirSink {
        /**
         * Takes one directory entry.
         *
         * @param entry the entry
         * @return true to take more entries, false to stop the listing (buffer full)
         * @throws IOException to abort the listing with this error
         */
        boolean accept(DirEntry entry) throws IOException;
    }

    /**
     * Opens a regular file (EISDIR for directories; O_TRUNC truncates). A filesystem without {@link VfsWrite}
     * refuses O_WRONLY, O_RDWR and O_TRUNC with EROFS.
     *
     * @param ino inode number of the file
     * @param openFlags open(2) flags (O_ACCMODE bits, O_TRUNC, O_APPEND, O_DIRECT, ...)
     * @return the open handle; {@link #release} it
     * @throws IOException EISDIR, EROFS, EACCES, or EIO for a device error
     */
    FileHandle open(long ino, int openFlags) throws IOException;

    /**
     * What {@link VfsWrite#create} returns.
     *
     * @param attr the new file's attributes
     * @param handle the open handle on it
     */
    record Created(InodeAttr attr, FileHandle handle) {
    }

    /**
     * Reads up to {@code dst.remaining()} bytes at {@code posBytes}; returns the count, 0 at EOF.
     *
     * @param fh open handle
     * @param posBytes file byte offset of the first byte read
     * @param dst buffer filled from its position
     * @return bytes read, 0 at or past EOF
     * @throws IOException EBADF if not open for reading, EIO for a device error
     */
    int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException;

    /**
     * Makes the file's data (and with {@code !dataOnly} its metadata) durable; reports writeback errors once.
     *
     * @param fh open handle
     * @param dataOnly true for fdatasync (metadata only as needed to read the data back)
     * @throws IOException EIO (a writeback error since the handle last saw one, or a failed flush)
     */
    void fsync(FileHandle fh, boolean dataOnly) throws IOException;

    /**
     * A close() of a descriptor of the handle (FUSE FLUSH: synchronous with the close, possibly several times per
     * handle, before {@link #release}). A network filesystem writes back and uploads here so that the data is on the
     * server when close() returns (close-to-open consistency); block filesystems need nothing.
     *
     * @throws IOException the errno close() returns (EIO of a failed upload)
     */
    default void flush(FileHandle fh) throws IOException {
    }

    /**
     * Closes a handle; an unlinked file with no references left is freed.
     *
     * @param fh the handle, not used afterwards
     * @throws IOException EIO if freeing an unlinked inode fails
     */
    void release(FileHandle fh) throws IOException;

    /**
     * Drops {@code count} references taken by lookup-like calls.
     *
     * @param ino inode number
     * @param count references dropped (lookup, create, mknod, mkdir, symlink and link each took one)
     * @throws IOException EIO if freeing an unlinked inode fails
     */
    void forget(long ino, long count) throws IOException;

    /**
     * The filesystem's space and inode counts (statfs).
     *
     * @return the figures
     * @throws IOException EIO for a device error
     */
    StatFs statfs() throws IOException;

    /**
     * Writes back every dirty file and all metadata and makes them durable.
     *
     * @throws IOException the first writeback or flush error (EIO)
     */
    void sync() throws IOException;

    /** Unmounts: writes everything back, marks the filesystem clean, releases the device. */
    @Override
    void close() throws IOException;
}
