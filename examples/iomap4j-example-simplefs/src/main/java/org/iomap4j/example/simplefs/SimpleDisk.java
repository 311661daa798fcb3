package org.iomap4j.example.simplefs;

import static org.iomap4j.example.simplefs.SimpleFs.BLOCK;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.fs.SuperOperations;

/**
 * simplefs on disk: the superblock (block 0: {@code u64 magic "SIMPLEFS"}, {@code u32 block size},
 * {@code u32 inode count}, {@code u64 block count}, little-endian), the inode table from block 1 (512-byte slots,
 * {@link SimpleInode}; inode {@code ino} in slot {@code ino - 2}), map and data blocks after it; and the
 * {@link SuperOperations} the generic inode cache calls to read and write inodes. Every block number read is
 * checked: a bad one is a {@link CorruptFilesystemException} naming the inode.
 */
final class SimpleDisk implements SuperOperations<SimpleInode> {
    static final long MAGIC = 0x5346454c504d4953L; // "SIMPLEFS" read little-endian

    private final SimpleFs fs;
    private final BlockDevice dev;
    final int inodeCount;
    final long blockCount;
    final int dataStart;

    /** Reads and checks the superblock of {@code dev}. */
    SimpleDisk(SimpleFs fs, BlockDevice dev) throws IOException {
        this.fs = fs;
        this.dev = dev;
        ByteBuffer sb = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        dev.read(0, sb);
        inodeCount = sb.getInt(12);
        blockCount = sb.getLong(16);
        if (sb.getLong(0) != MAGIC || sb.getInt(8) != BLOCK || inodeCount < 1 || blockCount > Integer.MAX_VALUE
                || blockCount * BLOCK > dev.sizeBytes() || 1 + (inodeCount + 7) / 8 >= blockCount) {
            throw new CorruptFilesystemException("simplefs superblock (block 0): bad magic, block size or geometry");
        }
        dataStart = 1 + (inodeCount + 7) / 8;
    }

    /** Writes an empty simplefs with room for {@code inodes} files over all of {@code dev}. */
    static void mkfs(BlockDevice dev, int inodes) throws IOException {
        long blocks = Math.min(dev.sizeBytes() / BLOCK, Integer.MAX_VALUE);
        if (inodes < 1 || 1 + (inodes + 7) / 8 >= blocks) {
            throw new FsException(Errno.EINVAL, inodes + " inodes do not fit " + blocks + " blocks");
        }
        ByteBuffer sb = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        dev.write(0, sb.putLong(0, MAGIC).putInt(8, BLOCK).putInt(12, inodes).putLong(16, blocks));
        for (long b = 1; b < 1 + (inodes + 7) / 8; b++) {
            dev.write(b * BLOCK, ByteBuffer.allocate(BLOCK));
        }
        dev.flush();
    }

    private long slotAddr(long ino) {
        return BLOCK + (ino - 2) * SimpleInode.SLOT_BYTES;
    }

    /** Reads inode {@code ino} and its block map, checking every block number; null for a free slot. */
    SimpleInode load(long ino) throws IOException {
        ByteBuffer slot = ByteBuffer.allocate(SimpleInode.SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        dev.read(slotAddr(ino), slot);
        SimpleInode i = SimpleInode.decode(fs, ino, slot);
        ByteBuffer mb = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; i != null && k < SimpleInode.MAP_BLOCKS; k++) {
            int first = k * SimpleInode.PER_MAP;
            if (i.mapBlk[k] != 0) {
                checkBlock(ino, i.mapBlk[k]);
                dev.read((long) i.mapBlk[k] * BLOCK, mb.clear());
                mb.flip().asIntBuffer().get(i.map, first, SimpleInode.PER_MAP);
                i.blocks++;
            }
            for (int l = first; l < first + SimpleInode.PER_MAP; l++) {
                checkBlock(ino, i.map[l]);
                i.blocks += i.map[l] != 0 ? 1 : 0;
            }
        }
        return i;
    }

    private void checkBlock(long ino, int pblk) throws CorruptFilesystemException {
        if (pblk != 0 && (pblk < dataStart || pblk >= blockCount)) {
            throw new CorruptFilesystemException("simplefs inode " + ino + ": block " + pblk + " outside the data area");
        }
    }

    @Override
    public SimpleInode readInode(long ino) throws IOException {
        SimpleInode i = ino >= 2 && ino < inodeCount + 2L ? load(ino) : null;
        if (i == null) {
            throw new FsException(Errno.ENOENT, "simplefs inode " + ino + " not in use");
        }
        return i;
    }

    @Override
    public void writeInode(SimpleInode i) throws IOException {
        ByteBuffer slot = ByteBuffer.allocate(SimpleInode.SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer mb = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        synchronized (i) {
            i.encode(slot);
            for (int k = 0; k < SimpleInode.MAP_BLOCKS; k++) {
                if (i.mapBlk[k] != 0) {
                    mb.clear().asIntBuffer().put(i.map, k * SimpleInode.PER_MAP, SimpleInode.PER_MAP);
                    dev.write((long) i.mapBlk[k] * BLOCK, mb);
                }
            }
        }
        dev.write(slotAddr(i.ino()), slot.clear());
    }

    /** Never called: without unlink no inode becomes unlinked. */
    @Override
    public void freeInode(SimpleInode inode) {
    }
}
