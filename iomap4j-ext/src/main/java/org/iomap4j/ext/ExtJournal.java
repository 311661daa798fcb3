package org.iomap4j.ext;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.ExtentIndex;
import org.iomap4j.ext.disk.ExtentLeaf;
import org.iomap4j.ext.disk.ExtentNode;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.ext.disk.GroupDescriptor;
import org.iomap4j.jbd2.Journal;
import org.iomap4j.jbd2.JournalMap;
import org.iomap4j.jbd2.JournalRecovery;
import org.iomap4j.jbd2.RecoveryResult;
import org.iomap4j.jbd2.ReplayOverlayDevice;

/**
 * The ext side of the jbd2 journal (the kernel's fs/ext4/super.c ext4_load_journal / ext4_get_journal_inode and
 * e2fsck/journal.c): finds the internal journal (inode {@code s_journal_inum}, normally 8) and maps it from its
 * i_block - the indirect tree on ext3, the extent tree on ext4 - read straight from the device before anything
 * else is mounted (the journal must be replayed before the bitmaps, descriptors and inodes are trusted); replays it
 * when the superblock has needs_recovery (incompat RECOVER 0x4) and clears that flag.
 *
 * <p>As the kernel: the log is only replayed when needs_recovery is set (a clean filesystem's stale log is
 * ignored); a read-write mount replays onto the device, flushes, then clears needs_recovery in the primary
 * superblock (and its checksum with metadata_csum); a read-only mount (or a read-only device) replays into memory
 * only ({@link ReplayOverlayDevice}, with the superblock's needs_recovery cleared in memory too) and never writes
 * the device. A commit block failing its checksum refuses the mount (the kernel's "journal transaction N is
 * corrupt"); the read-write path also marks the superblock with errors (s_state ERROR_FS) so that e2fsck -f checks
 * it. An external journal (journal_dev, s_journal_inum 0) is not supported: EOPNOTSUPP naming it.
 *
 * <p>Thread-safety: static and stateless; called once per mount before the filesystem exists.
 */
public final class ExtJournal {
    private static final System.Logger LOG = System.getLogger(ExtJournal.class.getName());

    private ExtJournal() {}

