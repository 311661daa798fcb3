package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.WeakHashMap;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DirEntryCodec;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.iomap.BufferedIo;

/**
 * ext2 linear directories on top of the page cache (the seeds' challenge 1): a byte-oriented directory-block API
 * — read a block, change entries, write it back — whose blocks are read and written with {@link BufferedIo} on
 * the directory inode, exactly like file data, and mapped by the same iomap operations. No private copy of
 * directory blocks exists.
 *
 * <p>Entry management follows fs/ext2/dir.c: new entries go into the first gap large enough (an unused entry or
 * the slack after an entry's name), else into a new block appended to the directory; removal merges the entry
 * into its predecessor in the block (or clears its inode when first). Modifying an htree (dir_index) directory
 * clears its index flag, as the kernel's ext2 does, so that the hash index is never stale.
 *
 * <p>Lookups and inserts use a per-directory {@link DirIndex} (name → block, largest gap per block) built
 * lazily from the blocks, so that they read one block instead of scanning the directory; the blocks stay the
 * only truth and the choices made are exactly those of the linear scan (same block, same gap). The index is
 * kept in sync by every change made here, rebuilt when the directory's size differs from the one it describes,
 * dropped on any error, and forgotten with the directory's in-memory inode (weak keys: an evicted inode's index
 * goes with it).
 *
 * <p>Callers hold the filesystem's namespace lock (write for changes) and the directory's i_rwsem. Lock order:
 * namespace lock → (readBlock/writeBlock: core folio and inode locks) ; {@link #indexes}' monitor is a leaf,
 * held only to get or put an index, never across block I/O.
 */
final class Directories {
    /** Where an entry lives. {@code prevOff} is the previous entry in the same block, or -1. */
    record Slot(long lblk, int off, int prevOff, long ino, int fileType) {
    }

    /** Receives entries; returns false to stop. {@code posBytes} is the entry's byte offset in the directory. */
    @FunctionalInterface
    interface EntryVisitor {
        boolean visit(long posBytes, int recLen, long ino, byte[] block, int off) throws IOException;
    }

    private final ExtFileSystem fs;
    private final int bs;
    /** False only in tests that compare on-disk results with and without the index (linear scans only). */
    volatile boolean indexEnabled = true;
    /** Name indexes by in-memory directory inode (identity keys, weak). Guarded by its own monitor. */
    private final Map<ExtInode, DirIndex> indexes = new WeakHashMap<>();

    Directories(ExtFileSystem fs) {
        this.fs = fs;
        this.bs = fs.geo.blockSizeBytes();
    }

    long nrBlocks(ExtInode dir) {
        return (dir.sizeBytes() + bs - 1) / bs;
    }

    /** Reads directory block {@code lblk} through the page cache and checks its entry chain. */
    byte[] readBlock(ExtInode dir, long lblk) throws IOException {
        byte[] block = new byte[bs];
        ByteBuffer dst = ByteBuffer.wrap(block);
        long pos = lblk * bs;
        while (dst.hasRemaining()) {
            int n = BufferedIo.read(dir, pos + dst.position(), dst, fs.iomapOps);
            if (n <= 0) {
                throw new CorruptFilesystemException("directory inode " + dir.ino + ": size " + dir.sizeBytes()
                        + " is not a whole number of " + bs + "-byte blocks");
            }
        }
        int off = 0;
        while (off < bs) {
            off += DirEntryCodec.checkEntry(block, off, bs, dir.ino, pos, fs.geo.inodesCount());
        }
        return block;
    }

    void writeBlock(ExtInode dir, long lblk, byte[] block) throws IOException {
        // Taken before the write: appending a block changes the size the index is checked against.
        DirIndex idx = existingIndex(dir);
        ByteBuffer src = ByteBuffer.wrap(block);
        long pos = lblk * bs;
        while (src.hasRemaining()) {
            int n = BufferedIo.write(dir, pos + src.position(), src, fs.iomapOps);
            if (n <= 0) {
                throw new FsException(Errno.EIO, "directory inode " + dir.ino + ": short write of block " + lblk);
            }
        }
        if ((dir.disk.flags() & DiskInode.FL_INDEX) != 0) {
            dir.lock.lock();
            try {
                dir.disk.setFlags(dir.disk.flags() & ~DiskInode.FL_INDEX);
            } finally {
                dir.lock.unlock();
            }
            fs.markDirty(dir);
        }
        if (idx != null) {
            idx.blockWritten(lblk, block, bs, dir.sizeBytes());
        }
    }

