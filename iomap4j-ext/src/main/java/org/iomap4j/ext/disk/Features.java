package org.iomap4j.ext.disk;

import java.util.ArrayList;
import java.util.List;

/**
 * ext2/3/4 feature bits and which of them this implementation supports, with the names e2fsprogs prints.
 * Source: e2fsprogs lib/ext2fs/ext2_fs.h (EXT2_FEATURE_* / EXT3_* / EXT4_*), lib/e2p/feature.c (names).
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

    // s_feature_ro_compat
    public static final int RO_COMPAT_SPARSE_SUPER = 0x0001;
    public static final int RO_COMPAT_LARGE_FILE = 0x0002;
    public static final int RO_COMPAT_BTREE_DIR = 0x0004;

    // s_feature_incompat
    public static final int INCOMPAT_COMPRESSION = 0x0001;
    public static final int INCOMPAT_FILETYPE = 0x0002;
    public static final int INCOMPAT_RECOVER = 0x0004;

    /** incompat bits this implementation can mount with. */
    public static final int INCOMPAT_SUPPORTED = INCOMPAT_FILETYPE;
    /** ro_compat bits this implementation can write with. */
    public static final int RO_COMPAT_SUPPORTED = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE;

    private static final String[] COMPAT_NAMES = {"dir_prealloc", "imagic_inodes", "has_journal", "ext_attr",
        "resize_inode", "dir_index", "lazy_bg", "exclude_inode", "exclude_bitmap", "sparse_super2", "fast_commit",
        "stable_inodes", "orphan_file"};
    private static final String[] RO_COMPAT_NAMES = {"sparse_super", "large_file", "btree_dir", "huge_file",
        "uninit_bg", "dir_nlink", "extra_isize", "has_snapshot", "quota", "bigalloc", "metadata_csum", "replica",
        "read-only", "project", "shared_blocks", "verity", "orphan_present"};
    private static final String[] INCOMPAT_NAMES = {"compression", "filetype", "needs_recovery", "journal_dev",
        "meta_bg", "FEATURE_I5", "extent", "64bit", "mmp", "flex_bg", "ea_inode", "FEATURE_I11", "dirdata",
        "metadata_csum_seed", "large_dir", "inline_data", "encrypt", "casefold"};

    /** e2fsprogs' names of the set bits of an incompat word, e.g. {@code [extent, 64bit]}. */
    public static List<String> incompatNames(long bits) {
        return names(bits, INCOMPAT_NAMES, "FEATURE_I");
    }

    public static List<String> roCompatNames(long bits) {
        return names(bits, RO_COMPAT_NAMES, "FEATURE_R");
    }

    public static List<String> compatNames(long bits) {
        return names(bits, COMPAT_NAMES, "FEATURE_C");
    }

    private static List<String> names(long bits, String[] table, String unknownPrefix) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            if ((bits & (1L << i)) != 0) {
                out.add(i < table.length ? table[i] : unknownPrefix + i);
            }
        }
        return out;
    }
}
