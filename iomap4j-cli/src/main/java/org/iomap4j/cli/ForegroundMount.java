package org.iomap4j.cli;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.iomap4j.fuse.FuseMount;

/**
 * What {@code iomapfs mount} does once the FUSE mount is up, for an image ({@link MountCommand}) and a bucket
 * ({@link S3Mount}) alike: serve in the foreground until unmounted, with a shutdown hook so that SIGTERM/Ctrl-C
 * unmounts and then waits (up to {@link #FLUSH_WAIT_SECONDS}) for the main thread to write everything back; then
 * run the caller's unmount step (close the filesystem, remove a created mount point, print the last line).
 */
final class ForegroundMount {
    /** How long the signal hook waits for the write-back after the unmount. */
    static final long FLUSH_WAIT_SECONDS = 120;

    /** The caller's step after the unmount (write back and close, report). */
    @FunctionalInterface
    interface AfterUnmount {
        void run() throws IOException;
    }

    private ForegroundMount() {
    }

    /**
     * Serves {@code mount} until it is unmounted (by a signal, {@code iomapfs umount}, {@code umount}), then runs
     * {@code afterUnmount} once.
     *
     * @throws IOException from the FUSE server or {@code afterUnmount}
     * @throws InterruptedException if the main thread is interrupted while serving
     */
    static void serve(FuseMount mount, AfterUnmount afterUnmount) throws IOException, InterruptedException {
        CountDownLatch flushed = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            // SIGTERM / Ctrl-C: unmount, then wait for the main thread to write everything back.
            try {
                if (mount.isMounted()) {
                    mount.unmount();
                }
                flushed.await(FLUSH_WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (IOException | RuntimeException e) {
                System.err.println("iomapfs: unmount on signal failed: " + Main.describe(e));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "iomapfs-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            mount.awaitUnmounted();
        } finally {
            try {
                afterUnmount.run();
            } finally {
                flushed.countDown();
            }
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // Shutdown already under way (we were unmounted by the signal hook): nothing to remove.
            assert e.getMessage() != null;
        }
    }
}
