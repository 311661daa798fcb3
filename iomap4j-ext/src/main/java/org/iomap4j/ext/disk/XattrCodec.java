package org.iomap4j.ext.disk;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;

/**
 * ext4 extended attributes on disk: the in-inode area (after i_extra_isize, a 4-byte header then entries; value
 * offsets relative to the first entry) and the xattr block (a 32-byte header then entries; value offsets
 * relative to the block), with the hashes and checksum the kernel keeps.
 *
 * <ul>
 *   <li>block header {@code ext4_xattr_header}: h_magic u32 = 0xEA020000, h_refcount u32 (inodes sharing the
 *       block), h_blocks u32 (= 1), h_hash u32, h_checksum u32, 12 reserved bytes;</li>
 *   <li>in-inode header {@code ext4_xattr_ibody_header}: h_magic u32;</li>
 *   <li>entries ({@link XattrEntry}) follow, ended by four zero bytes; in a block they are sorted by
 *       (name index, name length, name) (ext4_xattr_find_entry with sorted = 1);</li>
 *   <li>value placement: each value is padded to 4 bytes and placed from the end of the area downward, below
 *       the lowest value already there, never overlapping the entries and their 4-byte terminator;</li>
 *   <li>entry hash (ext4_xattr_hash_entry): over name bytes h = (h &lt;&lt; 5) ^ (h &gt;&gt;&gt; 27) ^ c, then
 *       over the padded value's little-endian words h = (h &lt;&lt; 16) ^ (h &gt;&gt;&gt; 16) ^ w; the kernel
 *       uses unsigned chars and accepts the older signed-char hash (ext4_xattr_hash_entry_signed); entries in the
 *       inode carry hash 0;</li>
 *   <li>block hash (ext4_xattr_rehash): h = (h &lt;&lt; 16) ^ (h &gt;&gt;&gt; 16) ^ e_hash over the entries, 0
 *       if any entry hash is 0;</li>
 *   <li>block checksum (ext4_xattr_block_csum): crc32c(fs seed, le64 block number || block with h_checksum as
 *       zero).</li>
 * </ul>
 * Sources: fs/ext4/xattr.h, fs/ext4/xattr.c; Documentation/filesystems/ext4/attributes.rst. Thread-safe
 * (stateless).
 */
public final class XattrCodec {
    private XattrCodec() {}

    public static final int MAGIC = 0xEA020000;
    public static final int BLOCK_HEADER_BYTES = 32;
    public static final int IBODY_HEADER_BYTES = 4;
    public static final int ENTRY_HEADER_BYTES = 16;
    private static final int OFF_H_CHECKSUM = 16;

    public static final int INDEX_NONE = 0;
    public static final int INDEX_USER = 1;
    public static final int INDEX_POSIX_ACL_ACCESS = 2;
    public static final int INDEX_POSIX_ACL_DEFAULT = 3;
    public static final int INDEX_TRUSTED = 4;
    public static final int INDEX_LUSTRE = 5;
    public static final int INDEX_SECURITY = 6;
    public static final int INDEX_SYSTEM = 7;
    public static final int INDEX_RICHACL = 8;
    public static final int INDEX_ENCRYPTION = 9;
    public static final int INDEX_HURD = 10;

    /**
     * An xattr block.
     *
     * @param refcount h_refcount
     * @param hash     h_hash
     * @param checksum h_checksum
     * @param entries  the entries in block order
     */
    public record Block(long refcount, int hash, int checksum, List<XattrEntry> entries) {
        public Block {
            entries = List.copyOf(entries);
        }
    }

    /** The prefix of a name index (fs/ext4/xattr.c handler map; e2fsprogs lib/ext2fs/ext_attr.c). */
    public static String prefixOf(int nameIndex) {
        return switch (nameIndex) {
            case INDEX_USER -> "user.";
            case INDEX_POSIX_ACL_ACCESS -> "system.posix_acl_access";
            case INDEX_POSIX_ACL_DEFAULT -> "system.posix_acl_default";
            case INDEX_TRUSTED -> "trusted.";
            case INDEX_LUSTRE -> "lustre.";
            case INDEX_SECURITY -> "security.";
            case INDEX_SYSTEM -> "system.";
            case INDEX_RICHACL -> "system.richacl";
            case INDEX_ENCRYPTION -> "c";
            default -> "";
        };
    }

