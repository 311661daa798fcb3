package org.iomap4j.ext.disk;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One extended attribute entry ({@code struct ext4_xattr_entry}, fs/ext4/xattr.h): e_name_len u8, e_name_index
 * u8, e_value_offs u16, e_value_inum u32, e_value_size u32, e_hash u32, then the name (not NUL-terminated),
 * padded so the next entry starts on a 4-byte boundary. The full attribute name is the prefix of the name index
 * ({@link #fullName}) followed by the stored name.
 *
 * <p>Arrays are not copied; callers must not modify them after construction. Equality is by content.
 *
 * @param nameIndex   e_name_index ({@link XattrCodec#INDEX_USER} ...)
 * @param name        the name suffix bytes
 * @param value       the value bytes (empty if the value lives in an EA inode)
 * @param valueInum   e_value_inum: the EA inode holding the value (ea_inode), 0 if inline
 * @param hash        e_hash as stored or computed
 * @param valueOffset e_value_offs as stored (relative to the block, or to the first in-inode entry), or -1 to
 *                    let the encoder place the value
 */
public record XattrEntry(int nameIndex, byte[] name, byte[] value, long valueInum, int hash, int valueOffset) {
    public XattrEntry {
        if (name.length > 255 || nameIndex < 0 || nameIndex > 255) {
            throw new IllegalArgumentException("xattr name of " + name.length + " bytes");
        }
    }

    /** A new entry to be placed by the encoder (hash computed by it). */
    public static XattrEntry of(int nameIndex, String name, byte[] value) {
        return new XattrEntry(nameIndex, name.getBytes(StandardCharsets.UTF_8), value, 0, 0, -1);
    }

    /** The full name, e.g. {@code user.mime_type} or {@code system.posix_acl_access}. */
    public String fullName() {
        return XattrCodec.prefixOf(nameIndex) + new String(name, StandardCharsets.UTF_8);
    }

    /** A copy with another hash and value offset (what the encoder stored). */
    public XattrEntry withPlacement(int newHash, int newValueOffset) {
        return new XattrEntry(nameIndex, name, value, valueInum, newHash, newValueOffset);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof XattrEntry e && e.nameIndex == nameIndex && Arrays.equals(e.name, name)
                && Arrays.equals(e.value, value) && e.valueInum == valueInum && e.hash == hash
                && e.valueOffset == valueOffset;
    }

    @Override
    public int hashCode() {
        return (nameIndex * 31 + Arrays.hashCode(name)) * 31 + Arrays.hashCode(value);
    }

    @Override
    public String toString() {
        return fullName() + "=" + value.length + " bytes (offs " + valueOffset + ", hash " + Integer.toHexString(hash) + ")";
    }
}