    /** The directory's index if one is built and describes its current size, else null. */
    private DirIndex existingIndex(ExtInode dir) {
        synchronized (indexes) {
            DirIndex idx = indexes.get(dir);
            if (idx != null && idx.sizeBytes != dir.sizeBytes()) {
                indexes.remove(dir);
                return null;
            }
            return idx;
        }
    }

    /** The directory's index, built from its blocks if absent or stale. */
    private DirIndex index(ExtInode dir) throws IOException {
        DirIndex idx = existingIndex(dir);
        if (idx != null) {
            return idx;
        }
        long sizeBytes = dir.sizeBytes();
        long n = nrBlocks(dir);
        DirIndex.Builder b = new DirIndex.Builder(bs, sizeBytes, n);
        for (long lblk = 0; lblk < n; lblk++) {
            b.addBlock(lblk, readBlock(dir, lblk));
        }
        idx = b.build();
        synchronized (indexes) {
            if (dir.sizeBytes() == sizeBytes) {
                indexes.put(dir, idx);
            }
        }
        return idx;
    }

    /** Forgets the directory's index (after an error: the next use rebuilds it from the blocks). */
    void dropIndex(ExtInode dir) {
        synchronized (indexes) {
            indexes.remove(dir);
        }
    }

    /** Walks entries with a non-zero inode from byte {@code fromPos}; resumes correctly after changes. */
    void iterate(ExtInode dir, long fromPos, EntryVisitor v) throws IOException {
        long n = nrBlocks(dir);
        for (long lblk = Math.max(0, fromPos) / bs; lblk < n; lblk++) {
            byte[] block = readBlock(dir, lblk);
            int off = 0;
            while (off < bs) {
                int recLen = DirEntryCodec.recLen(block, off, bs);
                long pos = lblk * bs + off;
                long ino = DirEntryCodec.inode(block, off);
                if (pos >= fromPos && ino != 0 && !v.visit(pos, recLen, ino, block, off)) {
                    return;
                }
                off += recLen;
            }
        }
    }

    /** Finds {@code name}; null if absent. Reads one block when the directory's index is usable. */
    Slot find(ExtInode dir, byte[] name) throws IOException {
        if (!indexEnabled) {
            return findLinear(dir, name, 0, nrBlocks(dir));
        }
        try {
            DirIndex idx = index(dir);
            if (idx.linearOnly) {
                return findLinear(dir, name, 0, nrBlocks(dir));
            }
            long lblk = idx.lblkOf(name);
            if (lblk < 0) {
                return null;
            }
            Slot s = findLinear(dir, name, lblk, lblk + 1);
            if (s == null) {
                // The index disagrees with the block: never trust it over the disk.
                dropIndex(dir);
                return findLinear(dir, name, 0, nrBlocks(dir));
            }
            return s;
        } catch (IOException | RuntimeException e) {
            dropIndex(dir);
            throw e;
        }
    }

    /** Scans blocks {@code [fromLblk, toLblk)} for {@code name}. */
    private Slot findLinear(ExtInode dir, byte[] name, long fromLblk, long toLblk) throws IOException {
        long n = Math.min(toLblk, nrBlocks(dir));
        for (long lblk = fromLblk; lblk < n; lblk++) {
            byte[] block = readBlock(dir, lblk);
            int off = 0;
            int prev = -1;
            while (off < bs) {
                int recLen = DirEntryCodec.recLen(block, off, bs);
                long ino = DirEntryCodec.inode(block, off);
                if (ino != 0 && DirEntryCodec.nameEquals(block, off, name)) {
                    return new Slot(lblk, off, prev, ino, DirEntryCodec.fileType(block, off));
                }
                prev = off;
                off += recLen;
            }
        }
        return null;
    }

    /**
     * Adds an entry (the caller has checked the name is absent) into the first gap that fits, in block and
     * entry order, else into a new block; the index only skips the blocks that have no such gap.
     */
    void add(ExtInode dir, byte[] name, long ino, int fileType) throws IOException {
        if (!indexEnabled) {
            addLocked(dir, name, ino, fileType, null);
            return;
        }
        try {
            DirIndex idx = index(dir);
            long lblk = addLocked(dir, name, ino, fileType, idx);
            idx.putName(name, lblk);
        } catch (IOException | RuntimeException e) {
            dropIndex(dir);
            throw e;
        }
    }

