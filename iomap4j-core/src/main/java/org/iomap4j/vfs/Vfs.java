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
    int O_WRONLY = 1;
    int O_RDWR = 2;
    int O_ACCMODE = 3;
    int O_CREAT = 0100;
    int O_EXCL = 0200;
    int O_NOCTTY = 0400;
    int O_TRUNC = 01000;
    int O_APPEND = 02000;
    int O_NONBLOCK = 04000;
    int O_DSYNC = 010000;
    /** FASYNC: signal-driven I/O (fcntl F_SETFL). */
    int O_ASYNC = 020000;
    int O_DIRECT = 040000;
    int O_LARGEFILE = 0100000;
    int O_DIRECTORY = 0200000;
    int O_NOFOLLOW = 0400000;
    int O_NOATIME = 01000000;
    int O_CLOEXEC = 02000000;
    /** O_SYNC is __O_SYNC (04000000) plus O_DSYNC, as in Linux. */
    int O_SYNC = 04010000;
    int O_PATH = 010000000;
    /** Every open flag bit this contract defines. */
    int O_KNOWN = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC
            | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH;

    /** renameat2 flags (include/uapi/linux/fs.h). */
    int RENAME_NOREPLACE = 1;
    int RENAME_EXCHANGE = 2;

    /** fallocate modes (include/uapi/linux/falloc.h). */
    int FALLOC_FL_KEEP_SIZE = 0x01;
    int FALLOC_FL_PUNCH_HOLE = 0x02;
    int FALLOC_FL_ZERO_RANGE = 0x10;

    /** lseek whence (include/uapi/linux/fs.h). */
    int SEEK_DATA = 3;
    int SEEK_HOLE = 4;

    /**
     * This filesystem as capability {@code type} ({@link VfsWrite}, {@link VfsNamespace}, {@link VfsFallocate},
     * {@link VfsSeek}, {@link VfsXattr}), or empty when it does not offer it. The default is {@code instanceof};
     * a wrapper overrides it to forward or hide capabilities of what it wraps.
     */
    default <T> Optional<T> capability(Class<T> type) {
        return type.isInstance(this) ? Optional.of(type.cast(this)) : Optional.empty();
    }

    /** The root directory's inode number (2 for ext2). */
    long rootIno();

    boolean isReadOnly();

    /** Looks {@code name} up in directory {@code dirIno}; ENOENT if absent, ENOTDIR if not a directory. */
    InodeAttr lookup(long dirIno, String name) throws IOException;

    InodeAttr getattr(long ino) throws IOException;

    /**
     * The target of a symlink; EINVAL if not a symlink. In the core because path resolution needs it; a filesystem
     * without symlinks never reports S_IFLNK and answers EINVAL, as the kernel does for an inode without
     * {@code get_link}.
     */
    String readlink(long ino) throws IOException;

    /**
     * Lists directory entries starting at {@code offset} (0 = the start; else a {@link DirEntry#nextOffset()}),
     * "." and ".." included, feeding them to {@code sink} until it returns false or the directory ends.
     */
    void readdir(long dirIno, long offset, DirSink sink) throws IOException;

    /** Receives readdir entries; returns false to stop (buffer full). */
    @FunctionalInterface
    interface DirSink {
        boolean accept(DirEntry entry) throws IOException;
    }

    /**
     * Opens a regular file (EISDIR for directories; O_TRUNC truncates). A filesystem without {@link VfsWrite}
     * refuses O_WRONLY, O_RDWR and O_TRUNC with EROFS.
     */
    FileHandle open(long ino, int openFlags) throws IOException;

    /** What {@link VfsWrite#create} returns. */
    record Created(InodeAttr attr, FileHandle handle) {
    }

    /** Reads up to {@code dst.remaining()} bytes at {@code posBytes}; returns the count, 0 at EOF. */
    int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException;

    /** Makes the file's data (and with {@code !dataOnly} its metadata) durable; reports writeback errors once. */
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

    /** Closes a handle; an unlinked file with no references left is freed. */
    void release(FileHandle fh) throws IOException;

    /** Drops {@code count} references taken by lookup-like calls. */
    void forget(long ino, long count) throws IOException;

    StatFs statfs() throws IOException;

    /** Writes back every dirty file and all metadata and makes them durable. */
    void sync() throws IOException;

    /** Unmounts: writes everything back, marks the filesystem clean, releases the device. */
    @Override
    void close() throws IOException;
}
