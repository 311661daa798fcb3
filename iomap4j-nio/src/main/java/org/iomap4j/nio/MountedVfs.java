package org.iomap4j.nio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import org.iomap4j.vfs.Vfs;

/**
 * A filesystem image mounted for the provider: the {@link Vfs} every operation goes through, what the
 * {@link java.nio.file.FileStore} reports, and how to let go of the image.
 *
 * @param vfs      the mounted filesystem
 * @param type     the FileStore type ("ext2", "ext3", "ext4")
 * @param label    the volume label, or "" when it has none
 * @param readOnly mounted read-only (by request, or because the image or its features demand it)
 * @param release  runs after {@link Vfs#close()}: drops the image lock and closes the device
 * @param dax      maps file ranges straight onto the image ({@code FileChannel.map}), or null when the mount cannot
 *                 (not a {@code dax} mount)
 */
record MountedVfs(Vfs vfs, String type, String label, boolean readOnly, Release release, DaxMap dax) {

    MountedVfs(Vfs vfs, String type, String label, boolean readOnly, Release release) {
        this(vfs, type, label, readOnly, release, null);
    }

    /** A file range as a segment of the memory-mapped image (DAX). */
    @FunctionalInterface
    interface DaxMap {
        /**
         * The bytes {@code [offsetBytes, offsetBytes + sizeBytes)} of inode {@code ino} as a slice of the mapped
         * image, valid until the file system is closed; read-only unless {@code writable}.
         *
         * @throws UnsupportedOperationException if the range is not block-aligned or not one contiguous run of
         *                                       written blocks on disk (a hole, unwritten or fragmented)
         */
        MemorySegment map(long ino, long offsetBytes, long sizeBytes, boolean writable) throws IOException;
    }

    /** What {@link MountedVfs#release} does once the filesystem is unmounted. */
    @FunctionalInterface
    interface Release {
        void run() throws IOException;
    }

    /** Unmounts (the Vfs writes everything back) and then releases the image, even if unmounting failed. */
    void unmount() throws IOException {
        try {
            vfs.close();
        } finally {
            release.run();
        }
    }
}
