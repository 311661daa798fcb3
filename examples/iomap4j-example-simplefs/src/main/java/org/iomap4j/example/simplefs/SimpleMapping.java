package org.iomap4j.example.simplefs;

import static org.iomap4j.example.simplefs.SimpleFs.BLOCK;
import static org.iomap4j.example.simplefs.SimpleInode.PER_MAP;

import java.util.BitSet;
import java.util.stream.IntStream;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.fs.BlockTruncateOps;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapDioOps;
import org.iomap4j.iomap.IomapFlags;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOpFlags;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.IomapType;
import org.iomap4j.iomap.WritebackOps;

/**
 * simplefs' mapping: all the data path asks of a filesystem. {@link #iomapBegin} answers "where do file bytes
 * {@code [pos, pos+len)} live": the longest run of physically contiguous blocks (MAPPED) or of holes (HOLE); a
 * write into a hole allocates a contiguous run of NEW blocks (the core zeroes what the write does not cover). The
 * validity cookie is the inode's {@link SimpleInode#seq}, bumped by every map change, so no lock is held between
 * iomapBegin and iomapEnd and writeback reuses a mapping only while it holds. {@link #iomapEnd} frees NEW blocks a
 * short write did not reach. Writeback maps with the same runs; truncate and punch free blocks; the allocator is a
 * bitmap rebuilt at mount (lock: its own monitor, innermost).
 */
final class SimpleMapping implements IomapOps, WritebackOps, IomapDioOps, BlockTruncateOps<SimpleInode> {
    private final SimpleFs fs;
    private final BlockDevice dev;
    private final long blockCount;
    private final int dataStart;
    /** Blocks in use; guarded by itself. */
    private final BitSet used = new BitSet();

    SimpleMapping(SimpleFs fs, BlockDevice dev, long blockCount, int dataStart) {
        this.fs = fs;
        this.dev = dev;
        this.blockCount = blockCount;
        this.dataStart = dataStart;
        used.set(0, dataStart);
    }

    @Override
    public Iomap iomapBegin(IomapInode in, long posBytes, long lengthBytes, int opFlags) throws FsException {
        SimpleInode i = (SimpleInode) in;
        boolean write = IomapOpFlags.has(opFlags, IomapOpFlags.WRITE);
        if (posBytes >= SimpleFs.MAX_BYTES) {
            if (write) {
                throw new FsException(Errno.EFBIG, "simplefs inode " + i.ino() + ": write beyond 64 MiB");
            }
            return Iomap.hole(posBytes, lengthBytes, i.seq);
        }
        int lblk = (int) (posBytes / BLOCK);
        int end = (int) Math.min(i.map.length, (posBytes + lengthBytes + BLOCK - 1) / BLOCK);
        synchronized (i) {
            if (i.map[lblk] != 0 || !write) {
                return run(i, lblk);
            }
            if (i.mapBlk[lblk / PER_MAP] == 0) {
                i.mapBlk[lblk / PER_MAP] = alloc(dataStart);
                i.blocks++;
            }
            int first = alloc(lblk > 0 && i.map[lblk - 1] != 0 ? i.map[lblk - 1] + 1 : dataStart);
            int n = 0;
            do {
                i.map[lblk + n] = first + n;
                i.blocks++;
                n++;
            } while (lblk + n < end && i.map[lblk + n] == 0 && i.mapBlk[(lblk + n) / PER_MAP] != 0
                    && allocAt(first + n));
            i.seq++;
            fs.icache().writeback().markInodeDirty(i);
            return Iomap.builder(IomapType.MAPPED, (long) lblk * BLOCK, (long) n * BLOCK).device(dev)
                    .addrBytes((long) first * BLOCK).flags(IomapFlags.NEW).validityCookie(i.seq).build();
        }
    }

    /** The longest run from {@code lblk}: contiguous blocks or holes. Caller holds the inode's monitor. */
    private Iomap run(SimpleInode i, int lblk) {
        int p = i.map[lblk];
        int n = 1;
        while (lblk + n < i.map.length && i.map[lblk + n] == (p == 0 ? 0 : p + n)) {
            n++;
        }
        return p == 0 ? Iomap.hole((long) lblk * BLOCK, (long) n * BLOCK, i.seq)
                : Iomap.mapped((long) lblk * BLOCK, (long) n * BLOCK, dev, (long) p * BLOCK, 0, i.seq);
    }

