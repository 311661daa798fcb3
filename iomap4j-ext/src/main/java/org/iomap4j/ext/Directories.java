package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DirBlockTail;
import org.iomap4j.ext.disk.DirEntryCodec;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.DxBlock;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.buf.Buffer;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapOpFlags;
import org.iomap4j.iomap.IomapType;

/**
 * ext2/3/4 directories on top of the page cache (the seeds' challenge 1): a byte-oriented directory-block API —
 * read a block, change entries, write it back — whose blocks are read and written with {@link BufferedIo} on the
 * directory inode, exactly like file data, and mapped by the same iomap operations. No private copy of directory
 * blocks exists.
 *
 * <p>Two directory shapes, as fs/ext4/namei.c keeps them:
 * <ul>
 *   <li><b>linear</b>: new entries go into the first gap large enough (an unused entry or the slack after an
 *       entry's name), else into a new block appended to the directory; removal merges the entry into its
 *       predecessor in the block (or clears its inode when first). Lookups and inserts use a per-directory
 *       {@link DirIndex} (name → block, largest gap per block), an in-memory cache of the blocks. When the
 *       filesystem has dir_index and a linear directory's only block is full, it becomes indexed
 *       ({@link DxDir#makeIndexed}, the kernel's make_indexed_dir).</li>
 *   <li><b>indexed</b> (htree, EXT4_INDEX_FL with dir_index): {@link DxDir} finds a name's leaf by hash through
 *       the index blocks and keeps the index valid on insert (leaf and node splits, a new level).</li>
 * </ul>
 *
 * <p>metadata_csum (Documentation/filesystems/ext4/directory.rst "Checksums"): every leaf block ends with a
 * 12-byte {@link DirBlockTail} that entries never use ({@link #usableBytes}), dx blocks carry a dx_tail; both are
 * crc32c with the directory inode's seed (DiskInode.csumSeed), recomputed on every write and verified on every
 * read ({@link CorruptFilesystemException} naming the directory inode and block). A block is an index block when
 * the directory is indexed and it is block 0 (the root) or starts with an empty entry spanning the whole block.
 *
 * <p>Callers hold the filesystem's namespace lock (write for changes). Lock order: namespace lock →
 * (readBlock/writeBlock: core folio and inode locks) ; {@link #indexes}' monitor is a leaf, held only to get or
 * put a linear index, never across block I/O.
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

    final ExtFileSystem fs;
    final int bs;
    /** metadata_csum: leaf tails and dx tails. */
    final boolean csum;
    private final int fsCsumSeed;
    /** dir_index: indexed directories are served and linear ones become indexed when they outgrow a block. */
    final boolean dirIndex;
    /** large_dir: 3 index levels and directories past 2 GiB. */
    final boolean largeDir;
    final DxDir dx;
    /** Directory blocks read through {@link #readBlock} (tests prove lookups read the index path only). */
    final LongAdder blockReads = new LongAdder();
    /** False only in tests that compare on-disk results with and without the index (linear scans only). */
    volatile boolean indexEnabled = true;
    /** Name indexes of linear directories by in-memory inode (identity keys, weak). Guarded by its monitor. */
    private final Map<ExtInode, DirIndex> indexes = new WeakHashMap<>();

    Directories(ExtFileSystem fs) {
        this.fs = fs;
        this.bs = fs.geo.blockSizeBytes();
        DiskSuperblock sb = fs.sup.disk();
        this.csum = sb.hasMetadataCsum();
        this.fsCsumSeed = csum ? sb.csumSeed() : 0;
        this.dirIndex = sb.hasCompat(Features.COMPAT_DIR_INDEX);
        this.largeDir = sb.hasIncompat(Features.INCOMPAT_LARGEDIR);
        this.dx = new DxDir(this, sb);
    }

    long nrBlocks(ExtInode dir) {
        if (ExtInline.isInline(dir)) {
            return 1; // served as one synthesized block (ExtInline.dirBlock), whatever its inline i_size
        }
        return (dir.sizeBytes() + bs - 1) / bs;
    }

    /** Bytes of a leaf block entries may use: the block less the checksum tail with metadata_csum. */
    int usableBytes() {
        return csum ? bs - DirBlockTail.SIZE : bs;
    }

    /**
     * Largest directory size in bytes: 2 GiB, or with large_dir 2^32 blocks (fs/ext4: directories above 2 GiB
     * need large_dir, and their size uses i_size_high).
     */
    long maxSizeBytes() {
        return largeDir ? (1L << 32) * bs : 1L << 31;
    }

    /** True if the directory is served as an htree: dir_index on the filesystem and EXT4_INDEX_FL on it. */
    boolean isDx(ExtInode dir) {
        return dirIndex && (flags(dir) & DiskInode.FL_INDEX) != 0;
    }

    private static int flags(ExtInode dir) {
        dir.lock.lock();
        try {
            return (int) dir.disk.flags();
        } finally {
            dir.lock.unlock();
        }
    }

    void setIndexFlag(ExtInode dir, boolean on) {
        dir.lock.lock();
        try {
            long f = dir.disk.flags();
            dir.disk.setFlags(on ? f | DiskInode.FL_INDEX : f & ~DiskInode.FL_INDEX);
        } finally {
            dir.lock.unlock();
        }
        fs.markDirty(dir);
    }

    /** The directory inode's checksum seed (ext4_inode_csum_seed: fs seed, inode number, generation). */
    int inodeSeed(ExtInode dir) {
        dir.lock.lock();
        try {
            return DiskInode.csumSeed(fsCsumSeed, dir.ino, dir.disk.generation());
        } finally {
            dir.lock.unlock();
        }
    }

    /** True if block {@code lblk} of the directory is an htree root or node rather than a leaf. */
    private boolean isDxBlock(ExtInode dir, long lblk, byte[] block) {
        return isDx(dir) && (lblk == 0 || DxBlock.looksLikeNode(block));
    }

    /**
     * Reads directory block {@code lblk} through the page cache, checks its entry chain and, with metadata_csum,
     * its leaf or dx checksum.
     *
     * @throws CorruptFilesystemException naming the directory inode and block
     */
    byte[] readBlock(ExtInode dir, long lblk) throws IOException {
        blockReads.increment();
        if (ExtInline.isInline(dir)) {
            if (lblk != 0) {
                throw new CorruptFilesystemException("directory inode " + dir.ino + ": inline directory has no block "
                        + lblk);
            }
            byte[] b = fs.inline.dirBlock(dir);
            if (b != null) {
                return b;
            } // converted meanwhile: read block 0
        }
        byte[] block = new byte[bs];
        ByteBuffer dst = ByteBuffer.wrap(block);
        long pos = lblk * bs;
        if (fs.journal.active()) {
            readJournaled(dir, lblk, block);
            dst.position(bs);
        }
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
        if (csum) {
            if (isDxBlock(dir, lblk, block)) {
                DxBlock.decode(block, lblk == 0, true, largeDir, dir.ino, lblk);
                DxBlock.verifyChecksum(inodeSeed(dir), block, lblk == 0, dir.ino, lblk);
            } else {
                DirBlockTail.verify(inodeSeed(dir), block, dir.ino, lblk);
            }
        }
        return block;
    }

    /**
     * Writes directory block {@code lblk} (appending when it is the next block), after storing its leaf or dx
     * checksum with metadata_csum.
     *
     * @throws FsException ENOSPC past the directory size limit, EIO on a short write
     */
    void writeBlock(ExtInode dir, long lblk, byte[] block) throws IOException {
        if ((lblk + 1) * bs > maxSizeBytes()) {
            throw new FsException(Errno.ENOSPC, "directory inode " + dir.ino + " reached its size limit of "
                    + maxSizeBytes() + " bytes" + (largeDir ? "" : " (no large_dir)"));
        }
        if (csum) {
            if (isDxBlock(dir, lblk, block)) {
                DxBlock.updateChecksum(inodeSeed(dir), block, lblk == 0);
            } else {
                if (!DirBlockTail.present(block)) {
                    throw new IllegalStateException("directory inode " + dir.ino + " block " + lblk
                            + ": leaf written without its checksum tail");
                }
                DirBlockTail.update(inodeSeed(dir), block);
            }
        }
        if (ExtInline.isInline(dir)) {
            if (lblk != 0) {
                throw new IllegalStateException("directory inode " + dir.ino + ": inline directory grows past block 0");
            }
            fs.inline.convertDir(dir); // the changed synthesized block becomes block 0
        }
        // Taken before the write: appending a block changes the size the index is checked against.
        DirIndex idx = existingIndex(dir);
        ByteBuffer src = ByteBuffer.wrap(block);
        long pos = lblk * bs;
        if (fs.journal.active()) {
            writeJournaled(dir, lblk, block);
            src.position(bs);
        }
        while (src.hasRemaining()) {
            int n = BufferedIo.write(dir, pos + src.position(), src, fs.iomapOps);
            if (n <= 0) {
                throw new FsException(Errno.EIO, "directory inode " + dir.ino + ": short write of block " + lblk);
            }
        }
        if (!dirIndex && (flags(dir) & DiskInode.FL_INDEX) != 0) {
            // Without dir_index the index is not served: a changed directory must not claim one (fs/ext2).
            setIndexFlag(dir, false);
        }
        if (idx != null) {
            idx.blockWritten(lblk, block, usableBytes(), dir.sizeBytes());
        }
    }

    // ---------------------------------------------------------------- journaled mounts: blocks in the buffer cache

    /**
     * The physical block of directory block {@code lblk}, allocating it when {@code alloc} (the caller's handle
     * covers it), or 0 for a hole.
     */
    private long mapBlock(ExtInode dir, long lblk, boolean alloc) throws IOException {
        Iomap m = fs.iomapOps.iomapBegin(dir, lblk * bs, bs, alloc ? IomapOpFlags.WRITE : 0);
        if (m.type() == IomapType.HOLE) {
            return 0;
        }
        if (m.type() != IomapType.MAPPED) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + ": block " + lblk + " maps as "
                    + m.type() + ", not as an initialized block");
        }
        return (m.addrBytes() + (lblk * bs - m.offsetBytes())) / bs;
    }

    /**
     * Journaled mount: directory blocks are metadata, read through the buffer cache (ext4's ext4_bread), so that
     * the newest logged image is what a lookup sees before the checkpoint writes it in place.
     */
    private void readJournaled(ExtInode dir, long lblk, byte[] block) throws IOException {
        if (lblk >= nrBlocks(dir)) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + ": block " + lblk
                    + " is past its size " + dir.sizeBytes());
        }
        long pblk = mapBlock(dir, lblk, false);
        if (pblk == 0) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + ": block " + lblk + " is a hole");
        }
        try (Buffer b = fs.bcache.read(pblk)) {
            b.lock();
            try {
                System.arraycopy(b.array(), 0, block, 0, bs);
            } finally {
                b.unlock();
            }
        }
    }

    /**
     * Journaled mount: the block joins the caller's handle's transaction (ext4_handle_dirty_dirblock); appending
     * allocates it and grows i_size.
     */
    private void writeJournaled(ExtInode dir, long lblk, byte[] block) throws IOException {
        boolean append = lblk >= nrBlocks(dir);
        try (var h = fs.journal.begin(8 + fs.journal.allocCredits(1))) {
            long pblk = mapBlock(dir, lblk, append);
            if (pblk == 0) {
                pblk = mapBlock(dir, lblk, true); // a hole inside a directory: e2fsck fills those too
            }
            try (Buffer b = append ? fs.bcache.getZeroed(pblk) : fs.bcache.read(pblk)) {
                b.lock();
                try {
                    System.arraycopy(block, 0, b.array(), 0, bs);
                    b.markDirty();
                } finally {
                    b.unlock();
                }
            }
            if ((lblk + 1) * bs > dir.sizeBytes()) {
                dir.setSizeBytes((lblk + 1) * bs);
            }
        }
    }

    /** A new, empty leaf block: one unused entry spanning the usable bytes, plus the tail with metadata_csum. */
    byte[] newLeaf() {
        byte[] block = new byte[bs];
        DirEntryCodec.setRecLen(block, 0, usableBytes());
        if (csum) {
            DirBlockTail.init(block);
        }
        return block;
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
        DirIndex.Builder b = new DirIndex.Builder(bs, usableBytes(), sizeBytes, n);
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

    /** Forgets the directory's linear index (after an error: the next use rebuilds it from the blocks). */
    void dropIndex(ExtInode dir) {
        synchronized (indexes) {
            indexes.remove(dir);
        }
    }

    /**
     * Walks entries with a non-zero inode from position {@code fromPos}; resumes correctly after changes. The
     * next position after an entry is {@code posBytes + recLen}: a byte offset in a linear directory, a hash
     * cookie in an indexed one ({@link DxDir#iterateHashOrder}, whose entries move when leaves split).
     */
    void iterate(ExtInode dir, long fromPos, EntryVisitor v) throws IOException {
        if (isDx(dir)) {
            dx.iterateHashOrder(dir, fromPos, v);
            return;
        }
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

    /** Finds {@code name}; null if absent. Reads the index path and one leaf, or one block of a linear dir. */
    Slot find(ExtInode dir, byte[] name) throws IOException {
        if (name.length <= 2 && name[0] == '.' && (name.length == 1 || name[1] == '.')) {
            // "." and ".." live only in block 0 (also an htree's root): __ext4_find_entry.
            return findLinear(dir, name, 0, 1);
        }
        if (isDx(dir)) {
            return dx.find(dir, name);
        }
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
            Slot s = searchBlock(lblk, readBlock(dir, lblk), name);
            if (s != null) {
                return s;
            }
        }
        return null;
    }

    /** Finds {@code name} among the live entries of one (checked) block. */
    Slot searchBlock(long lblk, byte[] block, byte[] name) {
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
        return null;
    }

    /**
     * Puts an entry into the first gap of a (checked) leaf block that fits it, in entry order, never into the
     * checksum tail (fs/ext4/namei.c ext4_find_dest_de + ext4_insert_dentry).
     *
     * @return true if the entry was placed (the caller writes the block)
     */
    boolean insertInto(byte[] block, byte[] name, long ino, int fileType) {
        int need = DirEntryCodec.recLenFor(name.length);
        int ft = fs.geo.hasFiletype() ? fileType : 0;
        int end = usableBytes();
        int off = 0;
        while (off < end) {
            int recLen = DirEntryCodec.recLen(block, off, bs);
            long cur = DirEntryCodec.inode(block, off);
            if (cur == 0 && recLen >= need) {
                DirEntryCodec.put(block, off, ino, recLen, name, ft);
                return true;
            }
            int used = DirEntryCodec.recLenFor(DirEntryCodec.nameLen(block, off));
            if (cur != 0 && recLen - used >= need) {
                DirEntryCodec.setRecLen(block, off, used);
                DirEntryCodec.put(block, off + used, ino, recLen - used, name, ft);
                return true;
            }
            off += recLen;
        }
        return false;
    }

    /**
     * Adds an entry (the caller has checked the name is absent). Indexed directories insert by hash; linear
     * ones take the first gap that fits, in block and entry order, else a new block — or become indexed when
     * their only block is full and the filesystem has dir_index (fs/ext4/namei.c ext4_add_entry).
     *
     * @throws FsException ENOSPC when the directory reached its size limit or its index is full
     */
    void add(ExtInode dir, byte[] name, long ino, int fileType) throws IOException {
        if (isDx(dir)) {
            dx.add(dir, name, ino, fileType);
            return;
        }
        if (!indexEnabled) {
            addLinear(dir, name, ino, fileType, null);
            return;
        }
        try {
            DirIndex idx = index(dir);
            long lblk = addLinear(dir, name, ino, fileType, idx);
            if (lblk >= 0) {
                idx.putName(name, lblk);
            }
        } catch (IOException | RuntimeException e) {
            dropIndex(dir);
            throw e;
        }
    }

    /** Linear insert; returns the block used, or -1 if the directory became indexed instead. */
    private long addLinear(ExtInode dir, byte[] name, long ino, int fileType, DirIndex idx) throws IOException {
        int need = DirEntryCodec.recLenFor(name.length);
        long n = nrBlocks(dir);
        long fit = idx == null ? 0 : idx.firstBlockFitting(need);
        for (long lblk = fit < 0 ? n : fit; lblk < n; lblk++) {
            byte[] block = readBlock(dir, lblk);
            if (insertInto(block, name, ino, fileType)) {
                writeBlock(dir, lblk, block);
                return lblk;
            }
        }
        if (n == 1 && dirIndex && dx.canIndex()) {
            dropIndex(dir);
            dx.makeIndexed(dir, readBlock(dir, 0));
            dx.add(dir, name, ino, fileType);
            return -1;
        }
        byte[] block = newLeaf();
        insertInto(block, name, ino, fileType);
        writeBlock(dir, n, block);
        return n;
    }

    /** Removes the entry at {@code slot} (ext4_generic_delete_entry: merge into the previous entry). */
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

    /** Writes the first block of a new directory: "." and "..", and the checksum tail with metadata_csum. */
    void init(ExtInode dir, long parentIno) throws IOException {
        byte[] block = newLeaf();
        int ft = fs.geo.hasFiletype() ? DirEntryCodec.FT_DIR : 0;
        DirEntryCodec.put(block, 0, dir.ino, 12, new byte[] {'.'}, ft);
        DirEntryCodec.put(block, 12, parentIno, usableBytes() - 12, new byte[] {'.', '.'}, ft);
        writeBlock(dir, 0, block);
    }
}
