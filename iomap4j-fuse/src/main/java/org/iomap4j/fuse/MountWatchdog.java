package org.iomap4j.fuse;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;


/**
 * Leaves no dead mount behind a server that is killed (SIGKILL, OOM killer, crash): a small shell process, started
 * per mount and running as the server's user, blocks reading a pipe whose only writer is this JVM. When the JVM
 * ends without unmounting, the pipe closes; the watchdog then looks at the mount point and, only if it answers
 * "Transport endpoint is not connected" (the FUSE connection of a mount whose server is gone, so not some newer
 * mount at the same place), detaches it. It asks for up to 10 s: with FUSE over io_uring the kernel aborts the
 * connection only once the dead server's rings are torn down, asynchronously, and a request meanwhile fails with
 * ECANCELED instead. It detaches with {@code fusermount3 -u -z} for a mount made through fusermount3,
 * {@code umount -l} for one made by mount(2) as root. An orderly unmount stops the watchdog first ({@link #stop}).
 *
 * <p>Why not only fusermount3's {@code auto_unmount}: before libfuse 3.15 its helper checks the mount point as
 * root, which a private (no {@code allow_other}) user mount refuses with EACCES, so it never unmounts
 * (libfuse issue #586, fixed by pull request #754); and mount(2) mounts have no helper at all. The watchdog ignores
 * SIGINT/SIGHUP/SIGQUIT (a Ctrl-C reaches the whole foreground process group; the server's own handler unmounts).
 */
final class MountWatchdog {
    private static final Logger LOG = System.getLogger(MountWatchdog.class.getName());

    /**
     * $1: mount point; the rest: the unmount command. Reads stdin to EOF, then unmounts only a dead mount. The check
     * opens the mount point (an OPENDIR the kernel must send: stat would be answered from attributes cached for the
     * hour of --cache-timeout). An open racing with the teardown of the connection fails with ECONNABORTED ("Software
     * caused connection abort": the request was in flight when the last /dev/fuse descriptor closed), or with
     * ECANCELED while a dead server's io_uring queues are torn down, after which it is asked again (up to 10 s) until
     * the kernel answers ENOTCONN; an open that succeeds means a live mount, which is left alone. Found when the writeback cache became the
     * default: fusermount3's auto_unmount lost that race (its own open got ECONNABORTED) and left the mount behind.
     */
    private static final String SCRIPT = """
            trap '' INT HUP QUIT TSTP
            while read -r _; do :; done
            mnt=$1; shift
            n=0
            while [ "$n" -lt 50 ]; do
              case $(LC_ALL=C sh -c 'exec 3<"$1"' sh "$mnt" 2>&1) in
                *'not connected'*) exec "$@" ;;
                '') exit 0 ;;
              esac
              n=$((n + 1)); sleep 0.2
            done
            """;

    private final Process process;

    private MountWatchdog(Process process) {
        this.process = process;
    }

    /**
     * Starts the watchdog for {@code mountpoint}; null (after a warning in the log) if no shell could be started:
     * the mount works without it.
     *
     * @param viaFusermount whether the mount was made by fusermount3 (unmounted with it; else umount -l)
     */
    static MountWatchdog start(Path mountpoint, boolean viaFusermount) {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", SCRIPT, "iomapfs-watchdog", mountpoint.toString()));
        if (viaFusermount) {
            try {
                cmd.addAll(List.of(Fusermount.locate().toString(), "-u", "-z", "-q", "--", mountpoint.toString()));
            } catch (IOException e) {
                LOG.log(Level.WARNING, "no unmount watchdog for " + mountpoint + ": " + e.getMessage());
                return null;
            }
        } else {
            cmd.addAll(List.of("umount", "-l", "--", mountpoint.toString()));
        }
        try {
            // stdin is a pipe whose write end only this JVM holds (the JDK closes it in every other child).
            Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            return new MountWatchdog(p);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "no unmount watchdog for " + mountpoint + ": " + e.getMessage());
            return null;
        }
    }

    /** Stops the watchdog without letting it act (the mount ended in order). Idempotent. */
    void stop() {
        process.destroy(); // SIGTERM: not trapped; the shell exits while still reading
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "closing the watchdog's pipe", e);
        }
    }

    /** The watchdog's pid (tests). */
    long pid() {
        return process.pid();
    }
}