    @Override
    public void iomapEnd(IomapInode in, long posBytes, long lengthBytes, long writtenBytes, int opFlags, Iomap iomap) {
        if (iomap.hasFlag(IomapFlags.NEW)) {
            long firstUnused = writtenBytes > 0 ? (posBytes + writtenBytes + BLOCK - 1) / BLOCK
                    : iomap.offsetBytes() / BLOCK;
            if (firstUnused < iomap.endBytes() / BLOCK) {
                punchBlocks((SimpleInode) in, firstUnused, iomap.endBytes() / BLOCK);
            }
        }
    }

    @Override
    public boolean iomapValid(IomapInode inode, Iomap iomap) {
        return iomap.validityCookie() == ((SimpleInode) inode).seq;
    }

    @Override
    public Iomap mapBlocks(IomapInode inode, long posBytes, long lengthBytes) {
        synchronized (inode) {
            return run((SimpleInode) inode, (int) (posBytes / BLOCK));
        }
    }

    @Override
    public boolean mappingValid(IomapInode inode, Iomap iomap) {
        return iomapValid(inode, iomap);
    }

    @Override
    public int dioAlignmentBytes(IomapInode inode) {
        return BLOCK;
    }

    @Override
    public int dioMemoryAlignmentBytes(IomapInode inode) {
        return dev.requiresAlignment() ? dev.logicalBlockSize() : 1;
    }

    /** A direct write past EOF sets the size when its data is on the device. */
    @Override
    public void endIo(IomapInode inode, long posBytes, long sizeBytes, Throwable error, int flags) {
        if ((flags & DIO_WRITE) != 0 && sizeBytes > 0 && posBytes + sizeBytes > inode.sizeBytes()) {
            inode.setSizeBytes(posBytes + sizeBytes);
        }
    }

    @Override
    public void truncateBlocks(SimpleInode i, long firstLblk) {
        synchronized (i) {
            punchBlocks(i, firstLblk, i.map.length);
            for (int k = (int) ((firstLblk + PER_MAP - 1) / PER_MAP); k < i.mapBlk.length; k++) {
                i.blocks -= i.mapBlk[k] != 0 ? 1 : 0;
                free(i.mapBlk[k]);
                i.mapBlk[k] = 0;
            }
        }
    }

    @Override
    public void punchBlocks(SimpleInode i, long startLblk, long endLblk) {
        synchronized (i) {
            for (int l = (int) Math.min(startLblk, i.map.length); l < Math.min(endLblk, i.map.length); l++) {
                i.blocks -= i.map[l] != 0 ? 1 : 0;
                free(i.map[l]);
                i.map[l] = 0;
            }
            i.seq++;
            fs.icache().writeback().markInodeDirty(i);
        }
    }

    /** Marks the blocks of inode {@code i} used (mount); a block claimed twice is corruption. */
    void claim(SimpleInode i) throws CorruptFilesystemException {
        synchronized (used) {
            for (int p : IntStream.concat(IntStream.of(i.mapBlk), IntStream.of(i.map)).toArray()) {
                if (p != 0 && used.get(p)) {
                    throw new CorruptFilesystemException("simplefs inode " + i.ino() + ": block " + p + " used twice");
                }
                used.set(p);
            }
        }
    }

    long freeBlocks() {
        synchronized (used) {
            return blockCount - used.cardinality();
        }
    }

    private int alloc(int goal) throws FsException {
        synchronized (used) {
            int p = used.nextClearBit(goal);
            p = p < blockCount ? p : used.nextClearBit(dataStart);
            if (p >= blockCount) {
                throw new FsException(Errno.ENOSPC, "simplefs: no free block");
            }
            used.set(p);
            return p;
        }
    }

    private boolean allocAt(int pblk) {
        synchronized (used) {
            if (pblk >= blockCount || used.get(pblk)) {
                return false;
            }
            used.set(pblk);
            return true;
        }
    }

    private void free(int pblk) {
        if (pblk != 0) {
            synchronized (used) {
                used.clear(pblk);
            }
        }
    }
}
