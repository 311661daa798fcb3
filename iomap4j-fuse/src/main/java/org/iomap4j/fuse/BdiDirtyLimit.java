package org.iomap4j.fuse;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The kernel's bound on the dirty page cache of one FUSE mount: how many bytes of writes the kernel may hold
 * (dirty or under writeback) that the server has not yet seen. {@link WritebackSpaceGuard} keeps that much space
 * free so that data a write(2) was told is written always fits on the image.
 *
 * <p>Kernel facts (fs/fuse/inode.c fuse_bdi_init; mm/page-writeback.c; Documentation/ABI/testing/sysfs-class-bdi):
 * every FUSE superblock gets its own backing_dev_info named {@code MAJOR:MINOR} of its st_dev, with
 * BDI_CAP_STRICTLIMIT (the bdi's own limit throttles writers even below the global freerun threshold; with it the
 * bdi's dirty count includes pages under writeback, which FUSE accounts itself) and {@code bdi_set_max_ratio(bdi, 1)}:
 * at most 1% of the global dirty threshold. The global threshold is {@code vm.dirty_bytes}, or
 * {@code vm.dirty_ratio}% of dirtyable memory (free + file pages, at most MemTotal). Kernels from 6.2 show
 * {@code /sys/class/bdi/<bdi>/max_ratio_fine} (parts per million) and {@code max_bytes} (the ratio applied to the
 * current threshold), both writable by root; older ones {@code max_ratio} (percent).
 *
 * <p>Because the threshold follows free memory, the bound used here is the ratio applied to the largest threshold
 * possible: dirty_bytes, or dirty_ratio% of MemTotal. Stateless; every method reads sysfs/procfs afresh.
 */
final class BdiDirtyLimit {
    private static final Logger LOG = System.getLogger(BdiDirtyLimit.class.getName());
    /** FUSE's own max_ratio (fuse_bdi_init), in parts per million. */
    static final long FUSE_DEFAULT_RATIO_PPM = 10_000;
    private static final Path SYSFS = Path.of("/sys/class/bdi");

    private BdiDirtyLimit() {
    }

    /**
     * The bdi name of a FUSE superblock: {@code MAJOR:MINOR} of st_dev, decoded as glibc's gnu_dev_major/minor.
     *
     * @param stDev st_dev of any file on the mount (e.g. {@code Files.getAttribute(mnt, "unix:dev")})
     */
    static String name(long stDev) {
        long major = ((stDev >>> 8) & 0xfff) | ((stDev >>> 32) & ~0xfffL);
        long minor = (stDev & 0xff) | ((stDev >>> 12) & ~0xffL);
        return major + ":" + minor;
    }

    /**
     * The most the kernel may hold dirty for bdi {@code bdi}, in bytes: its max ratio (read from sysfs; FUSE's 1% if
     * unreadable) times {@link #globalDirtyLimitUpperBytes()}, and at least sysfs' {@code max_bytes}.
     */
    static long boundBytes(String bdi) {
        long ppm = FUSE_DEFAULT_RATIO_PPM;
        Long fine = readLong(SYSFS.resolve(bdi).resolve("max_ratio_fine"));
        if (fine != null) {
            ppm = fine;
        } else {
            Long percent = readLong(SYSFS.resolve(bdi).resolve("max_ratio"));
            if (percent != null) {
                ppm = percent * 10_000;
            }
        }
        long bound = boundBytes(ppm);
        Long maxBytes = readLong(SYSFS.resolve(bdi).resolve("max_bytes"));
        return maxBytes != null ? Math.max(bound, maxBytes) : bound;
    }

    /** {@code ratioPpm} parts per million of {@link #globalDirtyLimitUpperBytes()}. */
    static long boundBytes(long ratioPpm) {
        return globalDirtyLimitUpperBytes() / 1000 * ratioPpm / 1000; // no overflow below 9 PB
    }

    /**
     * The largest global dirty threshold: {@code vm.dirty_bytes} when set, else {@code vm.dirty_ratio}% (20 if
     * unreadable) of MemTotal (16 GiB if unreadable).
     */
    static long globalDirtyLimitUpperBytes() {
        Long dirtyBytes = readLong(Path.of("/proc/sys/vm/dirty_bytes"));
        if (dirtyBytes != null && dirtyBytes > 0) {
            return dirtyBytes;
        }
        Long ratio = readLong(Path.of("/proc/sys/vm/dirty_ratio"));
        return memTotalBytes() / 100 * (ratio != null ? ratio : 20);
    }

    /**
     * Sets the bdi's max_bytes (root, kernel 6.2+): the kernel turns it into a ratio of the current threshold.
     *
     * @return whether the kernel took it
     */
    static boolean setMaxBytes(String bdi, long bytes) {
        Path p = SYSFS.resolve(bdi).resolve("max_bytes");
        try {
            Files.writeString(p, Long.toString(bytes));
            return true;
        } catch (IOException | SecurityException e) {
            LOG.log(Level.DEBUG, () -> "cannot write " + p + ": " + e);
            return false;
        }
    }

    private static long memTotalBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    String[] f = line.trim().split("\\s+");
                    return Long.parseLong(f[1]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "cannot read /proc/meminfo: " + e);
        }
        return 16L << 30;
    }

    /** The first line of a small sysfs/procfs file as a number, or null (read line-wise: size-0 files). */
    private static Long readLong(Path p) {
        try {
            List<String> lines = Files.readAllLines(p);
            return lines.isEmpty() ? null : Long.parseLong(lines.get(0).trim());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
