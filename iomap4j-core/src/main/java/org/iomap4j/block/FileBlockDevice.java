package org.iomap4j.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import org.iomap4j.Errno;

/**
 * A block device backed by an image file (or a real block device node) through a {@link FileChannel}, with
 * positional reads and writes so that concurrent requests do not share a file position.
 *
 * <p>{@link #flush()} is {@code FileChannel.force(false)} (fdatasync). {@link #discard} writes zeroes (the
 * portable choice; a sparse file stays correct). With {@code direct = true} the file is opened O_DIRECT
 * ({@code com.sun.nio.file.ExtendedOpenOption.DIRECT}) and every request must be aligned to the file system's
 * block size in address, length and memory ({@link #requiresAlignment()}).
 *
 * <p><b>Direct reads</b> ({@link #enableDirectReads}): a buffered device can also keep a second, O_DIRECT,
 * read-only descriptor of the image and serve large aligned reads through it, so that file data already cached by
 * iomap4j's page cache is not cached a second time by the host, and the host does not run its own readahead over
 * the image. Reads stay coherent with the buffered writes of this device: Linux writes back a file's dirty page
 * cache over the range of a direct read before reading (mm/filemap.c {@code kiocb_write_and_wait}). Writes always
 * go through the buffered descriptor; only reads are ever direct. Measured on a virtio disk (benchmarks.md,
 * session 4): a cold 512 MiB sequential 1 MiB read of an image took about a fifth of the device time
 * (/proc/diskstats) direct as through the host's readahead, while 4 KiB random reads lost half their IOPS
 * direct; hence a size threshold.
 */
public final class FileBlockDevice extends AbstractBlockDevice {
    private static final System.Logger LOG = System.getLogger(FileBlockDevice.class.getName());
    /** Smallest O_DIRECT alignment used for the host file (address, length, memory). */
    private static final int MIN_HOST_DIO_ALIGN_BYTES = 4096;

    private final Path path;
    private final FileChannel channel;
    private final long sizeBytes;
    private final boolean direct;
    /** The O_DIRECT read descriptor of {@link #enableDirectReads} while in use, or null (every read buffered). */
    private volatile FileChannel directReadChannel;
    /**
     * Every O_DIRECT descriptor this device opened, closed only by {@link #close()}: closing any descriptor of a
     * file drops the POSIX record locks the process holds on it (fcntl(2)), such as a front end's lock on the
     * image taken through {@link #channel()}.
     */
    private final java.util.List<FileChannel> directChannelsToClose = new java.util.ArrayList<>();
    private volatile int directReadMinBytes = Integer.MAX_VALUE;
    /**
     * Alignment of direct reads in address, length and memory: 4096, or the host file store's block size if larger
     * (the JDK checks O_DIRECT requests against {@code FileStore.getBlockSize()}).
     */
    private volatile int directAlignBytes = MIN_HOST_DIO_ALIGN_BYTES;
    private final LongAdder directReads = new LongAdder();

    private FileBlockDevice(Path path, FileChannel channel, long sizeBytes, int lbs, boolean readOnly, boolean direct) {
        super(lbs, readOnly);
        this.path = path;
        this.channel = channel;
        this.sizeBytes = sizeBytes;
        this.direct = direct;
    }

    /**
     * Opens an existing image read-write (or read-only), buffered, with 512-byte logical blocks.
     * @param path the image file; it must exist
     * @param readOnly true to open it read-only (writes fail with EROFS)
     * @return the open device; close it to close the file
     * @throws IOException if the file cannot be opened
     */
    public static FileBlockDevice open(Path path, boolean readOnly) throws IOException {
        return open(path, readOnly, false);
    }

    /**
     * Opens an existing image. Its size, rounded down to 512 bytes, is the device size.
     *
     * @param direct open with O_DIRECT; the logical block size becomes 4096 so that any request aligned for the
     *               device is aligned for the host file system
     * @throws org.iomap4j.FsException ENOENT/EACCES/EROFS as the open fails, naming the path
     * @param path the image file; it must exist
     * @param readOnly true to open it read-only (writes fail with EROFS)
     * @return the open device; close it to close the file
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

    /**
     * Creates (or truncates) a sparse image file of {@code sizeBytes} and opens it read-write.
     * @param path the image file, created if absent and truncated to {@code sizeBytes}
     * @param sizeBytes device size in bytes (a multiple of 512)
     * @return the open read-write device
     * @throws IOException if the file cannot be created or sized
     */
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

    /** {@return the image file this device reads and writes} */
    public Path path() {
        return path;
    }

    /**
     * The underlying channel (for file locking by front ends).
     * @return the open file channel; closed with the device
     */
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

