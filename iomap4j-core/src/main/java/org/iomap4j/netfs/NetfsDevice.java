package org.iomap4j.netfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import org.iomap4j.Errno;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.DeviceIOException;
import org.iomap4j.block.DeviceStats;

/**
 * A {@link BlockDevice} view of one {@link NetfsFile}: device address = object offset. The core's buffered read
 * and writeback use it like a disk (MAPPED iomaps point at it), and it turns their requests into netfs reads
 * (dirty log, local cache, server), dirty-log writes and, for {@link #flush()}, an upload.
 *
 * <p>Unaligned requests are fine (logical block 512 is only what the core checks against); the capacity is
 * {@link #CAPACITY_BYTES}. Requests run on the calling thread; a read's server fetches run in parallel inside it.
 */
final class NetfsDevice implements BlockDevice {
    /** The largest object offset served (2^62 bytes). */
    static final long CAPACITY_BYTES = 1L << 62;

    private final NetfsFile file;
    private final DeviceStats stats = new DeviceStats();

    NetfsDevice(NetfsFile file) {
        this.file = file;
    }

    @Override
    public int logicalBlockSize() {
        return 512;
    }

    @Override
    public long sizeBytes() {
        return CAPACITY_BYTES;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        checkRange(devAddrBytes, n);
        file.readRange(devAddrBytes, dst);
        stats.countRead(n);
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        int n = src.remaining();
        checkRange(devAddrBytes, n);
        file.writeRange(devAddrBytes, src);
        stats.countWrite(n);
    }

    /** fsync of the file: {@link NetfsFile#commit()}. */
    @Override
    public void flush() throws IOException {
        stats.countFlush();
        file.commit();
    }

    @Override
    public void discard(long devAddrBytes, long lengthBytes) {
        stats.countDiscard();
    }

    /** Runs the request now; several buffers are read as one stitched range and scattered. */
    @Override
    public CompletableFuture<Void> submit(Bio bio) {
        try {
            long len = bio.lengthBytes();
            checkRange(bio.devAddrBytes(), len);
            if (bio.buffers().size() == 1) {
                ByteBuffer b = bio.buffers().getFirst();
                if (bio.op() == Bio.Op.READ) {
                    read(bio.devAddrBytes(), b);
                } else {
                    write(bio.devAddrBytes(), b);
                }
                return CompletableFuture.completedFuture(null);
            }
            if (len > Integer.MAX_VALUE) {
                throw new DeviceIOException(bio.devAddrBytes(), "request of " + len + " bytes too large");
            }
            ByteBuffer scratch = ByteBuffer.allocate((int) len);
            if (bio.op() == Bio.Op.READ) {
                read(bio.devAddrBytes(), scratch);
                scratch.flip();
                for (ByteBuffer b : bio.buffers()) {
                    int n = b.remaining();
                    b.put(scratch.slice(scratch.position(), n));
                    scratch.position(scratch.position() + n);
                }
            } else {
                for (ByteBuffer b : bio.buffers()) {
                    scratch.put(b);
                }
                scratch.flip();
                write(bio.devAddrBytes(), scratch);
            }
            return CompletableFuture.completedFuture(null);
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(e instanceof IOException ? e
                    : new DeviceIOException(Errno.EIO, bio.devAddrBytes(), "'" + file.key() + "': " + bio.op()
                            + " failed: " + e, e));
        }
    }

    @Override
    public DeviceStats stats() {
        return stats;
    }

    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return "NetfsDevice[" + file.key() + "]";
    }
}
