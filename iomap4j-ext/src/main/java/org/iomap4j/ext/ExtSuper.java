package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.ext.disk.DirEntryCodec;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.FeatureSupport;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.ext.disk.GroupDescriptor;
import org.iomap4j.vfs.StatFs;

/**
 * The superblock room (fs/ext2/super.c): reading and validating the superblock and group descriptors at mount,
 * the live superblock (mount count, state, features, free counts, s_wtime), statfs, sync and the unmount
 * sequence.
 *
 * <p>Superblock state as the kernel keeps it: a read-write mount increments s_mnt_count and clears the valid bit
 * while mounted; {@link #unmount} writes everything back and restores the state the mount found (clean if it was
 * clean), with free counts and s_wtime.
 *
 * <p>Write ordering without a journal ({@link #sync}): file/directory data first (page-cache writeback), then
 * inodes, descriptors, the superblock and bitmaps (buffer cache, inode-table blocks last), then a device flush.
 *
 * <p>Lock order: {@code sbLock} (a monitor guarding {@link #sb}) is a leaf: nothing is acquired while it is held
 * (the free counts are read from {@link ExtGroups} before, the superblock buffer is locked after).
 */
final class ExtSuper {
    private final ExtFileSystem fs;
    private final DiskSuperblock sb;
    private final Object sbLock = new Object();
    final GroupDescriptor[] gds;
    private final int stateAtMount;

    ExtSuper(ExtFileSystem fs, DiskSuperblock sb, GroupDescriptor[] gds) {
        this.fs = fs;
        this.sb = sb;
        this.gds = gds;
        this.stateAtMount = sb.state();
    }

    DiskSuperblock disk() {
        return sb;
    }

    // ---------------------------------------------------------------- mount-time validation

    static DiskSuperblock readSuperblock(BlockDevice dev) throws IOException {
        if (dev.sizeBytes() < DiskSuperblock.PRIMARY_OFFSET_BYTES + DiskSuperblock.SIZE) {
            throw new CorruptFilesystemException("device of " + dev.sizeBytes()
                    + " bytes is too small to hold an ext2 superblock (truncated image?)");
        }
        byte[] raw = new byte[DiskSuperblock.SIZE];
        dev.read(DiskSuperblock.PRIMARY_OFFSET_BYTES, ByteBuffer.wrap(raw));
        DiskSuperblock sb = DiskSuperblock.decode(raw, 0);
        if (sb.magic() != DiskSuperblock.MAGIC) {
            throw new CorruptFilesystemException(String.format(
                    "bad superblock magic 0x%04x at byte 1024 (expected 0xef53): not an ext2 filesystem", sb.magic()));
        }
        if (sb.revLevel() > DiskSuperblock.DYNAMIC_REV) {
            throw new FsException(Errno.EINVAL, "superblock revision " + sb.revLevel() + " is not supported (0 or 1)");
        }
        FeatureSupport.Verdict verdict = FeatureSupport.classify(sb);
        if (!verdict.mountable()) {
            throw new FsException(Errno.EINVAL, verdict.message());
        }
        if (sb.logBlockSize() > 6) {
            throw new CorruptFilesystemException("superblock: s_log_block_size " + sb.logBlockSize()
                    + " gives a block size above 64 KiB");
        }
        int bs = sb.blockSizeBytes();
        String bad = null;
        long groups = 0;
        if (sb.blocksPerGroup() == 0 || sb.blocksPerGroup() > 8L * bs) {
            bad = "s_blocks_per_group " + sb.blocksPerGroup() + " not in [1, " + 8L * bs + "]";
        } else if (sb.inodesPerGroup() == 0 || sb.inodesPerGroup() > 8L * bs) {
            bad = "s_inodes_per_group " + sb.inodesPerGroup() + " not in [1, " + 8L * bs + "]";
        } else if (sb.firstDataBlock() != (bs == 1024 ? 1 : 0)) {
            bad = "s_first_data_block " + sb.firstDataBlock() + " wrong for " + bs + "-byte blocks";
        } else if (sb.blocksCount() <= sb.firstDataBlock() + 1) {
            bad = "s_blocks_count " + sb.blocksCount() + " too small";
        } else if (Integer.bitCount(sb.inodeSize()) != 1 || sb.inodeSize() < 128 || sb.inodeSize() > bs) {
            bad = "s_inode_size " + sb.inodeSize() + " not a power of two in [128, block size]";
        } else {
            groups = (sb.blocksCount() - sb.firstDataBlock() + sb.blocksPerGroup() - 1) / sb.blocksPerGroup();
            if (sb.inodesCount() != groups * sb.inodesPerGroup()) {
                bad = "s_inodes_count " + sb.inodesCount() + " is not " + groups + " groups x "
                        + sb.inodesPerGroup() + " inodes";
            } else if (sb.firstIno() < DiskSuperblock.GOOD_OLD_FIRST_INO || sb.firstIno() >= sb.inodesCount()) {
                bad = "s_first_ino " + sb.firstIno() + " out of range";
            }
        }
        if (bad != null) {
            throw new CorruptFilesystemException("superblock: " + bad);
        }
        if (sb.blocksCount() > dev.sizeBytes() / bs) {
            throw new CorruptFilesystemException("superblock says " + sb.blocksCount() + " blocks of " + bs
                    + " bytes but the device holds only " + dev.sizeBytes() / bs + " (truncated image?)");
        }
        sb.validateExt4(); // s_desc_size, flex_bg, extra isize, s_checksum (metadata_csum)
        return sb;
    }

