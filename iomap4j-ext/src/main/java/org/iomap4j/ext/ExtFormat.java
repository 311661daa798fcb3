package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.ext.disk.DirEntryCodec;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.ext.disk.GroupDescriptor;
import org.iomap4j.vfs.FileMode;

/**
 * mkfs for ext2 in Java: writes a revision-1 ext2 filesystem (features filetype, large_file and optionally
 * sparse_super) with a root directory and lost+found, as {@code mke2fs -t ext2 -O ^resize_inode,^dir_index,^ext_attr}
 * lays it out: per group [superblock + descriptor copy if the group has one] block bitmap, inode bitmap, inode
 * table, data. The result passes {@code e2fsck -fn} and mounts in the Linux kernel.
 *
 * <p>Format facts: Documentation/filesystems/ext2.rst; e2fsprogs lib/ext2fs/initialize.c, misc/mke2fs.c.
 */
public final class ExtFormat {
    private ExtFormat() {}

    /** Reserved inodes below s_first_ino: 1 bad blocks, 2 root, ... 11 is lost+found. */
    static final long ROOT_INO = 2;
    static final long FIRST_INO = 11;
    /** Smallest number of data blocks a last group must have to be kept (mke2fs drops a tinier tail group). */
    private static final long MIN_TAIL_DATA_BLOCKS = 50;

