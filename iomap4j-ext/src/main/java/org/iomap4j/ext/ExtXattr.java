package org.iomap4j.ext;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.buf.Buffer;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.Features;
import org.iomap4j.ext.disk.XattrCodec;
import org.iomap4j.ext.disk.XattrEntry;
import org.iomap4j.vfs.Caller;
import org.iomap4j.vfs.VfsXattr;

/**
 * The xattr room (fs/ext4/xattr.c): extended attributes in the inode body (after i_extra_isize, magic
 * 0xEA020000) and in one external xattr block per inode (i_file_acl), in the formats of {@link XattrCodec}
 * (Documentation/filesystems/ext4/attributes.rst).
 *
 * <ul>
 *   <li>Placement as ext4_xattr_set_handle: a value goes into the inode body when it fits there, else into the
 *       block; the in-inode entries keep insertion order, block entries are sorted (index, name length,
 *       name).</li>
 *   <li>Shared blocks (h_refcount, the kernel's mbcache): a block with refcount &gt; 1 is never written in
 *       place: a change makes a private copy (copy-on-write) and drops one reference of the shared block; a new
 *       block's contents are first looked up among the known blocks with the same h_hash and, if one holds
 *       exactly the same entries and has fewer than {@link #REFCOUNT_MAX} references, shared (refcount + 1).
 *       Freeing an inode ({@link #dropBlock}) decrements the refcount, or frees the block at the last
 *       reference.</li>
 *   <li>metadata_csum: each block written carries crc32c(fs seed, le64 block number, block) (checksums.rst);
 *       each block read is verified.</li>
 *   <li>i_blocks counts the xattr block (each sharer counts it once, as the kernel's quota charge does);
 *       setting the first attribute of an image without {@code ext_attr} turns the compat feature on.</li>
 * </ul>
 * Names: {@code user.}, {@code trusted.}, {@code security.}, {@code system.posix_acl_access},
 * {@code system.posix_acl_default} (values here are the raw on-disk bytes: {@link ExtAcl} converts ACLs);
 * other namespaces are EOPNOTSUPP. Values up to 64 KiB by the VFS contract (E2BIG above), and up to what one
 * block holds (ENOSPC beyond: no ea_inode).
 *
 * <p>Lock order: the namespace lock (create, unlink) → {@link #lock} (the kernel's xattr_sem and the mbcache
 * lock in one: every xattr read and change of any inode, since a shared block spans inodes) →
 * {@link ExtInode#lock} → {@link ExtGroups} monitor (block allocation) → buffer locks.
 */
final class ExtXattr {
    private static final System.Logger LOG = System.getLogger(ExtXattr.class.getName());
    /** EXT4_XATTR_REFCOUNT_MAX: a block shared by this many inodes is not shared further. */
    static final long REFCOUNT_MAX = 1024;
    /** sizeof(struct ext4_inode) - EXT4_GOOD_OLD_INODE_SIZE: the kernel's i_extra_isize for a large inode. */
    static final int WANT_EXTRA_ISIZE = 32;
    /** Blocks the mbcache remembers at most (it is a hint: forgetting only loses sharing chances). */
    static final int MBCACHE_MAX_BLOCKS = 65536;
    /** XATTR_SIZE_MAX (include/uapi/linux/limits.h). */
    static final int SIZE_MAX = 65536;

    private final ExtFileSystem fs;
    final ReentrantLock lock = new ReentrantLock();
    /** h_hash → blocks known to hold entries with that hash (the mbcache); guarded by {@link #lock}. */
    private final Map<Integer, Set<Long>> mbcache = new HashMap<>();
    /** The reverse of {@link #mbcache}: block → the h_hash it is filed under; guarded by {@link #lock}. */
    private final Map<Long, Integer> mbcacheHashOf = new HashMap<>();
    private final boolean csum;
    private final int csumSeed;

    ExtXattr(ExtFileSystem fs) {
        this.fs = fs;
        DiskSuperblock sb = fs.sup.disk();
        this.csum = sb.hasMetadataCsum();
        this.csumSeed = csum ? sb.csumSeed() : 0;
    }

    /** An inode's attributes as found on disk: the in-inode list, the block's list, its number and refcount. */
    record Loaded(List<XattrEntry> ibody, List<XattrEntry> block, long pblk, long refcount) {
    }

    // ---------------------------------------------------------------- names