    /**
     * Reads and checks the primary group descriptor table (s_desc_size bytes each, from the block after the
     * superblock) as fs/ext4/super.c ext4_check_descriptors does: each group's bitmaps and inode table lie within
     * its own group, or anywhere in the filesystem with flex_bg, and never on the primary superblock or
     * descriptor table; bg_checksum matches (metadata_csum: crc32c, gdt_csum: crc16).
     *
     * @throws CorruptFilesystemException naming the group and the field
     */
    static GroupDescriptor[] readGroupDescriptors(BufferCache bcache, ExtGeometry geo, DiskSuperblock sb)
            throws IOException {
        long blocksCount = geo.blocksCount();
        long firstDataBlock = geo.firstDataBlock();
        long blocksPerGroup = geo.blocksPerGroup();
        long inodesPerGroup = geo.inodesPerGroup();
        long itableBlocks = geo.itableBlocks();
        int blockSizeBytes = geo.blockSizeBytes();
        int descSize = geo.descSizeBytes();
        long groups = geo.groups();
        int perBlock = blockSizeBytes / descSize;
        long gdtBlocks = Layout.gdtBlocks(groups, blockSizeBytes, descSize);
        if (firstDataBlock + 1 + gdtBlocks > blocksCount) {
            throw new CorruptFilesystemException("group descriptor table (" + gdtBlocks + " blocks from block "
                    + (firstDataBlock + 1) + ") extends beyond the filesystem's " + blocksCount + " blocks");
        }
        GroupDescriptor[] out = new GroupDescriptor[(int) groups];
        for (long b = 0; b < gdtBlocks; b++) {
            try (Buffer buf = bcache.read(firstDataBlock + 1 + b)) {
                for (int i = 0; i < perBlock && b * perBlock + i < groups; i++) {
                    out[(int) (b * perBlock + i)] = GroupDescriptor.decode(buf.array(), i * descSize, descSize);
                }
            }
        }
        boolean flexBg = sb.hasIncompat(Features.INCOMPAT_FLEX_BG);
        long primaryMetaEnd = firstDataBlock + 1 + gdtBlocks; // superblock and primary descriptor table
        for (int g = 0; g < groups; g++) {
            GroupDescriptor gd = out[g];
            long start = firstDataBlock + g * blocksPerGroup;
            long end = Math.min(start + blocksPerGroup, blocksCount);
            long lo = flexBg ? firstDataBlock : start;
            long hi = flexBg ? blocksCount : end;
            String where = flexBg ? "the filesystem's blocks [" : "the group's blocks [";
            String bad = null;
            if (gd.blockBitmap() < lo || gd.blockBitmap() >= hi) {
                bad = "block bitmap at block " + gd.blockBitmap() + " lies outside " + where + lo + ", " + hi + ")";
            } else if (gd.inodeBitmap() < lo || gd.inodeBitmap() >= hi) {
                bad = "inode bitmap at block " + gd.inodeBitmap() + " lies outside " + where + lo + ", " + hi + ")";
            } else if (gd.inodeTable() < lo || gd.inodeTable() + itableBlocks > hi) {
                bad = "inode table at blocks [" + gd.inodeTable() + ", " + (gd.inodeTable() + itableBlocks)
                        + ") lies outside " + where + lo + ", " + hi + ")";
            } else if (gd.blockBitmap() < primaryMetaEnd || gd.inodeBitmap() < primaryMetaEnd
                    || gd.inodeTable() < primaryMetaEnd) {
                bad = "bitmap or inode table overlaps the superblock or descriptor table (blocks ["
                        + firstDataBlock + ", " + primaryMetaEnd + "))";
            }
            if (bad != null) {
                throw new CorruptFilesystemException("group descriptor " + g + ": " + bad);
            }
            if (gd.freeBlocksCount() > end - start || gd.freeInodesCount() > inodesPerGroup
                    || gd.itableUnused() > inodesPerGroup) {
                throw new CorruptFilesystemException("group descriptor " + g + ": free counts (" + gd.freeBlocksCount()
                        + " blocks, " + gd.freeInodesCount() + " inodes, " + gd.itableUnused()
                        + " unused inodes) exceed the group's size");
            }
            gd.verifyChecksum(sb, g);
        }
        return out;
    }

