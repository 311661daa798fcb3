package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.ExtMountOptions;
import org.iomap4j.fuse.FuseMount;
import org.iomap4j.fuse.FuseOptions;
import org.iomap4j.fuse.FuseWarmup;
import org.iomap4j.fuse.Fusermount;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code iomapfs mount [IMAGE] [MOUNTPOINT]}: serves an ext2 image through FUSE in the foreground until it is
 * unmounted (Ctrl-C, SIGTERM, {@code iomapfs umount}, {@code umount}, {@code fusermount3 -u}); then writes
 * everything back so that the image is clean. With no arguments it creates (if absent) the 1 GiB sparse image
 * {@code iomapfs.img} and mounts it at {@code ./mnt}.
 */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = {"Mount an ext2 image through FUSE. Stays in the foreground until unmounted (Ctrl-C, "
                + "'iomapfs umount MOUNTPOINT', umount or fusermount3 -u).",
            "As root the mount is shared (allow_other, default_permissions) unless --private; without root it is "
                + "made through fusermount3 with auto_unmount, private unless --allow-other. Always nosuid,nodev "
                + "unless --suid/--dev (root only). MOUNTPOINT must exist and be empty (--nonempty to override); "
                + "the default ./mnt is created if absent and removed again afterwards."})
final class MountCommand implements Callable<Integer> {
    static final Path DEFAULT_IMAGE = Path.of("iomapfs.img");
    static final Path DEFAULT_MOUNTPOINT = Path.of("mnt");
    static final long DEFAULT_IMAGE_BYTES = 1L << 30;
    /**
     * How long the kernel may cache names, absent names and attributes by default ({@code --cache-timeout}): one
     * hour. The image is locked while it is
     * mounted, so every change comes through the kernel, which drops what it changes itself (a directory's
     * attributes on create/unlink/rename, nlink, atime after a read, size and mtime with the writeback cache); a
     * short timeout only costs a LOOKUP or GETATTR round trip each time it runs out (issue 17 measured 2 GETATTRs
     * per untarred file with 1 s).
     */
    static final long DEFAULT_CACHE_TIMEOUT_SECONDS = 3600;

