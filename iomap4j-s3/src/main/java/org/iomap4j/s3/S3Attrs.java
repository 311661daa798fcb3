package org.iomap4j.s3;

import java.util.HashMap;
import java.util.Map;

/**
 * POSIX attributes in S3 user metadata, with the names s3fs-fuse uses so that both read each other's objects:
 * {@code x-amz-meta-mode} (decimal st_mode, type bits included), {@code -uid}, {@code -gid}, {@code -mtime}
 * (seconds since the epoch). Objects without them get the mount's defaults.
 */
final class S3Attrs {
    static final String MODE = "mode";
    static final String UID = "uid";
    static final String GID = "gid";
    static final String MTIME = "mtime";

    private S3Attrs() {
    }

    static Map<String, String> of(int mode, int uid, int gid, long mtimeSec) {
        Map<String, String> m = new HashMap<>();
        m.put(MODE, Integer.toString(mode));
        m.put(UID, Integer.toString(uid));
        m.put(GID, Integer.toString(gid));
        m.put(MTIME, Long.toString(mtimeSec));
        return m;
    }

    /** The metadata value as an int, or {@code dflt} when absent or not a number. */
    static int intOr(Map<String, String> meta, String name, int dflt) {
        String v = meta == null ? null : meta.get(name);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    static long longOr(Map<String, String> meta, String name, long dflt) {
        String v = meta == null ? null : meta.get(name);
        if (v == null) {
            return dflt;
        }
        try {
            return (long) Double.parseDouble(v.trim()); // rclone writes fractional seconds
        } catch (NumberFormatException e) {
            return dflt;
        }
    }
}
