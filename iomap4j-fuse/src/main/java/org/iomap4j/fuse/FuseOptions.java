package org.iomap4j.fuse;

import java.time.Duration;
import java.util.Objects;

/**
 * How {@link FuseMount#mount} mounts and serves a filesystem: mount flags, reader threads, kernel cache
 * timeouts and negotiated features. Build with {@link #builder()}; {@link #defaults()} is what the CLI uses.
 *
 * @param readOnly           mount with MS_RDONLY (the kernel refuses writes with EROFS)
 * @param allowOther         let users other than the mounter access the mount ({@code allow_other})
 * @param defaultPermissions let the kernel check modes ({@code default_permissions}); on by default
 * @param threads            reader threads, each with its own cloned /dev/fuse fd (1..64; default 4)
 * @param entryTimeout       how long the kernel caches a name → inode (default 1 s)
 * @param attrTimeout        how long the kernel caches attributes (default 1 s)
 * @param negativeTimeout    how long the kernel caches "name absent" (default 1 s; zero disables)
 * @param writebackCache     negotiate FUSE_WRITEBACK_CACHE (the kernel caches writes, sends them in large
 *                           WRITEs and owns size and mtime); on by default. ENOSPC still comes at write(2): the
 *                           {@link WritebackSpaceGuard} keeps a reserve for what the kernel may hold and answers
 *                           write opens with FOPEN_DIRECT_IO once free space runs low
 * @param writebackReserveBytes the guard's reserve in bytes (0: the kernel's per-mount dirty bound plus 32 MiB;
 *                           explicit: also sets the bdi's max_bytes to a quarter of it, as root)
 * @param debug              log every request and its result at INFO
 * @param fsName             the mount source shown in /proc/mounts (e.g. the image path)
 * @param subtype            the type suffix: the mount shows as {@code fuse.<subtype>}
 * @param spinAfterReply     how long one reader thread that has just answered a request polls /dev/fuse for the
 *                           next one before it blocks in read(2) (default zero: off). Meant for VMs whose idle
 *                           vCPUs halt, where waking a blocked reader costs more than the request at queue depth
 *                           1. Measured on the 2-vCPU test VM with 20 µs: random 4 KiB reads +13..+27% in five
 *                           runs, -6..-18% in three others, ~10% more server CPU; hence not on by default.
 * @param suid               honour set-user-ID and set-group-ID bits (no {@code MS_NOSUID}); off by default, as for
 *                           any mount of an untrusted image; root only (fusermount3 ignores it for users)
 * @param dev                allow device nodes to be opened (no {@code MS_NODEV}); off by default; root only
 * @param fusermount         mount through {@code fusermount3} even as root ({@link Fusermount}); a server whose
 *                           effective uid is not 0 always does
 * @param autoUnmount        with fusermount3: {@code auto_unmount}, the helper unmounts when the server dies
 *                           (default on)
 * @param ioUring            the transport: FUSE over io_uring (per-CPU queues, Linux 6.14+ with the fuse module's
 *                           {@code enable_uring} on) or /dev/fuse read/write; default {@link IoUringMode#AUTO}
 */
