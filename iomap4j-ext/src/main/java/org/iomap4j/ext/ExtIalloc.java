package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.ext.disk.GroupDescriptor;

/**
 * Inode allocation (fs/ext2/ialloc.c in spirit) over the block groups' inode bitmaps: files near their parent
 * directory, directories in a roomy group; the groups' free-inode and used-directory counts kept in step.
 *
 * <p>Lock: every allocation and free holds the {@link ExtGroups} monitor; bitmap buffer locks nest inside it.
 */
final class ExtIalloc {
    private final ExtGroups groups;
    private final GroupDescriptor[] gds;
    private final ExtGeometry geo;

    ExtIalloc(ExtGroups groups) {
        this.groups = groups;
        this.gds = groups.gds;
        this.geo = groups.geo;
    }

    /**
     * Allocates an inode: a directory in the group with the most free blocks among those with at least the
     * average number of free inodes; anything else in its parent's group if it has room, else the next group
     * with free inodes.
     *
     * @throws FsException ENOSPC when no inode is free
     */
    long allocInode(long parentIno, boolean dir) throws IOException {
        synchronized (groups) {
            return allocInodeLocked(parentIno, dir);
        }
    }

    private long allocInodeLocked(long parentIno, boolean dir) throws IOException {
        long freeInodes = groups.freeInodes;
        if (freeInodes == 0) {
            throw new FsException(Errno.ENOSPC, "no free inodes");
        }
        int nGroups = gds.length;
        int parentGroup = (int) ((parentIno - 1) / geo.inodesPerGroup());
        int chosen = -1;
        if (dir) {
            long avg = freeInodes / nGroups;
            long best = -1;
            for (int i = 0; i < nGroups; i++) {
                int g = (parentGroup + i) % nGroups;
                GroupDescriptor gd = gds[g];
                if (gd.freeInodesCount() > 0 && gd.freeInodesCount() >= avg && gd.freeBlocksCount() > best) {
                    best = gd.freeBlocksCount();
                    chosen = g;
                }
            }
        } else if (gds[parentGroup].freeInodesCount() > 0 && gds[parentGroup].freeBlocksCount() > 0) {
            chosen = parentGroup;
        }
        for (int i = 0; i < nGroups && chosen < 0; i++) {
            int g = (parentGroup + i) % nGroups;
            if (gds[g].freeInodesCount() > 0) {
                chosen = g;
            }
        }
        for (int i = 0; i < nGroups; i++) {
            int g = (chosen + i) % nGroups;
            GroupDescriptor gd = gds[g];
            if (gd.freeInodesCount() == 0) {
                continue;
            }
            if (geo.hasGroupDescCsum() && gd.hasFlag(GroupDescriptor.FLAG_BLOCK_UNINIT)) {
                groups.materializeBlockBitmap(g); // before the group's inode table holds a used inode
            }
            try (Buffer bm = groups.inodeBitmap(g)) {
                bm.lock();
                try {
                    byte[] b = bm.array();
                    long bit = ExtGroups.findZero(b, 0, geo.inodesPerGroup());
                    if (bit < 0) {
                        continue;
                    }
                    long ino = g * geo.inodesPerGroup() + bit + 1;
                    if (ino < geo.firstIno()) {
                        throw new CorruptFilesystemException("inode bitmap of group " + g + " (block "
                                + gd.inodeBitmap() + ") marks reserved inode " + ino + " free");
                    }
                    ExtGroups.set(b, bit);
                    noteItableUsed(gd, bit);
                    groups.inodeBitmapChanged(g, bm);
                    gd.setFreeInodesCount(gd.freeInodesCount() - 1);
                    if (dir) {
                        gd.setUsedDirsCount(gd.usedDirsCount() + 1);
                    }
                    groups.freeInodes--;
                    return ino;
                } finally {
                    bm.unlock();
                }
            }
        }
        throw new FsException(Errno.ENOSPC, "no free inodes (bitmaps full although counts say " + freeInodes + ")");
    }

    /**
     * bg_itable_unused after allocating inode {@code bit} (0-based) of a group, as __ext4_new_inode keeps it: the
     * inodes at the table's end that were never used shrink to those after {@code bit} (an INODE_UNINIT group
     * counts as having used none). Only with group descriptor checksums, where e2fsck trusts the count.
     */
    private void noteItableUsed(GroupDescriptor gd, long bit) {
        if (!geo.hasGroupDescCsum()) {
            return;
        }
        long ipg = geo.inodesPerGroup();
        long used = gd.hasFlag(GroupDescriptor.FLAG_INODE_UNINIT) ? 0 : ipg - gd.itableUnused();
        if (bit + 1 > used) {
            gd.setItableUnused((int) (ipg - (bit + 1)));
        }
    }

    /**
     * Frees inode {@code ino}'s bit in its group's inode bitmap.
     *
     * @throws org.iomap4j.CorruptFilesystemException if it is already free
     */
    void freeInode(long ino, boolean dir) throws IOException {
        synchronized (groups) {
            freeInodeLocked(ino, dir);
        }
    }

    private void freeInodeLocked(long ino, boolean dir) throws IOException {
        int g = (int) ((ino - 1) / geo.inodesPerGroup());
        long bit = (ino - 1) % geo.inodesPerGroup();
        GroupDescriptor gd = gds[g];
        try (Buffer bm = groups.inodeBitmap(g)) {
            bm.lock();
            try {
                byte[] b = bm.array();
                if (!ExtGroups.test(b, bit)) {
                    throw new CorruptFilesystemException("freeing inode " + ino + " which is already free");
                }
                ExtGroups.clear(b, bit);
                groups.inodeBitmapChanged(g, bm);
            } finally {
                bm.unlock();
            }
        }
        gd.setFreeInodesCount(gd.freeInodesCount() + 1);
        if (dir && gd.usedDirsCount() > 0) {
            gd.setUsedDirsCount(gd.usedDirsCount() - 1);
        }
        groups.freeInodes++;
    }
}
