package org.iomap4j.ext2;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext2.disk.DirEntryCodec;
import org.iomap4j.ext2.disk.DiskInode;
import org.iomap4j.pagecache.BufferedIo;

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
 * <p>Callers hold the filesystem's namespace lock (write for changes) and the directory's i_rwsem.
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

    private final Ext2FileSystem fs;
    private final int bs;

    Directories(Ext2FileSystem fs) {
        this.fs = fs;
        this.bs = fs.blockSizeBytes;
    }

    long nrBlocks(Ext2Inode dir) {
        return (dir.sizeBytes() + bs - 1) / bs;
    }

    /** Reads directory block {@code lblk} through the page cache and checks its entry chain. */
    byte[] readBlock(Ext2Inode dir, long lblk) throws IOException {
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
            off += DirEntryCodec.checkEntry(block, off, bs, dir.ino, pos, fs.inodesCount);
        }
        return block;
    }

    void writeBlock(Ext2Inode dir, long lblk, byte[] block) throws IOException {
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
    }

    /** Walks entries with a non-zero inode from byte {@code fromPos}; resumes correctly after changes. */
    void iterate(Ext2Inode dir, long fromPos, EntryVisitor v) throws IOException {
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

    /** Finds {@code name}; null if absent. */
    Slot find(Ext2Inode dir, byte[] name) throws IOException {
        long n = nrBlocks(dir);
        for (long lblk = 0; lblk < n; lblk++) {
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

    /** Adds an entry (the caller has checked the name is absent). */
    void add(Ext2Inode dir, byte[] name, long ino, int fileType) throws IOException {
        int need = DirEntryCodec.recLenFor(name.length);
        int ft = fs.hasFiletype ? fileType : 0;
        long n = nrBlocks(dir);
        for (long lblk = 0; lblk < n; lblk++) {
            byte[] block = readBlock(dir, lblk);
            int off = 0;
            while (off < bs) {
                int recLen = DirEntryCodec.recLen(block, off, bs);
                long cur = DirEntryCodec.inode(block, off);
                if (cur == 0 && recLen >= need) {
                    DirEntryCodec.put(block, off, ino, recLen, name, ft);
                    writeBlock(dir, lblk, block);
                    return;
                }
                int used = DirEntryCodec.recLenFor(DirEntryCodec.nameLen(block, off));
                if (cur != 0 && recLen - used >= need) {
                    DirEntryCodec.setRecLen(block, off, used);
                    DirEntryCodec.put(block, off + used, ino, recLen - used, name, ft);
                    writeBlock(dir, lblk, block);
                    return;
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
    }

    /** Removes the entry at {@code slot}. */
    void remove(Ext2Inode dir, Slot slot) throws IOException {
        byte[] block = readBlock(dir, slot.lblk());
        int recLen = DirEntryCodec.recLen(block, slot.off(), bs);
        if (slot.prevOff() >= 0) {
            int prevLen = DirEntryCodec.recLen(block, slot.prevOff(), bs);
            DirEntryCodec.setRecLen(block, slot.prevOff(), prevLen + recLen);
        } else {
            DirEntryCodec.setInode(block, slot.off(), 0);
        }
        writeBlock(dir, slot.lblk(), block);
    }

    /** Points the entry at {@code slot} to another inode (rename over an existing name, "..", ...). */
    void retarget(Ext2Inode dir, Slot slot, long ino, int fileType) throws IOException {
        byte[] block = readBlock(dir, slot.lblk());
        DirEntryCodec.setInode(block, slot.off(), ino);
        DirEntryCodec.setFileType(block, slot.off(), fs.hasFiletype ? fileType : 0);
        writeBlock(dir, slot.lblk(), block);
    }

    /** True if the directory has no entries besides "." and "..". */
    boolean isEmpty(Ext2Inode dir) throws IOException {
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
    void init(Ext2Inode dir, long parentIno) throws IOException {
        byte[] block = new byte[bs];
        int ft = fs.hasFiletype ? DirEntryCodec.FT_DIR : 0;
        DirEntryCodec.put(block, 0, dir.ino, 12, new byte[] {'.'}, ft);
        DirEntryCodec.put(block, 12, parentIno, bs - 12, new byte[] {'.', '.'}, ft);
        writeBlock(dir, 0, block);
    }
}