    /** Splits a full name into (index, suffix) as the kernel stores it: the longest known prefix wins. */
    public static XattrEntry nameOf(String fullName, byte[] value) {
        int[] order = {INDEX_POSIX_ACL_ACCESS, INDEX_POSIX_ACL_DEFAULT, INDEX_RICHACL, INDEX_USER, INDEX_TRUSTED,
            INDEX_SECURITY, INDEX_SYSTEM};
        for (int idx : order) {
            String p = prefixOf(idx);
            boolean exact = idx == INDEX_POSIX_ACL_ACCESS || idx == INDEX_POSIX_ACL_DEFAULT || idx == INDEX_RICHACL;
            if (exact ? fullName.equals(p) : fullName.startsWith(p) && fullName.length() > p.length()) {
                return XattrEntry.of(idx, fullName.substring(p.length()), value);
            }
        }
        return XattrEntry.of(INDEX_NONE, fullName, value);
    }

    /** EXT4_XATTR_LEN: bytes of an entry with a name of {@code nameLen} bytes. */
    public static int entryLen(int nameLen) {
        return (nameLen + ENTRY_HEADER_BYTES + 3) & ~3;
    }

    /** EXT4_XATTR_SIZE: bytes a value of {@code len} bytes occupies. */
    public static int valueLen(int len) {
        return (len + 3) & ~3;
    }

    /** Bytes entries and values need in an area (entries, 4-byte terminator, padded values). */
    public static int spaceNeeded(List<XattrEntry> entries) {
        int n = 4;
        for (XattrEntry e : entries) {
            n += entryLen(e.name().length) + (e.valueInum() == 0 ? valueLen(e.value().length) : 0);
        }
        return n;
    }

    /** The entry hash with unsigned ({@code signedChars} false, the kernel's) or signed name chars. */
    public static int entryHash(byte[] name, byte[] value, boolean signedChars) {
        int h = 0;
        for (byte b : name) {
            h = (h << 5) ^ (h >>> 27) ^ (signedChars ? b : b & 0xff);
        }
        byte[] padded = Arrays.copyOf(value, valueLen(value.length));
        for (int i = 0; i < padded.length; i += 4) {
            h = (h << 16) ^ (h >>> 16) ^ Le.s32(padded, i);
        }
        return h;
    }

    /** The block hash over entry hashes in order (0 if any is 0). */
    public static int blockHash(List<XattrEntry> entries) {
        int h = 0;
        for (XattrEntry e : entries) {
            if (e.hash() == 0) {
                return 0;
            }
            h = (h << 16) ^ (h >>> 16) ^ e.hash();
        }
        return h;
    }

    /** Block order: name index, then name length, then name bytes. */
    public static final Comparator<XattrEntry> BLOCK_ORDER = Comparator.comparingInt(XattrEntry::nameIndex)
            .thenComparingInt(e -> e.name().length).thenComparing(XattrEntry::name, Arrays::compareUnsigned);

    /**
     * Decodes an xattr block.
     *
     * @param pblk the block's number (for messages)
     * @throws CorruptFilesystemException naming the block
     */
    public static Block decodeBlock(byte[] block, long pblk) throws CorruptFilesystemException {
        String where = "xattr block " + pblk;
        if (block.length < BLOCK_HEADER_BYTES + 4) {
            throw new CorruptFilesystemException(where + ": shorter than its header");
        }
        if (Le.s32(block, 0) != MAGIC) {
            throw new CorruptFilesystemException(where + String.format(": bad magic 0x%08x", Le.s32(block, 0)));
        }
        if (Le.u32(block, 8) != 1) {
            throw new CorruptFilesystemException(where + ": h_blocks " + Le.u32(block, 8) + " (want 1)");
        }
        List<XattrEntry> entries = decodeEntries(block, BLOCK_HEADER_BYTES, 0, block.length, where);
        return new Block(Le.u32(block, 4), Le.s32(block, 12), Le.s32(block, OFF_H_CHECKSUM), entries);
    }

    /** Offset in the raw inode of the in-inode xattr header: 128 + i_extra_isize. */
    public static int ibodyOffset(DiskInode inode) {
        return DiskInode.GOOD_OLD_SIZE + inode.extraIsize();
    }

