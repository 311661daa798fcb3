package org.iomap4j.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;
import org.iomap4j.Errno;

/**
 * A block device backed by an image file (or a real block device node) through a {@link FileChannel}, with
 * positional reads and writes so that concurrent requests do not share a file position.
 *
 * <p>{@link #flush()} is {@code FileChannel.force(false)} (fdatasync). {@link #discard} writes zeroes (the
 * portable choice; a sparse file stays correct). With {@code direct = true} the file is opened O_DIRECT
 * ({@code com.sun.nio.file.ExtendedOpenOption.DIRECT}) and every request must be aligned to the file system's
 * block size in address, length and memory ({@link #requiresAlignment()}).
 */
public final class FileBlockDevice extends AbstractBlockDevice {
    private final Path path;
    private final FileChannel channel;
    private final long sizeBytes;
    private final boolean direct;

    private FileBlockDevice(Path path, FileChannel channel, long sizeBytes, int lbs, boolean readOnly, boolean direct) {
        super(lbs, readOnly);
        this.path = path;
        this.channel = channel;
        this.sizeBytes = sizeBytes;
        this.direct = direct;
    }

    /** Opens an existing image read-write (or read-only), buffered, with 512-byte logical blocks. */
    public static FileBlockDevice open(Path path, boolean readOnly) throws IOException {
        return open(path, readOnly, false);
    }

    /**
     * Opens an existing image. Its size, rounded down to 512 bytes, is the device size.
     *
     * @param direct open with O_DIRECT; the logical block size becomes 4096 so that any request aligned for the
     *               device is aligned for the host file system
     * @throws org.iomap4j.FsException ENOENT/EACCES/EROFS as the open fails, naming the path
     */
    public static FileBlockDevice open(Path path, boolean readOnly, boolean direct) throws IOException {
        Set<OpenOption> opts = new HashSet<>();
        opts.add(StandardOpenOption.READ);
        if (!readOnly) {
            opts.add(StandardOpenOption.WRITE);
        }
        if (direct) {
            opts.add(com.sun.nio.file.ExtendedOpenOption.DIRECT);
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(path, opts);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new org.iomap4j.FsException(Errno.ENOENT, path + ": no such file", e);
        } catch (java.nio.file.AccessDeniedException e) {
            throw new org.iomap4j.FsException(Errno.EACCES, path + ": permission denied", e);
        }
        long size;
        try {
            size = ch.size();
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        int lbs = direct ? 4096 : 512;
        return new FileBlockDevice(path, ch, size - size % lbs, lbs, readOnly, direct);
    }

    /** Creates (or truncates) a sparse image file of {@code sizeBytes} and opens it read-write. */
    public static FileBlockDevice create(Path path, long sizeBytes) throws IOException {
        if (sizeBytes <= 0 || sizeBytes % 512 != 0) {
            throw new IllegalArgumentException("image size " + sizeBytes + " not a positive multiple of 512");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.allocate(1), sizeBytes - 1);
        }
        return open(path, false, false);
    }

    public Path path() {
        return path;
    }

    /** The underlying channel (for file locking by front ends). */
    public FileChannel channel() {
        return channel;
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public boolean requiresAlignment() {
        return direct;
    }

    @Override
    protected void readAt(long devAddrBytes, ByteBuffer dst) throws IOException {
        long addr = devAddrBytes;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, addr);
                if (n < 0) {
                    // Past the end of a file shorter than the device claims: reads as zeroes (sparse tail).
                    while (dst.hasRemaining()) {
                        dst.put((byte) 0);
                    }
                    return;
                }
                addr += n;
            }
        } catch (IOException e) {
            throw new DeviceIOException(Errno.EIO, addr, path + ": read failed: " + e.getMessage(), e);
        }
    }

    @Override
    protected void writeAt(long devAddrBytes, ByteBuffer src) throws IOException {
        long addr = devAddrBytes;
        try {
            while (src.hasRemaining()) {
                addr += channel.write(src, addr);
            }
        } catch (IOException e) {
            Errno errno = e.getMessage() != null && e.getMessage().contains("No space left") ? Errno.ENOSPC : Errno.EIO;
            throw new DeviceIOException(errno, addr, path + ": write failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            channel.force(false);
        } catch (IOException e) {
            throw new DeviceIOException(Errno.EIO, 0, path + ": flush failed: " + e.getMessage(), e);
        }
        stats.countFlush();
    }

    @Override
    public void discard(long devAddrBytes, long lengthBytes) throws IOException {
        checkWritable(devAddrBytes);
        checkRange(devAddrBytes, lengthBytes);
        ByteBuffer zeros = direct ? ByteBuffer.allocateDirect(1 << 20).alignedSlice(4096) : ByteBuffer.allocate(1 << 20);
        long addr = devAddrBytes;
        long end = devAddrBytes + lengthBytes;
        while (addr < end) {
            zeros.clear();
            zeros.limit((int) Math.min(zeros.capacity(), end - addr));
            writeAt(addr, zeros);
            addr += zeros.limit();
        }
        stats.countDiscard();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "FileBlockDevice[" + path + ", " + sizeBytes + " bytes" + (readOnly ? ", ro" : "") + "]";
    }
}
