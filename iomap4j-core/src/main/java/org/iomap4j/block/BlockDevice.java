package org.iomap4j.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * A byte-addressed block device: the only way iomap4j touches storage.
 *
 * <p>Contract, for every implementation:
 * <ul>
 *   <li>Addresses and lengths are bytes ({@code devAddrBytes}). Synchronous {@code read}/{@code write} transfer
 *       exactly {@code remaining()} bytes (or the segment's size) or throw; they need not be aligned unless the
 *       device says so ({@link #requiresAlignment()}, e.g. O_DIRECT).</li>
 *   <li>A range outside {@code [0, sizeBytes())} fails with an {@link IOException} naming the address, never a
 *       short transfer.</li>
 *   <li>I/O errors are {@link DeviceIOException}s carrying the device address, so the caller can say which
 *       block failed.</li>
 *   <li>{@link #flush()} is the durability barrier: every write completed before it was called is durable when
 *       it returns ({@code fdatasync}).</li>
 *   <li>{@link #submit(Bio)} starts a vectored request (several buffers, one contiguous device range) and
 *       completes its future when done, exceptionally with a {@link DeviceIOException} on error. One
 *       {@code submit} counts as one request in {@link #stats()} however many buffers it carries.</li>
 *   <li>Thread-safe: any number of threads may issue requests concurrently; requests to overlapping ranges are
 *       not ordered against each other (the caller orders them, as with a real disk).</li>
 * </ul>
 */
public interface BlockDevice extends AutoCloseable {

    /**
     * Smallest addressable unit in bytes (a power of two, 512..65536).
     * @return the logical block size in bytes
     */
    int logicalBlockSize();

    /**
     * Capacity in bytes.
     * @return the device size in bytes
     */
    long sizeBytes();

    /**
     * True if writes are refused with {@link org.iomap4j.Errno#EROFS}.
     * @return true if the device refuses writes
     */
    boolean isReadOnly();

    /**
     * True if addresses, lengths and memory must be aligned to {@link #logicalBlockSize()} (O_DIRECT).
     * @return true if every request must be aligned to the logical block size
     */
    default boolean requiresAlignment() {
        return false;
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code devAddrBytes} into {@code dst}, advancing its position.
     * @param devAddrBytes device byte address of the first byte read
     * @param dst buffer filled from its position to its limit
     * @throws IOException if the range lies outside the device ({@link DeviceIOException}, EINVAL) or the read fails
     *     (EIO)
     */
    void read(long devAddrBytes, ByteBuffer dst) throws IOException;

    /**
     * Writes {@code src.remaining()} bytes from {@code src} at {@code devAddrBytes}, advancing its position.
     * @param devAddrBytes device byte address of the first byte written
     * @param src bytes written, from its position to its limit
     * @throws IOException if the device is read-only (EROFS), the range lies outside it, or the write fails (EIO)
     */
    void write(long devAddrBytes, ByteBuffer src) throws IOException;

    /**
     * Reads {@code dst.byteSize()} bytes at {@code devAddrBytes} into {@code dst}.
     * @param devAddrBytes device byte address of the first byte read
     * @param dst memory filled, all of its {@code byteSize()} bytes
     * @throws IOException if the range lies outside the device or the read fails (EIO)
     */
    default void read(long devAddrBytes, MemorySegment dst) throws IOException {
        read(devAddrBytes, dst.asByteBuffer());
    }

    /**
     * Writes the whole of {@code src} at {@code devAddrBytes}.
     * @param devAddrBytes device byte address of the first byte written
     * @param src memory written, all of its {@code byteSize()} bytes
     * @throws IOException if the device is read-only (EROFS), the range lies outside it, or the write fails (EIO)
     */
    default void write(long devAddrBytes, MemorySegment src) throws IOException {
        write(devAddrBytes, src.asByteBuffer());
    }

    /**
     * Durability barrier: every write completed before this call is durable when it returns.
     * @throws IOException if the device could not make earlier writes durable (EIO); they must be treated as lost
     */
    void flush() throws IOException;

    /**
     * Tells the device that {@code [devAddrBytes, devAddrBytes + lengthBytes)} holds nothing of value. Contents
     * read afterwards are unspecified (zeroes on a file device that punches holes).
     * @param devAddrBytes device byte address of the first discarded byte
     * @param lengthBytes length of the discarded range in bytes
     * @throws IOException if the device is read-only (EROFS) or the range lies outside it
     */
    void discard(long devAddrBytes, long lengthBytes) throws IOException;

    /**
     * Starts a vectored request; see the class contract. The default runs it synchronously on the calling thread
     * and returns a completed future.
     * @param bio the request; its buffers' positions advance as it completes
     * @return a future completed when the whole request is done, or completed exceptionally with the
     *     {@link IOException} that failed it
     */
    CompletableFuture<Void> submit(Bio bio);

    /**
     * Request and byte counters since creation (or the last {@link DeviceStats#reset()}).
     * @return the device's live counters
     */
    DeviceStats stats();

    /** Flushes nothing; releases the device. Further calls fail. */
    @Override
    void close() throws IOException;

    /**
     * Checks {@code [devAddrBytes, devAddrBytes + lengthBytes)} lies on the device; throws naming the range.
     * @param devAddrBytes device byte address of the first byte of the range
     * @param lengthBytes length of the range in bytes
     * @throws IOException ({@link DeviceIOException}, EINVAL) if the range is negative or ends beyond {@link
     *     #sizeBytes()}
     */
    default void checkRange(long devAddrBytes, long lengthBytes) throws IOException {
        if (devAddrBytes < 0 || lengthBytes < 0 || devAddrBytes > sizeBytes() - lengthBytes) {
            throw new DeviceIOException(devAddrBytes,
                    "range [" + devAddrBytes + ", +" + lengthBytes + ") outside device of " + sizeBytes() + " bytes");
        }
    }
}
