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
 * @param writebackCache     negotiate FUSE_WRITEBACK_CACHE (the kernel caches writes and owns size/mtime);
 *                           off by default
 * @param debug              log every request and its result at INFO
 * @param fsName             the mount source shown in /proc/mounts (e.g. the image path)
 * @param subtype            the type suffix: the mount shows as {@code fuse.<subtype>}
 * @param spinAfterReply     how long one reader thread that has just answered a request polls /dev/fuse for the
 *                           next one before it blocks in read(2) (default zero: off). Meant for VMs whose idle
 *                           vCPUs halt, where waking a blocked reader costs more than the request at queue depth
 *                           1. Measured on the 2-vCPU test VM with 20 µs: random 4 KiB reads +13..+27% in five
 *                           runs, -6..-18% in three others, ~10% more server CPU; hence not on by default.
 */
public record FuseOptions(boolean readOnly, boolean allowOther, boolean defaultPermissions, int threads,
        Duration entryTimeout, Duration attrTimeout, Duration negativeTimeout, boolean writebackCache, boolean debug,
        String fsName, String subtype, Duration spinAfterReply) {

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
        if (spinAfterReply.isNegative() || spinAfterReply.compareTo(Duration.ofMillis(1)) > 0) {
            throw new IllegalArgumentException("spinAfterReply must be 0..1 ms: " + spinAfterReply);
        }
        if (fsName.contains(",") || subtype.contains(",") || subtype.isEmpty()) {
            throw new IllegalArgumentException("fsName/subtype must not contain ',' (subtype not empty)");
        }
    }

    /** Read-write, default_permissions, 4 threads, 1 s timeouts, no writeback cache, source "iomap4j", no spin. */
    public static FuseOptions defaults() {
        return builder().build();
    }

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
        private boolean writebackCache;
        private boolean debug;
        private String fsName = "iomap4j";
        private String subtype = "iomap4j";
        private Duration spinAfterReply = Duration.ZERO;

        private Builder() {}

        public Builder readOnly(boolean v) {
            readOnly = v;
            return this;
        }

        public Builder allowOther(boolean v) {
            allowOther = v;
            return this;
        }

        public Builder defaultPermissions(boolean v) {
            defaultPermissions = v;
            return this;
        }

        public Builder threads(int v) {
            threads = v;
            return this;
        }

        public Builder entryTimeout(Duration v) {
            entryTimeout = v;
            return this;
        }

        public Builder attrTimeout(Duration v) {
            attrTimeout = v;
            return this;
        }

        public Builder negativeTimeout(Duration v) {
            negativeTimeout = v;
            return this;
        }

        public Builder writebackCache(boolean v) {
            writebackCache = v;
            return this;
        }

        public Builder debug(boolean v) {
            debug = v;
            return this;
        }

        public Builder fsName(String v) {
            fsName = v;
            return this;
        }

        public Builder subtype(String v) {
            subtype = v;
            return this;
        }

        public Builder spinAfterReply(Duration v) {
            spinAfterReply = v;
            return this;
        }

        public FuseOptions build() {
            return new FuseOptions(readOnly, allowOther, defaultPermissions, threads, entryTimeout, attrTimeout,
                    negativeTimeout, writebackCache, debug, fsName, subtype, spinAfterReply);
        }
    }
}
