package org.iomap4j.jbd2;

import java.util.Set;

/**
 * Names of ext4 superblock fields by byte offset (Documentation/filesystems/ext4/super.rst), to say which fields two
 * images differ in, and the set e2fsck writes by itself when it replays a journal.
 */
final class Ext4SuperblockFields {
    private Ext4SuperblockFields() {}

    private static final Object[][] FIELDS = {
        {0x0, 4, "s_inodes_count"}, {0x4, 4, "s_blocks_count_lo"}, {0x8, 4, "s_r_blocks_count_lo"},
        {0xC, 4, "s_free_blocks_count_lo"}, {0x10, 4, "s_free_inodes_count"}, {0x14, 4, "s_first_data_block"},
        {0x2C, 4, "s_mtime"}, {0x30, 4, "s_wtime"}, {0x34, 2, "s_mnt_count"}, {0x36, 2, "s_max_mnt_count"},
        {0x38, 2, "s_magic"}, {0x3A, 2, "s_state"}, {0x3C, 2, "s_errors"}, {0x40, 4, "s_lastcheck"},
        {0x5C, 4, "s_feature_compat"}, {0x60, 4, "s_feature_incompat"}, {0x64, 4, "s_feature_ro_compat"},
        {0xE0, 4, "s_journal_inum"}, {0xE8, 4, "s_last_orphan"}, {0x10C, 68, "s_jnl_blocks"},
        {0x158, 4, "s_free_blocks_count_hi"}, {0x174, 1, "s_log_groups_per_flex"},
        {0x178, 8, "s_kbytes_written"}, {0x194, 4, "s_error_count"}, {0x198, 4, "s_first_error_time"},
        {0x1F4, 1, "s_wtime_hi"}, {0x1F5, 1, "s_mtime_hi"}, {0x1F8, 1, "s_lastcheck_hi"},
        {0x3FC, 4, "s_checksum"},
    };

    /**
     * Fields e2fsck -E journal_only updates on its own when it replays a journal (observed: the write time and the
     * lifetime-writes counter libext2fs sets when it closes a filesystem opened read-write, and the checksum).
     */
    static final Set<String> E2FSCK_SETS = Set.of("s_wtime", "s_wtime_hi", "s_kbytes_written", "s_checksum");

    /** The field covering byte {@code off} of the superblock, or "offset 0x..". */
    static String nameOf(int off) {
        for (Object[] f : FIELDS) {
            int o = (Integer) f[0];
            int n = (Integer) f[1];
            if (off >= o && off < o + n) {
                return (String) f[2];
            }
        }
        return "offset 0x" + Integer.toHexString(off);
    }
}
