package org.iomap4j.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.MappedBlockDevice;
import org.iomap4j.ext.ExtFileSystem;
import org.iomap4j.ext.ExtMountOptions;
import org.iomap4j.vfs.Vfs;

/**
 * An ext2 image opened by the CLI: the device, a lock on the image file and the mounted filesystem.
 *
 * <p>Locking (so that a mounted image is never written by a second writer): a read-write open takes an exclusive
 * lock on the image file, a read-only open a shared one; both fail at once, naming the image, when the other kind
 * is held (by {@code iomapfs mount} or a writing {@code iomapfs cp}). The lock is a POSIX record lock
 * ({@link FileLock}) on the whole file. The inspecting commands ({@code ls}, {@code cat}, {@code stat},
 * {@code info}, {@code df}, {@code fiemap}) open with {@link #openForInspection}: on an image that is mounted
 * read-write they go on without the lock after a warning, as dumpe2fs and debugfs do, since they never write.
 */
final class OpenImage implements AutoCloseable {
    private final BlockDevice device;
    private final FileLock lock; // null: an inspection of an image someone else has open for writing
    private final ExtFileSystem fs;

    private OpenImage(BlockDevice device, FileLock lock, ExtFileSystem fs) {
        this.device = device;
        this.lock = lock;
        this.fs = fs;
    }

    /** Opens and mounts {@code image} with the default cache settings. */
    static OpenImage open(Path image, boolean readOnly) throws IOException {
        return open(image, readOnly, ExtMountOptions.defaults().withReadOnly(readOnly), null);
    }

    /**
     * Opens {@code image} read-only for a command that only looks. If it is open for writing elsewhere (mounted
     * read-write), prints a one-line warning to {@code err} and reads it anyway, unlocked: what is shown may lag
     * behind the mount's cache or be caught mid-update.
     */
    static OpenImage openForInspection(Path image, java.io.PrintWriter err) throws IOException {
        return open(image, true, ExtMountOptions.defaults().withReadOnly(true), err);
    }

    static OpenImage open(Path image, boolean readOnly, ExtMountOptions options) throws IOException {
        return open(image, readOnly, options, null);
    }

    /**
     * Opens and mounts {@code image}; errors name the image. With {@code options.dax()} the image is mapped into
     * memory ({@link MappedBlockDevice}), else read through a {@link FileBlockDevice}, large reads direct as
     * {@link ExtMountOptions#directReadMinBytes()} says.
     */
    private static OpenImage open(Path image, boolean readOnly, ExtMountOptions options, java.io.PrintWriter warnTo)
            throws IOException {
        BlockDevice dev;
        FileChannel channel;
        if (options.dax()) {
            MappedBlockDevice m = MappedBlockDevice.open(image, readOnly);
            dev = m;
            channel = m.channel();
        } else {
            FileBlockDevice f = FileBlockDevice.open(image, readOnly);
            if (options.directReadMinBytes() > 0) {
                f.enableDirectReads(options.directReadMinBytes()); // false: the host refuses O_DIRECT; stays buffered
            }
            dev = f;
            channel = f.channel();
        }
        boolean ok = false;
        try {
            // Lock through the device's own channel: closing any other descriptor of the image would drop a
            // POSIX record lock held by this process.
            FileLock lock = lock(channel, image, readOnly, warnTo);
            try {
                ExtFileSystem fs = ExtFileSystem.mount(dev, options.withReadOnly(readOnly));
                ok = true;
                return new OpenImage(dev, lock, fs);
            } finally {
                if (!ok && lock != null) {
                    lock.release();
                }
            }
        } catch (FsException e) {
            throw e.getMessage().contains(image.toString()) ? e
                    : new FsException(e.errno(), image + ": " + e.getMessage(), e);
        } finally {
            if (!ok) {
                dev.close();
            }
        }
    }

    private static FileLock lock(FileChannel channel, Path image, boolean shared, java.io.PrintWriter warnTo)
            throws IOException {
        FileLock l;
        try {
            l = channel.tryLock(0, Long.MAX_VALUE, shared);
        } catch (OverlappingFileLockException e) {
            l = null;
        }
        if (l == null && warnTo != null) {
            warnTo.println("iomapfs: warning: " + image + " is mounted read-write (or being written): reading it "
                    + "anyway; what is shown may be out of date");
            warnTo.flush();
            return null;
        }
        if (l == null) {
            throw new FsException(Errno.EBUSY, image + ": image is in use (mounted, or being written by another iomapfs)");
        }
        return l;
    }

    Vfs vfs() {
        return fs;
    }

    ExtFileSystem fs() {
        return fs;
    }

    BlockDevice device() {
        return device;
    }

    /** Unmounts (writing everything back), then releases the lock and the device. */
    @Override
    public void close() throws IOException {
        try {
            fs.close();
        } finally {
            try {
                if (lock != null && lock.isValid()) {
                    lock.release();
                }
            } finally {
                device.close();
            }
        }
    }
}
