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
 * s_last_orphan set to 0. With the {@code orphan_file} feature the orphan file ({@link ExtOrphanFile}) is read
 * next and every inode in its slots processed the same way (ext4_orphan_cleanup's second loop), each slot cleared
 * once its orphan is done; tracking of new orphans in the file starts then. A slot naming an inode outside
 * [s_first_ino, s_inodes_count] is a {@link CorruptFilesystemException} naming the slot and its block; an inode
 * listed twice is processed once.
 *
 * <p>Runs before any other operation, under the namespace lock. A chain that loops or names an inode outside
 * [s_first_ino, s_inodes_count] is a {@link CorruptFilesystemException} naming it (never a hang).
 */
final class ExtOrphan {
    private ExtOrphan() {}

    /**
     * Processes the s_last_orphan chain, then the orphan file (compat orphan_file).
     *
     * @return the number of orphans processed
     * @throws CorruptFilesystemException for a bad or looping chain, a bad orphan file block or slot
     */
    static int cleanup(ExtFileSystem fs) throws IOException {
        int n = cleanupList(fs);
        if (ExtOrphanFile.present(fs)) {
            n += cleanupFile(fs);
        }
        return n;
    }

    /**
     * Processes the chain.
     *
     * @return the number of orphans processed
     * @throws CorruptFilesystemException for a bad or looping chain
     */
    private static int cleanupList(ExtFileSystem fs) throws IOException {
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
                    long next = process(fs, ino, true);
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

    /** The orphan file's slots, in slot order (the kernel's order); each slot is cleared as its orphan is done. */
    private static int cleanupFile(ExtFileSystem fs) throws IOException {
        ExtOrphanFile of = fs.orphanFile;
        long[] slots = of.load();
        int perBlock = slots.length == 0 ? 1 : org.iomap4j.ext.disk.OrphanBlock.slotsPerBlock(fs.geo.blockSizeBytes());
        Set<Long> seen = new HashSet<>();
        int n = 0;
        // Journaled mount: as for the list, one handle (before the namespace lock) holds the frees and the cleared
        // slots; the sync below commits it.
        try (var h = fs.journal.begin(Integer.MAX_VALUE)) {
            fs.nsLock.writeLock().lock();
            try {
                for (int slot = 0; slot < slots.length; slot++) {
                    long ino = slots[slot];
                    if (ino == 0) {
                        continue;
                    }
                    if (ino < fs.geo.firstIno() || ino > fs.geo.inodesCount()) {
                        throw new CorruptFilesystemException("orphan file: slot " + (slot % perBlock) + " of block "
                                + (slot / perBlock) + " names inode " + ino + ", outside [" + fs.geo.firstIno() + ", "
                                + fs.geo.inodesCount() + "]");
                    }
                    of.adopt(ino, slot);
                    if (!seen.add(ino) || fs.inodes.rawInode(ino).mode() == 0) {
                        of.remove(ino); // listed twice, or already freed (ext4_orphan_get fails): the slot is cleared
                        continue;
                    }
                    process(fs, ino, false);
                    of.remove(ino); // no-op if freeing the inode already cleared it
                    n++;
                }
            } finally {
                fs.nsLock.writeLock().unlock();
            }
        }
        if (n > 0) {
            fs.sup.sync();
        }
        return n;
    }

    /**
     * One orphan (ext4_process_orphan): freed if it has no links, else its blocks past i_size freed. For an orphan
     * of the s_last_orphan chain ({@code onList}), its i_dtime (the next orphan's number) is read and cleared first.
     *
     * @return the next orphan of the chain ({@code onList}), else 0
     */
    private static long process(ExtFileSystem fs, long ino, boolean onList) throws IOException {
        long next = 0;
        fs.inodes.allowOrphan(ino);
        try (Pins pins = fs.icache.pins()) {
            ExtInode i = fs.inodes.iget(pins, ino);
            if (onList) {
                i.lock.lock();
                try {
                    next = i.disk.dtime();
                    i.disk.setDtime(0);
                } finally {
                    i.lock.unlock();
                }
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
        return next;
    }
}
