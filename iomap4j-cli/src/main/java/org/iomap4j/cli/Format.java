package org.iomap4j.cli;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;

/** Text formats shared by the listing commands: ls-style mode strings, times, sizes. */
final class Format {
    private Format() {}

    private static final DateTimeFormatter LS_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")
            .withZone(ZoneId.systemDefault());
    private static final DateTimeFormatter STAT_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSSSSS Z")
            .withZone(ZoneId.systemDefault());

    /** "drwxr-xr-x" for a st_mode. */
    static String modeString(int mode) {
        char type = switch (mode & FileMode.S_IFMT) {
            case FileMode.S_IFDIR -> 'd';
            case FileMode.S_IFLNK -> 'l';
            case FileMode.S_IFCHR -> 'c';
            case FileMode.S_IFBLK -> 'b';
            case FileMode.S_IFIFO -> 'p';
            case FileMode.S_IFSOCK -> 's';
            default -> '-';
        };
        StringBuilder sb = new StringBuilder().append(type);
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            sb.append((mode & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-');
        }
        if ((mode & 04000) != 0) {
            sb.setCharAt(3, (mode & 0100) != 0 ? 's' : 'S');
        }
        if ((mode & 02000) != 0) {
            sb.setCharAt(6, (mode & 010) != 0 ? 's' : 'S');
        }
        if ((mode & 01000) != 0) {
            sb.setCharAt(9, (mode & 01) != 0 ? 't' : 'T');
        }
        return sb.toString();
    }

    static String typeName(int mode) {
        return switch (mode & FileMode.S_IFMT) {
            case FileMode.S_IFDIR -> "directory";
            case FileMode.S_IFLNK -> "symbolic link";
            case FileMode.S_IFCHR -> "character special file";
            case FileMode.S_IFBLK -> "block special file";
            case FileMode.S_IFIFO -> "fifo";
            case FileMode.S_IFSOCK -> "socket";
            default -> "regular file";
        };
    }

    static String lsTime(long epochSec) {
        return LS_TIME.format(Instant.ofEpochSecond(epochSec));
    }

    static String statTime(long epochSec, int nsec) {
        return STAT_TIME.format(Instant.ofEpochSecond(epochSec, nsec));
    }

    /** One "ls -l" line without the name. */
    static String longListing(InodeAttr a) {
        int type = a.mode() & FileMode.S_IFMT;
        // Device nodes show "major, minor" in the size column, as ls(1); everything else (fifos and sockets too)
        // its size.
        String size = type == FileMode.S_IFCHR || type == FileMode.S_IFBLK
                ? (major(a.rdev()) + ", " + minor(a.rdev()))
                : Long.toString(a.sizeBytes());
        return String.format("%s %3d %5d %5d %10s %s", modeString(a.mode()), a.nlink(), a.uid(), a.gid(), size,
                lsTime(a.mtimeSec()));
    }

    /** Linux dev_t major (new encoding). */
    static long major(long rdev) {
        return ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
    }

    static long minor(long rdev) {
        return (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
    }
}
