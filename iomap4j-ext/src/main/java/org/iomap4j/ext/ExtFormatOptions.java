package org.iomap4j.ext;

import java.util.Objects;
import java.util.UUID;

/**
 * What {@link ExtFormat#format} builds, with mke2fs's meaning for each knob (mke2fs(8): -b, -I, -i, -O
 * sparse_super, -L, -U, -m).
 *
 * @param blockSizeBytes    1024, 2048 or 4096
 * @param inodeSizeBytes    128 or 256
 * @param bytesPerInode     one inode per this many bytes of device (&ge; block size)
 * @param sparseSuper       superblock backups only in groups 0, 1 and powers of 3, 5, 7 (ro_compat sparse_super)
 * @param volumeLabel       s_volume_name, at most 16 bytes of UTF-8
 * @param uuid              s_uuid
 * @param reservedPercent   blocks reserved for root, in percent (0..50)
 * @param timeSec           creation time written to the superblock and the root and lost+found inodes
 */
public record ExtFormatOptions(int blockSizeBytes, int inodeSizeBytes, int bytesPerInode, boolean sparseSuper,
        String volumeLabel, UUID uuid, int reservedPercent, long timeSec) {

    /**
     * Checks the options.
     *
     * @throws IllegalArgumentException for a block size, inode size, inode density, label or reserved percentage
     *     outside the ranges above
     */
    public ExtFormatOptions {
        if (blockSizeBytes != 1024 && blockSizeBytes != 2048 && blockSizeBytes != 4096) {
            throw new IllegalArgumentException("block size must be 1024, 2048 or 4096: " + blockSizeBytes);
        }
        if (inodeSizeBytes != 128 && inodeSizeBytes != 256) {
            throw new IllegalArgumentException("inode size must be 128 or 256: " + inodeSizeBytes);
        }
        if (bytesPerInode < blockSizeBytes || bytesPerInode > (64 << 20)) {
            throw new IllegalArgumentException("bytes per inode must be in [block size, 64 MiB]: " + bytesPerInode);
        }
        Objects.requireNonNull(volumeLabel);
        Objects.requireNonNull(uuid);
        if (volumeLabel.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 16) {
            throw new IllegalArgumentException("volume label longer than 16 bytes: " + volumeLabel);
        }
        if (reservedPercent < 0 || reservedPercent > 50) {
            throw new IllegalArgumentException("reserved percent must be in [0, 50]: " + reservedPercent);
        }
    }

    /**
     * 4 KiB blocks, 256-byte inodes, 16 KiB per inode, sparse_super, no label, random UUID, 5 % reserved.
     *
     * @return the default options
     */
    public static ExtFormatOptions defaults() {
        return new ExtFormatOptions(4096, 256, 16384, true, "", UUID.randomUUID(), 5,
                System.currentTimeMillis() / 1000);
    }

    /**
     * The same options with another block size.
     *
     * @param bytes 1024, 2048 or 4096
     * @return the new options
     */
    public ExtFormatOptions withBlockSize(int bytes) {
        return new ExtFormatOptions(bytes, inodeSizeBytes, Math.max(bytesPerInode, bytes), sparseSuper, volumeLabel,
                uuid, reservedPercent, timeSec);
    }

    /**
     * The same options with another inode size.
     *
     * @param bytes 128 or 256
     * @return the new options
     */
    public ExtFormatOptions withInodeSize(int bytes) {
        return new ExtFormatOptions(blockSizeBytes, bytes, bytesPerInode, sparseSuper, volumeLabel, uuid,
                reservedPercent, timeSec);
    }

    /**
     * The same options with another inode density.
     *
     * @param bytes device bytes per inode
     * @return the new options
     */
    public ExtFormatOptions withBytesPerInode(int bytes) {
        return new ExtFormatOptions(blockSizeBytes, inodeSizeBytes, bytes, sparseSuper, volumeLabel, uuid,
                reservedPercent, timeSec);
    }

    /**
     * The same options with sparse_super on or off.
     *
     * @param on true for backups only in groups 0, 1 and powers of 3, 5, 7
     * @return the new options
     */
    public ExtFormatOptions withSparseSuper(boolean on) {
        return new ExtFormatOptions(blockSizeBytes, inodeSizeBytes, bytesPerInode, on, volumeLabel, uuid,
                reservedPercent, timeSec);
    }

    /**
     * The same options with another volume label.
     *
     * @param label at most 16 bytes of UTF-8
     * @return the new options
     */
    public ExtFormatOptions withLabel(String label) {
        return new ExtFormatOptions(blockSizeBytes, inodeSizeBytes, bytesPerInode, sparseSuper, label, uuid,
                reservedPercent, timeSec);
    }

    /**
     * The same options with another UUID.
     *
     * @param id the s_uuid
     * @return the new options
     */
    public ExtFormatOptions withUuid(UUID id) {
        return new ExtFormatOptions(blockSizeBytes, inodeSizeBytes, bytesPerInode, sparseSuper, volumeLabel, id,
                reservedPercent, timeSec);
    }
}