    /**
     * Formats the whole device.
     *
     * @return the superblock summary of the new filesystem
     * @throws FsException EINVAL when the device is too small or too large for the options; device errors
     * @param device the device to format (all of it)
     * @param opts block size, inode size, density, label, UUID, reserved percentage
     */
    public static Superblock format(BlockDevice device, ExtFormatOptions opts) throws IOException {
        if (device.isReadOnly()) {
            throw new FsException(Errno.EROFS, "cannot format a read-only device");
        }
        final int bs = opts.blockSizeBytes();
        final int isz = opts.inodeSizeBytes();
        long blocksCount = Math.min(device.sizeBytes() / bs, 0xFFFF_FFFFL);
        final long firstDataBlock = bs == 1024 ? 1 : 0;
        final long bpg = 8L * bs;
        long groups = ceilDiv(blocksCount - firstDataBlock, bpg);
        if (blocksCount - firstDataBlock < 64 || groups < 1) {
            throw new FsException(Errno.EINVAL, "device of " + device.sizeBytes() + " bytes is too small for ext2");
        }
        final int inodesPerBlock = bs / isz;
        long ipg = 0;
        long itableBlocks = 0;
        long gdtBlocks = 0;
        for (int pass = 0; pass < 2; pass++) {
            long inodesWanted = Math.max(FIRST_INO + 5, blocksCount * bs / opts.bytesPerInode());
            ipg = ceilDiv(inodesWanted, groups);
            ipg = roundUp(Math.max(ipg, 16), lcm(8, inodesPerBlock));
            ipg = Math.min(ipg, 8L * bs);
            ipg = Math.min(ipg, (0xFFFF_FFFFL / groups) / 8 * 8);
            itableBlocks = ipg / inodesPerBlock;
            gdtBlocks = Layout.gdtBlocks(groups, bs);
            long lastSize = blocksCount - firstDataBlock - (groups - 1) * bpg;
            long lastOverhead = (Layout.hasSuper(groups - 1, opts.sparseSuper()) ? 1 + gdtBlocks : 0) + 2 + itableBlocks;
            if (lastSize < lastOverhead + MIN_TAIL_DATA_BLOCKS) {
                if (groups == 1) {
                    throw new FsException(Errno.EINVAL, "device of " + device.sizeBytes()
                            + " bytes is too small for ext2 with these options");
                }
                blocksCount -= lastSize;
                groups--;
            }
        }
        final long inodesCount = ipg * groups;
        final long time = opts.timeSec();

        GroupDescriptor[] gds = new GroupDescriptor[(int) groups];
        long[] groupStart = new long[(int) groups];
        long[] groupBlocks = new long[(int) groups];
        long[] firstFree = new long[(int) groups];
        for (int g = 0; g < groups; g++) {
            long start = firstDataBlock + g * bpg;
            groupStart[g] = start;
            groupBlocks[g] = Math.min(bpg, blocksCount - start);
            long b = start + (Layout.hasSuper(g, opts.sparseSuper()) ? 1 + gdtBlocks : 0);
            GroupDescriptor gd = GroupDescriptor.blank();
            gd.setBlockBitmap(b);
            gd.setInodeBitmap(b + 1);
            gd.setInodeTable(b + 2);
            firstFree[g] = b + 2 + itableBlocks;
            gd.setFreeBlocksCount((int) (start + groupBlocks[g] - firstFree[g]));
            gd.setFreeInodesCount((int) ipg);
            gds[g] = gd;
        }
        // Data blocks of the root directory and lost+found come first in group 0.
        final long rootBlock = firstFree[0];
        final int lpfBlocks = (int) Math.min(DiskInode.NDIR_BLOCKS, Math.max(2, 16384 / bs));
        final long lpfFirst = rootBlock + 1;
        final long usedData = 1 + lpfBlocks;
        gds[0].setFreeBlocksCount((int) (gds[0].freeBlocksCount() - usedData));
        gds[0].setFreeInodesCount((int) (ipg - FIRST_INO));
        gds[0].setUsedDirsCount(2);

        long freeBlocks = 0;
        for (GroupDescriptor gd : gds) {
            freeBlocks += gd.freeBlocksCount();
        }

        DiskSuperblock sb = DiskSuperblock.blank();
        sb.setInodesCount(inodesCount);
        sb.setBlocksCount(blocksCount);
        sb.setReservedBlocksCount(blocksCount * opts.reservedPercent() / 100);
        sb.setFreeBlocksCount(freeBlocks);
        sb.setFreeInodesCount(inodesCount - FIRST_INO);
        sb.setFirstDataBlock(firstDataBlock);
        sb.setLogBlockSize(Integer.numberOfTrailingZeros(bs) - 10);
        sb.setLogFragSize(Integer.numberOfTrailingZeros(bs) - 10);
        sb.setBlocksPerGroup(bpg);
        sb.setFragsPerGroup(bpg);
        sb.setInodesPerGroup(ipg);
        sb.setWtime(time);
        sb.setMountCount(0);
        sb.setMaxMountCount(-1);
        sb.setMagic(DiskSuperblock.MAGIC);
        sb.setState(DiskSuperblock.STATE_VALID);
        sb.setErrors(1);
        sb.setLastCheck(time);
        sb.setRevLevel(DiskSuperblock.DYNAMIC_REV);
        sb.setFirstIno(FIRST_INO);
        sb.setInodeSize(isz);
        sb.setFeatureCompat(0);
        sb.setFeatureIncompat(Features.INCOMPAT_FILETYPE);
        sb.setFeatureRoCompat(Features.RO_COMPAT_LARGE_FILE | (opts.sparseSuper() ? Features.RO_COMPAT_SPARSE_SUPER : 0));
        sb.setUuid(uuidBytes(opts.uuid()));
        sb.setVolumeName(opts.volumeLabel());
        byte[] seed = new byte[16];
        new SecureRandom().nextBytes(seed);
        sb.setHashSeed(seed);
        sb.setMkfsTime(time);

        // Group descriptor table image.
        byte[] gdt = new byte[(int) (gdtBlocks * bs)];
        for (int g = 0; g < groups; g++) {
            gds[g].encodeInto(gdt, g * GroupDescriptor.SIZE);
        }

        // Per group: bitmaps, zeroed inode table, superblock and descriptor copies.
        byte[] zeros = new byte[(int) Math.min(itableBlocks * bs, 1 << 20)];
        for (int g = 0; g < groups; g++) {
            GroupDescriptor gd = gds[g];
            byte[] bbm = new byte[bs];
            long used = firstFree[g] - groupStart[g];
            if (g == 0) {
                used += usedData;
            }
            setBits(bbm, 0, used);
            setBits(bbm, groupBlocks[g], 8L * bs); // padding past the last block of a short last group
            writeAt(device, gd.blockBitmap() * bs, bbm);
            byte[] ibm = new byte[bs];
            if (g == 0) {
                setBits(ibm, 0, FIRST_INO);
            }
            setBits(ibm, ipg, 8L * bs);
            writeAt(device, gd.inodeBitmap() * bs, ibm);
            long addr = gd.inodeTable() * bs;
            long end = addr + itableBlocks * bs;
            while (addr < end) {
                int n = (int) Math.min(zeros.length, end - addr);
                device.write(addr, ByteBuffer.wrap(zeros, 0, n));
                addr += n;
            }
            if (Layout.hasSuper(g, opts.sparseSuper())) {
                DiskSuperblock copy = sb.copy();
                copy.setBlockGroupNr(g);
                long sbAddr = g == 0 ? DiskSuperblock.PRIMARY_OFFSET_BYTES : groupStart[g] * bs;
                writeAt(device, sbAddr, copy.encode());
                if (g == 0 && bs > 2048) {
                    writeAt(device, 2048, new byte[bs - 2048]); // rest of block 0
                }
                writeAt(device, (groupStart[g] + 1) * bs, gdt);
            }
        }

        // Root directory and lost+found.
        byte[] rootDir = new byte[bs];
        DirEntryCodec.put(rootDir, 0, ROOT_INO, 12, ".".getBytes(StandardCharsets.US_ASCII), DirEntryCodec.FT_DIR);
        DirEntryCodec.put(rootDir, 12, ROOT_INO, 12, "..".getBytes(StandardCharsets.US_ASCII), DirEntryCodec.FT_DIR);
        DirEntryCodec.put(rootDir, 24, FIRST_INO, bs - 24, "lost+found".getBytes(StandardCharsets.US_ASCII),
                DirEntryCodec.FT_DIR);
        writeAt(device, rootBlock * bs, rootDir);
        for (int i = 0; i < lpfBlocks; i++) {
            byte[] blk = new byte[bs];
            if (i == 0) {
                DirEntryCodec.put(blk, 0, FIRST_INO, 12, ".".getBytes(StandardCharsets.US_ASCII), DirEntryCodec.FT_DIR);
                DirEntryCodec.put(blk, 12, ROOT_INO, bs - 12, "..".getBytes(StandardCharsets.US_ASCII), DirEntryCodec.FT_DIR);
            } else {
                DirEntryCodec.put(blk, 0, 0, bs, new byte[0], 0);
            }
            writeAt(device, (lpfFirst + i) * bs, blk);
        }
        DiskInode root = DiskInode.blank(isz);
        root.setMode(FileMode.S_IFDIR | 0755);
        root.setSize(bs, false);
        root.setLinksCount(3);
        root.setBlocks512(bs / 512);
        root.setBlock(0, rootBlock);
        setTimes(root, time);
        writeInode(device, gds[0], bs, isz, ROOT_INO, root);
        DiskInode lpf = DiskInode.blank(isz);
        lpf.setMode(FileMode.S_IFDIR | 0700);
        lpf.setSize((long) lpfBlocks * bs, false);
        lpf.setLinksCount(2);
        lpf.setBlocks512((long) lpfBlocks * (bs / 512));
        for (int i = 0; i < lpfBlocks; i++) {
            lpf.setBlock(i, lpfFirst + i);
        }
        setTimes(lpf, time);
        writeInode(device, gds[0], bs, isz, FIRST_INO, lpf);
        device.flush();
        return Superblock.of(sb);
    }

