package org.iomap4j.nio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;

/**
 * A {@link FileChannel} (and so a {@link java.nio.channels.SeekableByteChannel}) on a file of the image, over one
 * {@link FileHandle} of the {@link Vfs}: positional and relative reads and writes, scattering/gathering, size,
 * truncate, force (fsync), transfers, and in-process byte-range locks ({@link FileLockTable}).
 *
 * <p>A directory may be opened for reading only, as the JDK allows on Linux so that callers (Lucene's
 * {@code IOUtils.fsync}) can {@link #force} it: reading it throws "Is a directory", and force syncs the whole file
 * system (the Vfs has no directory fsync; its sync makes every directory change durable).
 *
 * <p>Thread-safe: relative operations and position changes are serialised by {@code posLock} (JDK semantics: one
 * relative read/write at a time); positional ones run concurrently. Lock order: the file system's close lock
 * (read) → posLock → the Vfs.
 *
 * <p>{@link #map} is not supported yet: a DAX-backed mapping of contiguous, block-aligned extents is planned.
 */
final class VfsFileChannel extends FileChannel {
    private static final int TRANSFER_CHUNK_BYTES = 256 << 10;

    private final VfsFileSystem fs;
    private final Vfs vfs;
    private final VfsPath path;
    private final long ino;
    /** Null for a directory opened for reading. */
    private final FileHandle fh;
    private final boolean readable;
    private final boolean writable;
    private final boolean append;
    private final boolean deleteOnClose;
    /** The channel user code sees for locks (this, or the asynchronous channel wrapping it). */
    private volatile Channel lockOwner = this;
    private final Object posLock = new Object();
    private long position;

    VfsFileChannel(VfsFileSystem fs, VfsPath path, long ino, FileHandle fh, boolean readable, boolean writable,
            boolean append, boolean deleteOnClose) {
        this.fs = fs;
        this.vfs = fs.vfs();
        this.path = path;
        this.ino = ino;
        this.fh = fh;
        this.readable = readable;
        this.writable = writable;
        this.append = append;
        this.deleteOnClose = deleteOnClose;
    }

    void lockOwner(Channel owner) {
        this.lockOwner = owner;
    }

    long ino() {
        return ino;
    }

    private void ensureOpen() throws ClosedChannelException {
        if (!isOpen()) {
            throw new ClosedChannelException();
        }
    }

    private void ensureReadable() throws IOException {
        ensureOpen();
        if (!readable) {
            throw new NonReadableChannelException();
        }
        if (fh == null) {
            throw new IOException("Is a directory: " + path);
        }
    }

    private void ensureWritable() throws IOException {
        ensureOpen();
        if (!writable) {
            throw new NonWritableChannelException();
        }
    }

