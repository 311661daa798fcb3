package org.iomap4j.ext;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.ext.disk.Le;
import org.iomap4j.ext.disk.OrphanBlock;
import org.iomap4j.fs.Pins;

/**
 * The orphan file (compat {@code orphan_file}, ext4 5.15+; Documentation/filesystems/ext4/orphan.rst,
 * fs/ext4/orphan.c): inode {@code s_orphan_file_inum}, i_size / block size blocks made by mke2fs, each an array
 * of le32 inode numbers (0 = free) and an {@link OrphanBlock} tail (magic 0x0B10CA04, crc32c with
 * metadata_csum). An inode unlinked while still open, or being truncated, is recorded in a free slot
 * ({@link #add}) and its slot cleared when it is freed or the truncate is done ({@link #remove}), so a crash in
 * between leaves it for the next mount ({@link ExtOrphan#cleanup}), e2fsck or the kernel to finish.
 *
 * <p>The file is never grown or shrunk (as the kernel: a full orphan file records nothing more; without a journal
 * the s_last_orphan list is not used either, as ext4_orphan_add without a journal). Blocks are mapped once by
 * {@link #load} (a hole or a block outside the filesystem is a {@link CorruptFilesystemException} naming the
 * orphan file's inode) and then read and written through the buffer cache as metadata; every change recomputes the
 * block's checksum (ext4_orphan_file_block_trigger).
 *
 * <p>RO_COMPAT_ORPHAN_PRESENT is set while a read-write mount runs ({@link #load}, as ext4_setup_super) and
 * cleared by {@link #clearPresentIfEmpty} at a clean unmount (ext4_put_super), so an image left mounted (a crash)
 * tells e2fsck and the kernel that the file may hold entries.
 *
 * <p>Lock order: the monitor of this object is taken with no inode lock held and nests only buffer locks (and
 * the superblock's leaf lock).
 */
final class ExtOrphanFile {
    private final ExtFileSystem fs;
    /** Physical block of each orphan-file block; null until {@link #load} (then tracking is on). */
    private long[] pblks;
    private int[] freeSlots;
    private int slotsPerBlock;
    private int csumSeed;
    private boolean csum;
    /** The slot (block * slotsPerBlock + index) of every recorded inode (the kernel's i_orphan_idx). */
    private final Map<Long, Integer> slotOf = new HashMap<>();

    ExtOrphanFile(ExtFileSystem fs) {
        this.fs = fs;
    }

    /** True if the superblock has orphan_file with a non-zero s_orphan_file_inum. */
    static boolean present(ExtFileSystem fs) {
        return fs.sup.disk().hasCompat(Features.COMPAT_ORPHAN_FILE) && fs.sup.disk().orphanFileInum() != 0;
    }

    /**
     * Maps and verifies the orphan file (ext4_init_orphan_info) at a read-write mount and turns tracking on; sets
     * ORPHAN_PRESENT in the in-memory superblock (written by the mount's superblock write).
     *
     * @return the recorded inode numbers per slot (0 = free), in slot order
     * @throws CorruptFilesystemException for a bad orphan inode, an unmapped block, a bad magic or checksum,
     *     naming the inode or block
     */
    synchronized long[] load() throws IOException {
        long ino = fs.sup.disk().orphanFileInum();
        if (ino < 1 || ino > fs.geo.inodesCount()) {
            throw new CorruptFilesystemException("orphan file: s_orphan_file_inum " + ino + " is outside [1, "
                    + fs.geo.inodesCount() + "]");
        }
        int bs = fs.geo.blockSizeBytes();
        long[] map;
        int seed;
        try (Pins pins = fs.icache.pins()) {
            fs.inodes.allowOrphan(ino); // a special inode: readable whatever its link count
            ExtInode i;
            try {
                i = fs.inodes.iget(pins, ino);
            } finally {
                fs.inodes.disallowOrphan(ino);
            }
            if (!i.isRegular() || !i.hasBlockMap()) {
                throw new CorruptFilesystemException("orphan file inode " + ino + " is not a regular file with blocks"
                        + " (mode 0" + Integer.toOctalString(i.mode()) + ")");
            }
            long nblocks = i.sizeBytes() / bs;
            if (nblocks > 1L << 16) {
                throw new CorruptFilesystemException("orphan file inode " + ino + ": i_size " + i.sizeBytes()
                        + " is implausibly large");
            }
            map = new long[(int) nblocks];
            i.lock.lock();
            try {
                for (int b = 0; b < map.length; b++) {
                    ExtBlockMapping.Run r = i.blockMapping.map(i, b, 1, false);
                    if (r.isHole() || r.unwritten() || r.pblk() >= fs.geo.blocksCount()) {
                        throw new CorruptFilesystemException("orphan file inode " + ino + ": block " + b
                                + (r.isHole() || r.unwritten() ? " is not mapped" : " maps outside the filesystem"));
                    }
                    map[b] = r.pblk();
                }
                seed = i.disk.csumSeed(fs.geo.csumSeed(), ino);
            } finally {
                i.lock.unlock();
            }
        }
        this.csum = fs.geo.metadataCsum();
        this.csumSeed = seed;
        this.slotsPerBlock = OrphanBlock.slotsPerBlock(bs);
        long[] all = new long[map.length * slotsPerBlock];
        int[] free = new int[map.length];
        for (int b = 0; b < map.length; b++) {
            long[] slots;
            try (Buffer buf = fs.bcache.read(map[b])) {
                slots = OrphanBlock.decode(buf.array(), map[b], seed, csum);
            } catch (CorruptFilesystemException e) {
                throw new CorruptFilesystemException("orphan file inode " + ino + " block " + b + ": " + e.getMessage());
            }
            for (int s = 0; s < slots.length; s++) {
                all[b * slotsPerBlock + s] = slots[s];
                if (slots[s] == 0) {
                    free[b]++;
                }
            }
        }
        this.freeSlots = free;
        this.pblks = map;
        fs.sup.setRoCompatFeature(Features.RO_COMPAT_ORPHAN_PRESENT, true);
        return all;
    }

