package org.iomap4j.testkit.vfs;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;

/**
 * One inode of {@link MemoryVfs}: attributes plus, by type, the data pages of a regular file (sparse: an absent
 * page is a hole), the entries of a directory, or the target of a symlink. Guarded by the {@link MemoryVfs}
 * store's monitor; never touched without it.
 */
final class MemoryInode {
    /** Size of a data page in bytes: the allocation unit, st_blksize and statfs's block size. */
    static final int PAGE_BYTES = 4096;

    final long ino;
    final long generation;
    int mode;
    int nlink;
    int uid;
    int gid;
    long rdev;
    long atimeSec;
    int atimeNsec;
    long mtimeSec;
    int mtimeNsec;
    long ctimeSec;
    int ctimeNsec;
    /** Lookup references held by front ends (the kernel's nlookup). */
    long lookups;
    /** Open handles. */
    int openHandles;

    // Regular files: i_size and the pages (page index -> PAGE_BYTES bytes). An absent page reads as zeroes.
    long sizeBytes;
    final TreeMap<Long, byte[]> pages = new TreeMap<>();

    // Directories: entries by readdir cookie (stable, never reused) and the cookie of each name.
    final TreeMap<Long, Entry> entries = new TreeMap<>();
    final Map<String, Long> cookieByName = new HashMap<>();
    /** Next readdir cookie; 1 and 2 are "." and "..". */
    long nextCookie = 3;
    /** The parent directory (directories only; the root is its own parent). */
    long parentIno;

    // Symlinks.
    String target;

    /** Extended attributes by full name ({@link MemoryXattrs}). */
    final Map<String, byte[]> xattrs = new java.util.TreeMap<>();

    /** One directory entry. */
    record Entry(String name, long ino, int dtype) {
    }

    MemoryInode(long ino, long generation, int mode, int uid, int gid, long rdev, long nowSec, int nowNsec) {
        this.ino = ino;
        this.generation = generation;
        this.mode = mode;
        this.uid = uid;
        this.gid = gid;
        this.rdev = rdev;
        this.atimeSec = this.mtimeSec = this.ctimeSec = nowSec;
        this.atimeNsec = this.mtimeNsec = this.ctimeNsec = nowNsec;
    }

    boolean isDirectory() {
        return FileMode.isDirectory(mode);
    }

    boolean isRegular() {
        return FileMode.isRegular(mode);
    }

    /** The entry called {@code name}, or null. */
    Entry entry(String name) {
        Long c = cookieByName.get(name);
        return c == null ? null : entries.get(c);
    }

    void addEntry(String name, long childIno, int dtype) {
        long c = nextCookie++;
        entries.put(c, new Entry(name, childIno, dtype));
        cookieByName.put(name, c);
    }

    /** Points the existing entry {@code name} at another inode, keeping its readdir cookie. */
    void replaceEntry(String name, long childIno, int dtype) {
        long c = cookieByName.get(name);
        entries.put(c, new Entry(name, childIno, dtype));
    }

    void removeEntry(String name) {
        Long c = cookieByName.remove(name);
        if (c != null) {
            entries.remove(c);
        }
    }

    InodeAttr attr() {
        long bytes = isRegular() ? (long) pages.size() * PAGE_BYTES
                : target != null ? 0 : isDirectory() ? PAGE_BYTES : 0;
        long size = isRegular() ? sizeBytes
                : isDirectory() ? PAGE_BYTES
                : target != null ? target.getBytes(java.nio.charset.StandardCharsets.UTF_8).length : 0;
        return new InodeAttr(ino, mode, nlink, uid, gid, rdev, size, bytes / 512, PAGE_BYTES, atimeSec, atimeNsec,
                mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, generation);
    }

    /**
     * RENAME_EXCHANGE of the entries {@code od/oldName} (inode {@code src}) and {@code nd/newName} (inode
     * {@code target}), both present and distinct: swaps the entries, moves a directory's ".." link between the
     * parents when only one of the two is a directory, and touches ctime of both inodes and mtime of both parents
     * (as the kernel's vfs_rename with RENAME_EXCHANGE).
     */
    static void exchange(MemoryInode od, String oldName, MemoryInode nd, String newName, MemoryInode src,
            MemoryInode target) {
        od.replaceEntry(oldName, target.ino, FileMode.dtype(target.mode));
        nd.replaceEntry(newName, src.ino, FileMode.dtype(src.mode));
        if (od != nd && src.isDirectory() != target.isDirectory()) {
            MemoryInode dirMoved = src.isDirectory() ? src : target;
            MemoryInode from = dirMoved == src ? od : nd;
            MemoryInode to = dirMoved == src ? nd : od;
            from.nlink--;
            to.nlink++;
        }
        if (src.isDirectory()) {
            src.parentIno = nd.ino;
        }
        if (target.isDirectory()) {
            target.parentIno = od.ino;
        }
        MemoryInode.touchCtime(src);
        MemoryInode.touchCtime(target);
        MemoryInode.touchMtime(od);
        MemoryInode.touchMtime(nd);
    }

