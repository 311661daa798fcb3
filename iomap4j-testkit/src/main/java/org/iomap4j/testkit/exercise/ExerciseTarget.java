package org.iomap4j.testkit.exercise;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Set;

/**
 * One file the {@link Exerciser} drives: a library filesystem through {@link org.iomap4j.vfs.Vfs}, a directory on
 * any mounted filesystem, or a test filesystem. Exists so that one engine and one model check every layer.
 *
 * <p>Units are bytes throughout. Optional operations are announced by {@link #capabilities()} after
 * {@link #open()}; the exerciser never calls one that is not announced (the defaults throw
 * {@link UnsupportedOperationException}). Errors are the target's {@link IOException}s (for a library target an
 * {@link org.iomap4j.FsException} with its errno). Not thread-safe: one exerciser thread per target.
 */
public interface ExerciseTarget extends AutoCloseable {

    /** Optional operations a target may support. */
    enum Capability {
        /** fallocate(FALLOC_FL_ZERO_RANGE [| KEEP_SIZE]). */
        ZERO_RANGE,
        /** fallocate(FALLOC_FL_PUNCH_HOLE | KEEP_SIZE). */
        PUNCH_HOLE,
        /** O_DIRECT reads and writes aligned to {@link #blockSizeBytes()}. */
        DIRECT_IO,
        /** lseek SEEK_DATA / SEEK_HOLE. */
        SEEK_DATA_HOLE,
        /** Drop the clean cached data of the file (echo 1 > drop_caches). */
        DROP_CACHES,
        /** Unmount and mount again (everything written back, then read from the device). */
        REMOUNT,
        /** FIEMAP: the extents holding the file's data. */
        FIEMAP,
        /** fallocate(0) and fallocate(FALLOC_FL_KEEP_SIZE): preallocation that reads as zeroes. */
        PREALLOCATE
    }

    /**
     * A one-line description for logs ("ext2 on /tmp/x.img", "dir /mnt/fuse").
     *
     * @return the description
     */
    String describe();

    /**
     * Alignment of direct I/O in bytes (the filesystem block size).
     *
     * @return the alignment in bytes
     */
    int blockSizeBytes();

    /**
     * Creates the exercised file empty (truncating an old one) and opens it.
     *
     * @throws IOException if the file cannot be created
     */
    void open() throws IOException;

    /**
     * Optional operations supported; valid after {@link #open()}.
     *
     * @return the supported capabilities
     */
    Set<Capability> capabilities();

    /**
     * The file's size in bytes (stat).
     *
     * @return the size in bytes
     * @throws IOException if stat fails
     */
    long sizeBytes() throws IOException;

    /**
     * Reads at {@code posBytes} until {@code dst} is full or EOF; returns the bytes read.
     *
     * @param posBytes file byte offset
     * @param dst buffer filled from its position
     * @return bytes read
     * @throws IOException if the read fails
     */
    int read(long posBytes, ByteBuffer dst) throws IOException;

    /**
     * Writes all of {@code src} at {@code posBytes}.
     *
     * @param posBytes file byte offset
     * @param src the bytes, from its position to its limit
     * @throws IOException if the write fails
     */
    void write(long posBytes, ByteBuffer src) throws IOException;

    /**
     * Sets the size (ftruncate).
     *
     * @param sizeBytes the new size in bytes
     * @throws IOException if the truncate fails
     */
    void truncate(long sizeBytes) throws IOException;

    /**
     * fsync(2).
     *
     * @throws IOException if fsync fails (a writeback error)
     */
    void fsync() throws IOException;

    /**
     * Zeroes {@code [posBytes, posBytes + lengthBytes)}; without {@code keepSize} the size grows to cover it.
     *
     * @param posBytes file byte offset
     * @param lengthBytes range length in bytes
     * @param keepSize true for FALLOC_FL_KEEP_SIZE
     * @throws IOException if unsupported or the call fails
     */
    default void zeroRange(long posBytes, long lengthBytes, boolean keepSize) throws IOException {
        throw new UnsupportedOperationException("zero range");
    }

    /**
     * Preallocates {@code [posBytes, posBytes + lengthBytes)} (fallocate mode 0, or KEEP_SIZE): data there stays,
     * holes read as zeroes; without {@code keepSize} the size grows to cover the range.
     *
     * @param posBytes file byte offset
     * @param lengthBytes range length in bytes
     * @param keepSize true for FALLOC_FL_KEEP_SIZE
     * @throws IOException if unsupported or the call fails
     */
    default void allocate(long posBytes, long lengthBytes, boolean keepSize) throws IOException {
        throw new UnsupportedOperationException("preallocate");
    }

    /**
     * Deallocates {@code [posBytes, posBytes + lengthBytes)} keeping the size; it reads back as zeroes.
     *
     * @param posBytes file byte offset
     * @param lengthBytes range length in bytes
     * @throws IOException if unsupported or the call fails
     */
    default void punchHole(long posBytes, long lengthBytes) throws IOException {
        throw new UnsupportedOperationException("punch hole");
    }

    /**
     * O_DIRECT read; position and length are block aligned. Returns bytes read (short at EOF).
     *
     * @param posBytes file byte offset (aligned)
     * @param dst buffer filled from its position (aligned length)
     * @return bytes read
     * @throws IOException if unsupported or the read fails
     */
    default int directRead(long posBytes, ByteBuffer dst) throws IOException {
        throw new UnsupportedOperationException("direct read");
    }

    /**
     * O_DIRECT write; position and length are block aligned.
     *
     * @param posBytes file byte offset (aligned)
     * @param src the bytes (aligned length)
     * @throws IOException if unsupported or the write fails
     */
    default void directWrite(long posBytes, ByteBuffer src) throws IOException {
        throw new UnsupportedOperationException("direct write");
    }

    /**
     * lseek(SEEK_DATA): the next data offset at or after {@code posBytes}, or -1 for ENXIO.
     *
     * @param posBytes file byte offset to start at
     * @return the data offset, or -1
     * @throws IOException if unsupported or the call fails
     */
    default long seekData(long posBytes) throws IOException {
        throw new UnsupportedOperationException("seek data");
    }

    /**
     * FIEMAP over the whole file: extents as {@code {logicalBytes, lengthBytes}}, ascending. Every byte that
     * reads as non-zero must lie in one of them.
     *
     * @return the extents
     * @throws IOException if unsupported or the call fails
     */
    default java.util.List<long[]> fiemap() throws IOException {
        throw new UnsupportedOperationException("fiemap");
    }

    /**
     * lseek(SEEK_HOLE): the next hole offset at or after {@code posBytes} (EOF counts), or -1 for ENXIO.
     *
     * @param posBytes file byte offset to start at
     * @return the hole offset, or -1
     * @throws IOException if unsupported or the call fails
     */
    default long seekHole(long posBytes) throws IOException {
        throw new UnsupportedOperationException("seek hole");
    }

    /**
     * Drops the clean cached data (dirty data stays or is written back first).
     *
     * @throws IOException if unsupported or writing back fails
     */
    default void dropCaches() throws IOException {
        throw new UnsupportedOperationException("drop caches");
    }

    /**
     * Closes the file, unmounts, mounts again and reopens the file.
     *
     * @throws IOException if unsupported, or unmounting or mounting fails
     */
    default void remount() throws IOException {
        throw new UnsupportedOperationException("remount");
    }

    /** Closes the file (and unmounts what the target mounted). */
    @Override
    void close() throws IOException;
}
