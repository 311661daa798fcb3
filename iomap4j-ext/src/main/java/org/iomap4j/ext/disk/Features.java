package org.iomap4j.ext.disk;

import java.util.ArrayList;
import java.util.List;

/**
 * ext2/3/4 feature bits of {@code s_feature_compat}, {@code s_feature_incompat} and {@code s_feature_ro_compat}
 * with the names e2fsprogs prints ({@code dumpe2fs -h} "Filesystem features"; unnamed bits print as
 * {@code FEATURE_C13}, {@code FEATURE_I5}, {@code FEATURE_R7}). Which of them the driver serves, and how, is
 * {@link FeatureSupport}.
 *
 * <p>Sources: fs/ext4/ext4.h (EXT4_FEATURE_*), e2fsprogs lib/ext2fs/ext2_fs.h and lib/e2p/feature.c (names),
 * Documentation/filesystems/ext4/super.rst.
 */
public final class Features {
    private Features() {}

    // s_feature_compat
    public static final int COMPAT_DIR_PREALLOC = 0x0001;
    public static final int COMPAT_IMAGIC_INODES = 0x0002;
    public static final int COMPAT_HAS_JOURNAL = 0x0004;
    public static final int COMPAT_EXT_ATTR = 0x0008;
    public static final int COMPAT_RESIZE_INODE = 0x0010;
    public static final int COMPAT_DIR_INDEX = 0x0020;
    public static final int COMPAT_LAZY_BG = 0x0040;
    public static final int COMPAT_EXCLUDE_BITMAP = 0x0100;
    public static final int COMPAT_SPARSE_SUPER2 = 0x0200;
    public static final int COMPAT_FAST_COMMIT = 0x0400;
    public static final int COMPAT_STABLE_INODES = 0x0800;
    public static final int COMPAT_ORPHAN_FILE = 0x1000;

    // s_feature_ro_compat
    public static final int RO_COMPAT_SPARSE_SUPER = 0x0001;
    public static final int RO_COMPAT_LARGE_FILE = 0x0002;
    public static final int RO_COMPAT_BTREE_DIR = 0x0004;
    public static final int RO_COMPAT_HUGE_FILE = 0x0008;
    public static final int RO_COMPAT_GDT_CSUM = 0x0010;
    public static final int RO_COMPAT_DIR_NLINK = 0x0020;
    public static final int RO_COMPAT_EXTRA_ISIZE = 0x0040;
    public static final int RO_COMPAT_QUOTA = 0x0100;
    public static final int RO_COMPAT_BIGALLOC = 0x0200;
    public static final int RO_COMPAT_METADATA_CSUM = 0x0400;
    public static final int RO_COMPAT_REPLICA = 0x0800;
    public static final int RO_COMPAT_READONLY = 0x1000;
    public static final int RO_COMPAT_PROJECT = 0x2000;
    public static final int RO_COMPAT_SHARED_BLOCKS = 0x4000;
    public static final int RO_COMPAT_VERITY = 0x8000;
    public static final int RO_COMPAT_ORPHAN_PRESENT = 0x10000;

    // s_feature_incompat
    public static final int INCOMPAT_COMPRESSION = 0x0001;
    public static final int INCOMPAT_FILETYPE = 0x0002;
    public static final int INCOMPAT_RECOVER = 0x0004;
    public static final int INCOMPAT_JOURNAL_DEV = 0x0008;
    public static final int INCOMPAT_META_BG = 0x0010;
    public static final int INCOMPAT_EXTENTS = 0x0040;
    public static final int INCOMPAT_64BIT = 0x0080;
    public static final int INCOMPAT_MMP = 0x0100;
    public static final int INCOMPAT_FLEX_BG = 0x0200;
    public static final int INCOMPAT_EA_INODE = 0x0400;
    public static final int INCOMPAT_DIRDATA = 0x1000;
    public static final int INCOMPAT_CSUM_SEED = 0x2000;
    public static final int INCOMPAT_LARGEDIR = 0x4000;
    public static final int INCOMPAT_INLINE_DATA = 0x8000;
    public static final int INCOMPAT_ENCRYPT = 0x10000;
    public static final int INCOMPAT_CASEFOLD = 0x20000;

    /** Which of the three feature words a bit belongs to. */
    public enum Kind {
        COMPAT('C'), INCOMPAT('I'), RO_COMPAT('R');

        final char letter;

        Kind(char letter) {
            this.letter = letter;
        }
    }

    private static final String[] COMPAT_NAMES = {"dir_prealloc", "imagic_inodes", "has_journal", "ext_attr",
        "resize_inode", "dir_index", "lazy_bg", null, "snapshot_bitmap", "sparse_super2", "fast_commit",
        "stable_inodes", "orphan_file"};
    private static final String[] RO_COMPAT_NAMES = {"sparse_super", "large_file", null, "huge_file",
        "uninit_bg", "dir_nlink", "extra_isize", null, "quota", "bigalloc", "metadata_csum", "replica",
        "read-only", "project", "shared_blocks", "verity", "orphan_present"};
    private static final String[] INCOMPAT_NAMES = {"compression", "filetype", "needs_recovery", "journal_dev",
        "meta_bg", null, "extent", "64bit", "mmp", "flex_bg", "ea_inode", null, "dirdata",
        "metadata_csum_seed", "large_dir", "inline_data", "encrypt", "casefold"};

    /** e2fsprogs' name of one bit (a power of two) of the given word, e.g. {@code "extent"}, {@code "FEATURE_I5"}. */
    public static String name(Kind kind, long bit) {
        int n = Long.numberOfTrailingZeros(bit);
        String[] table = switch (kind) {
            case COMPAT -> COMPAT_NAMES;
            case INCOMPAT -> INCOMPAT_NAMES;
            case RO_COMPAT -> RO_COMPAT_NAMES;
        };
        String s = n < table.length ? table[n] : null;
        return s != null ? s : "FEATURE_" + kind.letter + n;
    }

    /** Names of the set bits of a word, lowest bit first. */
    public static List<String> names(Kind kind, long bits) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            if ((bits & (1L << i)) != 0) {
                out.add(name(kind, 1L << i));
            }
        }
        return out;
    }

    /** e2fsprogs' names of the set bits of an incompat word, e.g. {@code [extent, 64bit]}. */
    public static List<String> incompatNames(long bits) {
        return names(Kind.INCOMPAT, bits);
    }

    public static List<String> roCompatNames(long bits) {
        return names(Kind.RO_COMPAT, bits);
    }

    public static List<String> compatNames(long bits) {
        return names(Kind.COMPAT, bits);
    }

    /** All feature names of a superblock in dumpe2fs's order: compat, then incompat, then ro_compat. */
    public static List<String> allNames(DiskSuperblock sb) {
        List<String> out = new ArrayList<>(compatNames(sb.featureCompat()));
        out.addAll(incompatNames(sb.featureIncompat()));
        out.addAll(roCompatNames(sb.featureRoCompat()));
        return out;
    }
}
