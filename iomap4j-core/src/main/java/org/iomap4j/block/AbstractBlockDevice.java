package org.iomap4j.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import org.iomap4j.Errno;

/**
 * Shared plumbing of the concrete devices: range checks, counters, read-only refusal, and {@link #submit}
 * executed synchronously on the caller's thread through {@link #readAt}/{@link #writeAt}. Public as the base of
 * devices outside this package (the testkit's fault-injecting device); {@code logicalBlockSize} is in bytes, a
 * power of two in [512, 65536] (IllegalArgumentException otherwise).
 */
public abstract class AbstractBlockDevice implements BlockDevice {
    /** Request counters; {@link #read}/{@link #write}/{@link #flush}/{@link #discard} count into it. */
    protected final DeviceStats stats = new DeviceStats();
    /** Smallest addressable unit in bytes (a power of two). */
    protected final int logicalBlockSize;
    /** True if writes fail with EROFS. */
    protected final boolean readOnly;

    /**
     * A device with the given logical block size.
     * @param logicalBlockSize smallest addressable unit in bytes (a power of two, 512..65536)
     * @param readOnly true to refuse writes with EROFS
     */
    protected AbstractBlockDevice(int logicalBlockSize, boolean readOnly) {
        if (Integer.bitCount(logicalBlockSize) != 1 || logicalBlockSize < 512 || logicalBlockSize > 65536) {
            throw new IllegalArgumentException("logical block size must be a power of two in [512, 65536]: "
                    + logicalBlockSize);
        }
        this.logicalBlockSize = logicalBlockSize;
        this.readOnly = readOnly;
    }

    /**
     * Reads {@code dst.remaining()} bytes at a checked address; no counting.
     * @param devAddrBytes device byte address, already range-checked
     * @param dst buffer filled from its position to its limit
     * @throws IOException if the read fails (EIO)
     */
    protected abstract void readAt(long devAddrBytes, ByteBuffer dst) throws IOException;

    /**
     * Writes {@code src.remaining()} bytes at a checked address; no counting.
     * @param devAddrBytes device byte address, already range-checked and writable
     * @param src bytes written, from its position to its limit
     * @throws IOException if the write fails (EIO)
     */
    protected abstract void writeAt(long devAddrBytes, ByteBuffer src) throws IOException;

    @Override
    public int logicalBlockSize() {
        return logicalBlockSize;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public DeviceStats stats() {
        return stats;
    }

    /**
     * Refuses a write on a read-only device.
     * @param devAddrBytes device byte address of the refused write (named in the error)
     * @throws IOException ({@link DeviceIOException}, EROFS) if the device is read-only
     */
    protected void checkWritable(long devAddrBytes) throws IOException {
        if (readOnly) {
            throw new DeviceIOException(Errno.EROFS, devAddrBytes, "device is read-only", null);
        }
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        checkRange(devAddrBytes, n);
        readAt(devAddrBytes, dst);
        stats.countRead(n);
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        int n = src.remaining();
        checkWritable(devAddrBytes);
        checkRange(devAddrBytes, n);
        writeAt(devAddrBytes, src);
        stats.countWrite(n);
    }

    @Override
    public CompletableFuture<Void> submit(Bio bio) {
        try {
            long len = bio.lengthBytes();
            if (bio.op() == Bio.Op.WRITE) {
                checkWritable(bio.devAddrBytes());
            }
            checkRange(bio.devAddrBytes(), len);
            long addr = bio.devAddrBytes();
            for (ByteBuffer b : bio.buffers()) {
                int n = b.remaining();
                if (bio.op() == Bio.Op.READ) {
                    readAt(addr, b);
                } else {
                    writeAt(addr, b);
                }
                addr += n;
            }
            if (bio.op() == Bio.Op.READ) {
                stats.countRead(len);
            } else {
                stats.countWrite(len);
            }
            return CompletableFuture.completedFuture(null);
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(e instanceof DeviceIOException ? e
                    : new DeviceIOException(Errno.EIO, bio.devAddrBytes(), bio.op() + " failed: " + e.getMessage(), e));
        }
    }
}