    /**
     * Serves reads of at least {@code minBytes} bytes that are aligned (4096 bytes, or the host file store's block
     * size if larger) in device address, length and memory (a direct {@link ByteBuffer}) through a second descriptor of the image opened O_DIRECT (see the class
     * comment). Smaller or unaligned reads stay buffered. Has no effect on a device opened O_DIRECT already.
     *
     * @param minBytes smallest read, in bytes, that goes direct (> 0)
     * @return true if direct reads are on; false when the host file system refuses O_DIRECT (for example a file
     *         system without direct I/O support), in which case every read stays buffered
     * @throws IllegalArgumentException if {@code minBytes <= 0}
     */
    public synchronized boolean enableDirectReads(int minBytes) {
        if (minBytes <= 0) {
            throw new IllegalArgumentException("direct-read threshold must be positive: " + minBytes);
        }
        if (direct) {
            return false;
        }
        if (directReadChannel == null) {
            try {
                long storeBlock = java.nio.file.Files.getFileStore(path).getBlockSize();
                if (storeBlock > (1 << 20) || Long.bitCount(storeBlock) != 1) {
                    LOG.log(System.Logger.Level.DEBUG, path + ": host block size " + storeBlock
                            + " unsuitable for direct reads; every read stays buffered");
                    return false;
                }
                directAlignBytes = (int) Math.max(MIN_HOST_DIO_ALIGN_BYTES, storeBlock);
                FileChannel d = FileChannel.open(path, StandardOpenOption.READ,
                        com.sun.nio.file.ExtendedOpenOption.DIRECT);
                directChannelsToClose.add(d);
                directReadChannel = d;
            } catch (IOException | UnsupportedOperationException e) {
                LOG.log(System.Logger.Level.DEBUG, path + ": O_DIRECT open refused (" + e + "); every read stays buffered");
                return false;
            }
        }
        directReadMinBytes = minBytes;
        return true;
    }

    /**
     * True while large aligned reads go through the O_DIRECT descriptor ({@link #enableDirectReads}).
     * @return true if large aligned reads use O_DIRECT
     */
    public boolean directReadsEnabled() {
        return directReadChannel != null;
    }

    /**
     * Reads served by the O_DIRECT descriptor since the device was opened.
     * @return the number of O_DIRECT reads
     */
    public long directReadCount() {
        return directReads.sum();
    }

    private boolean qualifiesForDirectRead(long devAddrBytes, ByteBuffer dst) {
        int n = dst.remaining();
        return n >= directReadMinBytes
                && ((devAddrBytes | n) & (directAlignBytes - 1)) == 0
                && dst.isDirect()
                && (java.lang.foreign.MemorySegment.ofBuffer(dst).address() & (directAlignBytes - 1)) == 0;
    }

    /**
     * Reads what it can of {@code dst} at {@code devAddrBytes} through the O_DIRECT descriptor; returns the address
     * reached. Stops early (the buffered path does the rest) at the end of the file or when the host refuses the
     * request (EINVAL: its alignment is stricter than ours), in which case direct reads are switched off.
     */
    private long readDirect(FileChannel d, long devAddrBytes, ByteBuffer dst) throws IOException {
        long addr = devAddrBytes;
        int start = dst.position();
        try {
            while (dst.hasRemaining()) {
                int n = d.read(dst, addr);
                if (n <= 0 || (n & (directAlignBytes - 1)) != 0) {
                    // EOF, or a short read at an unaligned end of file: the buffered path finishes.
                    addr += Math.max(n, 0);
                    break;
                }
                addr += n;
            }
        } catch (java.nio.channels.ClosedChannelException e) {
            // Closed under us (the device is closing, or the JDK closed it because this reader was interrupted):
            // the buffered descriptor finishes; a closed device is reported there.
            disableDirectReads();
        } catch (IOException e) {
            String msg = e.getMessage();
            if (msg == null || !(msg.contains("Invalid argument") || msg.contains("multiple of the block size"))) {
                throw new DeviceIOException(Errno.EIO, addr, path + ": read failed: " + e.getMessage(), e);
            }
            LOG.log(System.Logger.Level.WARNING, path + ": O_DIRECT read of " + dst.remaining() + " bytes at " + addr
                    + " refused (" + e.getMessage() + "); reads stay buffered from now on");
            disableDirectReads();
        }
        if (dst.position() > start) {
            directReads.increment();
        }
        return addr;
    }

    /** Back to buffered reads; the descriptor stays open until {@link #close()} (see directChannelsToClose). */
    private synchronized void disableDirectReads() {
        directReadChannel = null;
        directReadMinBytes = Integer.MAX_VALUE;
    }

    @Override
    protected void readAt(long devAddrBytes, ByteBuffer dst) throws IOException {
        long addr = devAddrBytes;
        FileChannel d = directReadChannel;
        if (d != null && qualifiesForDirectRead(addr, dst)) {
            addr = readDirect(d, addr, dst);
            if (!dst.hasRemaining()) {
                return;
            }
        }
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
        try {
            synchronized (this) {
                disableDirectReads();
                for (FileChannel d : directChannelsToClose) {
                    try {
                        d.close();
                    } catch (IOException e) {
                        LOG.log(System.Logger.Level.DEBUG, path + ": closing the O_DIRECT descriptor: " + e);
                    }
                }
                directChannelsToClose.clear();
            }
        } finally {
            channel.close();
        }
    }

    @Override
    public String toString() {
        return "FileBlockDevice[" + path + ", " + sizeBytes + " bytes" + (readOnly ? ", ro" : "") + "]";
    }
}
