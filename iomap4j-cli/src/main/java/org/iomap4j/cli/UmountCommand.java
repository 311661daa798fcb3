package org.iomap4j.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fuse.Fusermount;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code iomapfs umount MOUNTPOINT}: unmounts an iomapfs mount and waits until the serving process has written
 * the image back (it holds a lock on the image until then), so that the image is clean when this returns. As root
 * it runs umount(8); as another user {@code fusermount3 -u}, which unmounts mounts that user made.
 */
@Command(name = "umount", mixinStandardHelpOptions = true,
        description = "Unmount an iomapfs mount and wait until the image is written back.")
final class UmountCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;
    @Parameters(paramLabel = "MOUNTPOINT", description = "The mount point.")
    Path mountpoint;
    @Option(names = "--timeout", defaultValue = "300", description = "Seconds to wait for write-back (default ${DEFAULT-VALUE}).")
    long timeoutSec;

    @Override
    public Integer call() throws Exception {
        Path mnt = mountpoint.toAbsolutePath().normalize();
        String source = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String[] f = line.split(" ");
            if (f.length >= 3 && unescape(f[1]).equals(mnt.toString())) {
                if (!f[2].startsWith("fuse")) {
                    throw new FsException(Errno.EINVAL, mnt + ": not a FUSE mount (" + f[2] + ")");
                }
                source = unescape(f[0]);
            }
        }
        if (source == null) {
            throw new FsException(Errno.EINVAL, mnt + ": not mounted");
        }
        if (Fusermount.geteuid() == 0) {
            run(List.of("umount", mnt.toString()));
        } else {
            // Only the setuid helper may unmount for a user (the mount is theirs: user_id=<uid>).
            Fusermount.unmount(mnt, false);
        }
        Path image = Path.of(source);
        if (Files.isRegularFile(image)) {
            waitForRelease(image, mnt);
        }
        return 0;
    }

    private static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new FsException(Errno.EBUSY, String.join(" ", cmd) + " failed: " + output.strip());
        }
    }

    /** Waits until the serving process released its lock on the image: then it has written everything back. */
    private void waitForRelease(Path image, Path mnt) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSec);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            while (true) {
                FileLock l = ch.tryLock(0, Long.MAX_VALUE, true);
                if (l != null) {
                    l.release();
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new FsException(Errno.EBUSY, mnt + " unmounted, but " + image
                            + " is still being written back after " + timeoutSec + " s");
                }
                Thread.sleep(50);
            }
        }
    }

    static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }
}
