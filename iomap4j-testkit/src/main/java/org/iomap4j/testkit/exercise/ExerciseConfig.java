package org.iomap4j.testkit.exercise;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * What an {@link Exerciser} run does: the seed that fixes the op sequence, the op count, the op mix (relative
 * weights per kind), the file size limit in bytes and the largest single I/O in bytes.
 *
 * @param seed         seeds java.util.Random; the same seed on the same target gives the same ops
 * @param ops          operations to run (at least 1)
 * @param mix          relative weight of each kind (absent = 0); kinds the target cannot do are left out
 * @param maxSizeBytes the file never grows beyond this (at least 4096)
 * @param maxOpBytes   largest read/write/zero/punch length
 * @param logTail      how many of the last ops a failure report prints
 */
public record ExerciseConfig(long seed, long ops, Map<Kind, Integer> mix, long maxSizeBytes, int maxOpBytes,
        int logTail) {

    /** Operation kinds and the capability each needs (null = always available). */
    public enum Kind {
        /** pread at a random offset. */
        READ(null, 20),
        /** pwrite of tagged bytes at a random offset. */
        WRITE(null, 20),
        /** ftruncate to a random size. */
        TRUNCATE(null, 4),
        /** fsync. */
        FSYNC(null, 2),
        /** fallocate(ZERO_RANGE), with or without KEEP_SIZE. */
        ZERO(ExerciseTarget.Capability.ZERO_RANGE, 3),
        /** fallocate(PUNCH_HOLE | KEEP_SIZE). */
        PUNCH(ExerciseTarget.Capability.PUNCH_HOLE, 3),
        /** O_DIRECT read, block aligned. */
        DREAD(ExerciseTarget.Capability.DIRECT_IO, 4),
        /** O_DIRECT write, block aligned. */
        DWRITE(ExerciseTarget.Capability.DIRECT_IO, 4),
        /** lseek(SEEK_DATA), checked against the model. */
        SEEK_DATA(ExerciseTarget.Capability.SEEK_DATA_HOLE, 2),
        /** lseek(SEEK_HOLE), checked against the model. */
        SEEK_HOLE(ExerciseTarget.Capability.SEEK_DATA_HOLE, 2),
        /** Drop the clean page cache. */
        DROP_CACHES(ExerciseTarget.Capability.DROP_CACHES, 1),
        /** Unmount and mount again; the file must keep its contents. */
        REMOUNT(ExerciseTarget.Capability.REMOUNT, 1),
        /** FIEMAP over the whole file, checked against the model. */
        FIEMAP(ExerciseTarget.Capability.FIEMAP, 1),
        /** fallocate mode 0 or KEEP_SIZE (preallocation; unwritten extents where the filesystem has them). */
        FALLOCATE(ExerciseTarget.Capability.PREALLOCATE, 3);

        final ExerciseTarget.Capability needs;
        final int defaultWeight;

        Kind(ExerciseTarget.Capability needs, int defaultWeight) {
            this.needs = needs;
            this.defaultWeight = defaultWeight;
        }

        /**
         * The mix name: lower case, e.g. {@code seek_data}.
         *
         * @return the name used in mix specs
         */
        public String mixName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Checks the configuration.
     *
     * @throws IllegalArgumentException if ops &lt; 1, maxSizeBytes outside 4096..2^40, or another limit is out of range
     */
    public ExerciseConfig {
        if (ops < 1) {
            throw new IllegalArgumentException("ops must be >= 1: " + ops);
        }
        if (maxSizeBytes < 4096 || maxSizeBytes > (1L << 40)) {
            throw new IllegalArgumentException("max size must be in [4096, 1 TiB]: " + maxSizeBytes);
        }
        if (maxOpBytes < 1 || maxOpBytes > (16 << 20)) {
            throw new IllegalArgumentException("max op size must be in [1, 16 MiB]: " + maxOpBytes);
        }
        EnumMap<Kind, Integer> m = new EnumMap<>(Kind.class);
        for (Map.Entry<Kind, Integer> e : mix.entrySet()) {
            if (e.getValue() < 0) {
                throw new IllegalArgumentException("negative weight for " + e.getKey().mixName());
            }
            m.put(e.getKey(), e.getValue());
        }
        mix = Collections.unmodifiableMap(m);
        logTail = Math.max(1, logTail);
    }

    /**
     * Every kind at its default weight.
     *
     * @return the default weights
     */
    public static Map<Kind, Integer> defaultMix() {
        EnumMap<Kind, Integer> m = new EnumMap<>(Kind.class);
        for (Kind k : Kind.values()) {
            m.put(k, k.defaultWeight);
        }
        return m;
    }

    /**
     * Default mix, 256 KiB files, 64 KiB ops, 40 ops in a failure's log tail.
     *
     * @param seed the run's seed
     * @param ops operations to run
     * @return the configuration
     */
    public static ExerciseConfig of(long seed, long ops) {
        return new ExerciseConfig(seed, ops, defaultMix(), 256 << 10, 64 << 10, 40);
    }

    /**
     * A copy with file size limit {@code bytes} (the op size limit clipped to it).
     *
     * @param bytes the largest file size in bytes
     * @return the copy
     */
    public ExerciseConfig withMaxSize(long bytes) {
        return new ExerciseConfig(seed, ops, mix, bytes, (int) Math.min(maxOpBytes, bytes), logTail);
    }

    /**
     * A copy with a different mix.
     *
     * @param newMix relative weight per kind
     * @return the copy
     */
    public ExerciseConfig withMix(Map<Kind, Integer> newMix) {
        return new ExerciseConfig(seed, ops, newMix, maxSizeBytes, maxOpBytes, logTail);
    }

    /**
     * Parses a mix like {@code read=20,write=20,remount=0}: named kinds get the given weight, the others keep
     * their default.
     *
     * @throws IllegalArgumentException naming an unknown kind or a bad weight
     * @param spec comma-separated {@code kind=weight} pairs
     * @return the weights, every kind present
     */
    public static Map<Kind, Integer> parseMix(String spec) {
        Map<Kind, Integer> m = defaultMix();
        if (spec == null || spec.isBlank()) {
            return m;
        }
        for (String part : spec.split(",")) {
            String[] kv = part.trim().split("=", 2);
            if (kv.length != 2) {
                throw new IllegalArgumentException("mix entry '" + part + "' is not kind=weight");
            }
            Kind k;
            try {
                k = Kind.valueOf(kv[0].trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown op kind '" + kv[0] + "' in mix (known: "
                        + java.util.Arrays.stream(Kind.values()).map(Kind::mixName).toList() + ")", e);
            }
            int w;
            try {
                w = Integer.parseInt(kv[1].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("weight '" + kv[1] + "' for " + k.mixName() + " is not a number", e);
            }
            if (w < 0) {
                throw new IllegalArgumentException("negative weight for " + k.mixName());
            }
            m.put(k, w);
        }
        return m;
    }
}
