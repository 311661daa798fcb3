package org.iomap4j.ext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DirEntryCodec;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.DxBlock;
import org.iomap4j.ext.disk.DxHash;

/**
 * htree (dir_index) directories, kept valid on every change as fs/ext4/namei.c does: lookup reads the root, the
 * index nodes on the hash's path and the leaf (plus the following leaves only while a hash collision continues
 * there: ext4_htree_next_block); insert puts the entry into its leaf and, when the leaf is full, splits it by hash
 * (do_split: the upper half of the entries by hash order, about half the bytes, move to a new block and the
 * index gains an entry for them, with the collision bit when the halves share a hash); a full index node splits
 * in two (its parent gains an entry), and a full root moves its entries into a new node, adding a level (up to 2
 * levels, 3 with large_dir: dx_root_info.indirect_levels &lt; 2 or 3). Removal only changes the leaf; the index
 * stays valid. A linear directory whose only block is full becomes indexed ({@link #makeIndexed}).
 *
 * <p>Hashes: dx_root_info.hash_version, unsigned when s_flags says so ({@link DxHash#effectiveVersion}), seeded
 * with s_hash_seed; new roots take s_def_hash_version. Layout and checks: {@link DxBlock}; sources:
 * Documentation/filesystems/ext4/directory.rst "Hash Tree Directories", fs/ext4/namei.c (dx_probe,
 * ext4_dx_find_entry, ext4_dx_add_entry, do_split, make_indexed_dir).
 *
 * <p>Blocks are read and written through {@link Directories} (checksums there). Callers hold the namespace lock
 * exclusively for {@link #add} and {@link #makeIndexed}, at least shared for {@link #find}. Not thread-safe
 * otherwise (no state besides the superblock's constants).
 */
final class DxDir {
    /** Insert attempts (each split or new level makes progress; a directory needing more is corrupt). */
    private static final int MAX_ATTEMPTS = 64;

    private final Directories dirs;
    private final DiskSuperblock sb;
    private final int[] hashSeed;
    private final int bs;

    /** One index block on a probe's path and the entry taken in it. */
    private static final class Frame {
        final long lblk;
        final byte[] block;
        final DxBlock node;
        int at;

        Frame(long lblk, byte[] block, DxBlock node, int at) {
            this.lblk = lblk;
            this.block = block;
            this.node = node;
            this.at = at;
        }

        boolean full() {
            return node.entries().size() >= node.limit();
        }

        long child() {
            return node.entries().get(at).lblk();
        }
    }

    /** A probe's result: the index path (root first), the leaf block and the name's hash. */
    private record Probe(List<Frame> frames, long leafLblk, int hash, int version) {
    }

    DxDir(Directories dirs, DiskSuperblock sb) {
        this.dirs = dirs;
        this.sb = sb;
        this.hashSeed = DxHash.seedWords(sb.hashSeed());
        this.bs = dirs.bs;
    }

    /** True if new roots can be written: s_def_hash_version is legacy, half_md4 or tea. */
    boolean canIndex() {
        return sb.defHashVersion() <= DxHash.TEA;
    }

    private int hash(int version, byte[] b, int off, int len) {
        return DxHash.hash(version, b, off, len, hashSeed).major();
    }

    /** dx_probe: the path from the root to the leaf that holds (or would hold) {@code name}. */
    private Probe probe(ExtInode dir, byte[] name) throws IOException {
        return probe(dir, name, 0);
    }

