package org.iomap4j.jbd2;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;

/**
 * Where the journal lies: journal block {@code jblk} (0 = the journal superblock) to device block {@code pblk}, both
 * in units of the journal block size (= the filesystem block size). The ext driver builds one from the journal
 * inode's mapping (s_journal_inum, normally inode 8); an external journal device is {@link #contiguous}.
 *
 * <p>Implementations must be immutable; {@link #pblk} is called for every journal block read or written.
 */
public interface JournalMap {

    /**
     * Journal blocks mapped, {@code [0, lengthBlocks())}.
     *
     * @return the journal length in blocks
     */
    long lengthBlocks();

    /**
     * The device block holding journal block {@code jblk}.
     *
     * @throws CorruptFilesystemException {@code jblk} outside {@code [0, lengthBlocks())} or unmapped (a hole)
     * @param jblk a journal block number
     * @return the device block number (pblk, in filesystem blocks)
     */
    long pblk(long jblk) throws CorruptFilesystemException;

    /**
     * A journal in {@code lengthBlocks} consecutive device blocks from {@code firstPblk}.
     *
     * @param firstPblk device block of journal block 0
     * @param lengthBlocks journal length in blocks
     * @return the map
     */
    static JournalMap contiguous(long firstPblk, long lengthBlocks) {
        return ofExtents(List.of(new Extent(0, firstPblk, lengthBlocks)));
    }

    /**
     * A journal made of extents (the journal inode's block mapping, in logical order or not). The extents must
     * cover {@code [0, n)} without holes or overlaps.
     *
     * @throws IllegalArgumentException a hole, an overlap, or a non-positive length (the caller names the inode)
     * @param extents the runs covering the journal
     * @return the map
     */
    static JournalMap ofExtents(List<Extent> extents) {
        return new ExtentJournalMap(extents);
    }

    /**
     * A run of journal blocks.
     *
     * @param jblk         first journal block
     * @param pblk         its device block
     * @param lengthBlocks blocks in the run (positive)
     */
    record Extent(long jblk, long pblk, long lengthBlocks) {
        /**
         * Checks the run.
         *
         * @throws IllegalArgumentException if a block number is negative or the length is not positive
         */
        public Extent {
            if (jblk < 0 || pblk < 0 || lengthBlocks <= 0) {
                throw new IllegalArgumentException("bad journal extent " + jblk + "+" + lengthBlocks + " -> " + pblk);
            }
        }
    }

    /** A sorted extent list searched by bisection. */
    final class ExtentJournalMap implements JournalMap {
        private final long[] jblks;
        private final long[] pblks;
        private final long length;

        ExtentJournalMap(List<Extent> extents) {
            List<Extent> sorted = new ArrayList<>(extents);
            sorted.sort(Comparator.comparingLong(Extent::jblk));
            jblks = new long[sorted.size()];
            pblks = new long[sorted.size()];
            long next = 0;
            for (int i = 0; i < sorted.size(); i++) {
                Extent e = sorted.get(i);
                if (e.jblk() != next) {
                    throw new IllegalArgumentException("journal mapping has a " + (e.jblk() > next ? "hole" : "overlap")
                            + " at journal block " + next);
                }
                jblks[i] = e.jblk();
                pblks[i] = e.pblk();
                next = e.jblk() + e.lengthBlocks();
            }
            length = next;
        }

        @Override
        public long lengthBlocks() {
            return length;
        }

        @Override
        public long pblk(long jblk) throws CorruptFilesystemException {
            if (jblk < 0 || jblk >= length) {
                throw new CorruptFilesystemException("journal block " + jblk + " outside the journal's " + length
                        + " mapped blocks");
            }
            int lo = 0;
            int hi = jblks.length - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (jblks[mid] <= jblk) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            return pblks[lo] + (jblk - jblks[lo]);
        }
    }
}