    private long addLocked(ExtInode dir, byte[] name, long ino, int fileType, DirIndex idx) throws IOException {
        int need = DirEntryCodec.recLenFor(name.length);
        int ft = fs.geo.hasFiletype() ? fileType : 0;
        long n = nrBlocks(dir);
        long fit = idx == null ? 0 : idx.firstBlockFitting(need);
        for (long lblk = fit < 0 ? n : fit; lblk < n; lblk++) {
            byte[] block = readBlock(dir, lblk);
            int off = 0;
            while (off < bs) {
                int recLen = DirEntryCodec.recLen(block, off, bs);
                long cur = DirEntryCodec.inode(block, off);
                if (cur == 0 && recLen >= need) {
                    DirEntryCodec.put(block, off, ino, recLen, name, ft);
                    writeBlock(dir, lblk, block);
                    return lblk;
                }
                int used = DirEntryCodec.recLenFor(DirEntryCodec.nameLen(block, off));
                if (cur != 0 && recLen - used >= need) {
                    DirEntryCodec.setRecLen(block, off, used);
                    DirEntryCodec.put(block, off + used, ino, recLen - used, name, ft);
                    writeBlock(dir, lblk, block);
                    return lblk;
                }
                off += recLen;
            }
        }
        if ((n + 1) * bs > 0xFFFF_FFFFL) {
            throw new FsException(Errno.ENOSPC, "directory inode " + dir.ino + " reached the 4 GiB size limit");
        }
        byte[] block = new byte[bs];
        DirEntryCodec.put(block, 0, ino, bs, name, ft);
        writeBlock(dir, n, block);
        return n;
    }

    /** Removes the entry at {@code slot}. */
    void remove(ExtInode dir, Slot slot) throws IOException {
        try {
            byte[] block = readBlock(dir, slot.lblk());
            int recLen = DirEntryCodec.recLen(block, slot.off(), bs);
            byte[] name = java.util.Arrays.copyOfRange(block, slot.off() + DirEntryCodec.HEADER_BYTES,
                    slot.off() + DirEntryCodec.HEADER_BYTES + DirEntryCodec.nameLen(block, slot.off()));
            if (slot.prevOff() >= 0) {
                int prevLen = DirEntryCodec.recLen(block, slot.prevOff(), bs);
                DirEntryCodec.setRecLen(block, slot.prevOff(), prevLen + recLen);
            } else {
                DirEntryCodec.setInode(block, slot.off(), 0);
            }
            writeBlock(dir, slot.lblk(), block);
            DirIndex idx = existingIndex(dir);
            if (idx != null) {
                idx.removeName(name);
            }
        } catch (IOException | RuntimeException e) {
            dropIndex(dir);
            throw e;
        }
    }

    /** Points the entry at {@code slot} to another inode (rename over an existing name, "..", ...). */
    void retarget(ExtInode dir, Slot slot, long ino, int fileType) throws IOException {
        try {
            byte[] block = readBlock(dir, slot.lblk());
            DirEntryCodec.setInode(block, slot.off(), ino);
            DirEntryCodec.setFileType(block, slot.off(), fs.geo.hasFiletype() ? fileType : 0);
            writeBlock(dir, slot.lblk(), block);
        } catch (IOException | RuntimeException e) {
            dropIndex(dir);
            throw e;
        }
    }

    /** True if the directory has no entries besides "." and "..". */
    boolean isEmpty(ExtInode dir) throws IOException {
        boolean[] empty = {true};
        iterate(dir, 0, (pos, recLen, ino, block, off) -> {
            int nl = DirEntryCodec.nameLen(block, off);
            boolean dot = nl == 1 && block[off + 8] == '.';
            boolean dotdot = nl == 2 && block[off + 8] == '.' && block[off + 9] == '.';
            if (!dot && !dotdot) {
                empty[0] = false;
                return false;
            }
            return true;
        });
        return empty[0];
    }

    /** Writes the first block of a new directory: "." and "..". */
    void init(ExtInode dir, long parentIno) throws IOException {
        byte[] block = new byte[bs];
        int ft = fs.geo.hasFiletype() ? DirEntryCodec.FT_DIR : 0;
        DirEntryCodec.put(block, 0, dir.ino, 12, new byte[] {'.'}, ft);
        DirEntryCodec.put(block, 12, parentIno, bs - 12, new byte[] {'.', '.'}, ft);
        writeBlock(dir, 0, block);
    }
}
