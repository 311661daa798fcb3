package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DirBlockTail;
import org.iomap4j.ext.disk.DirEntryCodec;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.InlineData;
import org.iomap4j.ext.disk.XattrCodec;
import org.iomap4j.ext.disk.XattrEntry;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapType;

/**
 * Inline data (incompat {@code inline_data}, inode flag EXT4_INLINE_DATA_FL): a small file's, directory's or
 * symlink's bytes live in the inode, the first 60 in i_block and the rest in the in-inode xattr
 * {@code system.data} ({@link InlineData}; Documentation/filesystems/ext4/inlinedata.rst, fs/ext4/inline.c).
 *
 * <ul>
 *   <li>Reads: a regular file maps as one {@link IomapType#INLINE} iomap over {@code [0, i_size)} (a hole after
 *       it); a directory is served as one synthesized leaf block ({@link #dirBlock}: ".", ".." from the 4-byte
 *       parent number, then the entries of i_block and of system.data), so lookup and readdir work unchanged;
 *       a symlink's target is {@link #content}.</li>
 *   <li>Writes convert to blocks first, as ext4_convert_inline_data does: the first write, truncate or
 *       fallocate of an inline file ({@link #convert}), and the first change of an inline directory (its
 *       synthesized block is written as block 0 of a block directory, {@link #convertDir}). Converting clears
 *       EXT4_INLINE_DATA_FL, removes system.data, gives i_block an empty extent root (or zeroed block pointers
 *       without the extent feature) and writes the data to a new block. New inodes are never made inline.</li>
 * </ul>
 * Until converted, an inline inode's {@link ExtInode#blockMapping} is {@link #MAPPING}, which maps nothing and frees
 * nothing (unlink and eviction of an inline inode release no blocks). Locks: the xattr room's lock is taken
 * before {@link ExtInode#lock} (as {@link ExtXattr#set}); callers of {@link #convert} hold i_rwsem exclusively.
 */
final class ExtInline {
    private final ExtFileSystem fs;
    /**
     * Held by a conversion from start to end and by readers while they copy inline bytes, so a reader never sees
     * an inode half converted (system.data gone, data not yet in its block). Outermost of this room's locks:
     * before the xattr room's lock and {@link ExtInode#lock}; never held while taking a folio lock.
     */
    private final java.util.concurrent.locks.ReentrantLock convertLock = new java.util.concurrent.locks.ReentrantLock();

    ExtInline(ExtFileSystem fs) {
        this.fs = fs;
    }

    /** The block mapping of an inline inode: no blocks. Mapping with create is a bug (convert first). */
    static final ExtBlockMapping MAPPING = new ExtBlockMapping() {
        @Override
        public long addressableBlocks() {
            return 0;
        }

        @Override
        public Run map(ExtInode inode, long lblk, long maxBlocks, boolean create) throws IOException {
            if (create) {
                throw new FsException(Errno.EIO, "inode " + inode.ino + ": block allocation for an inline-data "
                        + "inode that was not converted");
            }
            return new Run(lblk, Math.max(1, maxBlocks), 0, false, false);
        }

        @Override
        public long freeFrom(ExtInode inode, long fromLblk) {
            return 0;
        }

        @Override
        public long freeRange(ExtInode inode, long fromLblk, long toLblk) {
            return 0;
        }
    };

    /** True if the inode still keeps its data inline. */
    static boolean isInline(ExtInode i) {
        return i.blockMapping == MAPPING;
    }

    /**
     * The inode's inline bytes ({@code i_size} of them).
     *
     * @throws CorruptFilesystemException naming the inode: no system.data xattr (or no room for in-inode xattrs),
     *                                    an i_size beyond the inline bytes, a bad in-inode xattr area
     */
    byte[] content(ExtInode i) throws IOException {
        i.lock.lock();
        try {
            if (i.disk.extraIsize() == 0) {
                throw new CorruptFilesystemException("inode " + i.ino + ": inline data without an in-inode xattr "
                        + "area (i_extra_isize 0), so no system.data");
            }
            List<XattrEntry> ibody = XattrCodec.decodeIbody(i.disk, i.ino);
            return InlineData.read(i.disk, i.ino, i.sizeBytes(), ibody);
        } finally {
            i.lock.unlock();
        }
    }