    /** Reads at {@code pos} into dst; -1 at end of file (with room left in dst). */
    private int readAt(ByteBuffer dst, long pos) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        int n = fs.op(path, null, () -> vfs.read(fh, pos, dst));
        return n == 0 ? -1 : n;
    }

    private int writeAt(ByteBuffer src, long pos) throws IOException {
        if (!src.hasRemaining()) {
            return 0;
        }
        return fs.op(path, null, () -> Capabilities.write(vfs).write(fh, pos, src));
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        ensureReadable();
        synchronized (posLock) {
            int n = readAt(dst, position);
            if (n > 0) {
                position += n;
            }
            return n;
        }
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, dsts.length);
        ensureReadable();
        synchronized (posLock) {
            long total = 0;
            for (int i = offset; i < offset + length; i++) {
                ByteBuffer b = dsts[i];
                int want = b.remaining();
                if (want == 0) {
                    continue;
                }
                int n = readAt(b, position);
                if (n < 0) {
                    return total == 0 ? -1 : total;
                }
                position += n;
                total += n;
                if (n < want) {
                    break;
                }
            }
            return total;
        }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        ensureWritable();
        synchronized (posLock) {
            if (append) {
                position = size();
            }
            int n = writeAt(src, position);
            position += n;
            return n;
        }
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, srcs.length);
        ensureWritable();
        synchronized (posLock) {
            long total = 0;
            for (int i = offset; i < offset + length; i++) {
                if (append) {
                    position = size();
                }
                int n = writeAt(srcs[i], position);
                position += n;
                total += n;
            }
            return total;
        }
    }

    @Override
    public long position() throws IOException {
        ensureOpen();
        synchronized (posLock) {
            return append ? size() : position;
        }
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
        if (newPosition < 0) {
            throw new IllegalArgumentException("negative position " + newPosition);
        }
        ensureOpen();
        synchronized (posLock) {
            position = newPosition;
        }
        return this;
    }

    @Override
    public long size() throws IOException {
        ensureOpen();
        return fs.op(path, null, () -> vfs.getattr(ino).sizeBytes());
    }

    /** Shrinks the file to {@code size} bytes if it is larger (never grows it); the position moves back to it. */
    @Override
    public FileChannel truncate(long size) throws IOException {
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size);
        }
        ensureWritable();
        if (fh == null) {
            throw new IOException("Is a directory: " + path);
        }
        synchronized (posLock) {
            fs.op(path, null, () -> {
                if (size < vfs.getattr(ino).sizeBytes()) {
                    Capabilities.write(vfs).setattr(ino, org.iomap4j.vfs.SetAttr.size(size));
                }
                return null;
            });
            if (position > size) {
                position = size;
            }
        }
        return this;
    }

    /** fsync (metaData) or fdatasync; for a directory a sync of the whole file system. */
    @Override
    public void force(boolean metaData) throws IOException {
        ensureOpen();
        fs.op(path, null, () -> {
            if (fh == null) {
                if (!vfs.isReadOnly()) {
                    vfs.sync();
                }
            } else {
                vfs.fsync(fh, !metaData);
            }
            return null;
        });
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
        if (position < 0 || count < 0) {
            throw new IllegalArgumentException("negative position or count");
        }
        ensureReadable();
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(TRANSFER_CHUNK_BYTES, Math.max(1, count)));
        long done = 0;
        while (done < count) {
            buf.clear().limit((int) Math.min(buf.capacity(), count - done));
            int n = readAt(buf, position + done);
            if (n <= 0) {
                break;
            }
            buf.flip();
            while (buf.hasRemaining()) {
                if (target.write(buf) == 0) {
                    return done + n - buf.remaining(); // a non-blocking target is full
                }
            }
            done += n;
        }
        return done;
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
        if (position < 0 || count < 0) {
            throw new IllegalArgumentException("negative position or count");
        }
        ensureWritable();
        if (position > size()) {
            return 0;
        }
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(TRANSFER_CHUNK_BYTES, Math.max(1, count)));
        long done = 0;
        while (done < count) {
            buf.clear().limit((int) Math.min(buf.capacity(), count - done));
            int n = src.read(buf);
            if (n <= 0) {
                break;
            }
            buf.flip();
            writeAt(buf, position + done);
            done += n;
        }
        return done;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        if (position < 0) {
            throw new IllegalArgumentException("negative position " + position);
        }
        ensureReadable();
        return readAt(dst, position);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        if (position < 0) {
            throw new IllegalArgumentException("negative position " + position);
        }
        ensureWritable();
        return writeAt(src, position);
    }

    /** As {@link #map(MapMode, long, long, Arena)}, as a buffer (valid until the file system closes). */
    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("size " + size + " > Integer.MAX_VALUE");
        }
        return (MappedByteBuffer) daxMap(mode, position, size).asByteBuffer();
    }

    /**
     * DAX: on a mount with {@code dax}, the range as a slice of the memory-mapped image, when it starts at a block
     * boundary and its blocks are written and contiguous on disk. Loads and stores reach the image directly (the
     * file's data is not page-cached on a dax mount, so channel reads and writes see them). The segment lives until
     * the file system is closed, not until {@code arena} closes; it never changes the file's size or times.
     *
     * @throws UnsupportedOperationException on a mount without {@code dax}, for {@link MapMode#PRIVATE}, and for a
     *                                       range that is unaligned, a hole, unwritten or fragmented on disk
     */
    @Override
    public MemorySegment map(MapMode mode, long offset, long size, Arena arena) throws IOException {
        java.util.Objects.requireNonNull(arena, "arena");
        return daxMap(mode, offset, size);
    }

    private MemorySegment daxMap(MapMode mode, long offset, long size) throws IOException {
        if (offset < 0 || size < 0 || offset + size < 0) {
            throw new IllegalArgumentException("bad map range " + offset + "+" + size);
        }
        boolean rw = mode == MapMode.READ_WRITE;
        if (mode != MapMode.READ_ONLY && !rw) {
            throw new UnsupportedOperationException("FileChannel.map mode " + mode + " (" + path
                    + "): only READ_ONLY and READ_WRITE (shared) mappings of the image exist");
        }
        ensureReadable(); // a shared writable mapping needs a READ+WRITE channel, as on Linux
        if (rw) {
            ensureWritable();
        }
        MountedVfs.DaxMap dax = fs.mounted().dax();
        if (dax == null) {
            throw new UnsupportedOperationException("FileChannel.map needs a DAX mount (env \"dax\": true) (" + path
                    + "): only then is the file's data read and written straight on the memory-mapped image");
        }
        return fs.op(path, null, () -> dax.map(ino, offset, size, rw));
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
        return tryLock(position, size, shared);
    }

    /**
     * Locks a range for this JVM; a range overlapping a lock held through any channel of the file throws
     * OverlappingFileLockException (in-process semantics; other processes cannot open the mounted image).
     */
    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        if (position < 0 || size < 0 || position + size < 0) {
            throw new IllegalArgumentException("bad lock range " + position + "+" + size);
        }
        ensureOpen();
        if (shared && !readable) {
            throw new NonReadableChannelException();
        }
        if (!shared && !writable) {
            throw new NonWritableChannelException();
        }
        fs.checkOpen();
        return fs.locks().lock(lockOwner, ino, position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
        fs.locks().releaseAll(lockOwner, ino);
        fs.unregister(this);
        fs.release(path, () -> {
            try {
                if (fh != null) {
                    vfs.release(fh);
                }
            } finally {
                vfs.forget(ino, 1);
            }
            if (deleteOnClose) {
                fs.namespace().delete(fs.namespace().loc(path), Namespace.DeleteKind.ANY, true);
            }
            return null;
        });
    }

    @Override
    public String toString() {
        return "VfsFileChannel[" + path + ", ino " + ino + "]";
    }
}
