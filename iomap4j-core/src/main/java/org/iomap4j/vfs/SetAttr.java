package org.iomap4j.vfs;

/**
 * The changes of one setattr call; a null field is left as it is. Setting {@code sizeBytes} truncates or
 * extends the file. {@code atimeNow}/{@code mtimeNow} mean UTIME_NOW. {@code atimeNsec}/{@code mtimeNsec}
 * (0..999,999,999) are the nanoseconds of an explicit {@code atimeSec}/{@code mtimeSec} (utimensat); a filesystem
 * stores what its timestamps can hold. ctime is set to {@code ctimeSec}/{@code ctimeNsec} when given (a FUSE
 * kernel with the writeback cache owns ctime and sends it, FATTR_CTIME), else to now, also when every field is
 * null ({@link #CTIME_ONLY}: the kernel's notify_change always sets ATTR_CTIME, so chown(f, -1, -1) moves ctime
 * on ext4).
 *
 * @param mode new permission bits (the file type bits are ignored), or null
 * @param uid new owner, or null
 * @param gid new group, or null
 * @param sizeBytes new size in bytes, or null
 * @param atimeSec new access time in seconds since the epoch, or null
 * @param mtimeSec new modification time in seconds since the epoch, or null
 * @param atimeNow set the access time to now (UTIME_NOW)
 * @param mtimeNow set the modification time to now (UTIME_NOW)
 * @param atimeNsec nanoseconds of {@code atimeSec} (0..999,999,999)
 * @param mtimeNsec nanoseconds of {@code mtimeSec} (0..999,999,999)
 * @param ctimeSec explicit change time in seconds since the epoch, or null for now
 * @param ctimeNsec nanoseconds of {@code ctimeSec} (0..999,999,999)
 */
public record SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, Long atimeSec, Long mtimeSec,
        boolean atimeNow, boolean mtimeNow, int atimeNsec, int mtimeNsec, Long ctimeSec, int ctimeNsec) {

    /**
     * Checks the nanosecond fields.
     *
     * @throws IllegalArgumentException if a nanosecond field lies outside 0..999,999,999
     */
    public SetAttr {
        if (atimeNsec < 0 || atimeNsec > 999_999_999 || mtimeNsec < 0 || mtimeNsec > 999_999_999
                || ctimeNsec < 0 || ctimeNsec > 999_999_999) {
            throw new IllegalArgumentException("nanoseconds " + atimeNsec + "/" + mtimeNsec + "/" + ctimeNsec
                    + " outside 0..999999999");
        }
    }

    /**
     * Changes with whole-second times (nanoseconds 0) and no explicit ctime (ctime becomes now).
     *
     * @param mode new permission bits, or null
     * @param uid new owner, or null
     * @param gid new group, or null
     * @param sizeBytes new size in bytes, or null
     * @param atimeSec new access time in seconds since the epoch, or null
     * @param mtimeSec new modification time in seconds since the epoch, or null
     * @param atimeNow set the access time to now (UTIME_NOW)
     * @param mtimeNow set the modification time to now (UTIME_NOW)
     */
    public SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, Long atimeSec, Long mtimeSec,
            boolean atimeNow, boolean mtimeNow) {
        this(mode, uid, gid, sizeBytes, atimeSec, mtimeSec, atimeNow, mtimeNow, 0, 0, null, 0);
    }

    /**
     * utimensat with nanoseconds.
     *
     * @param atimeSec access time, seconds since the epoch
     * @param atimeNsec its nanoseconds (0..999,999,999)
     * @param mtimeSec modification time, seconds since the epoch
     * @param mtimeNsec its nanoseconds (0..999,999,999)
     * @return the change of both times
     */
    public static SetAttr times(long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec) {
        return new SetAttr(null, null, null, null, atimeSec, mtimeSec, false, false, atimeNsec, mtimeNsec, null, 0);
    }

    /** No field changes: only ctime moves to now. */
    public static final SetAttr CTIME_ONLY = new SetAttr(null, null, null, null, null, null, false, false);

    /**
     * truncate(2)/ftruncate: only the size changes.
     *
     * @param sizeBytes the new size in bytes
     * @return the change
     */
    public static SetAttr size(long sizeBytes) {
        return new SetAttr(null, null, null, sizeBytes, null, null, false, false);
    }

    /**
     * chmod(2): only the permission bits change.
     *
     * @param mode the new permission bits
     * @return the change
     */
    public static SetAttr mode(int mode) {
        return new SetAttr(mode, null, null, null, null, null, false, false);
    }

    /**
     * chown(2): owner and/or group change.
     *
     * @param uid the new owner, or null to keep it
     * @param gid the new group, or null to keep it
     * @return the change
     */
    public static SetAttr owner(Integer uid, Integer gid) {
        return new SetAttr(null, uid, gid, null, null, null, false, false);
    }

    /**
     * utimes with whole seconds.
     *
     * @param atimeSec access time in seconds since the epoch, or null to keep it
     * @param mtimeSec modification time in seconds since the epoch, or null to keep it
     * @return the change
     */
    public static SetAttr times(Long atimeSec, Long mtimeSec) {
        return new SetAttr(null, null, null, null, atimeSec, mtimeSec, false, false);
    }
}
