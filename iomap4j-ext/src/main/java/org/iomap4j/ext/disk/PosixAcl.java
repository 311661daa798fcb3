package org.iomap4j.ext.disk;

import java.util.ArrayList;
import java.util.List;
import org.iomap4j.CorruptFilesystemException;

/**
 * POSIX ACLs in their two byte formats, and the conversion between them:
 * <ul>
 *   <li>on disk (the value of the {@code system.posix_acl_access}/{@code _default} xattr, name index 2/3):
 *       {@code ext4_acl_header} {a_version u32 = 1}, then entries: short {e_tag u16, e_perm u16} for
 *       USER_OBJ, GROUP_OBJ, MASK and OTHER, long {e_tag u16, e_perm u16, e_id u32} for USER and GROUP
 *       (fs/ext4/acl.h, fs/ext4/acl.c ext4_acl_from_disk / ext4_acl_to_disk);</li>
 *   <li>over the VFS and FUSE ({@code posix_acl_xattr}, include/uapi/linux/posix_acl_xattr.h): header
 *       {a_version u32 = 2}, then entries all {e_tag u16, e_perm u16, e_id u32}, e_id = ACL_UNDEFINED_ID
 *       (0xFFFFFFFF) for entries without a qualifier (fs/posix_acl.c posix_acl_to_xattr).</li>
 * </ul>
 * Thread-safe (stateless).
 */
public final class PosixAcl {
    private PosixAcl() {}

    public static final int TAG_USER_OBJ = 0x01;
    public static final int TAG_USER = 0x02;
    public static final int TAG_GROUP_OBJ = 0x04;
    public static final int TAG_GROUP = 0x08;
    public static final int TAG_MASK = 0x10;
    public static final int TAG_OTHER = 0x20;
    /** EXT4_ACL_VERSION. */
    public static final int DISK_VERSION = 1;
    /** POSIX_ACL_XATTR_VERSION. */
    public static final int XATTR_VERSION = 2;
    public static final long UNDEFINED_ID = 0xFFFFFFFFL;
    /** Entries a value may hold (an ACL value must fit one xattr block: bounded by the caller's size). */
    private static final int HEADER_BYTES = 4;

    /**
     * One ACL entry.
     *
     * @param tag  TAG_*
     * @param perm permission bits (r=4, w=2, x=1)
     * @param id   uid or gid for USER/GROUP, {@link #UNDEFINED_ID} otherwise
     */
    public record Entry(int tag, int perm, long id) {
        static boolean qualified(int tag) {
            return tag == TAG_USER || tag == TAG_GROUP;
        }
    }

    /**
     * Decodes the on-disk format.
     *
     * @param where names the inode for errors
     * @throws CorruptFilesystemException on a bad version, size or tag
     */
    public static List<Entry> decodeDisk(byte[] v, String where) throws CorruptFilesystemException {
        if (v.length < HEADER_BYTES || Le.u32(v, 0) != DISK_VERSION) {
            throw new CorruptFilesystemException(where + ": ACL header missing or not version 1");
        }
        List<Entry> out = new ArrayList<>();
        int p = HEADER_BYTES;
        while (p < v.length) {
            if (p + 4 > v.length) {
                throw new CorruptFilesystemException(where + ": ACL entry at byte " + p + " truncated");
            }
            int tag = Le.u16(v, p);
            int perm = Le.u16(v, p + 2);
            switch (tag) {
                case TAG_USER_OBJ, TAG_GROUP_OBJ, TAG_MASK, TAG_OTHER -> {
                    out.add(new Entry(tag, perm, UNDEFINED_ID));
                    p += 4;
                }
                case TAG_USER, TAG_GROUP -> {
                    if (p + 8 > v.length) {
                        throw new CorruptFilesystemException(where + ": ACL entry at byte " + p + " truncated");
                    }
                    out.add(new Entry(tag, perm, Le.u32(v, p + 4)));
                    p += 8;
                }
                default -> throw new CorruptFilesystemException(where + ": ACL entry at byte " + p + " has unknown tag " + tag);
            }
        }
        return out;
    }

    /** Encodes the on-disk format. */
    public static byte[] encodeDisk(List<Entry> entries) {
        int size = HEADER_BYTES;
        for (Entry e : entries) {
            size += Entry.qualified(e.tag()) ? 8 : 4;
        }
        byte[] v = new byte[size];
        Le.put32(v, 0, DISK_VERSION);
        int p = HEADER_BYTES;
        for (Entry e : entries) {
            Le.put16(v, p, e.tag());
            Le.put16(v, p + 2, e.perm());
            if (Entry.qualified(e.tag())) {
                Le.put32(v, p + 4, e.id());
                p += 8;
            } else {
                p += 4;
            }
        }
        return v;
    }

    /**
     * Decodes the VFS xattr format (from setxattr or FUSE).
     *
     * @throws IllegalArgumentException on a bad version, size or tag (the caller answers EINVAL)
     */
    public static List<Entry> decodeXattr(byte[] v) {
        if (v.length < HEADER_BYTES || Le.u32(v, 0) != XATTR_VERSION || (v.length - HEADER_BYTES) % 8 != 0) {
            throw new IllegalArgumentException("not a version-2 posix_acl_xattr value of 4 + 8n bytes");
        }
        List<Entry> out = new ArrayList<>();
        for (int p = HEADER_BYTES; p < v.length; p += 8) {
            int tag = Le.u16(v, p);
            if (tag != TAG_USER_OBJ && tag != TAG_USER && tag != TAG_GROUP_OBJ && tag != TAG_GROUP && tag != TAG_MASK
                    && tag != TAG_OTHER) {
                throw new IllegalArgumentException("ACL tag " + tag + " unknown");
            }
            out.add(new Entry(tag, Le.u16(v, p + 2), Entry.qualified(tag) ? Le.u32(v, p + 4) : UNDEFINED_ID));
        }
        return out;
    }

    /** Encodes the VFS xattr format (what getxattr returns). */
    public static byte[] encodeXattr(List<Entry> entries) {
        byte[] v = new byte[HEADER_BYTES + 8 * entries.size()];
        Le.put32(v, 0, XATTR_VERSION);
        int p = HEADER_BYTES;
        for (Entry e : entries) {
            Le.put16(v, p, e.tag());
            Le.put16(v, p + 2, e.perm());
            Le.put32(v, p + 4, Entry.qualified(e.tag()) ? e.id() : UNDEFINED_ID);
            p += 8;
        }
        return v;
    }

    /** Disk format to VFS format. */
    public static byte[] diskToXattr(byte[] disk, String where) throws CorruptFilesystemException {
        return encodeXattr(decodeDisk(disk, where));
    }

    /** VFS format to disk format. */
    public static byte[] xattrToDisk(byte[] xattr) {
        return encodeDisk(decodeXattr(xattr));
    }
}
