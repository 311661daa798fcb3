package org.iomap4j.nio;

import java.io.IOException;
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
 */
record MountedVfs(Vfs vfs, String type, String label, boolean readOnly, Release release) {

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