    /** dx_probe for {@code name}, or for the major hash {@code h} when {@code name} is null. */
    private Probe probe(ExtInode dir, byte[] name, int hashIfNoName) throws IOException {
        byte[] rootBlock = dirs.readBlock(dir, 0);
        DxBlock root = DxBlock.decode(rootBlock, true, dirs.csum, dirs.largeDir, dir.ino, 0);
        int version = DxHash.effectiveVersion(root.hashVersion(), sb);
        int h = name == null ? hashIfNoName : hash(version, name, 0, name.length);
        long nrBlocks = dirs.nrBlocks(dir);
        List<Frame> frames = new ArrayList<>(root.indirectLevels() + 1);
        Frame f = new Frame(0, rootBlock, root, root.find(h));
        for (int level = 0; ; level++) {
            frames.add(f);
            long child = checkChild(dir, f, nrBlocks);
            if (level == root.indirectLevels()) {
                return new Probe(frames, child, h, version);
            }
            byte[] b = dirs.readBlock(dir, child);
            DxBlock node = DxBlock.decode(b, false, dirs.csum, dirs.largeDir, dir.ino, child);
            f = new Frame(child, b, node, node.find(h));
        }
    }

    private static long checkChild(ExtInode dir, Frame f, long nrBlocks) throws CorruptFilesystemException {
        long child = f.child();
        if (child == 0 || child >= nrBlocks) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + " htree block " + f.lblk + ": entry "
                    + f.at + " points to block " + child + " outside 1.." + (nrBlocks - 1));
        }
        return child;
    }

    /**
     * ext4_dx_find_entry: the entry for {@code name}, or null.
     *
     * @throws CorruptFilesystemException for a damaged index or block (naming the directory inode and block)
     */
    Directories.Slot find(ExtInode dir, byte[] name) throws IOException {
        Probe p = probe(dir, name);
        long leaf = p.leafLblk();
        for (long steps = 0; steps <= dirs.nrBlocks(dir); steps++) {
            Directories.Slot s = dirs.searchBlock(leaf, dirs.readBlock(dir, leaf), name);
            if (s != null) {
                return s;
            }
            leaf = nextLeaf(dir, p);
            if (leaf < 0) {
                return null;
            }
        }
        throw new CorruptFilesystemException("directory inode " + dir.ino + ": htree collision chain does not end");
    }

    /**
     * ext4_htree_next_block: the next leaf in hash order if it continues the probe's hash (its starting hash
     * without the collision bit equals the hash), else -1. Advances the probe's frames.
     */
    private long nextLeaf(ExtInode dir, Probe p) throws IOException {
        int[] bhash = new int[1];
        long next = advance(dir, p.frames(), bhash);
        return next >= 0 && (bhash[0] & ~1) == p.hash() ? next : -1;
    }

    /**
     * Moves the frames to the next leaf in index order; returns it, or -1 at the end. {@code startHash[0]} gets
     * the new leaf's starting hash as its index entry says (bit 0: it continues the previous leaf's hash).
     */
    private long advance(ExtInode dir, List<Frame> frames, int[] startHash) throws IOException {
        int k = frames.size() - 1;
        while (k >= 0 && frames.get(k).at + 1 >= frames.get(k).node.entries().size()) {
            k--;
        }
        if (k < 0) {
            return -1;
        }
        Frame f = frames.get(k);
        f.at++;
        startHash[0] = f.node.entries().get(f.at).hash();
        long nrBlocks = dirs.nrBlocks(dir);
        for (int i = k + 1; i < frames.size(); i++) {
            long child = checkChild(dir, frames.get(i - 1), nrBlocks);
            byte[] b = dirs.readBlock(dir, child);
            frames.set(i, new Frame(child, b, DxBlock.decode(b, false, dirs.csum, dirs.largeDir, dir.ino, child), 0));
        }
        return checkChild(dir, frames.get(frames.size() - 1), nrBlocks);
    }

    /**
     * Readdir cookie of an entry in hash order (ext4's 64-bit hash2pos: major hash without its low bit, then the
     * minor hash); "." and ".." take 0 and 1, so entries start at 2.
     */
    private static long cookie(int major, int minor) {
        return Math.max(((long) (major >>> 1) << 32) | (minor & 0xFFFF_FFFFL), 2);
    }

    /** An entry met by a hash-order walk. */
    private record Found(long cookie, byte[] block, int off) {
    }

    /**
     * ext4_dx_readdir: visits the live entries in hash order from cookie {@code fromCookie} — "." and ".."
     * first, then leaf by leaf along the index (a leaf together with the leaves continuing its last hash),
     * sorted by cookie. The visitor gets the cookie as {@code posBytes} and 1 as {@code recLen}, so that
     * {@code posBytes + recLen} is where the next call resumes. Entries moved by a leaf split keep their cookie,
     * so a reader never sees one twice or misses one that was there all along (a full 64-bit hash collision
     * cut by the reader's buffer is the exception, as in the kernel).
     */
    void iterateHashOrder(ExtInode dir, long fromCookie, Directories.EntryVisitor v) throws IOException {
        if (fromCookie <= 1) {
            byte[] root = dirs.readBlock(dir, 0);
            DxBlock.decode(root, true, dirs.csum, dirs.largeDir, dir.ino, 0);
            if (fromCookie <= 0 && !v.visit(0, 1, DirEntryCodec.inode(root, 0), root, 0)) {
                return;
            }
            if (!v.visit(1, 1, DirEntryCodec.inode(root, 12), root, 12)) {
                return;
            }
        }
        long from = Math.max(fromCookie, 2);
        Probe p = probe(dir, null, (int) (from >>> 32) << 1);
        List<Frame> frames = p.frames();
        long leaf = p.leafLblk();
        int[] startHash = new int[1];
        for (long steps = 0; leaf >= 0 && steps <= dirs.nrBlocks(dir); steps++) {
            List<Found> group = new ArrayList<>();
            long next = leaf;
            do {
                collect(dir, next, p.version(), group);
                next = advance(dir, frames, startHash);
            } while (next >= 0 && (startHash[0] & 1) != 0);
            group.sort((a, b) -> Long.compare(a.cookie(), b.cookie()));
            for (Found e : group) {
                if (e.cookie() >= from && !v.visit(e.cookie(), 1, DirEntryCodec.inode(e.block(), e.off()), e.block(),
                        e.off())) {
                    return;
                }
            }
            leaf = next;
        }
    }

    private void collect(ExtInode dir, long lblk, int version, List<Found> out) throws IOException {
        byte[] block = dirs.readBlock(dir, lblk);
        int off = 0;
        while (off < bs) {
            int recLen = DirEntryCodec.recLen(block, off, bs);
            if (DirEntryCodec.inode(block, off) != 0) {
                DxHash.Hash h = DxHash.hash(version, block, off + DirEntryCodec.HEADER_BYTES,
                        DirEntryCodec.nameLen(block, off), hashSeed);
                out.add(new Found(cookie(h.major(), h.minor()), block, off));
            }
            off += recLen;
        }
    }

    /**
     * ext4_dx_add_entry: inserts into the name's leaf, splitting the leaf, index nodes or adding a level as
     * needed, then probing again.
     *
     * @throws FsException ENOSPC when the index is full at its maximum depth or the directory at its size limit
     */
    void add(ExtInode dir, byte[] name, long ino, int fileType) throws IOException {
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            Probe p = probe(dir, name);
            byte[] leaf = dirs.readBlock(dir, p.leafLblk());
            if (dirs.insertInto(leaf, name, ino, fileType)) {
                dirs.writeBlock(dir, p.leafLblk(), leaf);
                return;
            }
            List<Frame> frames = p.frames();
            int k = frames.size() - 1;
            if (!frames.get(k).full()) {
                splitLeaf(dir, p, leaf);
                continue;
            }
            while (k > 0 && frames.get(k - 1).full()) {
                k--;
            }
            if (k > 0) {
                splitNode(dir, frames.get(k - 1), frames.get(k));
            } else {
                Frame root = frames.get(0);
                int maxLevels = dirs.largeDir ? 3 : 2;
                if (root.node.indirectLevels() + 1 >= maxLevels) {
                    throw new FsException(Errno.ENOSPC, "directory inode " + dir.ino + ": htree index full ("
                            + maxLevels + " levels" + (dirs.largeDir ? "" : ", no large_dir") + ")");
                }
                addLevel(dir, root);
            }
        }
        throw new FsException(Errno.EIO, "directory inode " + dir.ino + ": no room for an entry after "
                + MAX_ATTEMPTS + " htree splits");
    }

    /** A live entry of a leaf being split, with its hash. */
    private record MapEntry(int hash, int off, int sizeBytes) {
    }

    /** do_split: moves the upper half (by hash, about half the bytes) of a full leaf into a new block. */
    private void splitLeaf(ExtInode dir, Probe p, byte[] leaf) throws IOException {
        List<MapEntry> map = new ArrayList<>();
        int off = 0;
        while (off < bs) {
            int recLen = DirEntryCodec.recLen(leaf, off, bs);
            if (DirEntryCodec.inode(leaf, off) != 0) {
                int nl = DirEntryCodec.nameLen(leaf, off);
                map.add(new MapEntry(hash(p.version(), leaf, off + DirEntryCodec.HEADER_BYTES, nl), off,
                        DirEntryCodec.recLenFor(nl)));
            }
            off += recLen;
        }
        if (map.size() < 2) {
            throw new CorruptFilesystemException("directory inode " + dir.ino + " block " + p.leafLblk()
                    + ": full leaf with " + map.size() + " entries cannot be split");
        }
        map.sort((a, b) -> Integer.compareUnsigned(a.hash(), b.hash()));
        int count = map.size();
        int moveBytes = 0;
        int move = 0;
        for (int i = count - 1; i >= 0; i--) {
            MapEntry e = map.get(i);
            if (moveBytes + e.sizeBytes() / 2 > bs / 2) {
                break;
            }
            moveBytes += e.sizeBytes();
            move++;
        }
        int split = Math.clamp(count - move, 1, count - 1);
        int hash2 = map.get(split).hash();
        boolean continued = hash2 == map.get(split - 1).hash();
        long newLblk = dirs.nrBlocks(dir);
        byte[] upper = pack(leaf, map.subList(split, count));
        byte[] lower = pack(leaf, map.subList(0, split));
        dirs.writeBlock(dir, newLblk, upper);
        dirs.writeBlock(dir, p.leafLblk(), lower);
        Frame parent = p.frames().get(p.frames().size() - 1);
        insertEntry(dir, parent, new DxBlock.Entry(continued ? hash2 | 1 : hash2, newLblk));
    }

    /** A new leaf holding copies of the given entries of {@code src}, packed, the last spanning the rest. */
    private byte[] pack(byte[] src, List<MapEntry> entries) {
        byte[] block = dirs.newLeaf();
        int off = 0;
        List<MapEntry> byOffset = new ArrayList<>(entries);
        byOffset.sort((a, b) -> Integer.compare(a.off(), b.off()));
        for (int i = 0; i < byOffset.size(); i++) {
            MapEntry e = byOffset.get(i);
            System.arraycopy(src, e.off(), block, off, e.sizeBytes());
            int recLen = i == byOffset.size() - 1 ? dirs.usableBytes() - off : e.sizeBytes();
            DirEntryCodec.setRecLen(block, off, recLen);
            off += e.sizeBytes();
        }
        return block;
    }

    /** dx_insert_block: adds {@code e} after the frame's current entry and writes the index block. */
    private void insertEntry(ExtInode dir, Frame f, DxBlock.Entry e) throws IOException {
        List<DxBlock.Entry> entries = new ArrayList<>(f.node.entries());
        entries.add(f.at + 1, e);
        rewrite(dir, f.lblk, f.block, new DxBlock(f.node.root(), f.node.hashVersion(), f.node.indirectLevels(),
                f.node.limit(), entries));
    }

    /** Encodes {@code node} into {@code block} (clearing entries past its count) and writes it. */
    private void rewrite(ExtInode dir, long lblk, byte[] block, DxBlock node) throws IOException {
        int from = node.countOffset() + node.entries().size() * DxBlock.ENTRY_BYTES;
        Arrays.fill(block, from, DxBlock.tailOffset(node.countOffset(), node.limit()), (byte) 0);
        node.encodeInto(block);
        dirs.writeBlock(dir, lblk, block);
    }

    /** Splits a full index node in two halves by count; the parent (which has room) gains the second half. */
    private void splitNode(ExtInode dir, Frame parent, Frame full) throws IOException {
        List<DxBlock.Entry> entries = full.node.entries();
        int n1 = entries.size() / 2;
        int hash2 = entries.get(n1).hash();
        long newLblk = dirs.nrBlocks(dir);
        int limit = full.node.limit();
        byte[] b = new byte[bs];
        DxBlock.initNodeHeader(b);
        rewrite(dir, newLblk, b, new DxBlock(false, -1, -1, limit, entries.subList(n1, entries.size())));
        rewrite(dir, full.lblk, full.block, new DxBlock(false, -1, -1, limit, entries.subList(0, n1)));
        insertEntry(dir, parent, new DxBlock.Entry(hash2, newLblk));
    }

    /** Moves a full root's entries into a new node and points the root at it: the tree grows a level. */
    private void addLevel(ExtInode dir, Frame root) throws IOException {
        long newLblk = dirs.nrBlocks(dir);
        byte[] b = new byte[bs];
        DxBlock.initNodeHeader(b);
        rewrite(dir, newLblk, b, new DxBlock(false, -1, -1, DxBlock.limitFor(false, bs, dirs.csum),
                root.node.entries()));
        rewrite(dir, 0, root.block, new DxBlock(true, root.node.hashVersion(), root.node.indirectLevels() + 1,
                root.node.limit(), List.of(new DxBlock.Entry(0, newLblk))));
    }

    /**
     * make_indexed_dir: turns a one-block linear directory into an htree — its entries after ".." move to a new
     * leaf (block 1), block 0 becomes the root ("." and "..", dx_root_info with s_def_hash_version, one entry
     * for block 1) and the inode gets EXT4_INDEX_FL. The caller then inserts by hash ({@link #add}).
     *
     * @param block0 the directory's checked block 0
     * @throws CorruptFilesystemException if block 0 does not start with "." and ".."
     */
    void makeIndexed(ExtInode dir, byte[] block0) throws IOException {
        int dotLen = DirEntryCodec.recLen(block0, 0, bs);
        if (DirEntryCodec.nameLen(block0, 0) != 1 || block0[DirEntryCodec.HEADER_BYTES] != '.' || dotLen >= bs
                || DirEntryCodec.nameLen(block0, dotLen) != 2) {
            throw new CorruptFilesystemException("directory inode " + dir.ino
                    + " block 0: does not start with '.' and '..' entries");
        }
        long parentIno = DirEntryCodec.inode(block0, dotLen);
        int fileType = DirEntryCodec.fileType(block0, dotLen);
        List<MapEntry> rest = new ArrayList<>();
        int off = dotLen + DirEntryCodec.recLen(block0, dotLen, bs);
        while (off < bs) {
            int recLen = DirEntryCodec.recLen(block0, off, bs);
            if (DirEntryCodec.inode(block0, off) != 0) {
                rest.add(new MapEntry(0, off, DirEntryCodec.recLenFor(DirEntryCodec.nameLen(block0, off))));
            }
            off += recLen;
        }
        byte[] leaf = rest.isEmpty() ? dirs.newLeaf() : pack(block0, rest);
        dirs.writeBlock(dir, 1, leaf);
        dirs.setIndexFlag(dir, true);
        byte[] root = new byte[bs];
        DirEntryCodec.put(root, 0, dir.ino, 12, new byte[] {'.'}, fileType);
        DirEntryCodec.put(root, 12, parentIno, bs - 12, new byte[] {'.', '.'}, fileType);
        new DxBlock(true, sb.defHashVersion(), 0, DxBlock.limitFor(true, bs, dirs.csum),
                List.of(new DxBlock.Entry(0, 1))).encodeInto(root);
        dirs.writeBlock(dir, 0, root);
    }
}
