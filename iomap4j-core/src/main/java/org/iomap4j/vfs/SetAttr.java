package org.iomap4j.vfs;

/**
 * The changes of one setattr call; a null field is left as it is. Setting {@code sizeBytes} truncates or
 * extends the file. {@code atimeNow}/{@code mtimeNow} mean UTIME_NOW. ctime is set to {@code ctimeSec} when given
 * (a FUSE kernel with the writeback cache owns ctime and sends it, FATTR_CTIME), else to now when anything changes.
 */
public record SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, Long atimeSec, Long mtimeSec,
        boolean atimeNow, boolean mtimeNow, Long ctimeSec) {

    /** Changes without an explicit ctime (ctime becomes now). */
    public SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, Long atimeSec, Long mtimeSec,
            boolean atimeNow, boolean mtimeNow) {
        this(mode, uid, gid, sizeBytes, atimeSec, mtimeSec, atimeNow, mtimeNow, null);
    }

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
