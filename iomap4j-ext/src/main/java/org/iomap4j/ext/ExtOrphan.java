package org.iomap4j.ext;

import java.io.IOException;
import java.util.HashSet;
import java.util.Set;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.fs.Pins;

/**
 * The orphan list processed at a read-write mount, as fs/ext4/orphan.c ext4_orphan_cleanup does: inodes that
 * were unlinked while open, or were being truncated, when the filesystem went down are chained from
 * {@code s_last_orphan} through their {@code i_dtime} (Documentation/filesystems/ext4/special_inodes.rst,
 * "orphan list"). An orphan with no links is freed (blocks, then its inode-bitmap bit); a linked one has the
 * blocks past i_size freed (the interrupted truncate finished). Each orphan's chain word is cleared and
 * s_last_orphan set to 0. The {@code orphan_file} feature (ext4 5.15+) is only made by mke2fs together with a
 * journal, and journaled images are mounted read-only, so it never needs processing here.
 *
 * <p>Runs before any other operation, under the namespace lock. A chain that loops or names an inode outside
 * [s_first_ino, s_inodes_count] is a {@link CorruptFilesystemException} naming it (never a hang).
 */
final class ExtOrphan {
    private ExtOrphan() {}

    /**
     * Processes the chain.
     *
     * @return the number of orphans processed
     * @throws CorruptFilesystemException for a bad or looping chain
     */
    static int cleanup(ExtFileSystem fs) throws IOException {
        ExtSuper sup = fs.sup;
        long ino = sup.lastOrphan();
        if (ino == 0) {
            return 0;
        }
        Set<Long> seen = new HashSet<>();
        int n = 0;
        // Journaled mount: one handle (before the namespace lock) holds the frees and the emptied list; it is
        // stopped before the sync below, which commits it.
        try (var h = fs.journal.begin(Integer.MAX_VALUE)) {
            fs.nsLock.writeLock().lock();
            try {
                while (ino != 0) {
                    if (ino < fs.geo.firstIno() || ino > fs.geo.inodesCount()) {
                        throw new CorruptFilesystemException("orphan list: inode " + ino + " (from "
                                + (seen.isEmpty() ? "s_last_orphan" : "the previous orphan's i_dtime")
                                + ") is outside [" + fs.geo.firstIno() + ", " + fs.geo.inodesCount() + "]");
                    }
                    if (!seen.add(ino)) {
                        throw new CorruptFilesystemException("orphan list: inode " + ino + " appears twice (a loop)");
                    }
                    long next;
                    fs.inodes.allowOrphan(ino);
                    try (Pins pins = fs.icache.pins()) {
                        ExtInode i = fs.inodes.iget(pins, ino);
                        i.lock.lock();
                        try {
                            next = i.disk.dtime();
                            i.disk.setDtime(0);
                        } finally {
                            i.lock.unlock();
                        }
                        if (fs.inodes.links(i) == 0) {
                            if (fs.icache.claimFreeing(i)) {
                                fs.inodes.evictAndFree(i);
                            }
                        } else {
                            if (i.hasBlockMap()) {
                                long keep = (i.sizeBytes() + fs.geo.blockSizeBytes() - 1) >>> fs.geo.blockBits();
                                fs.inodes.truncateBlocks(i, keep);
                            }
                            fs.inodes.writeInode(i);
                        }
                    } finally {
                        fs.inodes.disallowOrphan(ino);
                    }
                    n++;
                    ino = next;
                }
            } finally {
                fs.nsLock.writeLock().unlock();
            }
            sup.setLastOrphan(0);
        }
        sup.sync(); // the frees and the emptied list reach the disk together, before the mount is marked
        return n;
    }
}
