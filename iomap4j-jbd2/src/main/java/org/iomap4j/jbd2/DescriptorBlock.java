package org.iomap4j.jbd2;

import static org.iomap4j.jbd2.JournalFormat.*;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Descriptor block codec: the block header, then tags naming the filesystem block of each logged copy that follows
 * the descriptor in the log, then (checksum v2/v3) a be32 tail checksum.
 *
 * <p>Tag layouts (include/linux/jbd2.h, Documentation/filesystems/ext4/journal.rst "Descriptor Block"):
 * {@code journal_block_tag3_t} (checksum v3, 16 bytes): be32 t_blocknr, be32 t_flags, be32 t_blocknr_high,
 * be32 t_checksum; {@code journal_block_tag_t} (otherwise): be32 t_blocknr, be16 t_checksum (v2 only), be16
 * t_flags, be32 t_blocknr_high (64bit only). The flags' low 16 bits sit at byte 6 in both layouts. A tag without
 * {@link JournalFormat#FLAG_SAME_UUID} is followed by the 16-byte journal UUID. Parsing walks tags as the kernel's
 * count_tags does: while a whole tag fits before the tail, stopping after {@link JournalFormat#FLAG_LAST_TAG}.
 */
public final class DescriptorBlock {
    private DescriptorBlock() {}

    /**
     * One tag.
     *
     * @param fsBlock  filesystem block number the copy belongs to (units: filesystem blocks)
     * @param flags    t_flags (ESCAPE, SAME_UUID, DELETED, LAST_TAG)
     * @param checksum v3: the 32-bit tag checksum; v2: its low 16 bits; otherwise 0
     */
    public record Tag(long fsBlock, int flags, int checksum) {
        /**
         * {@return true if JBD2_FLAG_ESCAPE is set: the logged copy's first 4 bytes were the journal magic and were
         *     zeroed}
         */
        public boolean escaped() {
            return (flags & FLAG_ESCAPE) != 0;
        }
    }

    /**
     * Tags of a descriptor block (the header is the caller's to check). Never fails: the walk is bounded.
     *
     * @param block the descriptor block's bytes
     * @param sb the journal superblock (its features choose the layout)
     * @return the tags in log order
     */
    public static List<Tag> decode(byte[] block, JournalSuperblock sb) {
        int tagBytes = sb.tagBytes();
        int limit = block.length - sb.tailBytes();
        ByteBuffer b = ByteBuffer.wrap(block);
        List<Tag> tags = new ArrayList<>();
        int off = HEADER_BYTES;
        while (off + tagBytes <= limit) {
            long blocknr = Integer.toUnsignedLong(b.getInt(off));
            int flags = Short.toUnsignedInt(b.getShort(off + 6));
            if (sb.has64bit()) {
                blocknr |= Integer.toUnsignedLong(b.getInt(off + 8)) << 32;
            }
            int checksum = sb.hasCsumV3() ? b.getInt(off + 12)
                    : sb.hasCsumV2() ? Short.toUnsignedInt(b.getShort(off + 4)) : 0;
            tags.add(new Tag(blocknr, flags, checksum));
            off += tagBytes;
            if ((flags & FLAG_SAME_UUID) == 0) {
                off += UUID_BYTES;
            }
            if ((flags & FLAG_LAST_TAG) != 0) {
                break;
            }
        }
        return tags;
    }

    /**
     * How many tags one descriptor block holds when the first carries the UUID and the rest SAME_UUID.
     *
     * @param sb the journal superblock (its features choose the layout)
     * @return the tag capacity (&ge; 1)
     */
    public static int capacity(JournalSuperblock sb) {
        return (sb.blockSizeBytes() - HEADER_BYTES - sb.tailBytes() - UUID_BYTES) / sb.tagBytes();
    }

    /**
     * Encodes a descriptor block of transaction {@code tid}: the first tag carries the UUID, the others SAME_UUID,
     * the last LAST_TAG; with checksum v2/v3 the tail checksum is set. The tags' SAME_UUID and LAST_TAG bits are
     * set here; their checksums must already be computed over the logged (escaped) copies.
     *
     * @throws IllegalArgumentException more tags than {@link #capacity} or none, or a block number above 32 bits
     *                                  without the 64bit feature
     * @param sb the journal superblock (its features choose the layout)
     * @param csum the checksums seeded by the journal UUID
     * @param tid the transaction id (h_sequence)
     * @param tags the tags, at most {@link #capacity} of them
     * @return the block, {@code sb.blockSizeBytes()} bytes
     */
    public static byte[] encode(JournalSuperblock sb, JournalChecksum csum, int tid, List<Tag> tags) {
        if (tags.isEmpty() || tags.size() > capacity(sb)) {
            throw new IllegalArgumentException(tags.size() + " tags for a descriptor of capacity " + capacity(sb));
        }
        byte[] block = new byte[sb.blockSizeBytes()];
        ByteBuffer b = ByteBuffer.wrap(block);
        b.putInt(0, MAGIC).putInt(4, BLOCKTYPE_DESCRIPTOR).putInt(8, tid);
        int off = HEADER_BYTES;
        for (int i = 0; i < tags.size(); i++) {
            Tag t = tags.get(i);
            if (!sb.has64bit() && (t.fsBlock() >>> 32) != 0) {
                throw new IllegalArgumentException("block " + t.fsBlock() + " needs the journal 64bit feature");
            }
            int flags = t.flags() & ~(FLAG_SAME_UUID | FLAG_LAST_TAG);
            if (i > 0) {
                flags |= FLAG_SAME_UUID;
            }
            if (i == tags.size() - 1) {
                flags |= FLAG_LAST_TAG;
            }
            b.putInt(off, (int) t.fsBlock());
            if (sb.hasCsumV3()) {
                b.putInt(off + 4, flags);
                b.putInt(off + 8, (int) (t.fsBlock() >>> 32));
                b.putInt(off + 12, t.checksum());
            } else {
                b.putShort(off + 4, sb.hasCsumV2() ? (short) t.checksum() : 0);
                b.putShort(off + 6, (short) flags);
                if (sb.has64bit()) {
                    b.putInt(off + 8, (int) (t.fsBlock() >>> 32));
                }
            }
            off += sb.tagBytes();
            if (i == 0) {
                b.put(off, sb.uuid());
                off += UUID_BYTES;
            }
        }
        if (sb.hasCsumV2or3()) {
            b.putInt(block.length - BLOCK_TAIL_BYTES, csum.blockTail(block));
        }
        return block;
    }

    /**
     * Whether a descriptor or revoke block's tail checksum matches (always true without v2/v3).
     *
     * @param block the block's bytes
     * @param sb the journal superblock (its features choose the layout)
     * @param csum the checksums seeded by the journal UUID
     * @return true if the tail checksum (jbd2_journal_block_tail) matches
     */
    public static boolean tailVerifies(byte[] block, JournalSuperblock sb, JournalChecksum csum) {
        if (!sb.hasCsumV2or3()) {
            return true;
        }
        return ByteBuffer.wrap(block).getInt(block.length - BLOCK_TAIL_BYTES) == csum.blockTail(block);
    }

    /**
     * Whether a logged copy matches its tag's checksum (v3: 32 bits, v2: low 16; always true without v2/v3).
     *
     * @param tag the tag of the copy
     * @param tid the transaction id
     * @param loggedCopy the block as it lies in the log (escaped)
     * @param sb the journal superblock (its features choose the layout)
     * @param csum the checksums seeded by the journal UUID
     * @return true if it matches, or the journal has no v2/v3 checksum
     */
    public static boolean tagVerifies(Tag tag, int tid, byte[] loggedCopy, JournalSuperblock sb,
                                      JournalChecksum csum) {
        if (!sb.hasCsumV2or3()) {
            return true;
        }
        int c = csum.tag(tid, loggedCopy);
        return sb.hasCsumV3() ? tag.checksum() == c : tag.checksum() == (c & 0xFFFF);
    }

    /**
     * The tag checksum to store for a logged copy (v3: 32 bits, v2: low 16 bits, else 0).
     *
     * @param tid the transaction id
     * @param loggedCopy the block as written to the log (escaped)
     * @param sb the journal superblock (its features choose the layout)
     * @param csum the checksums seeded by the journal UUID
     * @return the tag checksum (v2: low 16 bits), 0 without v2/v3
     */
    public static int tagChecksum(int tid, byte[] loggedCopy, JournalSuperblock sb, JournalChecksum csum) {
        if (!sb.hasCsumV2or3()) {
            return 0;
        }
        int c = csum.tag(tid, loggedCopy);
        return sb.hasCsumV3() ? c : c & 0xFFFF;
    }
}