    /**
     * The in-inode xattrs of {@code inode} (empty if the inode has no room or no header magic).
     *
     * @throws CorruptFilesystemException naming the inode
     */
    public static List<XattrEntry> decodeIbody(DiskInode inode, long ino) throws CorruptFilesystemException {
        inode.validateExtraIsize(ino);
        byte[] raw = inode.encode();
        int h = ibodyOffset(inode);
        if (raw.length <= DiskInode.GOOD_OLD_SIZE || h + IBODY_HEADER_BYTES + 4 > raw.length || Le.s32(raw, h) != MAGIC) {
            return List.of();
        }
        int first = h + IBODY_HEADER_BYTES;
        return decodeEntries(raw, first, first, raw.length, "inode " + ino + " in-inode xattrs");
    }

    private static List<XattrEntry> decodeEntries(byte[] buf, int first, int valueBase, int end, String where)
            throws CorruptFilesystemException {
        List<XattrEntry> out = new ArrayList<>();
        int e = first;
        int[] valueOffs = new int[(end - first) / ENTRY_HEADER_BYTES + 1];
        int[] valueSizes = new int[valueOffs.length];
        while (true) {
            if (e + 4 > end) {
                throw new CorruptFilesystemException(where + ": entries run past the end without a terminator");
            }
            if (Le.s32(buf, e) == 0) {
                break;
            }
            if (e + ENTRY_HEADER_BYTES > end) {
                throw new CorruptFilesystemException(where + ": entry at byte " + e + " crosses the end");
            }
            int nameLen = Le.u8(buf, e);
            int len = entryLen(nameLen);
            if (e + len + 4 > end) {
                throw new CorruptFilesystemException(where + ": entry at byte " + e + " with name length " + nameLen
                        + " does not fit");
            }
            int index = Le.u8(buf, e + 1);
            int offs = Le.u16(buf, e + 2);
            long inum = Le.u32(buf, e + 4);
            long size = Le.u32(buf, e + 8);
            int hash = Le.s32(buf, e + 12);
            if (inum == 0 && size > end - valueBase) {
                throw new CorruptFilesystemException(where + ": value size " + size + " larger than the area");
            }
            valueOffs[out.size()] = offs;
            valueSizes[out.size()] = (int) (inum == 0 ? size : 0);
            byte[] name = Arrays.copyOfRange(buf, e + ENTRY_HEADER_BYTES, e + ENTRY_HEADER_BYTES + nameLen);
            out.add(new XattrEntry(index, name, new byte[0], inum, hash, offs));
            e += len;
        }
        int entriesEnd = e + 4;
        for (int i = 0; i < out.size(); i++) {
            XattrEntry x = out.get(i);
            int size = valueSizes[i];
            if (x.valueInum() != 0 || size == 0) {
                continue;
            }
            long start = (long) valueBase + valueOffs[i];
            if (start < entriesEnd || start + size > end) {
                throw new CorruptFilesystemException(where + ": value of " + x.fullName() + " at offset " + valueOffs[i]
                        + " (" + size + " bytes) overlaps the entries or runs past the end");
            }
            out.set(i, new XattrEntry(x.nameIndex(), x.name(), Arrays.copyOfRange(buf, (int) start, (int) start + size),
                    0, x.hash(), x.valueOffset()));
        }
        return out;
    }

    /**
     * Encodes an xattr block of {@code blockSizeBytes}: header (h_blocks 1, {@code refcount}), entries, values
     * and h_hash; the checksum is {@link #updateBlockChecksum}'s job (it needs the block number).
     *
     * @param keepPlacement true to keep each entry's order, hash and value offset (an exact re-encode of a
     *                      decoded block); false to sort, hash and place values anew
     * @throws IllegalArgumentException if the entries do not fit
     */
    public static byte[] encodeBlock(List<XattrEntry> entries, int blockSizeBytes, long refcount, boolean keepPlacement) {
        byte[] block = new byte[blockSizeBytes];
        List<XattrEntry> list = new ArrayList<>(entries);
        if (!keepPlacement) {
            list.sort(BLOCK_ORDER);
        }
        List<XattrEntry> placed = encodeEntries(block, BLOCK_HEADER_BYTES, 0, blockSizeBytes, list, keepPlacement, true);
        Le.put32(block, 0, MAGIC);
        Le.put32(block, 4, refcount);
        Le.put32(block, 8, 1);
        Le.put32(block, 12, blockHash(placed));
        return block;
    }

