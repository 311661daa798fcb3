package org.iomap4j.jbd2;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import org.iomap4j.Errno;
import org.iomap4j.block.Bio;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.DeviceIOException;
import org.iomap4j.block.ForwardingBlockDevice;

/**
 * A read-only device that reads as its inner device with whole blocks replaced from memory: the result of
 * {@link JournalRecovery#replayInMemory} for read-only mounts of a filesystem that needs recovery. It never writes
 * the inner device: {@code write}, {@code discard} and write {@link Bio}s fail with {@link Errno#EROFS}.
 *
 * <p>Blocks are {@link #blockSizeBytes()} bytes, numbered from device byte 0. Reads may have any address and length;
 * each overlaid block in the range is served from memory, the rest from the inner device. The caller may add its
 * own in-memory patches with {@link #putBlock} (e.g. the ext superblock with needs_recovery cleared). Thread-safe.
 */
public final class ReplayOverlayDevice extends ForwardingBlockDevice {
    private final int blockSizeBytes;
    private final NavigableMap<Long, byte[]> blocks = new ConcurrentSkipListMap<>();
    private volatile RecoveryResult result;

    ReplayOverlayDevice(BlockDevice inner, int blockSizeBytes) {
        super(inner);
        this.blockSizeBytes = blockSizeBytes;
    }

    /**
     * What the in-memory recovery did.
     *
     * @return the recovery result
     */
    public RecoveryResult result() {
        return result;
    }

    void setResult(RecoveryResult result) {
        this.result = result;
    }

    /**
     * Block size of the overlay's block numbers, bytes.
     *
     * @return the block size in bytes
     */
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    /**
     * Number of blocks served from memory.
     *
     * @return the overlaid block count
     */
    public int overlaidBlocks() {
        return blocks.size();
    }

    /**
     * Whether block {@code blk} is served from memory.
     *
     * @param blk a block number, in {@link #blockSizeBytes()} units
     * @return true if served from memory
     */
    public boolean isOverlaid(long blk) {
        return blocks.containsKey(blk);
    }

    /**
     * Serves block {@code blk} ({@link #blockSizeBytes()} bytes, copied) from memory from now on.
     *
     * @param blk a block number, in {@link #blockSizeBytes()} units
     * @param data the block's contents
     */
    public void putBlock(long blk, byte[] data) {
        if (data.length != blockSizeBytes) {
            throw new IllegalArgumentException("overlay block of " + data.length + " bytes, expected "
                    + blockSizeBytes);
        }
        if (blk < 0 || blk >= inner.sizeBytes() / blockSizeBytes) {
            throw new IllegalArgumentException("overlay block " + blk + " beyond the device");
        }
        blocks.put(blk, data.clone());
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public void read(long devAddrBytes, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        checkRange(devAddrBytes, n);
        long firstBlk = devAddrBytes / blockSizeBytes;
        long lastBlk = (devAddrBytes + n - 1) / blockSizeBytes;
        if (n == 0 || blocks.subMap(firstBlk, true, lastBlk, true).isEmpty()) {
            inner.read(devAddrBytes, dst);
            return;
        }
        long pos = devAddrBytes;
        long end = devAddrBytes + n;
        while (pos < end) {
            long blk = pos / blockSizeBytes;
            Map.Entry<Long, byte[]> next = blocks.ceilingEntry(blk);
            if (next != null && next.getKey() == blk) {
                int off = (int) (pos - blk * blockSizeBytes);
                int len = (int) Math.min(blockSizeBytes - off, end - pos);
                dst.put(next.getValue(), off, len);
                pos += len;
            } else {
                long stop = next == null ? end : Math.min(end, next.getKey() * blockSizeBytes);
                int len = (int) (stop - pos);
                ByteBuffer slice = dst.slice(dst.position(), len);
                inner.read(pos, slice);
                dst.position(dst.position() + len);
                pos = stop;
            }
        }
    }

    @Override
    public void read(long devAddrBytes, MemorySegment dst) throws IOException {
        read(devAddrBytes, dst.asByteBuffer());
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        throw readOnly(devAddrBytes);
    }

    @Override
    public void write(long devAddrBytes, MemorySegment src) throws IOException {
        throw readOnly(devAddrBytes);
    }

    @Override
    public void discard(long devAddrBytes, long lengthBytes) throws IOException {
        throw readOnly(devAddrBytes);
    }

    @Override
    public void flush() {
        // Nothing is ever written.
    }

    @Override
    public CompletableFuture<Void> submit(Bio bio) {
        if (bio.op() == Bio.Op.WRITE) {
            return CompletableFuture.failedFuture(readOnly(bio.devAddrBytes()));
        }
        try {
            long pos = bio.devAddrBytes();
            for (ByteBuffer b : bio.buffers()) {
                int len = b.remaining();
                read(pos, b);
                pos += len;
            }
            return CompletableFuture.completedFuture(null);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static DeviceIOException readOnly(long devAddrBytes) {
        return new DeviceIOException(Errno.EROFS, devAddrBytes, "journal replay overlay is read-only", null);
    }
}
