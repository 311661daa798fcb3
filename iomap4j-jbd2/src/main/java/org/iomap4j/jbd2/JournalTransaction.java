package org.iomap4j.jbd2;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The log half of one transaction, as {@link JournalWriter#commit} writes it: the final images of the metadata blocks
 * the transaction dirtied, and the blocks it revoked (freed metadata blocks whose older logged copies must not be
 * replayed over their new contents). Block numbers are filesystem blocks; images are one block each.
 *
 * <p>Logging a block the same transaction revoked cancels the revoke, as the kernel's jbd2_journal_cancel_revoke
 * (a revoke record with the same transaction id would otherwise suppress the new copy at replay). Not thread-safe.
 */
public final class JournalTransaction {
    private final int blockSizeBytes;
    private final Map<Long, byte[]> blocks = new LinkedHashMap<>();
    private final Set<Long> revokes = new LinkedHashSet<>();

    /**
     * An empty transaction for a filesystem of {@code blockSizeBytes} blocks.
     *
     * @param blockSizeBytes the filesystem block size in bytes (each image's length)
     */
    public JournalTransaction(int blockSizeBytes) {
        this.blockSizeBytes = blockSizeBytes;
    }

    /**
     * Logs the image of filesystem block {@code fsBlock} (copied); a later image of the same block replaces it.
     *
     * @param fsBlock the filesystem block number (pblk)
     * @param image its new contents, one block
     * @return this transaction
     */
    public JournalTransaction logBlock(long fsBlock, byte[] image) {
        if (image.length != blockSizeBytes) {
            throw new IllegalArgumentException("image of block " + fsBlock + " is " + image.length + " bytes, expected "
                    + blockSizeBytes);
        }
        if (fsBlock < 0) {
            throw new IllegalArgumentException("negative block " + fsBlock);
        }
        blocks.put(fsBlock, image.clone());
        revokes.remove(fsBlock);
        return this;
    }

    /**
     * Revokes filesystem block {@code fsBlock}, unless this transaction also logs it.
     *
     * @param fsBlock the filesystem block number (pblk)
     * @return this transaction
     */
    public JournalTransaction revoke(long fsBlock) {
        if (fsBlock < 0) {
            throw new IllegalArgumentException("negative block " + fsBlock);
        }
        if (!blocks.containsKey(fsBlock)) {
            revokes.add(fsBlock);
        }
        return this;
    }

    /**
     * Logged blocks and their images, in the order first logged (unmodifiable view).
     *
     * @return the images by filesystem block number
     */
    public Map<Long, byte[]> blocks() {
        return Collections.unmodifiableMap(blocks);
    }

    /**
     * Revoked blocks, in the order revoked (unmodifiable view).
     *
     * @return the revoked filesystem block numbers
     */
    public Set<Long> revokes() {
        return Collections.unmodifiableSet(revokes);
    }

    /** {@return the filesystem block size in bytes} */
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    /** {@return true if the transaction logs and revokes nothing} */
    public boolean isEmpty() {
        return blocks.isEmpty() && revokes.isEmpty();
    }
}