    /** True once {@link #load} ran: new orphans are recorded. */
    synchronized boolean tracking() {
        return pblks != null;
    }

    /** Notes that slot {@code slot} (as returned by {@link #load}) holds {@code ino}, for {@link #remove}. */
    synchronized void adopt(long ino, int slot) {
        slotOf.put(ino, slot);
    }

    /**
     * Records {@code inode} as an orphan (ext4_orphan_file_add): the first free slot of the first block with one.
     * A no-op if it is already recorded, if tracking is off, or if the file is full (nothing is recorded then,
     * as the kernel without a journal; e2fsck reclaims such an inode after a crash).
     */
    void add(ExtInode inode) throws IOException {
        synchronized (this) {
            if (pblks == null || slotOf.containsKey(inode.ino)) {
                return;
            }
            int b = 0;
            while (b < pblks.length && freeSlots[b] == 0) {
                b++;
            }
            if (b == pblks.length) {
                return;
            }
            try (Buffer buf = fs.bcache.read(pblks[b])) {
                buf.lock();
                try {
                    byte[] a = buf.array();
                    int s = 0;
                    while (s < slotsPerBlock && Le.u32(a, 4 * s) != 0) {
                        s++;
                    }
                    if (s == slotsPerBlock) {
                        throw new CorruptFilesystemException("orphan file block " + pblks[b]
                                + ": no free slot although " + freeSlots[b] + " were counted");
                    }
                    Le.put32(a, 4 * s, inode.ino);
                    seal(a, pblks[b]);
                    buf.markDirty();
                    freeSlots[b]--;
                    slotOf.put(inode.ino, b * slotsPerBlock + s);
                } finally {
                    buf.unlock();
                }
            }
        }
    }

    /** True if {@code ino} is recorded in the orphan file. */
    synchronized boolean contains(long ino) {
        return slotOf.containsKey(ino);
    }

    /** Clears {@code ino}'s slot (ext4_orphan_file_del); a no-op if it is not recorded. */
    void remove(long ino) throws IOException {
        synchronized (this) {
            Integer slot = slotOf.remove(ino);
            if (slot == null || pblks == null) {
                return;
            }
            int b = slot / slotsPerBlock;
            int s = slot % slotsPerBlock;
            try (Buffer buf = fs.bcache.read(pblks[b])) {
                buf.lock();
                try {
                    byte[] a = buf.array();
                    if (Le.u32(a, 4 * s) == ino) {
                        Le.put32(a, 4 * s, 0);
                        seal(a, pblks[b]);
                        buf.markDirty();
                        freeSlots[b]++;
                    }
                } finally {
                    buf.unlock();
                }
            }
        }
    }

    /** Recorded orphans (for tests and the unmount check). */
    synchronized int size() {
        return slotOf.size();
    }

    /**
     * At a clean unmount, after every unlinked inode was freed: clears ORPHAN_PRESENT when no slot is in use
     * (ext4_put_super; ext4_orphan_file_empty).
     *
     * @return true if the bit was cleared (the caller writes the superblock)
     */
    synchronized boolean clearPresentIfEmpty() {
        if (pblks == null) {
            return false;
        }
        for (int f : freeSlots) {
            if (f != slotsPerBlock) {
                return false;
            }
        }
        fs.sup.setRoCompatFeature(Features.RO_COMPAT_ORPHAN_PRESENT, false);
        return true;
    }

    private void seal(byte[] block, long pblk) {
        if (csum) {
            Le.put32(block, block.length - 4, OrphanBlock.computeChecksum(block, pblk, csumSeed));
        }
    }
}
