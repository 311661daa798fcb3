package org.iomap4j.vfs;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A mounted filesystem as front ends see it (the kernel's VFS inode operations, by inode number): FUSE, the
 * java.nio provider and the CLI all drive a filesystem through this, and it is all they know of it.
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
 * <p>Thread-safe: front ends call concurrently from many threads.
 */
public interface Vfs extends AutoCloseable {

    /** O_ACCMODE and flag values of open(2) on Linux x86-64. */
    int O_RDONLY = 0;
    int O_WRONLY = 1;
    int O_RDWR = 2;
    int O_ACCMODE = 3;
    int O_CREAT = 0100;
    int O_EXCL = 0200;
    int O_TRUNC = 01000;
    int O_APPEND = 02000;
    int O_DSYNC = 010000;
    int O_DIRECT = 040000;
    int O_SYNC = 04010000;

    /** renameat2 flags. */
    int RENAME_NOREPLACE = 1;
    int RENAME_EXCHANGE = 2;

    /** fallocate modes. */
    int FALLOC_FL_KEEP_SIZE = 0x01;
    int FALLOC_FL_PUNCH_HOLE = 0x02;
    int FALLOC_FL_ZERO_RANGE = 0x10;

    /** lseek whence. */
    int SEEK_DATA = 3;
    int SEEK_HOLE = 4;

    /** The root directory's inode number (2 for ext2). */
    long rootIno();

    boolean isReadOnly();

    /** Looks {@code name} up in directory {@code dirIno}; ENOENT if absent, ENOTDIR if not a directory. */
    InodeAttr lookup(long dirIno, String name) throws IOException;

    InodeAttr getattr(long ino) throws IOException;

    /** Applies {@code changes}; a size change truncates or extends (EISDIR on a directory). */
    InodeAttr setattr(long ino, SetAttr changes) throws IOException;

    /** Creates a regular file, device node, fifo or socket ({@code mode} carries the type). */
    InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException;

    InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException;

    InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException;

    /** The target of a symlink; EINVAL if not a symlink. */
    String readlink(long ino) throws IOException;

    /** Adds a hard link {@code newName} in {@code newDirIno} to {@code ino}; EPERM for directories. */
    InodeAttr link(long ino, long newDirIno, String newName) throws IOException;

    void unlink(long dirIno, String name) throws IOException;

    void rmdir(long dirIno, String name) throws IOException;

    /** rename/renameat2 with {@link #RENAME_NOREPLACE} or {@link #RENAME_EXCHANGE} flags. */
    void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException;

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

    /** Opens a regular file (EISDIR for directories; O_TRUNC truncates). */
    FileHandle open(long ino, int openFlags) throws IOException;

    /**
     * Creates and opens a regular file; with O_EXCL an existing name is EEXIST, without it an existing file
     * is opened. Takes a reference like lookup.
     */
    Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException;

    /** What {@link #create} returns. */
    record Created(InodeAttr attr, FileHandle handle) {
    }

    /** Reads up to {@code dst.remaining()} bytes at {@code posBytes}; returns the count, 0 at EOF. */
    int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException;

    /** Writes all of {@code src} at {@code posBytes} (at EOF with O_APPEND); returns bytes written. */
    int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException;

    /** Makes the file's data (and with {@code !dataOnly} its metadata) durable; reports writeback errors once. */
    void fsync(FileHandle fh, boolean dataOnly) throws IOException;

    /** Closes a handle; an unlinked file with no references left is freed. */
    void release(FileHandle fh) throws IOException;

    /** fallocate(2); EOPNOTSUPP for modes the filesystem does not support. */
    default void fallocate(FileHandle fh, int mode, long offsetBytes, long lengthBytes) throws IOException {
        throw new org.iomap4j.FsException(org.iomap4j.Errno.EOPNOTSUPP, "fallocate not supported");
    }

    /**
     * lseek with {@link #SEEK_DATA} or {@link #SEEK_HOLE}; ENXIO at or past EOF. The default treats the whole file
     * as data.
     */
    default long seekDataHole(FileHandle fh, long offsetBytes, int whence) throws IOException {
        long size = getattr(fh.ino()).sizeBytes();
        if (offsetBytes < 0 || offsetBytes >= size) {
            throw new org.iomap4j.FsException(org.iomap4j.Errno.ENXIO, "offset " + offsetBytes + " at or past EOF");
        }
        return whence == SEEK_DATA ? offsetBytes : size;
    }

    /** Drops {@code count} references taken by lookup-like calls. */
    void forget(long ino, long count) throws IOException;

    StatFs statfs() throws IOException;

    /** Writes back every dirty file and all metadata and makes them durable. */
    void sync() throws IOException;

    /** Unmounts: writes everything back, marks the filesystem clean, releases the device. */
    @Override
    void close() throws IOException;
}