    /**
     * Replays the journal of the ext image at {@code image} without mounting it (the {@code iomapfs journal replay}
     * command): as a read-write mount's replay, needs_recovery cleared afterwards.
     *
     * @return what the replay did ({@link RecoveryResult#needed()} false if needs_recovery was not set)
     * @throws FsException EINVAL for an image without a journal; EOPNOTSUPP for an external journal
     * @throws CorruptFilesystemException a bad superblock, journal inode or log
     * @param image the image file
     */
    public static RecoveryResult replay(Path image) throws IOException {
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            return replay(dev);
        }
    }

    /**
     * Replays the journal onto {@code dev} if the superblock has needs_recovery, then clears it.
     *
     * @see #replay(Path)
     * @param dev the device holding the filesystem
     * @return what the replay did
     * @throws IOException EINVAL without a journal, EOPNOTSUPP for an external journal, CorruptFilesystemException, EIO
     */
    public static RecoveryResult replay(BlockDevice dev) throws IOException {
        DiskSuperblock sb = readSuperblock(dev);
        if ((sb.featureCompat() & Features.COMPAT_HAS_JOURNAL) == 0) {
            throw new FsException(Errno.EINVAL, "the filesystem has no journal (has_journal is not set)");
        }
        if ((sb.featureIncompat() & Features.INCOMPAT_RECOVER) == 0) {
            JournalMap map = journalMap(dev, sb);
            boolean dirty = JournalRecovery.needsRecovery(dev, map, sb.blockSizeBytes());
            LOG.log(Level.INFO, "needs_recovery not set{0}: nothing replayed",
                    dirty ? " (the log's stale contents are ignored, as the kernel does)" : "");
            return notNeeded(dev, map, sb);
        }
        return replayOnto(dev, sb);
    }

    private static RecoveryResult notNeeded(BlockDevice dev, JournalMap map, DiskSuperblock sb) throws IOException {
        Journal j = Journal.open(dev, map, sb.blockSizeBytes());
        long seq = Integer.toUnsignedLong(j.superblock().sequence());
        return new RecoveryResult(false, seq, seq, 0, 0, 0, 0, -1, seq);
    }

    /**
     * At mount (before the superblock is validated for mounting): replays a journal that needs recovery. Returns
     * the device to mount: {@code dev} itself (nothing to do, or replayed onto it) or, for a read-only mount, a
     * read-only {@link ReplayOverlayDevice} over it. The overlay is closed with the device it wraps.
     *
     * @param readOnly the mount is read-only (the device is never written)
     * @throws CorruptFilesystemException a bad journal, or a commit block failing its checksum
     * @throws FsException EOPNOTSUPP for an external journal
     */
    static BlockDevice recoverAtMount(BlockDevice dev, boolean readOnly) throws IOException {
        if (dev.sizeBytes() < DiskSuperblock.PRIMARY_OFFSET_BYTES + DiskSuperblock.SIZE) {
            return dev; // ExtSuper names the problem
        }
        DiskSuperblock sb = readSuperblock(dev);
        if (sb.magic() != DiskSuperblock.MAGIC || (sb.featureIncompat() & Features.INCOMPAT_RECOVER) == 0) {
            return dev;
        }
        if ((sb.featureCompat() & Features.COMPAT_HAS_JOURNAL) == 0) {
            throw new CorruptFilesystemException("superblock: needs_recovery is set but has_journal is not");
        }
        if (readOnly || dev.isReadOnly()) {
            JournalMap map = journalMap(dev, sb);
            ReplayOverlayDevice overlay = JournalRecovery.replayInMemory(dev, map, sb.blockSizeBytes());
            RecoveryResult r = overlay.result();
            refuseFailedCommit(r, null);
            int bs = sb.blockSizeBytes();
            long sbBlk = DiskSuperblock.PRIMARY_OFFSET_BYTES / bs;
            int off = (int) (DiskSuperblock.PRIMARY_OFFSET_BYTES % bs);
            byte[] block = new byte[bs];
            overlay.read(sbBlk * bs, ByteBuffer.wrap(block));
            DiskSuperblock replayed = DiskSuperblock.decode(block, off);
            clearRecover(replayed);
            System.arraycopy(replayed.encode(), 0, block, off, DiskSuperblock.SIZE);
            overlay.putBlock(sbBlk, block);
            LOG.log(Level.INFO, "read-only mount: journal replayed in memory only: {0}", r);
            return overlay;
        }
        RecoveryResult r = replayOnto(dev, sb);
        LOG.log(Level.INFO, "journal replayed: {0}", r);
        return dev;
    }

    private static RecoveryResult replayOnto(BlockDevice dev, DiskSuperblock sb) throws IOException {
        JournalMap map = journalMap(dev, sb);
        RecoveryResult r = JournalRecovery.replay(dev, map, sb.blockSizeBytes());
        // The superblock itself may have been replayed: re-read it before clearing the flag.
        DiskSuperblock after = readSuperblock(dev);
        clearRecover(after);
        if (r.failedCommitTid() >= 0) {
            after.setState(after.state() | DiskSuperblock.STATE_ERROR);
            if (after.hasMetadataCsum()) {
                after.updateChecksum();
            }
        }
        dev.write(DiskSuperblock.PRIMARY_OFFSET_BYTES, ByteBuffer.wrap(after.encode()));
        dev.flush();
        refuseFailedCommit(r, "the filesystem is marked with errors");
        return r;
    }

    private static void refuseFailedCommit(RecoveryResult r, String what) throws CorruptFilesystemException {
        if (r.failedCommitTid() >= 0) {
            throw new CorruptFilesystemException("journal transaction " + r.failedCommitTid() + " is corrupt (its "
                    + "commit block fails its checksum); transactions before it were replayed"
                    + (what == null ? "" : ", " + what) + ": run e2fsck -f");
        }
    }

    private static void clearRecover(DiskSuperblock sb) {
        sb.setFeatureIncompat(sb.featureIncompat() & ~Features.INCOMPAT_RECOVER);
        if (sb.hasMetadataCsum()) {
            sb.updateChecksum();
        }
    }

    private static DiskSuperblock readSuperblock(BlockDevice dev) throws IOException {
        if (dev.sizeBytes() < DiskSuperblock.PRIMARY_OFFSET_BYTES + DiskSuperblock.SIZE) {
            throw new CorruptFilesystemException("device of " + dev.sizeBytes() + " bytes holds no ext superblock");
        }
        byte[] raw = new byte[DiskSuperblock.SIZE];
        dev.read(DiskSuperblock.PRIMARY_OFFSET_BYTES, ByteBuffer.wrap(raw));
        DiskSuperblock sb = DiskSuperblock.decode(raw, 0);
        if (sb.magic() != DiskSuperblock.MAGIC) {
            throw new CorruptFilesystemException(String.format(
                    "bad superblock magic 0x%04x at byte 1024 (expected 0xef53): not an ext filesystem", sb.magic()));
        }
        if (sb.logBlockSize() > 6) {
            throw new CorruptFilesystemException("superblock: s_log_block_size " + sb.logBlockSize()
                    + " gives a block size above 64 KiB");
        }
        return sb;
    }

    /**
     * The internal journal's mapping: inode {@code s_journal_inum}'s blocks {@code [0, i_size / block size)},
     * from its extent tree (EXT4_EXTENTS_FL) or its indirect tree.
     *
     * @throws FsException EOPNOTSUPP for an external journal (journal_dev, s_journal_inum 0)
     * @throws CorruptFilesystemException naming the journal inode: not a regular file, a size not in
     *                                    {@code [1, s_blocks_count]} blocks, a hole, a pointer beyond the device
     */
    static JournalMap journalMap(BlockDevice dev, DiskSuperblock sb) throws IOException {
        long ino = sb.journalInum();
        if (ino == 0 || (sb.featureIncompat() & Features.INCOMPAT_JOURNAL_DEV) != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "external journal (s_journal_inum " + ino + ", s_journal_dev "
                    + sb.journalDev() + ") is not supported: only a journal inode inside the filesystem");
        }
        int bs = sb.blockSizeBytes();
        long blocksCount = sb.blocksCount();
        long ipg = sb.inodesPerGroup();
        if (ipg == 0 || ino > sb.inodesCount()) {
            throw new CorruptFilesystemException("superblock: journal inode " + ino + " outside the "
                    + sb.inodesCount() + " inodes");
        }
        int descSizeChecked = sb.descSizeBytes();
        int inodeSizeChecked = sb.inodeSize();
        if (descSizeChecked < DiskSuperblock.DESC_SIZE_32 || descSizeChecked > bs
                || Integer.bitCount(descSizeChecked) != 1) {
            throw new CorruptFilesystemException("superblock: group descriptor size " + descSizeChecked
                    + " is not a power of two in [32, block size]");
        }
        if (inodeSizeChecked < DiskSuperblock.GOOD_OLD_INODE_SIZE || inodeSizeChecked > bs
                || Integer.bitCount(inodeSizeChecked) != 1) {
            throw new CorruptFilesystemException("superblock: s_inode_size " + inodeSizeChecked
                    + " is not a power of two in [128, block size]");
        }
        long group = (ino - 1) / ipg;
        long index = (ino - 1) % ipg;
        int descSize = sb.descSizeBytes();
        long gdtBlk = sb.firstDataBlock() + 1 + group * descSize / bs;
        byte[] gdBlock = readBlock(dev, gdtBlk, bs, blocksCount, "group descriptor block " + gdtBlk);
        GroupDescriptor gd = GroupDescriptor.decode(gdBlock, (int) (group * descSize % bs), descSize);
        int inodeSize = sb.inodeSize();
        long itBlk = gd.inodeTable() + index * inodeSize / bs;
        byte[] itBlock = readBlock(dev, itBlk, bs, blocksCount, "inode table block " + itBlk + " (journal inode "
                + ino + ")");
        DiskInode inode = DiskInode.decode(itBlock, (int) (index * inodeSize % bs), inodeSize);
        String where = "journal inode " + ino;
        if ((inode.mode() & 0xF000) != 0x8000) {
            throw new CorruptFilesystemException(where + " is not a regular file (mode 0"
                    + Integer.toOctalString(inode.mode()) + ")");
        }
        long sizeBytes = inode.size(true);
        long nBlocks = sizeBytes / bs;
        long maxBlocks = Math.min(blocksCount, dev.sizeBytes() / bs); // bounds the map built below
        if (nBlocks < 1 || nBlocks > maxBlocks) {
            throw new CorruptFilesystemException(where + ": i_size " + sizeBytes + " is not 1 to "
                    + maxBlocks + " blocks (the filesystem's and the device's)");
        }
        List<JournalMap.Extent> extents = new ArrayList<>();
        if ((inode.flags() & DiskInode.FL_EXTENTS) != 0) {
            byte[] root = new byte[DiskInode.I_BLOCK_BYTES];
            for (int i = 0; i < DiskInode.N_BLOCKS; i++) {
                long v = inode.block(i);
                root[4 * i] = (byte) v;
                root[4 * i + 1] = (byte) (v >>> 8);
                root[4 * i + 2] = (byte) (v >>> 16);
                root[4 * i + 3] = (byte) (v >>> 24);
            }
            ExtentNode node = ExtentNode.decode(root, 0, root.length, -1, blocksCount, where + " extent root");
            walkExtents(dev, node, bs, blocksCount, where, extents, nBlocks);
        } else {
            long[] pblks = new long[(int) nBlocks];
            int apb = bs / 4;
            int filled = 0;
            for (int i = 0; i < DiskInode.NDIR_BLOCKS && filled < nBlocks; i++) {
                pblks[filled++] = inode.block(i);
            }
            for (int level = 1; level <= 3 && filled < nBlocks; level++) {
                filled = walkIndirect(dev, inode.block(DiskInode.NDIR_BLOCKS + level - 1), level, apb, bs,
                        blocksCount, where, pblks, filled);
            }
            for (int i = 0; i < pblks.length; ) {
                if (pblks[i] == 0 || pblks[i] >= blocksCount) {
                    throw new CorruptFilesystemException(where + ": journal block " + i + " maps to "
                            + (pblks[i] == 0 ? "a hole" : "block " + pblks[i] + " beyond the filesystem"));
                }
                int j = i + 1;
                while (j < pblks.length && pblks[j] == pblks[j - 1] + 1) {
                    j++;
                }
                extents.add(new JournalMap.Extent(i, pblks[i], j - i));
                i = j;
            }
        }
        try {
            JournalMap map = JournalMap.ofExtents(extents);
            if (map.lengthBlocks() < nBlocks) {
                throw new CorruptFilesystemException(where + ": maps " + map.lengthBlocks() + " of its " + nBlocks
                        + " blocks");
            }
            return map;
        } catch (IllegalArgumentException e) {
            throw new CorruptFilesystemException(where + ": " + e.getMessage());
        }
    }

    private static void walkExtents(BlockDevice dev, ExtentNode node, int bs, long blocksCount, String where,
                                    List<JournalMap.Extent> out, long nBlocks) throws IOException {
        if (node.depth() == 0) {
            for (ExtentLeaf l : node.leaves()) {
                if (l.lblk() < nBlocks) {
                    out.add(new JournalMap.Extent(l.lblk(), l.pblk(), Math.min(l.lenBlocks(), nBlocks - l.lblk())));
                }
            }
            return;
        }
        for (ExtentIndex ix : node.indexes()) {
            byte[] b = readBlock(dev, ix.leafPblk(), bs, blocksCount, where + " extent block " + ix.leafPblk());
            ExtentNode child = ExtentNode.decode(b, 0, bs, node.depth() - 1, blocksCount,
                    where + " extent block " + ix.leafPblk());
            walkExtents(dev, child, bs, blocksCount, where, out, nBlocks);
        }
    }

    /** Fills {@code pblks[filled..]} from the {@code level}-indirect block {@code blk}; returns the new fill. */
    private static int walkIndirect(BlockDevice dev, long blk, int level, int apb, int bs, long blocksCount,
                                    String where, long[] pblks, int filled) throws IOException {
        if (blk == 0 || blk >= blocksCount) {
            throw new CorruptFilesystemException(where + ": " + level + "-indirect block pointer " + blk
                    + " (journal block " + filled + ") is " + (blk == 0 ? "a hole" : "beyond the filesystem"));
        }
        byte[] b = readBlock(dev, blk, bs, blocksCount, where + " indirect block " + blk);
        ByteBuffer bb = ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < apb && filled < pblks.length; i++) {
            long p = Integer.toUnsignedLong(bb.getInt(4 * i));
            if (level == 1) {
                pblks[filled++] = p;
            } else {
                filled = walkIndirect(dev, p, level - 1, apb, bs, blocksCount, where, pblks, filled);
            }
        }
        return filled;
    }

    private static byte[] readBlock(BlockDevice dev, long blk, int bs, long blocksCount, String what)
            throws IOException {
        if (blk < 0 || blk >= blocksCount || (blk + 1) * bs > dev.sizeBytes()) {
            throw new CorruptFilesystemException(what + " lies beyond the device");
        }
        byte[] b = new byte[bs];
        dev.read(blk * bs, ByteBuffer.wrap(b));
        return b;
    }
}
