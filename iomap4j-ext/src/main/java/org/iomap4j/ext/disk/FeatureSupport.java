package org.iomap4j.ext.disk;

import java.util.ArrayList;
import java.util.List;

/**
 * Which ext2/3/4 images the ext driver serves and how: the answer to "can I mount this read-write?".
 *
 * <p>Policy (the kernel's rule, fs/ext4/super.c ext4_feature_set_ok: an unknown <em>incompat</em> bit refuses
 * the mount, an unknown <em>ro_compat</em> bit allows a read-only mount, compat bits never stop a mount):
 * <ul>
 *   <li>served read-write: incompat filetype, extent, 64bit, flex_bg, metadata_csum_seed, large_dir,
 *       inline_data; ro_compat sparse_super, large_file, huge_file, uninit_bg, dir_nlink, extra_isize,
 *       metadata_csum, orphan_present; compat ext_attr, resize_inode, dir_index, sparse_super2, orphan_file
 *       (and every other compat bit, which by definition changes nothing a reader must know);</li>
 *   <li>has_journal with an internal journal (s_journal_inum) is read-write: every metadata change goes through the
 *       jbd2 log (org.iomap4j.ext.ExtJournaling); with an external journal (s_journal_inum 0) it is read-only;</li>
 *   <li>read-only, naming the feature: quota, project,
 *       replica, read-only, shared_blocks and unknown ro_compat bits;</li>
 *   <li>needs_recovery with an internal journal limits nothing: the mount replays the journal first
 *       (org.iomap4j.ext.ExtJournal: onto the device, or in memory for a read-only mount);</li>
 *   <li>refused, naming the feature: needs_recovery without has_journal or with an external journal, encrypt, casefold,
 *       journal_dev, mmp, meta_bg, ea_inode, compression, dirdata, unknown incompat bits, and the ro_compat
 *       bits bigalloc and verity (cluster allocation and Merkle-verified reads are not served at all), and
 *       metadata_csum with an {@code s_checksum_type} other than crc32c.</li>
 * </ul>
 * Thread-safe (stateless).
 */
public final class FeatureSupport {
    private FeatureSupport() {}

    /** How an image may be mounted. */
    public enum Access { READ_WRITE, READ_ONLY, REFUSE }

    /**
     * The verdict for one image.
     *
     * @param access   the strongest access allowed
     * @param features the e2fsprogs names of the features that limit access (empty for READ_WRITE)
     * @param message  one line for the user naming those features ("" for READ_WRITE)
     */
    public record Verdict(Access access, List<String> features, String message) {
        public Verdict {
            features = List.copyOf(features);
        }

        /** True if the image may be mounted read-write. */
        public boolean readWrite() {
            return access == Access.READ_WRITE;
        }

        /** True if the image may be mounted at all (read-only or read-write). */
        public boolean mountable() {
            return access != Access.REFUSE;
        }
    }

    /** incompat bits served read-write. */
    public static final long INCOMPAT_SERVED = Features.INCOMPAT_FILETYPE | Features.INCOMPAT_EXTENTS
            | Features.INCOMPAT_64BIT | Features.INCOMPAT_FLEX_BG | Features.INCOMPAT_CSUM_SEED
            | Features.INCOMPAT_LARGEDIR | Features.INCOMPAT_INLINE_DATA;
    /** ro_compat bits served read-write. */
    public static final long RO_COMPAT_SERVED = Features.RO_COMPAT_SPARSE_SUPER | Features.RO_COMPAT_LARGE_FILE
            | Features.RO_COMPAT_HUGE_FILE | Features.RO_COMPAT_GDT_CSUM | Features.RO_COMPAT_DIR_NLINK
            | Features.RO_COMPAT_EXTRA_ISIZE | Features.RO_COMPAT_METADATA_CSUM | Features.RO_COMPAT_ORPHAN_PRESENT;
    /** ro_compat bits that refuse even a read-only mount. */
    public static final long RO_COMPAT_REFUSED = Features.RO_COMPAT_BIGALLOC | Features.RO_COMPAT_VERITY;

    /** Classifies the superblock's feature words (and checksum type) into a {@link Verdict}. */
    public static Verdict classify(DiskSuperblock sb) {
        long incompat = sb.featureIncompat();
        long ro = sb.featureRoCompat();
        long compat = sb.featureCompat();
        if ((incompat & Features.INCOMPAT_RECOVER) != 0 && ((compat & Features.COMPAT_HAS_JOURNAL) == 0
                || (incompat & Features.INCOMPAT_JOURNAL_DEV) != 0 || sb.journalInum() == 0)) {
            return new Verdict(Access.REFUSE, List.of("needs_recovery"), "refusing to mount: the journal needs "
                    + "recovery (needs_recovery) but it is " + ((compat & Features.COMPAT_HAS_JOURNAL) == 0
                    ? "missing (has_journal is not set)" : "external (journal_dev), which iomap4j cannot replay")
                    + "; run e2fsck");
        }
        List<String> refused = new ArrayList<>(Features.incompatNames(incompat & ~INCOMPAT_SERVED
                & ~Features.INCOMPAT_RECOVER));
        refused.addAll(Features.roCompatNames(ro & RO_COMPAT_REFUSED));
        if (!refused.isEmpty()) {
            return new Verdict(Access.REFUSE, refused, "refusing to mount: unsupported feature(s) " + refused);
        }
        if ((ro & Features.RO_COMPAT_METADATA_CSUM) != 0 && sb.checksumType() != DiskSuperblock.CHECKSUM_TYPE_CRC32C) {
            return new Verdict(Access.REFUSE, List.of("metadata_csum"), "refusing to mount: metadata_csum with unknown s_checksum_type "
                    + sb.checksumType());
        }
        List<String> readOnly = new ArrayList<>();
        boolean externalJournal = (compat & Features.COMPAT_HAS_JOURNAL) != 0 && sb.journalInum() == 0;
        if (externalJournal) {
            readOnly.add("has_journal");
        }
        readOnly.addAll(Features.roCompatNames(ro & ~RO_COMPAT_SERVED & ~RO_COMPAT_REFUSED));
        if (!readOnly.isEmpty()) {
            String why = externalJournal ? " (an external journal device is not supported for writing)" : "";
            return new Verdict(Access.READ_ONLY, readOnly, "mounting read-only: feature(s) " + readOnly
                    + " not supported for writing" + why);
        }
        return new Verdict(Access.READ_WRITE, List.of(), "");
    }
}