    /**
     * Checks a full name: ERANGE above 255 bytes (XATTR_NAME_MAX), EINVAL for an empty suffix, EOPNOTSUPP for a
     * namespace ext4 does not store here.
     */
    static void checkName(String name) throws FsException {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > 255) {
            throw new FsException(Errno.ERANGE, "xattr name of " + b.length + " bytes (max 255)");
        }
        if (b.length == 0) {
            throw new FsException(Errno.ERANGE, "empty xattr name");
        }
        if (name.equals(ExtAcl.ACCESS) || name.equals(ExtAcl.DEFAULT)) {
            return;
        }
        for (String p : new String[] {"user.", "trusted.", "security."}) {
            if (name.startsWith(p)) {
                if (name.length() == p.length()) {
                    throw new FsException(Errno.EINVAL, "xattr name '" + name + "' has an empty suffix");
                }
                return;
            }
        }
        throw new FsException(Errno.EOPNOTSUPP, "xattr namespace of '" + name + "' not supported by ext4");
    }

    // ---------------------------------------------------------------- read

    /** The inode's attributes; caller holds {@link #lock}. */
    Loaded load(ExtInode i) throws IOException {
        List<XattrEntry> ibody;
        long pblk;
        i.lock.lock();
        try {
            ibody = i.disk.extraIsize() == 0 ? List.of() : XattrCodec.decodeIbody(i.disk, i.ino);
            pblk = i.disk.fileAcl();
        } finally {
            i.lock.unlock();
        }
        checkNoEaInode(ibody, "inode " + i.ino);
        if (pblk == 0) {
            return new Loaded(ibody, List.of(), 0, 0);
        }
        XattrCodec.Block blk = readBlock(pblk, "inode " + i.ino);
        return new Loaded(ibody, blk.entries(), pblk, blk.refcount());
    }

    private XattrCodec.Block readBlock(long pblk, String owner) throws IOException {
        if (pblk < fs.geo.firstDataBlock() || pblk >= fs.geo.blocksCount()) {
            throw new CorruptFilesystemException(owner + ": xattr block " + pblk + " outside the filesystem [ "
                    + fs.geo.firstDataBlock() + ", " + fs.geo.blocksCount() + ")");
        }
        byte[] bytes;
        try (Buffer b = fs.bcache.read(pblk)) {
            b.lock();
            try {
                bytes = b.array().clone();
            } finally {
                b.unlock();
            }
        }
        XattrCodec.Block blk;
        try {
            if (csum) {
                XattrCodec.verifyBlockChecksum(csumSeed, pblk, bytes);
            }
            blk = XattrCodec.decodeBlock(bytes, pblk);
        } catch (CorruptFilesystemException e) {
            throw new CorruptFilesystemException(owner + ": " + e.getMessage());
        }
        checkNoEaInode(blk.entries(), owner);
        if (blk.hash() != 0 && blk.refcount() < REFCOUNT_MAX) {
            remember(blk.hash(), pblk);
        }
        return blk;
    }

    private static void checkNoEaInode(List<XattrEntry> entries, String owner) throws FsException {
        for (XattrEntry e : entries) {
            if (e.valueInum() != 0) {
                throw new FsException(Errno.EOPNOTSUPP, owner + ": xattr " + e.fullName()
                        + " has its value in an EA inode (ea_inode is not supported)");
            }
        }
    }

    /** The raw stored value of {@code name}; ENODATA if absent. */
    byte[] get(ExtInode i, String name) throws IOException {
        lock.lock();
        try {
            Loaded l = load(i);
            XattrEntry e = XattrCodec.find(l.ibody(), name);
            if (e == null) {
                e = XattrCodec.find(l.block(), name);
            }
            if (e == null) {
                throw new FsException(Errno.ENODATA, "inode " + i.ino + " has no xattr " + name);
            }
            return e.value();
        } finally {
            lock.unlock();
        }
    }

    /** True if {@code name} is set. */
    boolean has(ExtInode i, String name) throws IOException {
        lock.lock();
        try {
            Loaded l = load(i);
            return XattrCodec.find(l.ibody(), name) != null || XattrCodec.find(l.block(), name) != null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The names, in-inode ones first (ext4_listxattr's order); {@code trusted.} only for a privileged caller
     * (the kernel lists them only with CAP_SYS_ADMIN); names of unknown namespaces are skipped.
     */
    List<String> list(ExtInode i) throws IOException {
        boolean privileged = Caller.current().uid() == 0;
        List<String> out = new ArrayList<>();
        lock.lock();
        try {
            Loaded l = load(i);
            for (List<XattrEntry> part : List.of(l.ibody(), l.block())) {
                for (XattrEntry e : part) {
                    int idx = e.nameIndex();
                    if (idx == XattrCodec.INDEX_USER || idx == XattrCodec.INDEX_SECURITY
                            || idx == XattrCodec.INDEX_POSIX_ACL_ACCESS || idx == XattrCodec.INDEX_POSIX_ACL_DEFAULT
                            || (idx == XattrCodec.INDEX_TRUSTED && privileged)) {
                        out.add(e.fullName());
                    }
                }
            }
        } finally {
            lock.unlock();
        }
        return out;
    }

    // ---------------------------------------------------------------- write

    /**
     * Sets ({@code value} non-null) or removes ({@code value} null) attribute {@code name} with the raw on-disk
     * value, and sets ctime. Flags {@link VfsXattr#XATTR_CREATE}/{@link VfsXattr#XATTR_REPLACE} as setxattr(2);
     * removal of an absent attribute is ENODATA unless {@code quietRemove}.
     *
     * @throws FsException EEXIST, ENODATA, E2BIG (over 64 KiB), ENOSPC (fits neither the inode nor a block, or
     *                     no block free)
     */
    void set(ExtInode i, String name, byte[] value, int flags, boolean quietRemove) throws IOException {
        if (value != null && value.length > SIZE_MAX) {
            throw new FsException(Errno.E2BIG, "xattr value of " + value.length + " bytes (max " + SIZE_MAX + ")");
        }
        lock.lock();
        try {
            Loaded l = load(i);
            List<XattrEntry> ibody = new ArrayList<>(l.ibody());
            List<XattrEntry> block = new ArrayList<>(l.block());
            XattrEntry old = XattrCodec.find(ibody, name);
            int ibodyPos = old == null ? -1 : ibody.indexOf(old);
            if (old == null) {
                old = XattrCodec.find(block, name);
            }
            if (old == null && (flags & VfsXattr.XATTR_REPLACE) != 0) {
                throw new FsException(Errno.ENODATA, "inode " + i.ino + " has no xattr " + name + " (XATTR_REPLACE)");
            }
            if (old != null && (flags & VfsXattr.XATTR_CREATE) != 0) {
                throw new FsException(Errno.EEXIST, "inode " + i.ino + " has xattr " + name + " (XATTR_CREATE)");
            }
            if (old == null && value == null) {
                if (quietRemove) {
                    return;
                }
                throw new FsException(Errno.ENODATA, "inode " + i.ino + " has no xattr " + name);
            }
            boolean ibodyChanged = ibodyPos >= 0;
            ibody.remove(old);
            block.remove(old);
            if (value != null) {
                XattrEntry neu = XattrCodec.nameOf(name, value);
                int cap = ibodyCapacity(i);
                List<XattrEntry> tryIbody = new ArrayList<>(ibody);
                tryIbody.add(ibodyPos >= 0 ? ibodyPos : tryIbody.size(), neu);
                if (cap > 0 && XattrCodec.spaceNeeded(tryIbody) <= cap) {
                    ibody = tryIbody;
                    ibodyChanged = true;
                } else {
                    block.add(neu);
                    block.sort(XattrCodec.BLOCK_ORDER);
                    if (XattrCodec.spaceNeeded(block) > fs.geo.blockSizeBytes() - XattrCodec.BLOCK_HEADER_BYTES) {
                        throw new FsException(Errno.ENOSPC, "xattr " + name + " of " + value.length
                                + " bytes fits neither inode " + i.ino + " nor its xattr block");
                    }
                }
            }
            // The block first: if it fails (ENOSPC), an entry moving out of the inode body is still there.
            if (!sameEntries(block, l.block()) || l.pblk() == 0 && !block.isEmpty()) {
                writeBlock(i, block, l);
            }
            if (ibodyChanged) {
                writeIbody(i, ibody);
            }
            i.lock.lock();
            try {
                i.disk.setCtime(ExtSuper.now());
            } finally {
                i.lock.unlock();
            }
            fs.markDirty(i);
        } finally {
            lock.unlock();
        }
        noteExtAttrFeature();
    }

    /** Bytes the inode body offers for xattrs (0 for 128-byte inodes). */
    private int ibodyCapacity(ExtInode i) {
        int inodeSize = fs.geo.inodeSize();
        if (inodeSize <= DiskInode.GOOD_OLD_SIZE) {
            return 0;
        }
        int extra;
        i.lock.lock();
        try {
            extra = i.disk.extraIsize();
        } finally {
            i.lock.unlock();
        }
        return XattrCodec.ibodyCapacity(inodeSize, extra == 0 ? WANT_EXTRA_ISIZE : extra);
    }

    private void writeIbody(ExtInode i, List<XattrEntry> entries) {
        i.lock.lock();
        try {
            if (i.disk.extraIsize() == 0) {
                // __ext4_iget: "The extra space is currently unused. Use it."
                i.disk.setExtraIsize(WANT_EXTRA_ISIZE);
            }
            byte[] raw = i.disk.encode();
            XattrCodec.encodeIbody(raw, i.disk.extraIsize(), entries, false);
            i.disk.copyFrom(raw);
        } finally {
            i.lock.unlock();
        }
    }

    private static boolean sameEntries(List<XattrEntry> a, List<XattrEntry> b) {
        if (a.size() != b.size()) {
            return false;
        }
        List<XattrEntry> x = new ArrayList<>(a);
        List<XattrEntry> y = new ArrayList<>(b);
        x.sort(XattrCodec.BLOCK_ORDER);
        y.sort(XattrCodec.BLOCK_ORDER);
        for (int k = 0; k < x.size(); k++) {
            XattrEntry p = x.get(k);
            XattrEntry q = y.get(k);
            if (p.nameIndex() != q.nameIndex() || !Arrays.equals(p.name(), q.name())
                    || !Arrays.equals(p.value(), q.value())) {
                return false;
            }
        }
        return true;
    }

    /**
     * Gives inode {@code i} a block holding exactly {@code entries} (none: no block), as ext4_xattr_block_set:
     * rewrite a private block in place, share an identical known block, or write a new one; the old block loses
     * this inode's reference.
     */
    private void writeBlock(ExtInode i, List<XattrEntry> entries, Loaded old) throws IOException {
        int bs = fs.geo.blockSizeBytes();
        long target = 0;
        if (!entries.isEmpty()) {
            byte[] fresh = XattrCodec.encodeBlock(entries, bs, 1, false);
            XattrCodec.Block freshBlk = XattrCodec.decodeBlock(fresh, 0);
            long shared = findShareable(freshBlk, old.pblk());
            if (shared != 0) {
                target = shared;
                adjustRefcount(shared, +1);
            } else if (old.pblk() != 0 && old.refcount() == 1) {
                target = old.pblk();
                forgetCached(old.pblk());
                writeNew(target, fresh);
            } else {
                long goal = fs.geo.firstDataBlock() + ((i.ino - 1) / fs.geo.inodesPerGroup()) * fs.geo.blocksPerGroup();
                target = fs.balloc.allocBlocks(goal, 1)[0];
                writeNew(target, fresh);
            }
        }
        if (old.pblk() != 0 && old.pblk() != target) {
            release(old.pblk(), "inode " + i.ino);
        }
        long per = bs / 512;
        i.lock.lock();
        try {
            i.disk.setFileAcl(target);
            if (old.pblk() == 0 && target != 0) {
                i.disk.setBlocks512(i.disk.blocks512() + per);
            } else if (old.pblk() != 0 && target == 0) {
                i.disk.setBlocks512(Math.max(0, i.disk.blocks512() - per));
            }
        } finally {
            i.lock.unlock();
        }
        fs.markDirty(i);
    }

    private void writeNew(long pblk, byte[] bytes) throws IOException {
        if (csum) {
            XattrCodec.updateBlockChecksum(csumSeed, pblk, bytes);
        }
        try (Buffer b = fs.bcache.getZeroed(pblk)) {
            b.lock();
            try {
                System.arraycopy(bytes, 0, b.array(), 0, bytes.length);
                b.markDirty();
            } finally {
                b.unlock();
            }
        }
        int hash = org.iomap4j.ext.disk.Le.s32(bytes, 12);
        if (hash != 0) {
            remember(hash, pblk);
        }
    }

    /** A known block other than {@code exclude} with the same entries and room for one more reference, or 0. */
    private long findShareable(XattrCodec.Block want, long exclude) {
        if (want.hash() == 0) {
            return 0;
        }
        Set<Long> cands = mbcache.get(want.hash());
        if (cands == null) {
            return 0;
        }
        for (Long c : new ArrayList<>(cands)) {
            if (c == exclude) {
                continue;
            }
            try {
                XattrCodec.Block b = readBlock(c, "shared xattr block");
                if (b.hash() == want.hash() && b.refcount() < REFCOUNT_MAX && sameEntries(b.entries(), want.entries())) {
                    return c;
                }
            } catch (IOException | RuntimeException e) {
                forgetCached(c); // no longer a valid xattr block: not a candidate
            }
        }
        return 0;
    }

    /** Changes a block's h_refcount by {@code delta} (rewriting its checksum). */
    private long adjustRefcount(long pblk, int delta) throws IOException {
        long n;
        try (Buffer b = fs.bcache.read(pblk)) {
            b.lock();
            try {
                byte[] a = b.array();
                n = org.iomap4j.ext.disk.Le.u32(a, 4) + delta;
                org.iomap4j.ext.disk.Le.put32(a, 4, n);
                if (csum) {
                    XattrCodec.updateBlockChecksum(csumSeed, pblk, a);
                }
                b.markDirty();
            } finally {
                b.unlock();
            }
        }
        if (n >= REFCOUNT_MAX) {
            forgetCached(pblk);
        }
        return n;
    }

    /** Drops one reference of {@code pblk}: decrement, or free it at the last (ext4_xattr_release_block). */
    private void release(long pblk, String owner) throws IOException {
        XattrCodec.Block b = readBlock(pblk, owner);
        if (b.refcount() <= 1) {
            forgetCached(pblk);
            fs.bcache.forget(pblk);
            fs.balloc.freeBlocks(pblk, 1);
        } else {
            adjustRefcount(pblk, -1);
            if (b.hash() != 0) {
                remember(b.hash(), pblk);
            }
        }
    }

    /** Adds a block to the mbcache; past {@link #MBCACHE_MAX_BLOCKS} hashes it starts over (bounded memory). */
    private void remember(int hash, long pblk) {
        forgetCached(pblk);
        if (mbcacheHashOf.size() >= MBCACHE_MAX_BLOCKS) {
            mbcache.clear();
            mbcacheHashOf.clear();
        }
        mbcache.computeIfAbsent(hash, k -> new LinkedHashSet<>()).add(pblk);
        mbcacheHashOf.put(pblk, hash);
    }

    private void forgetCached(long pblk) {
        Integer hash = mbcacheHashOf.remove(pblk);
        if (hash != null) {
            Set<Long> set = mbcache.get(hash);
            if (set != null) {
                set.remove(pblk);
                if (set.isEmpty()) {
                    mbcache.remove(hash);
                }
            }
        }
    }

    /**
     * An inode is being freed (ext4_xattr_delete_inode): its xattr block loses this reference (freed at the
     * last one), i_file_acl and i_blocks are cleared of it. A corrupt block is left alone (and reported by the
     * exception) rather than freed blindly.
     */
    void dropBlock(ExtInode i) throws IOException {
        lock.lock();
        try {
            long pblk;
            i.lock.lock();
            try {
                pblk = i.disk.fileAcl();
            } finally {
                i.lock.unlock();
            }
            if (pblk == 0) {
                return;
            }
            try {
                release(pblk, "inode " + i.ino);
            } catch (CorruptFilesystemException e) {
                // Neither freed nor decremented blindly: the block stays allocated for e2fsck to settle, and
                // the inode is freed all the same (the unlink already happened).
                LOG.log(System.Logger.Level.WARNING, "freeing inode " + i.ino + ": its xattr block " + pblk
                        + " is left allocated: " + e.getMessage());
            }
            i.lock.lock();
            try {
                i.disk.setFileAcl(0);
                i.disk.setBlocks512(Math.max(0, i.disk.blocks512() - fs.geo.blockSizeBytes() / 512));
            } finally {
                i.lock.unlock();
            }
        } finally {
            lock.unlock();
        }
    }

    /** ext4_xattr_update_super_block: the first xattr on an image without ext_attr turns the feature on. */
    private void noteExtAttrFeature() {
        DiskSuperblock sb = fs.sup.disk();
        synchronized (sb) {
            if (!sb.hasCompat(Features.COMPAT_EXT_ATTR) && sb.revLevel() != DiskSuperblock.GOOD_OLD_REV) {
                sb.setFeatureCompat(sb.featureCompat() | Features.COMPAT_EXT_ATTR);
            }
        }
    }
}
