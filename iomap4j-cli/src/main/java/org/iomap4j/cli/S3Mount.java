package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.ExtMountOptions;
import org.iomap4j.fuse.FuseMount;
import org.iomap4j.fuse.FuseOptions;
import org.iomap4j.netfs.NetfsConfig;
import org.iomap4j.s3.S3FileSystem;
import org.iomap4j.s3.S3MountOptions;

/**
 * {@code iomapfs mount s3://BUCKET[/PREFIX] MOUNTPOINT --endpoint URL}: serves an S3 bucket (or a prefix of it)
 * through FUSE in the foreground, as {@link MountCommand} serves an ext image, until it is unmounted. On unmount
 * every changed file is uploaded; what cannot be (the server is unreachable) stays in the cache directory's dirty
 * log, is named on stderr, and is uploaded by the next mount of the same cache directory.
 */
final class S3Mount {
    private S3Mount() {
    }

    /** Runs the mount for {@code cmd} (its FUSE options and the s3 options); returns the exit code. */
    static int run(MountCommand cmd, S3Url url, boolean shared) throws Exception {
        PrintWriter out = cmd.spec.commandLine().getOut();
        PrintWriter err = cmd.spec.commandLine().getErr();
        S3MountOptionsCli s3 = cmd.s3;
        Path mnt = cmd.mountpoint != null ? cmd.mountpoint : MountCommand.DEFAULT_MOUNTPOINT;
        if (s3.granuleBytes < NetfsConfig.MIN_GRANULE_BYTES || s3.granuleBytes > NetfsConfig.MAX_GRANULE_BYTES
                || Long.bitCount(s3.granuleBytes) != 1) {
            throw new UsageException("--granule must be a power of two from 64K to 64M");
        }
        if (s3.partBytes < (5L << 20) || s3.partBytes > (5L << 30)) {
            throw new UsageException("--part-size must be 5M..5G (S3's part limits)");
        }
        if (s3.metadataTtlSeconds < 0 || s3.metadataTtlSeconds > 86_400) {
            throw new UsageException("--metadata-ttl must be 0..86400 seconds");
        }
        if (cmd.dax) {
            throw new UsageException("--dax needs an image, not a bucket");
        }
        Path cacheDir = s3.cacheDirFor(url);
        Files.createDirectories(cacheDir);
        int[] ids = MkfsCommand.callerIds();
        S3MountOptions opts = S3MountOptions.of(s3.endpoint, url.bucket(), url.prefix(), cacheDir)
                .withRegion(s3.regionOrEnv()).withOwner(ids[0], ids[1])
                .withCache(s3.diskCacheBytes, (int) s3.granuleBytes, cmd.cacheBytes).withPartBytes(s3.partBytes)
                .withMetadataTtlMillis(s3.metadataTtlSeconds * 1000).withAsyncClose(s3.asyncClose);
        boolean createdMountpoint = Mountpoint.check(mnt, cmd.mountpoint == null, cmd.nonempty);
        S3FileSystem fs;
        try {
            fs = S3FileSystem.mount(opts);
        } catch (IOException | RuntimeException e) {
            Mountpoint.removeIfCreated(mnt, createdMountpoint);
            if (e instanceof FsException fe && fe.errno() == Errno.EACCES && !fe.getMessage().contains("AWS_")) {
                throw new FsException(Errno.EACCES, url + ": access denied (credentials come from AWS_ACCESS_KEY_ID/"
                        + "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials): " + fe.getMessage(), fe);
            }
            throw e;
        }
        if (fs.netfs().pendingCount() > 0) {
            err.println("iomapfs: " + fs.netfs().pendingCount() + " file(s) fsync'd by an earlier mount are still "
                    + "waiting in " + cacheDir + " for the server; retried in the background");
        }
        if (cmd.warmupMillis > 0) {
            // The FUSE request path is the same as for an image: warm it on a scratch in-memory image.
            JitWarmup.run(ExtMountOptions.defaults(), java.time.Duration.ofMillis(cmd.warmupMillis), cmd.common.debug,
                    err);
            // And the S3 client's request path (read-only requests against the bucket).
            int n = fs.warmUp(java.time.Duration.ofMillis(cmd.warmupMillis));
            if (cmd.common.debug) {
                err.println("iomapfs: S3 warm-up: " + n + " requests");
                err.flush();
            }
        }
        FuseMount mount;
        try {
            mount = FuseMount.mount(fs, mnt.toAbsolutePath(), FuseOptions.builder().readOnly(cmd.readOnly)
                    .allowOther(shared).defaultPermissions(true).suid(cmd.suid).dev(cmd.dev)
                    .fusermount(cmd.fusermount).threads(cmd.threads).debug(cmd.common.debug)
                    .writebackCache(false) // as before the cache became the default: not yet verified over netfs
                    .spinAfterReply(java.time.Duration.ofNanos(cmd.spinMicros * 1000L))
                    .fsName(url.toString()).subtype("iomapfs-s3").build());
        } catch (IOException | RuntimeException e) {
            fs.close();
            Mountpoint.removeIfCreated(mnt, createdMountpoint);
            throw e;
        }
        out.println("iomapfs: " + url + " mounted at " + mnt.toAbsolutePath() + " (" + (cmd.readOnly ? "read-only"
                : "read-write") + (shared ? ", shared" : ", private") + ", endpoint "
                + (s3.endpoint == null ? "AWS" : s3.endpoint) + ", cache " + cacheDir + "); stays in the foreground:"
                + " Ctrl-C or 'iomapfs umount " + mnt + "' to unmount");
        out.flush();
        ForegroundMount.serve(mount, () -> {
            if (cmd.stats) {
                MountCommand.printStats(err, mount.requestCounts());
            }
            fs.close();
            if (cmd.stats) {
                err.println("iomapfs: S3 requests: " + fs.requestSummary());
                err.flush();
            }
            Mountpoint.removeIfCreated(mnt, createdMountpoint);
            int left = fs.netfs().pendingCount();
            out.println("iomapfs: unmounted " + mnt + "; " + (left == 0 ? "every change is in " + url
                    : left + " file(s) not uploaded (server unreachable) are kept in " + cacheDir
                            + " and uploaded by the next mount"));
            out.flush();
        });
        return 0;
    }
}
