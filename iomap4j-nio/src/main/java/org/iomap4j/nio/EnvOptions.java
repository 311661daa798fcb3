package org.iomap4j.nio;

import java.util.Locale;
import java.util.Map;

/**
 * The env map of {@link java.nio.file.FileSystems#newFileSystem(java.nio.file.Path, Map)} read once. Values may be
 * given as their type or as strings ({@code "true"}, {@code "64M"}); keys this provider does not know are ignored,
 * as the JDK's providers do (the same map is offered to every installed provider).
 *
 * <ul>
 *   <li>{@code readOnly} (Boolean): mount read-only; every change throws ReadOnlyFileSystemException</li>
 *   <li>{@code create} (Boolean): create and format the image if the file is absent or empty; needs {@code size}</li>
 *   <li>{@code size} (Long bytes, or a String with K/M/G suffix): size of a created image</li>
 *   <li>{@code blockSize} (Integer bytes): block size of a created image, 1024/2048/4096 (default 4096)</li>
 *   <li>{@code cacheSize} (bytes): page-cache budget</li>
 *   <li>{@code dax}, {@code noatime} (Boolean): mount options as {@code iomapfs mount --dax/--noatime}</li>
 *   <li>{@code directReadMin} (bytes): device reads from this size bypass the host page cache (0: never)</li>
 *   <li>{@code watchIntervalMillis} (Long): polling interval of WatchServices (default 200)</li>
 * </ul>
 */
record EnvOptions(boolean readOnly, boolean create, long sizeBytes, int blockSizeBytes, long cacheBytes, boolean dax,
        boolean noatime, int directReadMinBytes, long watchIntervalMillis) {

    static EnvOptions of(Map<String, ?> env) {
        return new EnvOptions(bool(env, "readOnly"), bool(env, "create"), bytes(env, "size", -1),
                (int) bytes(env, "blockSize", 4096), bytes(env, "cacheSize", -1), bool(env, "dax"),
                bool(env, "noatime"), (int) bytes(env, "directReadMin", -1), bytes(env, "watchIntervalMillis", 200));
    }

    private static boolean bool(Map<String, ?> env, String key) {
        Object v = env.get(key);
        if (v == null) {
            return false;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        String s = v.toString().trim().toLowerCase(Locale.ROOT);
        return switch (s) {
            case "true", "yes", "1" -> true;
            case "false", "no", "0" -> false;
            default -> throw new IllegalArgumentException("env '" + key + "' must be a boolean: " + v);
        };
    }

    /** A byte count: a Number, or a String "123", "64K", "16M", "2G". */
    static long bytes(Map<String, ?> env, String key, long dflt) {
        Object v = env.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return n.longValue();
        }
        String s = v.toString().trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (s.endsWith("K") || s.endsWith("M") || s.endsWith("G") || s.endsWith("T")) {
            mult = switch (s.charAt(s.length() - 1)) {
                case 'K' -> 1L << 10;
                case 'M' -> 1L << 20;
                case 'G' -> 1L << 30;
                default -> 1L << 40;
            };
            s = s.substring(0, s.length() - 1);
        }
        try {
            return Math.multiplyExact(Long.parseLong(s), mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("env '" + key + "' must be a byte count like 64M: " + v, e);
        }
    }
}
