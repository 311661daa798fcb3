package org.iomap4j.jbd2;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.block.BlockDevice;

/**
 * An opened journal: its device, its {@link JournalMap}, and its decoded superblock. Reads and writes whole journal
 * blocks by journal block number; device addresses are {@code pblk * blockSizeBytes}.
 *
 * <p>Not thread-safe: recovery and the writer use a journal from one thread (the caller serialises commits).
 */
public final class Journal {
    private final BlockDevice device;
    private final JournalMap map;
    private final int blockSizeBytes;
    private final JournalSuperblock superblock;
    private final byte[] block0;

    private Journal(BlockDevice device, JournalMap map, int blockSizeBytes, JournalSuperblock sb, byte[] block0) {
        this.device = device;
        this.map = map;
        this.blockSizeBytes = blockSizeBytes;
        this.superblock = sb;
        this.block0 = block0;
    }

    /**
     * Reads and validates the journal superblock (journal block 0) and the geometry against the map and device.
     *
     * @param blockSizeBytes the filesystem block size; the journal's s_blocksize must equal it
     * @throws CorruptFilesystemException a bad superblock (see {@link JournalSuperblock#decode}), s_blocksize not
     *                                    the filesystem's, s_maxlen beyond the mapped journal, or a journal block
     *                                    mapped outside the device
     * @throws IOException                device errors, and {@code EOPNOTSUPP} for journal features not supported
     * @param device the device holding the journal (the filesystem device for an internal journal)
     * @param map journal block to device block mapping (the journal inode s_journal_inum, or a contiguous run)
     * @return the open journal
     */
    public static Journal open(BlockDevice device, JournalMap map, int blockSizeBytes) throws IOException {
        if (map.lengthBlocks() < 1) {
            throw new CorruptFilesystemException("journal has no blocks");
        }
        long pblk0 = map.pblk(0);
        String where = "journal superblock (device block " + pblk0 + ")";
        checkOnDevice(device, pblk0, blockSizeBytes, 0);
        byte[] block0 = new byte[blockSizeBytes];
        device.read(pblk0 * blockSizeBytes, ByteBuffer.wrap(block0));
        JournalSuperblock sb = JournalSuperblock.decode(block0, where);
        if (sb.blockSizeBytes() != blockSizeBytes) {
            throw new CorruptFilesystemException(where + ": s_blocksize " + sb.blockSizeBytes()
                    + " differs from the filesystem block size " + blockSizeBytes);
        }
        if (sb.maxlenBlocks() > map.lengthBlocks()) {
            throw new CorruptFilesystemException(where + ": s_maxlen " + sb.maxlenBlocks()
                    + " exceeds the journal's " + map.lengthBlocks() + " mapped blocks");
        }
        checkOnDevice(device, map.pblk(sb.maxlenBlocks() - 1), blockSizeBytes, sb.maxlenBlocks() - 1);
        return new Journal(device, map, blockSizeBytes, sb, block0);
    }

    private static void checkOnDevice(BlockDevice device, long pblk, int bs, long jblk)
            throws CorruptFilesystemException {
        if (pblk < 0 || pblk > (device.sizeBytes() - bs) / bs) {
            throw new CorruptFilesystemException("journal block " + jblk + " maps to device block " + pblk
                    + " beyond the device's " + device.sizeBytes() / bs + " blocks");
        }
    }

    /** {@return the validated journal superblock} */
    public JournalSuperblock superblock() {
        return superblock;
    }

    /** {@return the journal block size in bytes (s_blocksize, equal to the filesystem block size)} */
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    /** {@return the device the journal lies on} */
    public BlockDevice device() {
        return device;
    }

    /** {@return the journal block to device block mapping} */
    public JournalMap map() {
        return map;
    }

    /**
     * Device block of journal block {@code jblk}, checked to lie on the device.
     *
     * @param jblk a journal block number in {@code [0, s_maxlen)}
     * @return the device block number (pblk, in filesystem blocks)
     * @throws CorruptFilesystemException if {@code jblk} is outside the journal or maps outside the device
     */
    public long pblk(long jblk) throws CorruptFilesystemException {
        long p = map.pblk(jblk);
        checkOnDevice(device, p, blockSizeBytes, jblk);
        return p;
    }

    /**
     * Reads journal block {@code jblk} (in {@code [0, s_maxlen)}).
     *
     * @param jblk a journal block number
     * @return the block's bytes
     * @throws IOException CorruptFilesystemException for a block outside the journal, EIO for a device error
     */
    public byte[] readBlock(long jblk) throws IOException {
        checkInLog(jblk);
        byte[] b = new byte[blockSizeBytes];
        device.read(pblk(jblk) * blockSizeBytes, ByteBuffer.wrap(b));
        return b;
    }

    /**
     * Writes journal block {@code jblk} (in {@code [1, s_maxlen)}; block 0 is {@link #writeSuperblock}'s).
     *
     * @param jblk a journal block number
     * @param data the block's bytes, one journal block
     * @throws IOException CorruptFilesystemException for a block outside the journal, EIO/EROFS from the device
     */
    public void writeBlock(long jblk, byte[] data) throws IOException {
        if (jblk == 0) {
            throw new IllegalArgumentException("journal block 0 is the superblock");
        }
        checkInLog(jblk);
        if (data.length != blockSizeBytes) {
            throw new IllegalArgumentException("journal block of " + data.length + " bytes, expected "
                    + blockSizeBytes);
        }
        device.write(pblk(jblk) * blockSizeBytes, ByteBuffer.wrap(data));
    }

    private void checkInLog(long jblk) throws CorruptFilesystemException {
        if (jblk < 0 || jblk >= superblock.maxlenBlocks()) {
            throw new CorruptFilesystemException("journal block " + jblk + " outside the journal of s_maxlen "
                    + superblock.maxlenBlocks());
        }
    }

    /**
     * Journal block 0's bytes with the superblock's current fields (the rest of the block unchanged).
     *
     * @return the bytes of journal block 0
     */
    public byte[] superblockBlock() {
        byte[] out = block0.clone();
        byte[] sb = superblock.encode();
        System.arraycopy(sb, 0, out, 0, sb.length);
        return out;
    }

    /**
     * Writes the superblock's current fields to journal block 0 (no flush; the caller orders it).
     *
     * @throws IOException EIO/EROFS from the device
     */
    public void writeSuperblock() throws IOException {
        byte[] out = superblockBlock();
        device.write(pblk(0) * blockSizeBytes, ByteBuffer.wrap(out));
        System.arraycopy(out, 0, block0, 0, out.length);
    }
}
