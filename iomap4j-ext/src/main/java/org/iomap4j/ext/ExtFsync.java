package org.iomap4j.ext;

import java.io.IOException;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import org.iomap4j.FsException;
import org.iomap4j.fs.GenericFile;
import org.iomap4j.fs.Pins;
import org.iomap4j.iomap.Writeback;

/**
 * fsync (fs/ext4/fsync.c ext4_fsync_nojournal, also what ext2 images get from the kernel's ext4 driver): the
 * file's data, then its inode, then, for an inode created since the last sync, its parent directory's entries and
 * inode, and up the chain while the parent is itself new (ext4_sync_parent, EXT4_STATE_NEWENTRY), then all dirty
 * metadata (no per-inode tracking of indirect blocks, bitmaps and descriptors: everything is written, inode-table
 * blocks last), then a device flush. Without a journal this is what makes one file durable.
 *
 * <p>Lock order: folio locks (data writeback) → {@link ExtInode#lock} and buffer locks (inode write) →
 * {@link ExtGroups} (descriptors) → buffer locks. No inode rwsem: fsync runs concurrently with reads and writes of the file.
 */
final class ExtFsync {
    private final ExtFileSystem fs;
    /**
     * EXT4_STATE_NEWENTRY: a new inode → the inode number of the directory its entry was added to. Weak keys: the
     * state lives as long as the in-memory inode, as the kernel's flag does; cleared by fsync and sync.
     */
    private final Map<ExtInode, Long> newEntry = Collections.synchronizedMap(new WeakHashMap<>());

    ExtFsync(ExtFileSystem fs) {
        this.fs = fs;
    }

    /** A new inode got its first entry in {@code dir}: its fsync must make that entry durable. */
    void noteNewEntry(ExtInode inode, ExtInode dir) {
        newEntry.put(inode, dir.ino);
    }

    /** A full sync writes every directory: no new entry is pending any more (called before the sync starts). */
    void clearNewEntries() {
        newEntry.clear();
    }

    /**
     * ext4_sync_parent: while {@code inode} is new, writes its parent directory's data and inode (into the
     * inode-table buffer; the caller's metadata sync and flush make them durable) and continues with the parent.
     */
    private void syncParents(ExtInode inode) throws IOException {
        ExtInode cur = inode;
        try (Pins pins = fs.icache.pins()) {
            for (long depth = 0; depth <= fs.geo.inodesCount(); depth++) {
                Long parentIno = newEntry.remove(cur);
                if (parentIno == null) {
                    return;
                }
                ExtInode dir;
                try {
                    dir = fs.inodes.iget(pins, parentIno);
                } catch (FsException e) {
                    return; // the directory was removed meanwhile: nothing left to make durable
                }
                if (!dir.isDir()) {
                    return;
                }
                try {
                    Writeback.writeAndWait(dir.mapping(), 0, Long.MAX_VALUE);
                    fs.icache.writeback().clearDirty(dir);
                    try {
                        fs.inodes.writeInode(dir);
                    } catch (IOException | RuntimeException e) {
                        fs.markDirty(dir);
                        throw e;
                    }
                } catch (IOException | RuntimeException e) {
                    newEntry.put(cur, parentIno); // not durable yet: the next fsync tries again
                    throw e;
                }
                cur = dir;
            }
        }
    }

    /**
     * Writes the file's data, its inode and all dirty metadata, then flushes the device. A writeback error is
     * reported once per handle (its ErrSeq cursor). The file is clean afterwards but open, so not evictable here:
     * its release/forget that drops the last handle or reference finds it clean and evicts it at once.
     *
     * @param dataOnly fdatasync; ext2 writes the inode anyway (its size and block pointers are the data's map)
     */
    void fsync(ExtFile.Handle h, boolean dataOnly) throws IOException {
        ExtInode i = h.inode();
        if (fs.isReadOnly()) {
            h.cursor().check();
            return;
        }
        if (fs.journal.active()) {
            // Journaled (ext4_fsync_journal): the data (its allocations and conversions join the running
            // transaction), then the commit of that transaction, which carries this inode, its new entries and every
            // other change so far; the commit's flushes make the data durable before the commit block.
            GenericFile.writeAndWait(i, h.cursor());
            fs.journal.commitAll();
            h.cursor().check();
            return;
        }
        GenericFile.writeAndWait(i, h.cursor());
        // Data before metadata: a flush here makes every completed data write durable before any inode or extent
        // block that points at it (or converts it from unwritten) is written, this file's and any other's that
        // shares an inode-table or tree block. Without it a crash can keep the metadata and lose the data, and
        // the file shows whatever the blocks held before (stale data).
        fs.device.flush();
        fs.icache.writeback().clearDirty(i);
        try {
            fs.inodes.writeInode(i);
        } catch (IOException | RuntimeException e) {
            fs.markDirty(i); // still only in memory: keep it dirty (and so never evicted) for the next sync
            throw e;
        }
        syncParents(i);
        fs.groups.writeDescriptors();
        fs.bcache.syncDirtyOrdered(fs.sup::isInodeTableBlock);
        Writeback.fsync(i, 0, Long.MAX_VALUE, h.cursor(), fs.device);
    }
}
