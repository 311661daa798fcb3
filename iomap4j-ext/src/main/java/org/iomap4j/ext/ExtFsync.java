package org.iomap4j.ext;

import java.io.IOException;
import org.iomap4j.fs.GenericFile;
import org.iomap4j.iomap.Writeback;

/**
 * fsync (fs/ext2/file.c ext2_fsync → generic_buffers_fsync): the file's data, then its inode, then all dirty
 * metadata (no per-inode tracking of indirect blocks, bitmaps and descriptors: everything is written, inode-table
 * blocks last), then a device flush. Without a journal this is what makes one file durable.
 *
 * <p>Lock order: folio locks (data writeback) → {@link ExtInode#lock} and buffer locks (inode write) →
 * {@link ExtGroups} (descriptors) → buffer locks. No inode rwsem: fsync runs concurrently with reads and writes of the file.
 */
final class ExtFsync {
    private final ExtFileSystem fs;

    ExtFsync(ExtFileSystem fs) {
        this.fs = fs;
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
        GenericFile.writeAndWait(i, h.cursor());
        fs.icache.writeback().clearDirty(i);
        try {
            fs.inodes.writeInode(i);
        } catch (IOException | RuntimeException e) {
            fs.markDirty(i); // still only in memory: keep it dirty (and so never evicted) for the next sync
            throw e;
        }
        fs.groups.writeDescriptors();
        fs.bcache.syncDirtyOrdered(fs.sup::isInodeTableBlock);
        Writeback.fsync(i, 0, Long.MAX_VALUE, h.cursor(), fs.device);
    }
}
