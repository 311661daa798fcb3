package org.iomap4j.block;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.iomap4j.Errno;

/**
 * A byte-addressable device: an image file mapped into memory as one {@link MemorySegment}
 * ({@code FileChannel.map(mode, 0, size, Arena)}), standing in for persistent memory under DAX. Reads and writes
 * copy to and from the mapping, so block I/O (metadata through the buffer cache) and direct loads/stores through
 * {@link #segment()} (file data under {@link org.iomap4j.iomap.Dax}) always see the same bytes.
 *
 * <p>{@link #flush()} forces the whole mapping to the file ({@code msync}); {@link #force(long, long)} forces a
 * range. {@link #discard} zeroes the range (a defined result for a medium without trim). Logical block size 512.
 * Thread-safe: the mapping is shared; concurrent accesses to overlapping ranges are not ordered (as a disk).
 */
public final class MappedBlockDevice extends AbstractBlockDevice {
    private final Arena arena;
    private final FileChannel channel;
    private final MemorySegment segment;
    private volatile boolean closed;

    private MappedBlockDevice(Arena arena, FileChannel channel, MemorySegment segment, boolean readOnly) {
        super(512, readOnly);
        this.arena = arena;
        this.channel = channel;
        this.segment = segment;
    }

    /**
     * Maps the whole of {@code file} (its current size, which must be a positive multiple of 512 bytes).
     *
     * @throws IOException when the file cannot be opened or mapped; {@link DeviceIOException} (EINVAL) for a bad
     *                     size
     * @param file the image file
     * @param readOnly true to map it read-only (writes fail with EROFS)
     * @return the open device; close it to unmap and close the file
     */
    public static MappedBlockDevice open(Path file, boolean readOnly) throws IOException {
        FileChannel ch = readOnly ? FileChannel.open(file, StandardOpenOption.READ)
                : FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        Arena arena = Arena.ofShared();
        boolean ok = false;
        try {
            long size = ch.size();
            if (size <= 0 || size % 512 != 0) {
                throw new DeviceIOException(Errno.EINVAL, 0, file + ": size " + size
                        + " is not a positive multiple of 512 bytes", null);
            }
            MemorySegment seg = ch.map(readOnly ? FileChannel.MapMode.READ_ONLY : FileChannel.MapMode.READ_WRITE,
                    0, size, arena);
            MappedBlockDevice d = new MappedBlockDevice(arena, ch, seg, readOnly);
            ok = true;
            return d;
        } finally {
            if (!ok) {
                arena.close();
                ch.close();
            }
        }
    }

    /**
     * The open image file (for file locking by front ends); closed with the device.
     * @return the image's file channel
     */
    public FileChannel channel() {
        return channel;
    }

    /**
     * The mapping: device byte {@code a} is {@code segment().get(JAVA_BYTE, a)}. Invalid after {@link #close}.
     * @return the mapped segment, {@code sizeBytes()} long
     */
    public MemorySegment segment() {
        return segment;
    }

    @Override
    public long sizeBytes() {
        return segment.byteSize();
    }

    @Override
    protected void readAt(long devAddrBytes, ByteBuffer dst) throws IOException {
        checkOpen(devAddrBytes);
        int n = dst.remaining();
        MemorySegment.copy(segment, devAddrBytes, MemorySegment.ofBuffer(dst), 0, n);
        dst.position(dst.position() + n);
    }

    @Override
    protected void writeAt(long devAddrBytes, ByteBuffer src) throws IOException {
        checkOpen(devAddrBytes);
        int n = src.remaining();
        MemorySegment.copy(MemorySegment.ofBuffer(src), 0, segment, devAddrBytes, n);
        src.position(src.position() + n);
    }

    @Override
    public void read(long devAddrBytes, MemorySegment dst) throws IOException {
        checkRange(devAddrBytes, dst.byteSize());
        checkOpen(devAddrBytes);
        MemorySegment.copy(segment, devAddrBytes, dst, 0, dst.byteSize());
        stats.countRead(dst.byteSize());
    }

    @Override
    public void write(long devAddrBytes, MemorySegment src) throws IOException {
        checkWritable(devAddrBytes);
        checkRange(devAddrBytes, src.byteSize());
        checkOpen(devAddrBytes);
        MemorySegment.copy(src, 0, segment, devAddrBytes, src.byteSize());
        stats.countWrite(src.byteSize());
    }

    /**
     * Forces {@code [devAddrBytes, devAddrBytes + lengthBytes)} of the mapping to the file (msync of a range).
     * @param devAddrBytes device byte address of the first byte to force
     * @param lengthBytes length of the range in bytes
     * @throws IOException if the range lies outside the device or msync fails (EIO)
     */
    public void force(long devAddrBytes, long lengthBytes) throws IOException {
        checkRange(devAddrBytes, lengthBytes);
        checkOpen(devAddrBytes);
        if (!readOnly && lengthBytes > 0) {
            segment.asSlice(devAddrBytes, lengthBytes).force();
        }
    }

    @Override
    public void flush() throws IOException {
        checkOpen(0);
        if (!readOnly) {
            segment.force();
        }
        stats.countFlush();
    }

    /** Zeroes the range. */
    @Override
    public void discard(long devAddrBytes, long lengthBytes) throws IOException {
        checkWritable(devAddrBytes);
        checkRange(devAddrBytes, lengthBytes);
        checkOpen(devAddrBytes);
        segment.asSlice(devAddrBytes, lengthBytes).fill((byte) 0);
        stats.countDiscard();
    }

    private void checkOpen(long devAddrBytes) throws DeviceIOException {
        if (closed) {
            throw new DeviceIOException(Errno.EIO, devAddrBytes, "mapped device is closed", null);
        }
    }

    /** Unmaps (the arena is closed) and closes the file; does not force. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            arena.close();
        } finally {
            channel.close();
        }
    }

    @Override
    public String toString() {
        return "MappedBlockDevice[" + segment.byteSize() + " bytes" + (readOnly ? ", ro" : "") + "]";
    }
}