public record FuseOptions(boolean readOnly, boolean allowOther, boolean defaultPermissions, int threads,
        Duration entryTimeout, Duration attrTimeout, Duration negativeTimeout, boolean writebackCache,
        long writebackReserveBytes, boolean debug,
        String fsName, String subtype, Duration spinAfterReply, boolean suid, boolean dev, boolean fusermount,
        boolean autoUnmount, IoUringMode ioUring) {

    /** Whether requests are served through FUSE over io_uring ({@link FuseUring}) or read/write on /dev/fuse. */
    public enum IoUringMode {
        /** io_uring when the kernel offers it and the rings register; else /dev/fuse, with one log line saying why. */
        AUTO,
        /** io_uring or no mount: the mount fails with the reason when io_uring cannot serve it. */
        ON,
        /** /dev/fuse read/write only. */
        OFF
    }

    /**
     * Checks the options.
     *
     * @throws IllegalArgumentException threads outside 1..64, a negative timeout or reserve, spinAfterReply outside 0..1 ms, or a
     *     fsName/subtype containing ',' (or an empty subtype)
     * @throws NullPointerException for a null duration or name
     */
    public FuseOptions {
        if (threads < 1 || threads > 64) {
            throw new IllegalArgumentException("threads must be 1..64: " + threads);
        }
        Objects.requireNonNull(entryTimeout, "entryTimeout");
        Objects.requireNonNull(attrTimeout, "attrTimeout");
        Objects.requireNonNull(negativeTimeout, "negativeTimeout");
        if (entryTimeout.isNegative() || attrTimeout.isNegative() || negativeTimeout.isNegative()) {
            throw new IllegalArgumentException("timeouts must not be negative");
        }
        Objects.requireNonNull(fsName, "fsName");
        Objects.requireNonNull(subtype, "subtype");
        Objects.requireNonNull(spinAfterReply, "spinAfterReply");
        Objects.requireNonNull(ioUring, "ioUring");
        if (spinAfterReply.isNegative() || spinAfterReply.compareTo(Duration.ofMillis(1)) > 0) {
            throw new IllegalArgumentException("spinAfterReply must be 0..1 ms: " + spinAfterReply);
        }
        if (writebackReserveBytes < 0) {
            throw new IllegalArgumentException("writebackReserveBytes must not be negative: " + writebackReserveBytes);
        }
        if (fsName.contains(",") || subtype.contains(",") || subtype.isEmpty()) {
            throw new IllegalArgumentException("fsName/subtype must not contain ',' (subtype not empty)");
        }
    }

    /**
     * The {@code -o} list for fusermount3 (libfuse lib/mount.c passes the same words): {@code rw|ro},
     * {@code nosuid|suid}, {@code nodev|dev}, {@code default_permissions}, {@code allow_other},
     * {@code auto_unmount}, {@code fsname=}, {@code subtype=}. fusermount3 adds {@code fd}, {@code rootmode},
     * {@code user_id} and {@code group_id} itself.
     */
    String fusermountOptions() {
        StringBuilder o = new StringBuilder(readOnly ? "ro" : "rw");
        o.append(suid ? ",suid" : ",nosuid").append(dev ? ",dev" : ",nodev");
        if (defaultPermissions) {
            o.append(",default_permissions");
        }
        if (allowOther) {
            o.append(",allow_other");
        }
        if (autoUnmount) {
            o.append(",auto_unmount");
        }
        return o.append(",fsname=").append(fsName).append(",subtype=").append(subtype).toString();
    }

    /**
     * Read-write, default_permissions, nosuid, nodev, 4 threads, 1 s timeouts, the writeback cache (automatic
     * reserve), source "iomap4j", no spin; mount(2) as root, else fusermount3 with auto_unmount; FUSE over io_uring
     * when available.
     *
     * @return the default options
     */
    public static FuseOptions defaults() {
        return builder().build();
    }

    /** {@return a builder starting from {@link #defaults()}} */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from {@link #defaults()}' values. */
    public static final class Builder {
        private boolean readOnly;
        private boolean allowOther;
        private boolean defaultPermissions = true;
        private int threads = 4;
        private Duration entryTimeout = Duration.ofSeconds(1);
        private Duration attrTimeout = Duration.ofSeconds(1);
        private Duration negativeTimeout = Duration.ofSeconds(1);
        private boolean writebackCache = true;
        private long writebackReserveBytes;
        private boolean debug;
        private String fsName = "iomap4j";
        private String subtype = "iomap4j";
        private Duration spinAfterReply = Duration.ZERO;
        private boolean suid;
        private boolean dev;
        private boolean fusermount;
        private boolean autoUnmount = true;
        private IoUringMode ioUring = IoUringMode.AUTO;

        private Builder() {}

        /**
         * Sets {@link FuseOptions#readOnly}: mount with MS_RDONLY.
         *
         * @param v true for a read-only mount
         * @return this builder
         */
        public Builder readOnly(boolean v) {
            readOnly = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#allowOther}: let other users access the mount.
         *
         * @param v true for allow_other
         * @return this builder
         */
        public Builder allowOther(boolean v) {
            allowOther = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#defaultPermissions}: let the kernel check modes.
         *
         * @param v true for default_permissions
         * @return this builder
         */
        public Builder defaultPermissions(boolean v) {
            defaultPermissions = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#threads}: reader threads.
         *
         * @param v thread count, 1..64
         * @return this builder
         */
        public Builder threads(int v) {
            threads = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#entryTimeout}: kernel name cache timeout.
         *
         * @param v the timeout (not negative)
         * @return this builder
         */
        public Builder entryTimeout(Duration v) {
            entryTimeout = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#attrTimeout}: kernel attribute cache timeout.
         *
         * @param v the timeout (not negative)
         * @return this builder
         */
        public Builder attrTimeout(Duration v) {
            attrTimeout = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#negativeTimeout}: kernel negative entry cache timeout.
         *
         * @param v the timeout (zero disables)
         * @return this builder
         */
        public Builder negativeTimeout(Duration v) {
            negativeTimeout = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#writebackCache}: negotiate FUSE_WRITEBACK_CACHE.
         *
         * @param v true to negotiate it
         * @return this builder
         */
        public Builder writebackCache(boolean v) {
            writebackCache = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#writebackReserveBytes}: the free space kept for the kernel's writeback cache.
         *
         * @param v bytes, 0 for automatic
         * @return this builder
         */
        public Builder writebackReserveBytes(long v) {
            writebackReserveBytes = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#debug}: log every request.
         *
         * @param v true to log requests at INFO
         * @return this builder
         */
        public Builder debug(boolean v) {
            debug = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#fsName}: the mount source in /proc/mounts.
         *
         * @param v the source (no ',')
         * @return this builder
         */
        public Builder fsName(String v) {
            fsName = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#subtype}: the fuse.&lt;subtype&gt; type suffix.
         *
         * @param v the subtype (not empty, no ',')
         * @return this builder
         */
        public Builder subtype(String v) {
            subtype = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#spinAfterReply}: how long a reader polls after a reply.
         *
         * @param v the spin time, 0..1 ms
         * @return this builder
         */
        public Builder spinAfterReply(Duration v) {
            spinAfterReply = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#suid}: honour set-user-ID bits (root only).
         *
         * @param v true to omit MS_NOSUID
         * @return this builder
         */
        public Builder suid(boolean v) {
            suid = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#dev}: allow device nodes (root only).
         *
         * @param v true to omit MS_NODEV
         * @return this builder
         */
        public Builder dev(boolean v) {
            dev = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#fusermount}: mount through fusermount3 even as root.
         *
         * @param v true to use fusermount3
         * @return this builder
         */
        public Builder fusermount(boolean v) {
            fusermount = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#autoUnmount}: fusermount3's auto_unmount.
         *
         * @param v true to unmount when the server dies
         * @return this builder
         */
        public Builder autoUnmount(boolean v) {
            autoUnmount = v;
            return this;
        }

        /**
         * Sets {@link FuseOptions#ioUring}: the transport (io_uring, /dev/fuse, or io_uring when available).
         *
         * @param v the mode
         * @return this builder
         */
        public Builder ioUring(IoUringMode v) {
            ioUring = v;
            return this;
        }

        /**
         * Builds the options.
         *
         * @return the options
         * @throws IllegalArgumentException as the record's constructor
         */
        public FuseOptions build() {
            return new FuseOptions(readOnly, allowOther, defaultPermissions, threads, entryTimeout, attrTimeout,
                    negativeTimeout, writebackCache, writebackReserveBytes, debug, fsName, subtype, spinAfterReply, suid,
                    dev, fusermount, autoUnmount, ioUring);
        }
    }
}
