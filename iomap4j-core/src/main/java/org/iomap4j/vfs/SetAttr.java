package org.iomap4j.vfs;

/**
 * The changes of one setattr call; a null field is left as it is. Setting {@code sizeBytes} truncates or
 * extends the file. {@code atimeNow}/{@code mtimeNow} mean UTIME_NOW. {@code atimeNsec}/{@code mtimeNsec}
 * (0..999,999,999) are the nanoseconds of an explicit {@code atimeSec}/{@code mtimeSec} (utimensat); a filesystem
 * stores what its timestamps can hold. ctime is set to {@code ctimeSec}/{@code ctimeNsec} when given (a FUSE
 * kernel with the writeback cache owns ctime and sends it, FATTR_CTIME), else to now, also when every field is
 * null ({@link #CTIME_ONLY}: the kernel's notify_change always sets ATTR_CTIME, so chown(f, -1, -1) moves ctime
 * on ext4).
 */
public record SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, Long atimeSec, Long mtimeSec,
        boolean atimeNow, boolean mtimeNow, int atimeNsec, int mtimeNsec, Long ctimeSec, int ctimeNsec) {

    public SetAttr {
        if (atimeNsec < 0 || atimeNsec > 999_999_999 || mtimeNsec < 0 || mtimeNsec > 999_999_999
                || ctimeNsec < 0 || ctimeNsec > 999_999_999) {
            throw new IllegalArgumentException("nanoseconds " + atimeNsec + "/" + mtimeNsec + "/" + ctimeNsec
                    + " outside 0..999999999");
        }
    }

    /** Changes with whole-second times (nanoseconds 0) and no explicit ctime (ctime becomes now). */
    public SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, Long atimeSec, Long mtimeSec,
            boolean atimeNow, boolean mtimeNow) {
        this(mode, uid, gid, sizeBytes, atimeSec, mtimeSec, atimeNow, mtimeNow, 0, 0, null, 0);
    }

    /** utimensat with nanoseconds. */
    public static SetAttr times(long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec) {
        return new SetAttr(null, null, null, null, atimeSec, mtimeSec, false, false, atimeNsec, mtimeNsec, null, 0);
    }

    /** No field changes: only ctime moves to now. */
    public static final SetAttr CTIME_ONLY = new SetAttr(null, null, null, null, null, null, false, false);

    public static SetAttr size(long sizeBytes) {
        return new SetAttr(null, null, null, sizeBytes, null, null, false, false);
    }

    public static SetAttr mode(int mode) {
        return new SetAttr(mode, null, null, null, null, null, false, false);
    }

    public static SetAttr owner(Integer uid, Integer gid) {
        return new SetAttr(null, uid, gid, null, null, null, false, false);
    }

    public static SetAttr times(Long atimeSec, Long mtimeSec) {
        return new SetAttr(null, null, null, null, atimeSec, mtimeSec, false, false);
    }
}
