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
            description = "Memory for cached file data (default ${DEFAULT-VALUE}): half of it is the page cache's "
                    + "budget, the rest covers folio memory kept for reuse.")
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
    @Option(names = "--nodelalloc", description = "No delayed allocation for extent files (ext4), as the kernel's "
            + "mount option: writes into holes allocate unwritten extents at write(). Default: delalloc, as ext4's "
            + "(writes reserve space, writeback allocates large extents).")
    boolean nodelalloc;
    @Option(names = "--delalloc", hidden = true, description = "Delayed allocation (the default; kept for scripts).")
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
    @Option(names = "--no-writeback-cache", description = "Send every write to iomapfs as it happens instead of "
            + "letting the kernel cache writes and send them in large batches (the FUSE writeback cache, on by "
            + "default). With the cache ENOSPC still comes at write(): when free space falls near the kernel's "
            + "per-mount dirty limit plus a margin, new opens for writing bypass the kernel's cache.")
    boolean noWritebackCache;
    @Option(names = "--writeback-cache", description = "The FUSE writeback cache (the default; accepted so that "
            + "older command lines still work).")
    boolean writebackCacheFlag;
    @Option(names = "--writeback-reserve", defaultValue = "0", converter = SizeConverter.class, paramLabel = "SIZE",
            description = "With the writeback cache: free space kept for what the kernel may hold dirty (default "
                    + "0: automatic, the kernel's per-mount dirty limit, lowered as root to 1/16 of the image, plus "
                    + "1/16 of the image up to 32M; an explicit SIZE sets that limit to SIZE/4 as root). Below 2*SIZE "
                    + "free, write opens bypass the cache; below SIZE, cached writers get ENOSPC.")
    long writebackReserveBytes;
    @Option(names = "--cache-timeout", defaultValue = "" + DEFAULT_CACHE_TIMEOUT_SECONDS, paramLabel = "SECONDS",
            description = "How long the kernel caches names and attributes (default ${DEFAULT-VALUE}: the image is "
                    + "locked while mounted, every change passes through the kernel).")
    long cacheTimeoutSeconds;
    @Option(names = "--stats", description = "At unmount, print how many FUSE requests of each kind were served, and "
            + "through which transport (io_uring or /dev/fuse).")
    boolean stats;
    @Option(names = "--io-uring", defaultValue = "auto", paramLabel = "auto|on|off",
            description = "FUSE over io_uring: per-CPU queues instead of read/write on /dev/fuse (Linux 6.14+, the fuse "
                    + "module's enable_uring parameter on). auto (default): when available, else /dev/fuse with one "
                    + "log line saying why; on: fail the mount if unavailable; off: /dev/fuse only.")
    String ioUring;
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
        FuseOptions.IoUringMode ioUringMode = switch (ioUring.toLowerCase(java.util.Locale.ROOT)) {
            case "auto" -> FuseOptions.IoUringMode.AUTO;
            case "on" -> FuseOptions.IoUringMode.ON;
            case "off" -> FuseOptions.IoUringMode.OFF;
            default -> throw new UsageException("--io-uring must be auto, on or off: " + ioUring);
        };
        if (directReadMinBytes < 0 || directReadMinBytes > (1 << 30)) {
            throw new UsageException("--direct-read-min must be 0..1G");
        }
        if (warmupMillis < 0 || warmupMillis > 60_000) {
            throw new UsageException("--warmup-ms must be 0..60000");
        }
        if (noWritebackCache && writebackCacheFlag) {
            throw new UsageException("--writeback-cache and --no-writeback-cache contradict each other");
        }
        if (writebackReserveBytes < 0 || writebackReserveBytes > (1L << 40)) {
            throw new UsageException("--writeback-reserve must be 0..1T");
        }
        if (cacheTimeoutSeconds < 0 || cacheTimeoutSeconds > 86_400) {
            throw new UsageException("--cache-timeout must be 0..86400 seconds");
        }
        java.time.Duration cacheTimeout = java.time.Duration.ofSeconds(cacheTimeoutSeconds);
        boolean root = Fusermount.geteuid() == 0;
        if (privateMount && allowOther) {
            throw new UsageException("--private and --allow-other contradict each other");
        }
        if (delalloc && nodelalloc) {
            throw new UsageException("--delalloc and --nodelalloc contradict each other");
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
                .withCache(pageCacheBudgetBytes(cacheBytes), (int) maxFolioBytes).withDax(dax).withNoatime(noatime)
                .withDirectReadMin((int) directReadMinBytes).withDelalloc(!nodelalloc);
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
                    .threads(threads).debug(common.debug).writebackCache(!noWritebackCache).writebackReserveBytes(writebackReserveBytes)
                    .entryTimeout(cacheTimeout).attrTimeout(cacheTimeout).negativeTimeout(cacheTimeout)
                    .spinAfterReply(java.time.Duration.ofNanos(spinMicros * 1000L)).ioUring(ioUringMode)
                    .fsName(img.toAbsolutePath().toString()).subtype("iomapfs").build());
        } catch (IOException | RuntimeException e) {
            opened.close();
            Mountpoint.removeIfCreated(mnt, createdMountpoint);
            throw e;
        }
        out.println("iomapfs: " + img + " mounted at " + mnt.toAbsolutePath()
                + (mountReadOnly ? " (read-only" : " (read-write") + (shared ? ", shared" : ", private")
                + (mount.viaFusermount() ? ", through fusermount3" : "") + (nodelalloc ? ", nodelalloc" : "")
                + "); stays in the foreground: Ctrl-C or "
                + "'iomapfs umount " + mnt + "' to unmount");
        out.flush();
        ForegroundMount.serve(mount, () -> {
            if (stats) {
                printStats(spec.commandLine().getErr(), mount.requestCounts());
                printTransport(spec.commandLine().getErr(), mount.transport(), mount.transportCounts());
            }
            opened.close();
            Mountpoint.removeIfCreated(mnt, createdMountpoint);
            out.println("iomapfs: unmounted " + mnt + "; " + img + " written back and clean");
            out.flush();
        });
        return 0;
    }

    /**
     * The page cache's own budget for {@code --cache-size} C: half of C. Folio memory is native (mmap'd 2 MiB
     * slabs, outside the Java heap) and was measured at up to 1.9 times the page cache's budget while writing 5 GiB
     * (650 MiB of slabs mapped, all reachable after a full GC, for a 341 MiB budget): the page cache keeps up to half
     * its budget of evicted folio memory pooled for reuse (PageCache's FolioPool), and a slab stays mapped while any
     * folio carved from it lives. Half of C keeps the process within C + 150 MiB (issue 17's memory target; 748 MiB
     * with the whole 512 MiB as budget before, docs/benchmarks.md). With the kernel's writeback cache on (the
     * default) the kernel holds recently written and read data as well, so the smaller server cache costs little.
     *
     * @param cacheBytes {@code --cache-size} in bytes
     * @return the page cache budget in bytes (at least 1 MiB)
     */
    static long pageCacheBudgetBytes(long cacheBytes) {
        return Math.max(1L << 20, cacheBytes / 2);
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
     * {@code --stats}: one line, "iomapfs: transport io_uring (2 queues x 2 workers): io_uring N, /dev/fuse M" (INIT,
     * FORGET and INTERRUPT always use /dev/fuse).
     */
    static void printTransport(PrintWriter err, String transport, java.util.Map<String, Long> counts) {
        StringBuilder b = new StringBuilder("iomapfs: transport ").append(transport).append(':');
        counts.forEach((t, n) -> b.append(' ').append(t).append(' ').append(n).append(','));
        b.setLength(b.length() - 1);
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