    /**
     * A read or report mapping of an inline regular file at {@code posBytes}: INLINE up to i_size, then a hole;
     * null if the inode was converted meanwhile (map it as a block file).
     */
    Iomap iomap(ExtInode i, long posBytes, long lengthBytes) throws IOException {
        byte[] data;
        convertLock.lock();
        try {
            if (!isInline(i)) {
                return null;
            }
            data = content(i);
        } finally {
            convertLock.unlock();
        }
        long cookie = i.mapSeq();
        if (posBytes >= data.length) {
            return Iomap.hole(posBytes, Math.max(1, Math.min(lengthBytes, Long.MAX_VALUE - posBytes)), cookie);
        }
        return Iomap.builder(IomapType.INLINE, 0, data.length).inlineData(data).validityCookie(cookie).build();
    }

    /**
     * An inline directory as one leaf block of {@code bs} bytes: "." (rec_len 12), ".." (the parent from i_block's
     * first 4 bytes), then the live entries of i_block and of system.data, each with its minimal rec_len, the last
     * one spanning the rest of the usable bytes; a zeroed checksum tail with metadata_csum (fs/ext4/inline.c
     * ext4_convert_inline_data_nolock / ext4_finish_convert_inline_dir build the same shape).
     *
     * Null if the directory was converted meanwhile (read its block 0).
     *
     * @throws CorruptFilesystemException naming the directory inode for a bad entry chain in i_block or system.data
     */
    byte[] dirBlock(ExtInode dir) throws IOException {
        byte[] content;
        convertLock.lock();
        try {
            if (!isInline(dir)) {
                return null;
            }
            content = content(dir);
        } finally {
            convertLock.unlock();
        }
        int bs = fs.geo.blockSizeBytes();
        if (content.length < InlineData.DOTDOT_BYTES) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + ": inline i_size " + content.length
                    + " is shorter than its parent number");
        }
        byte[] block = new byte[bs];
        int usable = fs.dirs.usableBytes();
        long parent = InlineData.dirParent(dir.disk);
        if (parent == 0 || parent > fs.geo.inodesCount()) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + ": inline parent inode " + parent
                    + " out of range");
        }
        DirEntryCodec.put(block, 0, dir.ino, DirEntryCodec.recLenFor(1), new byte[] {'.'}, DirEntryCodec.FT_DIR);
        int last = DirEntryCodec.recLenFor(1);
        DirEntryCodec.put(block, last, parent, DirEntryCodec.recLenFor(2), new byte[] {'.', '.'}, DirEntryCodec.FT_DIR);
        int out = last + DirEntryCodec.recLenFor(2);
        // i_block after the parent, then system.data: each its own rec_len chain.
        int iblockEnd = Math.min(content.length, InlineData.IBLOCK_BYTES);
        out = copyEntries(dir, content, InlineData.DOTDOT_BYTES, iblockEnd, block, out, usable);
        if (content.length > InlineData.IBLOCK_BYTES) {
            byte[] rest = java.util.Arrays.copyOfRange(content, InlineData.IBLOCK_BYTES, content.length);
            out = copyEntries(dir, rest, 0, rest.length, block, out, usable);
        }
        // The last entry spans the rest of the usable bytes.
        int lastOff = 0;
        for (int off = 0; off < out; off += DirEntryCodec.recLen(block, off, bs)) {
            lastOff = off;
        }
        DirEntryCodec.setRecLen(block, lastOff, usable - lastOff);
        if (fs.dirs.csum) {
            DirBlockTail.init(block);
            DirBlockTail.update(fs.dirs.inodeSeed(dir), block);
        }
        return block;
    }

    private int copyEntries(ExtInode dir, byte[] src, int from, int to, byte[] block, int out, int usable)
            throws CorruptFilesystemException {
        int off = from;
        byte[] region = java.util.Arrays.copyOfRange(src, from, to);
        int roff = 0;
        while (roff < region.length) {
            int rec = DirEntryCodec.checkEntry(region, roff, region.length, dir.ino, off, fs.geo.inodesCount());
            long ino = DirEntryCodec.inode(region, roff);
            if (ino != 0) {
                int nameLen = DirEntryCodec.nameLen(region, roff);
                int need = DirEntryCodec.recLenFor(nameLen);
                if (out + need > usable) {
                    throw new CorruptFilesystemException("directory inode " + dir.ino + ": inline entries overflow a "
                            + "block");
                }
                byte[] name = java.util.Arrays.copyOfRange(region, roff + DirEntryCodec.HEADER_BYTES,
                        roff + DirEntryCodec.HEADER_BYTES + nameLen);
                DirEntryCodec.put(block, out, ino, need, name, DirEntryCodec.fileType(region, roff));
                out += need;
            }
            roff += rec;
        }
        return out;
    }

    /**
     * Converts an inline inode to blocks (ext4_convert_inline_data): its bytes go to a new block 0 (none for an
     * empty inode), system.data is removed, EXT4_INLINE_DATA_FL cleared, and the block mapping becomes the extent
     * tree (or the indirect map without the extent feature). No-op for an inode that is not inline. Caller holds
     * i_rwsem exclusively; the page cache may keep what it read (the same bytes).
     *
     * @throws FsException ENOSPC when no block is free (the inode stays inline)
     */
    void convert(ExtInode i) throws IOException {
        if (!isInline(i)) {
            return;
        }
        convertLock.lock();
        try {
            convertLocked(i);
        } finally {
            convertLock.unlock();
        }
    }

    private void convertLocked(ExtInode i) throws IOException {
        if (!isInline(i)) {
            return;
        }
        fs.checkWritable();
        byte[] data = content(i);
        if (i.isDir()) {
            throw new IllegalStateException("directory inode " + i.ino + " converts through its block 0");
        }
        switchToBlocks(i);
        if (data.length > 0) {
            int bs = fs.geo.blockSizeBytes();
            ExtBlockMapping.Run run;
            i.lock.lock();
            try {
                run = i.blockMapping instanceof ExtentTree t ? t.map(i, 0, 1, true, false)
                        : i.blockMapping.map(i, 0, 1, true);
            } finally {
                i.lock.unlock();
            }
            ByteBuffer buf = ByteBuffer.wrap(java.util.Arrays.copyOf(data, bs));
            long addr = run.pblk() * bs;
            while (buf.hasRemaining()) {
                fs.device.write(addr + buf.position(), buf);
            }
        }
        fs.markDirty(i);
    }

    /**
     * Converts an inline directory: called by {@link Directories#writeBlock} before it writes block 0 (the
     * synthesized block, changed): the directory becomes an empty block directory of size 0 that the write
     * then extends to one block.
     */
    void convertDir(ExtInode dir) throws IOException {
        fs.checkWritable();
        convertLock.lock();
        try {
            content(dir); // the inline area must be sound before it is dropped
            switchToBlocks(dir);
            dir.setSizeBytes(0);
        } finally {
            convertLock.unlock();
        }
    }

    /** Drops system.data and turns i_block into an empty block map; the inode's data is then in no block. */
    private void switchToBlocks(ExtInode i) throws IOException {
        fs.xattr.set(i, InlineData.XATTR_NAME, null, 0, true);
        i.lock.lock();
        try {
            long f = i.disk.flags() & ~DiskInode.FL_INLINE_DATA;
            if (fs.newInodesUseExtents()) {
                ExtentTree.initEmptyRoot(i.disk);
                f |= DiskInode.FL_EXTENTS;
            } else {
                i.disk.setBlockBytes(new byte[DiskInode.I_BLOCK_BYTES]);
            }
            i.disk.setFlags(f);
            i.blockMapping = fs.blockMappingFor(i.disk);
            i.bumpMapSeq();
        } finally {
            i.lock.unlock();
        }
        fs.markDirty(i);
    }
}
