package org.iomap4j.ext.disk;

/**
 * CRC16 as Linux lib/crc16.c computes it (polynomial x^16 + x^15 + x^2 + 1, reflected 0xA001, no final
 * inversion), table-driven. ext4 uses it for group descriptor checksums under {@code gdt_csum}/{@code uninit_bg}
 * without {@code metadata_csum}: {@code crc16(~0, s_uuid) -> le32 group -> descriptor} (fs/ext4/super.c
 * ext4_group_desc_csum; Documentation/filesystems/ext4/group_descr.rst). The JDK has no CRC16.
 */
public final class Crc16 {
    private Crc16() {}

    private static final int[] TABLE = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int r = i;
            for (int k = 0; k < 8; k++) {
                r = (r & 1) != 0 ? (r >>> 1) ^ 0xA001 : r >>> 1;
            }
            TABLE[i] = r;
        }
    }

    /** Continues {@code crc} (16 bits) over {@code b[off..off+len)}; returns the new 16-bit value. */
    public static int update(int crc, byte[] b, int off, int len) {
        int c = crc & 0xffff;
        for (int i = off; i < off + len; i++) {
            c = (c >>> 8) ^ TABLE[(c ^ b[i]) & 0xff];
        }
        return c;
    }

    public static int update(int crc, byte[] b) {
        return update(crc, b, 0, b.length);
    }
}