    /**
     * The largest regular file for {@code 2^bits}-byte blocks: limited by the block tree and by i_blocks (32-bit
     * count of 512-byte sectors including indirect blocks). After fs/ext2/super.c ext2_max_size.
     */
    static long maxFileSize(int bits) {
        long ppb = 1L << (bits - 2);
        long upperLimit = ((1L << 32) - 1) >>> (bits - 9);
        long res = DiskInode.NDIR_BLOCKS + ppb + ppb * ppb + ppb * ppb * ppb;
        long meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb);
        if (res + meta > upperLimit) {
            res = upperLimit;
            long rest = upperLimit - DiskInode.NDIR_BLOCKS;
            meta = 1;
            rest -= ppb;
            if (rest < ppb * ppb) {
                meta += 1 + (rest + ppb - 1) / ppb;
            } else {
                meta += 1 + ppb;
                rest -= ppb * ppb;
                meta += 1 + (rest + ppb - 1) / ppb + (rest + ppb * ppb - 1) / (ppb * ppb);
            }
            res -= meta;
        }
        long bytes = res << bits;
        return Math.min(bytes, Long.MAX_VALUE);
    }

    /** A snapshot of the superblock with the live free counts. */
    Superblock snapshot() {
        DiskSuperblock copy;
        synchronized (sbLock) {
            copy = sb.copy();
        }
        copy.setFreeBlocksCount(fs.groups.freeBlocks());
        copy.setFreeInodesCount(fs.groups.freeInodes());
        return Superblock.of(copy);
    }

    /** A read-write mount: s_mnt_count + 1, the valid bit cleared while mounted, s_mtime; written at once. */
    void markMounted() throws IOException {
        synchronized (sbLock) {
            sb.setMountCount((sb.mountCount() + 1) & 0xffff);
            sb.setState(sb.state() & ~DiskSuperblock.STATE_VALID);
            sb.setMtimeSeconds(now()); // with s_mtime_hi (ext4 super.rst)
        }
        writeSuperblock();
        fs.bcache.flush();
    }

    /**
     * True for a block of some group's inode table: the roots of the block-pointer trees, written last by
     * {@link org.iomap4j.buf.BufferCache#syncDirtyOrdered} so that an inode never reaches the disk before the
     * indirect blocks it points to (else a crash leaves it pointing at a reused block's old contents, and e2fsck
     * deletes the whole file).
     */
    boolean isInodeTableBlock(long pblk) {
        for (GroupDescriptor gd : gds) {
            long t = gd.inodeTable();
            if (pblk >= t && pblk < t + fs.geo.itableBlocks()) {
                return true;
            }
        }
        return false;
    }

    /** s_last_orphan: the head of the orphan list (0 when empty). */
    long lastOrphan() {
        synchronized (sbLock) {
            return sb.lastOrphan();
        }
    }

    /** Sets s_last_orphan (written with the superblock). */
    void setLastOrphan(long ino) {
        synchronized (sbLock) {
            sb.setLastOrphan(ino);
        }
    }

    /** Sets or clears one ro_compat feature bit (written with the superblock); ORPHAN_PRESENT (ExtOrphanFile). */
    void setRoCompatFeature(int bit, boolean on) {
        synchronized (sbLock) {
            sb.setFeatureRoCompat(on ? sb.featureRoCompat() | bit : sb.featureRoCompat() & ~bit);
        }
    }

    /** Sets the large_file feature when a file first grows past 2 GiB (ext2_update_inode does the same). */
    void noteLargeFile() {
        synchronized (sbLock) {
            if (!sb.hasRoCompat(Features.RO_COMPAT_LARGE_FILE)) {
                if (sb.revLevel() == DiskSuperblock.GOOD_OLD_REV) {
                    // ext2_update_dynamic_rev: features need a revision-1 superblock.
                    sb.setRevLevel(DiskSuperblock.DYNAMIC_REV);
                    sb.setFirstIno(DiskSuperblock.GOOD_OLD_FIRST_INO);
                    sb.setInodeSize(DiskSuperblock.GOOD_OLD_INODE_SIZE);
                }
                sb.setFeatureRoCompat(sb.featureRoCompat() | Features.RO_COMPAT_LARGE_FILE);
            }
        }
    }

    /** Sets or clears incompat needs_recovery (a journaled mount sets it while mounted; written with the superblock). */
    void setNeedsRecovery(boolean on) {
        synchronized (sbLock) {
            long f = sb.featureIncompat();
            sb.setFeatureIncompat(on ? f | Features.INCOMPAT_RECOVER : f & ~Features.INCOMPAT_RECOVER);
        }
    }

    /** Sets the dir_nlink feature when a directory's link count first saturates to 1 (ext4_inc_count). */
    void noteDirNlink() {
        synchronized (sbLock) {
            sb.setFeatureRoCompat(sb.featureRoCompat() | Features.RO_COMPAT_DIR_NLINK);
        }
    }

    void writeSuperblock() throws IOException {
        long freeBlocks = fs.groups.freeBlocks();
        long freeInodes = fs.groups.freeInodes();
        byte[] raw;
        synchronized (sbLock) {
            sb.setFreeBlocksCount(freeBlocks);
            sb.setFreeInodesCount(freeInodes);
            sb.setWtimeSeconds(now());
            if (fs.geo.metadataCsum()) {
                sb.updateChecksum();
            }
            raw = sb.encode();
        }
        long pblk = DiskSuperblock.PRIMARY_OFFSET_BYTES / fs.geo.blockSizeBytes();
        int off = (int) (DiskSuperblock.PRIMARY_OFFSET_BYTES % fs.geo.blockSizeBytes());
        try (Buffer b = fs.bcache.read(pblk)) {
            b.lock();
            try {
                System.arraycopy(raw, 0, b.array(), off, DiskSuperblock.SIZE);
                b.markDirty();
            } finally {
                b.unlock();
            }
        }
    }

    static long now() {
        return System.currentTimeMillis() / 1000;
    }

    /**
     * statfs(2) as fs/ext4/super.c ext4_statfs: f_blocks is s_blocks_count minus the metadata overhead
     * ({@link #overheadBlocks}), f_bavail leaves out the root reserve and, with extents, the kernel's reserved
     * clusters (ext4_calculate_resv_clusters: 2% of the blocks, at most 4096; none without extents).
     */
    StatFs statfs() throws IOException {
        ExtGeometry geo = fs.geo;
        long overhead = overheadBlocks();
        long free = Math.max(0, fs.groups.freeBlocks() - fs.balloc.delallocReservedBlocks()); // ext4_statfs: minus dirty clusters
        long reserved;
        boolean extents;
        synchronized (sbLock) {
            reserved = sb.reservedBlocksCount();
            extents = sb.hasIncompat(Features.INCOMPAT_EXTENTS);
        }
        long resv = extents ? Math.min(geo.blocksCount() / 50, 4096) : 0;
        return new StatFs(geo.blockSizeBytes(), geo.blocksCount() - overhead, free,
                Math.max(0, free - reserved - resv), geo.inodesCount(), fs.groups.freeInodes(), DirEntryCodec.NAME_MAX);
    }

    private volatile long overheadBlocks = -1;

    /**
     * Metadata blocks (ext4_calculate_overhead, or s_overhead_clusters when set): s_first_data_block, every
     * superblock copy with its descriptor table and reserved GDT blocks, every group's two bitmaps and inode
     * table (wherever flex_bg put them: each is counted once), and an internal journal's blocks.
     */
    long overheadBlocks() throws IOException {
        long o = overheadBlocks;
        if (o >= 0) {
            return o;
        }
        ExtGeometry geo = fs.geo;
        if (sb.overheadClusters() != 0 && sb.overheadClusters() < geo.blocksCount()) {
            o = sb.overheadClusters();
        } else {
            o = geo.firstDataBlock();
            for (int g = 0; g < gds.length; g++) {
                o += Layout.baseMetaBlocks(sb, geo, g) + 2 + geo.itableBlocks();
            }
            long jino = sb.journalInum();
            if (sb.hasCompat(Features.COMPAT_HAS_JOURNAL) && jino != 0 && jino <= geo.inodesCount()) {
                o += fs.inodes.rawInode(jino).size(true) / geo.blockSizeBytes();
            }
        }
        overheadBlocks = o;
        return o;
    }

    /** sync(2) of a read-write mount, in the write order of the class comment; then evicts clean pending inodes. */
    void sync() throws IOException {
        if (fs.journal.active()) {
            // Journaled: data first (its allocations and conversions join the running transaction), then one
            // commit, whose hooks copy the dirty inodes, descriptors and superblock into it (ExtJournaling).
            fs.pageCache.syncAll();
            fs.journal.commitAll();
            fs.icache.writeback().evictCleanPending();
            return;
        }
        fs.pageCache.syncAll();
        fs.device.flush(); // data durable before the metadata that points at it or converts it (see ExtFsync)
        fs.icache.writeback().writeDirtyInodes(); // evicts each unused dropped inode right after writing it
        fs.groups.writeDescriptors();
        writeSuperblock();
        fs.bcache.syncDirtyOrdered(this::isInodeTableBlock);
        fs.device.flush();
        fs.icache.writeback().evictCleanPending(); // the rest: pending inodes whose only dirt was data
    }

    /**
     * Unmount of a read-write mount: frees inodes whose last link went while still referenced, syncs, restores
     * the superblock state found at mount (clean if it was clean) with free counts and s_wtime.
     */
    void unmount() throws IOException {
        List<ExtInode> cached = fs.icache.snapshot();
        for (ExtInode i : cached) {
            try (var h = fs.journal.begin(fs.journal.freeCredits())) {
                fs.nsLock.writeLock().lock();
                try {
                    if (i.ino != ExtFileSystem.ROOT_INO && !fs.icache.isFreeing(i) && fs.inodes.links(i) == 0
                            && fs.icache.claimFreeing(i)) {
                        fs.inodes.evictAndFree(i);
                    }
                } finally {
                    fs.nsLock.writeLock().unlock();
                }
            }
        }
        sync();
        if (fs.journal.active()) {
            fs.journal.close(); // commit, checkpoint, log clean: everything is in place now
        }
        synchronized (sbLock) {
            sb.setState(stateAtMount);
        }
        setNeedsRecovery(false);
        writeSuperblock();
        fs.bcache.flush();
        if (fs.orphanFile.clearPresentIfEmpty()) { // ext4_put_super: no orphan left, ORPHAN_PRESENT cleared
            writeSuperblock();
            fs.bcache.flush();
        }
    }
}
