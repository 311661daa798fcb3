package org.iomap4j.vfs;

/**
 * The changes of one setattr call; a null field is left as it is. Setting {@code sizeBytes} truncates or
 * extends the file. {@code atimeNow}/{@code mtimeNow} mean UTIME_NOW. ctime is always set to now, also when every
 * field is null ({@link #CTIME_ONLY}: the kernel's notify_change always sets ATTR_CTIME, so chown(f, -1, -1) moves
 * ctime on ext4). {@code atimeNsec}/{@code mtimeNsec} (0..999,999,999) are the nanoseconds of an explicit
 * {@code atimeSec}/{@code mtimeSec} (utimensat); a filesystem stores what its timestamps can hold.
 */
public record SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, Long atimeSec, Long mtimeSec,
        boolean atimeNow, boolean mtimeNow, int atimeNsec, int mtimeNsec) {

    public SetAttr {
        if (atimeNsec < 0 || atimeNsec > 999_999_999 || mtimeNsec < 0 || mtimeNsec > 999_999_999) {
            throw new IllegalArgumentException("nanoseconds " + atimeNsec + "/" + mtimeNsec + " outside 0..999999999");
        }
    }

    /** Changes with whole-second times (nanoseconds 0). */
    public SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, Long atimeSec, Long mtimeSec,
            boolean atimeNow, boolean mtimeNow) {
        this(mode, uid, gid, sizeBytes, atimeSec, mtimeSec, atimeNow, mtimeNow, 0, 0);
    }

    /** utimensat with nanoseconds. */
    public static SetAttr times(long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec) {
        return new SetAttr(null, null, null, null, atimeSec, mtimeSec, false, false, atimeNsec, mtimeNsec);
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
