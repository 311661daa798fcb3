package org.iomap4j.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * The checks {@code iomapfs mount} makes on its mount point before mounting, as mount(8) does: it must exist and be
 * a directory, and (unless {@code --nonempty}) be empty, since mounting over files hides them. Only the default
 * mount point {@code ./mnt} is created when absent, and then removed again after the unmount.
 */
final class Mountpoint {
    private Mountpoint() {}

    /**
     * Checks {@code mnt}; creates it only if {@code isDefault} and absent.
     *
     * @return whether it was created here (so that {@link #removeIfCreated} removes it)
     * @throws FsException ENOENT if missing (not the default), ENOTDIR if not a directory, ENOTEMPTY if it has
     *                     entries and {@code nonempty} is false, EIO if it is a FUSE mount whose server died
     */
    static boolean check(Path mnt, boolean isDefault, boolean nonempty) throws IOException {
        if (!Files.exists(mnt)) {
            if (Files.isSymbolicLink(mnt)) {
                throw new FsException(Errno.ENOENT, mnt + ": mount point is a dangling symbolic link");
            }
            if (deadMount(mnt)) {
                throw new FsException(Errno.EIO, mnt + ": a FUSE mount whose server is gone is still there "
                        + "(transport endpoint is not connected); remove it with 'fusermount3 -u " + mnt
                        + "' or 'umount -l " + mnt + "'");
            }
            if (!isDefault) {
                throw new FsException(Errno.ENOENT, mnt + ": mount point does not exist (create it with mkdir)");
            }
            Files.createDirectory(mnt);
            return true;
        }
        if (!Files.isDirectory(mnt)) {
            throw new FsException(Errno.ENOTDIR, mnt + ": mount point is not a directory");
        }
        if (!nonempty) {
            try (DirectoryStream<Path> d = Files.newDirectoryStream(mnt)) {
                if (d.iterator().hasNext()) {
                    throw new FsException(Errno.ENOTEMPTY, mnt + ": mount point is not empty (mounting would hide "
                            + "its files; --nonempty mounts anyway)");
                }
            }
        }
        return false;
    }

    /** Removes the mount point if {@link #check} created it (and it is empty again); never throws. */
    static void removeIfCreated(Path mnt, boolean created) {
        if (!created) {
            return;
        }
        try {
            Files.deleteIfExists(mnt);
        } catch (IOException e) {
            System.err.println("iomapfs: note: could not remove the mount point " + mnt + " made for this mount: "
                    + e.getMessage());
        }
    }

    /** Whether /proc/self/mounts lists {@code mnt} (stat of a dead FUSE mount fails, so Files.exists says no). */
    private static boolean deadMount(Path mnt) {
        String abs = mnt.toAbsolutePath().normalize().toString();
        try {
            return Files.readAllLines(Path.of("/proc/self/mounts")).stream().map(l -> l.split(" "))
                    .anyMatch(f -> f.length > 2 && UmountCommand.unescape(f[1]).equals(abs));
        } catch (IOException e) {
            return false;
        }
    }
}