    private static void setTimes(DiskInode inode, long time) {
        inode.setAtime(time);
        inode.setCtime(time);
        inode.setMtime(time);
    }

    private static void writeInode(BlockDevice device, GroupDescriptor gd0, int bs, int isz, long ino, DiskInode inode)
            throws IOException {
        long index = ino - 1;
        long addr = gd0.inodeTable() * bs + index * isz;
        byte[] raw = new byte[isz];
        inode.encodeInto(raw, 0);
        writeAt(device, addr, raw);
    }

    private static void writeAt(BlockDevice device, long devAddrBytes, byte[] bytes) throws IOException {
        device.write(devAddrBytes, ByteBuffer.wrap(bytes));
    }

    /** Sets bits [from, to) of a bitmap block (bit i is byte i/8, bit i%8, as ext2 bitmaps are little-endian). */
    static void setBits(byte[] bitmap, long from, long to) {
        long end = Math.min(to, 8L * bitmap.length);
        for (long i = from; i < end; i++) {
            bitmap[(int) (i >>> 3)] |= (byte) (1 << (i & 7));
        }
    }

    private static byte[] uuidBytes(java.util.UUID u) {
        byte[] b = new byte[16];
        long hi = u.getMostSignificantBits();
        long lo = u.getLeastSignificantBits();
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (hi >>> (56 - 8 * i));
            b[8 + i] = (byte) (lo >>> (56 - 8 * i));
        }
        return b;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private static long roundUp(long v, long m) {
        return ceilDiv(v, m) * m;
    }

    private static long lcm(long a, long b) {
        long x = a;
        long y = b;
        while (y != 0) {
            long t = x % y;
            x = y;
            y = t;
        }
        return a / x * b;
    }

}