    @Mixin
    CommonOptions common;
    @Mixin
    S3MountOptionsCli s3;
    @Spec
    CommandSpec spec;
    @Parameters(index = "0", arity = "0..1", paramLabel = "IMAGE",
            description = "The ext2 image (default: iomapfs.img, created if absent), or s3://BUCKET[/PREFIX] for an "
                    + "S3 bucket (see --endpoint; credentials from the AWS environment variables or profile).")
    Path image;
    @Parameters(index = "1", arity = "0..1", paramLabel = "MOUNTPOINT", description = "Where to mount (default: ./mnt).")
    Path mountpoint;
    @Option(names = "--ro", description = "Mount read-only.")
    boolean readOnly;
    @Option(names = "--cache-size", defaultValue = "512M", converter = SizeConverter.class,
            description = "Page cache budget (default ${DEFAULT-VALUE}).")
    long cacheBytes;
    @Option(names = "--max-folio", defaultValue = "2M", converter = SizeConverter.class,
            description = "Largest folio, 4K..2M (default ${DEFAULT-VALUE}).")
    long maxFolioBytes;
    @Option(names = "--allow-other", description = "Let other users access the mount. The default as root; without "
            + "root it needs 'user_allow_other' in /etc/fuse.conf.")
    boolean allowOther;
    @Option(names = "--private", description = "Only the user who mounts may access the mount (default without root;"
            + " as root the mount is shared: allow_other with default_permissions, as fuse2fs -o kernel).")
    boolean privateMount;
    @Option(names = "--suid", description = "Honour set-user-ID/set-group-ID bits (default: nosuid). Root only.")
    boolean suid;
    @Option(names = "--dev", description = "Allow device nodes to be opened (default: nodev). Root only.")
    boolean dev;
    @Option(names = "--nonempty", description = "Mount over a mount point that is not empty (its files are hidden "
            + "while mounted).")
    boolean nonempty;
    @Option(names = "--fusermount", description = "Mount through fusermount3 (with auto_unmount) even as root. "
            + "Without root iomapfs always does.")
    boolean fusermount;
    @Option(names = "--threads", defaultValue = "4", description = "FUSE request threads (default ${DEFAULT-VALUE}).")
    int threads;
    @Option(names = "--noatime", description = "Never update access times (default: relatime, as the kernel's ext2).")
    boolean noatime;
    @Option(names = "--delalloc", description = "Delayed allocation for extent files (ext4): writes reserve space and "
            + "writeback allocates large extents (default: unwritten extents allocated at write()).")
    boolean delalloc;
    @Option(names = "--spin-us", defaultValue = "0", paramLabel = "US",
            description = "Microseconds a request thread polls for the next request before sleeping (default "
                    + "${DEFAULT-VALUE}: never). Can save a thread wake-up per request at queue depth 1 on a VM.")
    int spinMicros;
    @Option(names = "--warmup-ms", defaultValue = "1500", paramLabel = "MS",
            description = "Before mounting, run the request path on a scratch in-memory image for about MS "
                    + "milliseconds so that the JIT has compiled it when the first request comes (default "
                    + "${DEFAULT-VALUE}; 0: skip, mount at once and compile while serving).")
    int warmupMillis;
    @Option(names = "--direct-read-min", defaultValue = "64K", converter = SizeConverter.class, paramLabel = "SIZE",
            description = "Reads of the image of at least SIZE bytes bypass the host's page cache (O_DIRECT): "
                    + "iomapfs caches file data itself, and the host's readahead over the image costs more device "
                    + "time than it saves (default ${DEFAULT-VALUE}; 0: every read through the host's cache).")
    long directReadMinBytes;
    @Option(names = "--writeback-cache", negatable = true, defaultValue = "false", fallbackValue = "true",
            description = "Let the kernel cache writes and send them to iomapfs in large batches (FUSE writeback "
                    + "cache; off by default: with it a full image reports ENOSPC only at fsync/close, not at "
                    + "write).")
    boolean writebackCache;
    @Option(names = "--cache-timeout", defaultValue = "" + DEFAULT_CACHE_TIMEOUT_SECONDS, paramLabel = "SECONDS",
            description = "How long the kernel caches names and attributes (default ${DEFAULT-VALUE}: the image is "
                    + "locked while mounted, every change passes through the kernel).")
    long cacheTimeoutSeconds;
    @Option(names = "--stats", description = "At unmount, print how many FUSE requests of each kind were served.")
    boolean stats;
    @Option(names = "--dax", description = "DAX: map the image into memory and copy file data straight to and from it "
            + "(no page cache for file data), as a persistent-memory device would be used.")
    boolean dax;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path img = image != null ? image : DEFAULT_IMAGE;
        Path mnt = mountpoint != null ? mountpoint : DEFAULT_MOUNTPOINT;
        if (maxFolioBytes < 4096 || maxFolioBytes > (2 << 20) || Long.bitCount(maxFolioBytes) != 1) {
            throw new UsageException("--max-folio must be a power of two from 4K to 2M");
        }
        if (spinMicros < 0 || spinMicros > 1000) {
            throw new UsageException("--spin-us must be 0..1000");
        }
        if (directReadMinBytes < 0 || directReadMinBytes > (1 << 30)) {
            throw new UsageException("--direct-read-min must be 0..1G");
        }
        if (warmupMillis < 0 || warmupMillis > 60_000) {
            throw new UsageException("--warmup-ms must be 0..60000");
        }
        if (cacheTimeoutSeconds < 0 || cacheTimeoutSeconds > 86_400) {
            throw new UsageException("--cache-timeout must be 0..86400 seconds");
        }
        java.time.Duration cacheTimeout = java.time.Duration.ofSeconds(cacheTimeoutSeconds);
        boolean root = Fusermount.geteuid() == 0;
        if (privateMount && allowOther) {
            throw new UsageException("--private and --allow-other contradict each other");
        }
        if (!root && (suid || dev)) {
            throw new UsageException((suid ? "--suid" : "--dev") + " needs root (fusermount3 refuses it to other users)");
        }
        boolean shared = root ? !privateMount : allowOther;
        if (!root || fusermount) {
            Fusermount.locate(); // one line saying how to get it, before anything is opened
            if (!root && allowOther && !Fusermount.userAllowOther()) {
                throw new FsException(Errno.EPERM, "--allow-other without root needs a line 'user_allow_other' in "
                        + "/etc/fuse.conf (or mount as root, where sharing is the default)");
            }
        }
        S3Url s3Url = S3Url.parse(image);
        if (s3Url != null) {
            return S3Mount.run(this, s3Url, shared);
        }
        if (!Files.exists(img)) {
            if (image != null) {
                throw new FsException(Errno.ENOENT, img + ": no such image (create one with 'iomapfs mkfs')");
            }
            MkfsCommand.create(img, DEFAULT_IMAGE_BYTES, 4096, 256, "iomapfs");
            if (!root) {
                // The user's own image: its root directory is theirs, or they could not write in their mount.
                int[] ids = MkfsCommand.callerIds();
                MkfsCommand.setRootOwner(img, ids[0], ids[1]);
            }
            out.println("iomapfs: created " + img + " (1 GiB sparse ext2" + (root ? "" : ", root directory yours")
                    + ")");
        }
        boolean createdMountpoint = Mountpoint.check(mnt, mountpoint == null, nonempty);
        ExtMountOptions opts = ExtMountOptions.defaults().withReadOnly(readOnly)
                .withCache(cacheBytes, (int) maxFolioBytes).withDax(dax).withNoatime(noatime)
                .withDirectReadMin((int) directReadMinBytes).withDelalloc(delalloc);
        OpenImage opened;
        try {
            opened = OpenImage.open(img, readOnly, opts);
        } catch (IOException | RuntimeException e) {
            Mountpoint.removeIfCreated(mnt, createdMountpoint);
            throw readOnlyHint(e, img);
        }
        boolean mountReadOnly = readOnly;
        if (!mountReadOnly && opened.fs().isReadOnly()) {
            // A feature this driver cannot write (has_journal, quota, ...): one line naming it, then read-only.
            out.println("iomapfs: " + img + ": " + opened.fs().readOnlyReason());
            mountReadOnly = true;
        }
        if (warmupMillis > 0) {
            // After opening the image (its errors come first), before the mount (the first request finds
            // compiled code).
            PrintWriter err = spec.commandLine().getErr();
            FuseWarmup.Result r = JitWarmup.run(opts, java.time.Duration.ofMillis(warmupMillis), common.debug, err);
            if (r != null && common.debug) {
                err.println("iomapfs: JIT warm-up: " + r.rounds() + " rounds, " + r.requests() + " requests in "
                        + r.elapsed().toMillis() + " ms, " + r.compileMillis() + " ms of JIT compilation");
                err.flush();
            }
        }
        FuseMount mount;
        try {
            mount = FuseMount.mount(opened.vfs(), mnt.toAbsolutePath(), FuseOptions.builder().readOnly(mountReadOnly)
                    .allowOther(shared).defaultPermissions(true).suid(suid).dev(dev).fusermount(fusermount)
                    .threads(threads).debug(common.debug).writebackCache(writebackCache)
                    .entryTimeout(cacheTimeout).attrTimeout(cacheTimeout).negativeTimeout(cacheTimeout)
                    .spinAfterReply(java.time.Duration.ofNanos(spinMicros * 1000L))
                    .fsName(img.toAbsolutePath().toString()).subtype("iomapfs").build());
        } catch (IOException | RuntimeException e) {
            opened.close();
            Mountpoint.removeIfCreated(mnt, createdMountpoint);
            throw e;
        }
        out.println("iomapfs: " + img + " mounted at " + mnt.toAbsolutePath()
                + (mountReadOnly ? " (read-only" : " (read-write") + (shared ? ", shared" : ", private")
                + (mount.viaFusermount() ? ", through fusermount3" : "") + "); stays in the foreground: Ctrl-C or "
                + "'iomapfs umount " + mnt + "' to unmount");
        out.flush();
        ForegroundMount.serve(mount, () -> {
            if (stats) {
                printStats(spec.commandLine().getErr(), mount.requestCounts());
            }
            opened.close();
            Mountpoint.removeIfCreated(mnt, createdMountpoint);
            out.println("iomapfs: unmounted " + mnt + "; " + img + " written back and clean");
            out.flush();
        });
        return 0;
    }

    /** {@code --stats}: one line, "iomapfs: N FUSE requests: LOOKUP n, ..." (opcode order). */
    static void printStats(PrintWriter err, java.util.Map<String, Long> counts) {
        long total = counts.values().stream().mapToLong(Long::longValue).sum();
        StringBuilder b = new StringBuilder("iomapfs: ").append(total).append(" FUSE requests:");
        counts.forEach((op, n) -> b.append(' ').append(op).append(' ').append(n).append(','));
        if (!counts.isEmpty()) {
            b.setLength(b.length() - 1);
        }
        err.println(b);
        err.flush();
    }

    /**
     * A read-write open refused because the image is not writable by this user (or lives on a read-only file
     * system) gets a hint to mount with {@code --ro}; anything else is returned as it is.
     */
    private Exception readOnlyHint(Exception e, Path img) {
        if (readOnly || !(e instanceof FsException fe)) {
            return e;
        }
        boolean denied = fe.errno() == Errno.EACCES || fe.errno() == Errno.EPERM || fe.errno() == Errno.EROFS;
        if (denied && Files.isReadable(img) && !Files.isWritable(img)) {
            return new FsException(fe.errno(), img + ": the image is read-only for you (" + fe.errno().description()
                    .toLowerCase(java.util.Locale.ROOT) + " opening it for writing); mount it with --ro", fe);
        }
        return e;
    }
}