    /**
     * Writes the in-inode xattr area of {@code inodeRaw} (header, entries with hash 0, values), zeroing it
     * first; an empty list writes no header.
     *
     * @throws IllegalArgumentException if the entries do not fit the inode
     */
    public static void encodeIbody(byte[] inodeRaw, int extraIsize, List<XattrEntry> entries, boolean keepPlacement) {
        int h = DiskInode.GOOD_OLD_SIZE + extraIsize;
        Arrays.fill(inodeRaw, h, inodeRaw.length, (byte) 0);
        if (entries.isEmpty()) {
            return;
        }
        Le.put32(inodeRaw, h, MAGIC);
        int first = h + IBODY_HEADER_BYTES;
        encodeEntries(inodeRaw, first, first, inodeRaw.length, entries, keepPlacement, false);
    }

    /** Bytes available for in-inode xattrs (entries, terminator and values) in an inode of this size. */
    public static int ibodyCapacity(int inodeSizeBytes, int extraIsize) {
        return Math.max(0, inodeSizeBytes - DiskInode.GOOD_OLD_SIZE - extraIsize - IBODY_HEADER_BYTES);
    }

    private static List<XattrEntry> encodeEntries(byte[] buf, int first, int valueBase, int end, List<XattrEntry> list,
            boolean keepPlacement, boolean hashEntries) {
        if (!keepPlacement && first + spaceNeeded(list) > end) {
            throw new IllegalArgumentException(list.size() + " xattrs need " + spaceNeeded(list) + " bytes, "
                    + (end - first) + " available");
        }
        List<XattrEntry> placed = new ArrayList<>();
        int e = first;
        int minOffs = end - valueBase;
        for (XattrEntry x : list) {
            int offs = x.valueOffset();
            int hash = x.hash();
            if (!keepPlacement) {
                if (x.valueInum() == 0 && x.value().length > 0) {
                    minOffs -= valueLen(x.value().length);
                    offs = minOffs;
                } else {
                    offs = 0;
                }
                hash = hashEntries && x.valueInum() == 0 ? entryHash(x.name(), x.value(), false) : (hashEntries ? hash : 0);
            }
            if (e + entryLen(x.name().length) + 4 > end) {
                throw new IllegalArgumentException("xattr entries overflow the area");
            }
            Le.put8(buf, e, x.name().length);
            Le.put8(buf, e + 1, x.nameIndex());
            Le.put16(buf, e + 2, offs);
            Le.put32(buf, e + 4, x.valueInum());
            if (x.valueInum() != 0) {
                throw new IllegalArgumentException(x.fullName() + ": values in EA inodes (ea_inode) are not encoded");
            }
            Le.put32(buf, e + 8, x.value().length);
            Le.put32(buf, e + 12, hash);
            System.arraycopy(x.name(), 0, buf, e + ENTRY_HEADER_BYTES, x.name().length);
            if (x.valueInum() == 0 && x.value().length > 0) {
                System.arraycopy(x.value(), 0, buf, valueBase + offs, x.value().length);
            }
            placed.add(x.withPlacement(hash, offs));
            e += entryLen(x.name().length);
        }
        return placed;
    }

    /** crc32c(fs seed, le64 pblk || block with h_checksum zeroed) (ext4_xattr_block_csum). */
    public static int computeBlockChecksum(int fsSeed, long pblk, byte[] block) {
        return Crc32c.seeded(fsSeed).updateLe64(pblk).update(block, 0, OFF_H_CHECKSUM).updateZeros(4)
                .update(block, OFF_H_CHECKSUM + 4, block.length - OFF_H_CHECKSUM - 4).value();
    }

    public static void updateBlockChecksum(int fsSeed, long pblk, byte[] block) {
        Le.put32(block, OFF_H_CHECKSUM, computeBlockChecksum(fsSeed, pblk, block));
    }

    /**
     * Verifies an xattr block's checksum.
     *
     * @throws CorruptFilesystemException naming the block
     */
    public static void verifyBlockChecksum(int fsSeed, long pblk, byte[] block) throws CorruptFilesystemException {
        int stored = Le.s32(block, OFF_H_CHECKSUM);
        int want = computeBlockChecksum(fsSeed, pblk, block);
        if (stored != want) {
            throw new CorruptFilesystemException(String.format("xattr block %d: checksum 0x%08x does not match the computed 0x%08x",
                    pblk, stored, want));
        }
    }

    /** Finds an entry by full name, or null. */
    public static XattrEntry find(List<XattrEntry> entries, String fullName) {
        for (XattrEntry e : entries) {
            if (e.fullName().equals(fullName)) {
                return e;
            }
        }
        return null;
    }
}