    /** fallocate's argument checks (EBADF, EINVAL, EOPNOTSUPP, EFBIG as the kernel's vfs_fallocate); returns the end. */
    static long checkFallocate(MemoryInode i, int openFlags, int mode, long offsetBytes, long lengthBytes)
            throws FsException {
        if ((openFlags & Vfs.O_ACCMODE) == Vfs.O_RDONLY) {
            throw new FsException(Errno.EBADF, "inode " + i.ino + ": handle not open for writing");
        }
        if (offsetBytes < 0 || lengthBytes <= 0) {
            throw new FsException(Errno.EINVAL, "inode " + i.ino + ": fallocate range " + offsetBytes + "+"
                    + lengthBytes);
        }
        if ((mode & ~(Vfs.FALLOC_FL_KEEP_SIZE | Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_ZERO_RANGE)) != 0
                || ((mode & Vfs.FALLOC_FL_PUNCH_HOLE) != 0 && mode != (Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE))) {
            throw new FsException(Errno.EOPNOTSUPP, "inode " + i.ino + ": fallocate mode 0x"
                    + Integer.toHexString(mode));
        }
        long end = offsetBytes + lengthBytes;
        if (end < 0 || end > MemoryVfs.MAX_FILE_BYTES) {
            throw new FsException(Errno.EFBIG, "inode " + i.ino + ": fallocate to " + end);
        }
        return end;
    }

    /** True if {@code d} is {@code ancestor} or lies below it ({@code inodes}: the store's table, by number). */
    static boolean isInSubtree(MemoryInode d, MemoryInode ancestor, Map<Long, MemoryInode> inodes) {
        for (MemoryInode cur = d; ; cur = inodes.get(cur.parentIno)) {
            if (cur == ancestor) {
                return true;
            }
            if (cur.ino == MemoryVfs.ROOT_INO || cur.nlink == 0) {
                return false;
            }
        }
    }

    static long[] now() {
        Instant t = Instant.now();
        return new long[] {t.getEpochSecond(), t.getNano()};
    }

    static void touchCtime(MemoryInode i) {
        long[] t = now();
        i.ctimeSec = t[0];
        i.ctimeNsec = (int) t[1];
    }

    static void touchMtime(MemoryInode i) {
        long[] t = now();
        i.mtimeSec = i.ctimeSec = t[0];
        i.mtimeNsec = i.ctimeNsec = (int) t[1];
    }

    /**
     * SEEK_DATA ({@code data}) or SEEK_HOLE from {@code offsetBytes} (below i_size): allocated pages are data, the
     * end of file is a hole.
     *
     * @throws FsException ENXIO when SEEK_DATA finds no data before EOF
     */
    long seek(long offsetBytes, boolean data) throws FsException {
        long page = offsetBytes / PAGE_BYTES;
        if (data) {
            Long p = pages.ceilingKey(page);
            if (p == null || p * PAGE_BYTES >= sizeBytes) {
                throw new FsException(Errno.ENXIO, "inode " + ino + ": no data after " + offsetBytes);
            }
            return Math.max(offsetBytes, p * PAGE_BYTES);
        }
        while (pages.containsKey(page)) {
            page++;
        }
        return Math.min(sizeBytes, Math.max(offsetBytes, page * PAGE_BYTES));
    }

    // ------------------------------------------------------------------------------------------ file data

    /** Copies file bytes {@code [posBytes, posBytes + dst.length)} (all below i_size) into {@code dst}. */
    void readData(long posBytes, byte[] dst, int off, int len) {
        int done = 0;
        while (done < len) {
            long pos = posBytes + done;
            long index = pos / PAGE_BYTES;
            int inPage = (int) (pos % PAGE_BYTES);
            int n = Math.min(len - done, PAGE_BYTES - inPage);
            byte[] page = pages.get(index);
            if (page == null) {
                java.util.Arrays.fill(dst, off + done, off + done + n, (byte) 0);
            } else {
                System.arraycopy(page, inPage, dst, off + done, n);
            }
            done += n;
        }
    }

    /** Stores {@code src[off, off+len)} at {@code posBytes}, allocating pages; the caller checked the space. */
    void writeData(long posBytes, byte[] src, int off, int len) {
        int done = 0;
        while (done < len) {
            long pos = posBytes + done;
            long index = pos / PAGE_BYTES;
            int inPage = (int) (pos % PAGE_BYTES);
            int n = Math.min(len - done, PAGE_BYTES - inPage);
            System.arraycopy(src, off + done, pages.computeIfAbsent(index, i -> new byte[PAGE_BYTES]), inPage, n);
            done += n;
        }
    }

    /** Pages that {@code [posBytes, endBytes)} would newly allocate. */
    long pagesMissing(long posBytes, long endBytes) {
        if (endBytes <= posBytes) {
            return 0;
        }
        long first = posBytes / PAGE_BYTES;
        long last = (endBytes - 1) / PAGE_BYTES;
        return (last - first + 1) - pages.subMap(first, true, last, true).size();
    }

    /** Zeroes {@code [posBytes, endBytes)}; whole pages are dropped when {@code dropWhole} (a punched hole). */
    void zeroData(long posBytes, long endBytes, boolean dropWhole) {
        long pos = posBytes;
        while (pos < endBytes) {
            long index = pos / PAGE_BYTES;
            int inPage = (int) (pos % PAGE_BYTES);
            int n = (int) Math.min(endBytes - pos, PAGE_BYTES - inPage);
            byte[] page = pages.get(index);
            if (page != null) {
                if (n == PAGE_BYTES && dropWhole) {
                    pages.remove(index);
                } else {
                    java.util.Arrays.fill(page, inPage, inPage + n, (byte) 0);
                }
            }
            pos += n;
        }
    }

    /** Sets i_size: a shrink frees the pages past it and zeroes the tail of the new last page. */
    void truncate(long newSizeBytes) {
        if (newSizeBytes < sizeBytes) {
            long firstGone = (newSizeBytes + PAGE_BYTES - 1) / PAGE_BYTES;
            pages.tailMap(firstGone, true).clear();
            byte[] last = pages.get(newSizeBytes / PAGE_BYTES);
            if (last != null) {
                java.util.Arrays.fill(last, (int) (newSizeBytes % PAGE_BYTES), PAGE_BYTES, (byte) 0);
            }
        }
        sizeBytes = newSizeBytes;
    }
}
