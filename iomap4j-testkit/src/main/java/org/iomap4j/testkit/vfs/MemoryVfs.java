package org.iomap4j.testkit.vfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.StatFs;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsFallocate;
import org.iomap4j.vfs.VfsNamespace;
import org.iomap4j.vfs.VfsSeek;
import org.iomap4j.vfs.VfsWrite;
import org.iomap4j.vfs.VfsXattr;

/**
 * An in-memory {@link Vfs} with {@link VfsWrite}, {@link VfsNamespace}, {@link VfsFallocate} and {@link VfsSeek}: a
 * straightforward reference implementation of the contract for tests and front ends (FUSE, NIO) — every operation
 * holds one lock, file data are sparse 4 KiB pages, errors are the errnos Linux returns (fs/namei.c, fs/open.c,
 * fs/read_write.c, mm/shmem.c for fallocate's sparse semantics).
 *
 * <p>Semantics: link counts as Linux (a directory has 2 plus one per subdirectory); lookup-like calls take a
 * reference, {@link #forget} drops it; an inode whose link count reached 0 is freed when it has no references and
 * no open handles (an unlinked file stays readable and writable while open); readdir cookies are per directory,
 * increasing and never reused, so an offset stays valid across changes ("." is 1, ".." is 2). fallocate: mode 0 and
 * {@link #FALLOC_FL_KEEP_SIZE} allocate zeroed pages, {@link #FALLOC_FL_PUNCH_HOLE} (with KEEP_SIZE, as Linux
 * requires) zeroes partial pages and frees whole ones, {@link #FALLOC_FL_ZERO_RANGE} zeroes and allocates; SEEK_DATA
 * and SEEK_HOLE see allocated pages as data. Limits: {@code capacityBytes} of pages (ENOSPC), {@code maxInodes}
 * inodes (ENOSPC), files up to {@link #MAX_FILE_BYTES} (EFBIG), names up to 255 UTF-8 bytes (ENAMETOOLONG),
 * {@link #LINK_MAX} links (EMLINK).
 *
 * <p>{@link #close()} ends this mount: inodes left unlinked are freed and every later call fails with EIO;
 * {@link #remount()} is a new mount of the same contents (what survives an unmount). Thread-safe.
 */
public final class MemoryVfs implements VfsWrite, VfsNamespace, VfsFallocate, VfsSeek, VfsXattr {
    /** The root directory's inode number. */
    public static final long ROOT_INO = 1;
    /** Largest file size in bytes (2^40). */
    public static final long MAX_FILE_BYTES = 1L << 40;
    /** Most hard links to one inode (ext2's EXT2_LINK_MAX). */
    public static final int LINK_MAX = 32000;
    /** Longest name in UTF-8 bytes. */
    public static final int NAME_MAX = 255;
    private static final int PAGE = MemoryInode.PAGE_BYTES;

    /** What outlives a mount: the inode table and the limits. Its monitor guards everything. */
    private static final class Store {
        final long capacityPages;
        final long maxInodes;
        final Map<Long, MemoryInode> inodes = new HashMap<>();
        long nextIno = ROOT_INO + 1;
        long usedPages;

        Store(long capacityBytes, long maxInodes) {
            this.capacityPages = capacityBytes / PAGE;
            this.maxInodes = maxInodes;
        }
    }

    private record Handle(long ino, int openFlags, long id) implements FileHandle {
    }

    private final Store store;
    private final AtomicLong handleIds = new AtomicLong();
    /** Open handles of this mount, by id; guarded by the store's monitor. */
    private final Set<Long> openHandles = new HashSet<>();
    private boolean closed;

    /**
     * An empty filesystem (a root directory owned by root, mode 0755).
     *
     * @param capacityBytes space for file data in bytes (rounded down to 4 KiB pages)
     * @param maxInodes     most inodes, the root included
     */
    public MemoryVfs(long capacityBytes, long maxInodes) {
        if (capacityBytes < PAGE || maxInodes < 1) {
            throw new IllegalArgumentException("capacity " + capacityBytes + " bytes, " + maxInodes + " inodes");
        }
        this.store = new Store(capacityBytes, maxInodes);
        long[] now = MemoryInode.now();
        MemoryInode root = new MemoryInode(ROOT_INO, 0, FileMode.S_IFDIR | 0755, 0, 0, 0, now[0], (int) now[1]);
        root.nlink = 2;
        root.parentIno = ROOT_INO;
        store.inodes.put(ROOT_INO, root);
    }

    /** 64 MiB of data, 4096 inodes. */
    public MemoryVfs() {
        this(64L << 20, 4096);
    }

    private MemoryVfs(Store store) {
        this.store = store;
    }

    /**
     * A new mount of this filesystem's contents after {@link #close()} (EINVAL while this mount is open), as
     * unmounting and mounting an image again: no references or handles, unlinked inodes gone.
     *
     * @return the new mount
     * @throws FsException EINVAL while this mount is open
     */
    public MemoryVfs remount() throws FsException {
        synchronized (store) {
            if (!closed) {
                throw new FsException(Errno.EINVAL, "memory vfs: remount of a mount that is still open");
            }
            return new MemoryVfs(store);
        }
    }

    // ------------------------------------------------------------------------------------------ lookup helpers

    private void checkOpen() throws FsException {
        if (closed) {
            throw new FsException(Errno.EIO, "memory vfs: unmounted");
        }
    }

    private MemoryInode inode(long ino) throws FsException {
        checkOpen();
        MemoryInode i = store.inodes.get(ino);
        if (i == null) {
            throw new FsException(Errno.ENOENT, "inode " + ino + ": no such inode (freed or never allocated)");
        }
        return i;
    }

    private MemoryInode dir(long ino) throws FsException {
        MemoryInode d = inode(ino);
        if (!d.isDirectory()) {
            throw new FsException(Errno.ENOTDIR, "inode " + ino + ": not a directory");
        }
        return d;
    }

    private static void checkName(String name) throws FsException {
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0
                || name.indexOf('\0') >= 0) {
            throw new FsException(Errno.EINVAL, "bad name '" + name + "'");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, "name of " + name.length() + " characters is too long");
        }
    }

    private MemoryInode child(MemoryInode dir, String name) throws FsException {
        if (name.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, "name of " + name.length() + " characters is too long");
        }
        MemoryInode.Entry e = name.equals(".") ? new MemoryInode.Entry(".", dir.ino, FileMode.DT_DIR)
                : name.equals("..") ? new MemoryInode.Entry("..", dir.parentIno, FileMode.DT_DIR) : dir.entry(name);
        if (e == null) {
            throw new FsException(Errno.ENOENT, "inode " + dir.ino + ": no entry '" + name + "'");
        }
        return store.inodes.get(e.ino());
    }

    private MemoryInode newInode(int mode, int uid, int gid, long rdev) throws FsException {
        if (store.inodes.size() >= store.maxInodes) {
            throw new FsException(Errno.ENOSPC, "memory vfs: all " + store.maxInodes + " inodes in use");
        }
        long[] t = MemoryInode.now();
        long ino = store.nextIno++;
        MemoryInode i = new MemoryInode(ino, ino, mode, uid, gid, rdev, t[0], (int) t[1]);
        store.inodes.put(ino, i);
        return i;
    }

    private InodeAttr referenced(MemoryInode i) {
        i.lookups++;
        return i.attr();
    }

    /** Frees {@code i} if nothing holds it any more (no links, references or handles; never the root). */
    private void maybeFree(MemoryInode i) {
        if (i.nlink == 0 && i.lookups == 0 && i.openHandles == 0 && i.ino != ROOT_INO
                && store.inodes.remove(i.ino) != null) {
            store.usedPages -= i.pages.size();
            i.pages.clear();
        }
    }

    private void dropLink(MemoryInode i) {
        i.nlink--;
        MemoryInode.touchCtime(i);
        maybeFree(i);
    }

    private MemoryInode checkFree(MemoryInode dir, String name) throws FsException {
        checkName(name);
        if (dir.entry(name) != null) {
            throw new FsException(Errno.EEXIST, "inode " + dir.ino + ": '" + name + "' exists");
        }
        if (dir.nlink == 0) {
            throw new FsException(Errno.ENOENT, "inode " + dir.ino + ": directory was removed");
        }
        return dir;
    }

    // ------------------------------------------------------------------------------------------ Vfs core

    @Override
    public long rootIno() {
        return ROOT_INO;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public InodeAttr lookup(long dirIno, String name) throws IOException {
        synchronized (store) {
            return referenced(child(dir(dirIno), name));
        }
    }

    @Override
    public InodeAttr getattr(long ino) throws IOException {
        synchronized (store) {
            return inode(ino).attr();
        }
    }

    @Override
    public String readlink(long ino) throws IOException {
        synchronized (store) {
            MemoryInode i = inode(ino);
            if (i.target == null) {
                throw new FsException(Errno.EINVAL, "inode " + ino + ": not a symlink");
            }
            return i.target;
        }
    }

    @Override
    public void readdir(long dirIno, long offset, DirSink sink) throws IOException {
        java.util.List<DirEntry> batch = new java.util.ArrayList<>();
        synchronized (store) {
            MemoryInode d = dir(dirIno);
            if (offset < 0) {
                throw new FsException(Errno.EINVAL, "inode " + dirIno + ": readdir offset " + offset);
            }
            if (offset < 1) {
                batch.add(new DirEntry(".", d.ino, FileMode.DT_DIR, 1));
            }
            if (offset < 2) {
                batch.add(new DirEntry("..", d.parentIno, FileMode.DT_DIR, 2));
            }
            for (Map.Entry<Long, MemoryInode.Entry> e : d.entries.tailMap(Math.max(offset, 2), false).entrySet()) {
                batch.add(new DirEntry(e.getValue().name(), e.getValue().ino(), e.getValue().dtype(), e.getKey()));
            }
        }
        for (DirEntry e : batch) { // outside the lock: the sink may call back
            if (!sink.accept(e)) {
                return;
            }
        }
    }

    @Override
    public FileHandle open(long ino, int openFlags) throws IOException {
        synchronized (store) {
            MemoryInode i = inode(ino);
            if (i.isDirectory()) {
                throw new FsException(Errno.EISDIR, "inode " + ino + ": is a directory");
            }
            if (!i.isRegular()) {
                throw new FsException(Errno.ENXIO, "inode " + ino + ": not a regular file (no device behind it)");
            }
            if ((openFlags & O_TRUNC) != 0 && (openFlags & O_ACCMODE) != O_RDONLY && i.sizeBytes != 0) {
                truncate(i, 0);
            }
            return newHandle(i, openFlags);
        }
    }

    private Handle newHandle(MemoryInode i, int openFlags) {
        Handle h = new Handle(i.ino, openFlags, handleIds.incrementAndGet());
        openHandles.add(h.id());
        i.openHandles++;
        return h;
    }

    private MemoryInode handleInode(FileHandle fh) throws FsException {
        checkOpen();
        if (!(fh instanceof Handle h) || !openHandles.contains(h.id())) {
            throw new FsException(Errno.EBADF, "memory vfs: " + fh + " is not an open handle of this mount");
        }
        return inode(h.ino());
    }

    @Override
    public int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException {
        synchronized (store) {
            MemoryInode i = handleInode(fh);
            if ((fh.openFlags() & O_ACCMODE) == O_WRONLY) {
                throw new FsException(Errno.EBADF, "inode " + i.ino + ": handle not open for reading");
            }
            if (posBytes < 0) {
                throw new FsException(Errno.EINVAL, "inode " + i.ino + ": read at negative position " + posBytes);
            }
            if (posBytes >= i.sizeBytes || !dst.hasRemaining()) {
                return 0;
            }
            int n = (int) Math.min(dst.remaining(), i.sizeBytes - posBytes);
            byte[] tmp = new byte[n];
            i.readData(posBytes, tmp, 0, n);
            dst.put(tmp);
            return n;
        }
    }

    @Override
    public void fsync(FileHandle fh, boolean dataOnly) throws IOException {
        synchronized (store) {
            handleInode(fh); // nothing to make durable
        }
    }

    @Override
    public void release(FileHandle fh) throws IOException {
        synchronized (store) {
            MemoryInode i = handleInode(fh);
            openHandles.remove(((Handle) fh).id());
            i.openHandles--;
            maybeFree(i);
        }
    }

    @Override
    public void forget(long ino, long count) throws IOException {
        synchronized (store) {
            MemoryInode i = store.inodes.get(ino);
            if (i == null || closed) {
                return; // as the kernel's forget: nothing to answer
            }
            i.lookups = Math.max(0, i.lookups - count);
            maybeFree(i);
        }
    }

    @Override
    public StatFs statfs() throws IOException {
        synchronized (store) {
            checkOpen();
            long free = store.capacityPages - store.usedPages;
            return new StatFs(PAGE, store.capacityPages, free, free, store.maxInodes,
                    store.maxInodes - store.inodes.size(), NAME_MAX);
        }
    }

    @Override
    public void sync() throws IOException {
        synchronized (store) {
            checkOpen();
        }
    }

    @Override
    public void close() {
        synchronized (store) {
            if (closed) {
                return;
            }
            closed = true;
            openHandles.clear();
            for (MemoryInode i : store.inodes.values().toArray(MemoryInode[]::new)) {
                i.lookups = 0;
                i.openHandles = 0;
                maybeFree(i);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ VfsWrite

    @Override
    public InodeAttr setattr(long ino, SetAttr ch) throws IOException {
        synchronized (store) {
            MemoryInode i = inode(ino);
            if (ch.sizeBytes() != null) {
                if (i.isDirectory()) {
                    throw new FsException(Errno.EISDIR, "inode " + ino + ": cannot set the size of a directory");
                }
                if (!i.isRegular()) {
                    throw new FsException(Errno.EINVAL, "inode " + ino + ": size of a non-regular file");
                }
                long size = ch.sizeBytes();
                if (size < 0) {
                    throw new FsException(Errno.EINVAL, "inode " + ino + ": negative size " + size);
                }
                if (size > MAX_FILE_BYTES) {
                    throw new FsException(Errno.EFBIG, "inode " + ino + ": size " + size + " over " + MAX_FILE_BYTES);
                }
                if (size != i.sizeBytes) {
                    truncate(i, size);
                }
                MemoryInode.touchMtime(i);
            }
            if (ch.mode() != null) {
                i.mode = (i.mode & FileMode.S_IFMT) | (ch.mode() & FileMode.PERM_MASK);
            }
            if (ch.uid() != null) {
                i.uid = ch.uid();
            }
            if (ch.gid() != null) {
                i.gid = ch.gid();
            }
            long[] t = MemoryInode.now();
            if (ch.atimeNow()) {
                i.atimeSec = t[0];
                i.atimeNsec = (int) t[1];
            } else if (ch.atimeSec() != null) {
                i.atimeSec = ch.atimeSec();
                i.atimeNsec = 0;
            }
            if (ch.mtimeNow()) {
                i.mtimeSec = t[0];
                i.mtimeNsec = (int) t[1];
            } else if (ch.mtimeSec() != null) {
                i.mtimeSec = ch.mtimeSec();
                i.mtimeNsec = 0;
            }
            if (ch.ctimeSec() != null) {
                i.ctimeSec = ch.ctimeSec();
                i.ctimeNsec = 0;
            } else {
                MemoryInode.touchCtime(i);
            }
            return i.attr();
        }
    }

    private void truncate(MemoryInode i, long size) {
        int before = i.pages.size();
        i.truncate(size);
        store.usedPages -= before - i.pages.size();
    }

    @Override
    public Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid) throws IOException {
        synchronized (store) {
            MemoryInode d = dir(dirIno);
            MemoryInode.Entry existing = d.entry(name);
            if (existing != null) {
                if ((openFlags & O_EXCL) != 0) {
                    throw new FsException(Errno.EEXIST, "inode " + dirIno + ": '" + name + "' exists");
                }
                MemoryInode i = store.inodes.get(existing.ino());
                if (i.isDirectory()) {
                    throw new FsException(Errno.EISDIR, "inode " + i.ino + ": '" + name + "' is a directory");
                }
                FileHandle fh = open(i.ino, openFlags);
                return new Created(referenced(i), fh);
            }
            checkFree(d, name);
            MemoryInode i = newInode(FileMode.S_IFREG | (mode & FileMode.PERM_MASK), uid, gid, 0);
            i.nlink = 1;
            d.addEntry(name, i.ino, FileMode.DT_REG);
            MemoryInode.touchMtime(d);
            FileHandle fh = newHandle(i, openFlags);
            return new Created(referenced(i), fh);
        }
    }

    @Override
    public int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException {
        synchronized (store) {
            MemoryInode i = handleInode(fh);
            if ((fh.openFlags() & O_ACCMODE) == O_RDONLY) {
                throw new FsException(Errno.EBADF, "inode " + i.ino + ": handle not open for writing");
            }
            long pos = (fh.openFlags() & O_APPEND) != 0 ? i.sizeBytes : posBytes;
            if (pos < 0) {
                throw new FsException(Errno.EINVAL, "inode " + i.ino + ": write at negative position " + pos);
            }
            int n = src.remaining();
            if (n == 0) {
                return 0;
            }
            if (pos + n > MAX_FILE_BYTES) {
                throw new FsException(Errno.EFBIG, "inode " + i.ino + ": write to " + (pos + n) + " past the "
                        + MAX_FILE_BYTES + "-byte file size limit");
            }
            allocate(i, pos, pos + n);
            byte[] tmp = new byte[n];
            src.get(tmp);
            i.writeData(pos, tmp, 0, n);
            i.sizeBytes = Math.max(i.sizeBytes, pos + n);
            MemoryInode.touchMtime(i);
            return n;
        }
    }

    /** Reserves the pages {@code [posBytes, endBytes)} lacks (ENOSPC, nothing allocated, if they do not fit). */
    private void allocate(MemoryInode i, long posBytes, long endBytes) throws FsException {
        long missing = i.pagesMissing(posBytes, endBytes);
        if (store.usedPages + missing > store.capacityPages) {
            throw new FsException(Errno.ENOSPC, "inode " + i.ino + ": " + missing + " pages needed, "
                    + (store.capacityPages - store.usedPages) + " free");
        }
        for (long p = posBytes / PAGE; missing > 0 && p <= (endBytes - 1) / PAGE; p++) {
            if (i.pages.putIfAbsent(p, new byte[PAGE]) == null) {
                missing--;
                store.usedPages++;
            }
        }
    }

    // ------------------------------------------------------------------------------------------ VfsNamespace

    @Override
    public InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid) throws IOException {
        int type = mode & FileMode.S_IFMT;
        if (type == 0) {
            type = FileMode.S_IFREG;
        }
        if (type == FileMode.S_IFDIR || type == FileMode.S_IFLNK) {
            throw new FsException(Errno.EINVAL, "mknod of type 0" + Integer.toOctalString(type));
        }
        synchronized (store) {
            MemoryInode d = checkFree(dir(dirIno), name);
            MemoryInode i = newInode(type | (mode & FileMode.PERM_MASK), uid, gid,
                    type == FileMode.S_IFCHR || type == FileMode.S_IFBLK ? rdev : 0);
            i.nlink = 1;
            d.addEntry(name, i.ino, FileMode.dtype(i.mode));
            MemoryInode.touchMtime(d);
            return referenced(i);
        }
    }

    @Override
    public InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException {
        synchronized (store) {
            MemoryInode d = checkFree(dir(dirIno), name);
            if (d.nlink >= LINK_MAX) {
                throw new FsException(Errno.EMLINK, "inode " + dirIno + ": " + d.nlink + " links");
            }
            MemoryInode i = newInode(FileMode.S_IFDIR | (mode & FileMode.PERM_MASK), uid, gid, 0);
            i.nlink = 2;
            i.parentIno = d.ino;
            d.addEntry(name, i.ino, FileMode.DT_DIR);
            d.nlink++;
            MemoryInode.touchMtime(d);
            return referenced(i);
        }
    }

    @Override
    public InodeAttr symlink(long dirIno, String name, String target, int uid, int gid) throws IOException {
        if (target.isEmpty()) {
            throw new FsException(Errno.ENOENT, "symlink '" + name + "': empty target");
        }
        synchronized (store) {
            MemoryInode d = checkFree(dir(dirIno), name);
            MemoryInode i = newInode(FileMode.S_IFLNK | 0777, uid, gid, 0);
            i.nlink = 1;
            i.target = target;
            d.addEntry(name, i.ino, FileMode.DT_LNK);
            MemoryInode.touchMtime(d);
            return referenced(i);
        }
    }

    @Override
    public InodeAttr link(long ino, long newDirIno, String newName) throws IOException {
        synchronized (store) {
            MemoryInode i = inode(ino);
            MemoryInode d = dir(newDirIno);
            if (i.isDirectory()) {
                throw new FsException(Errno.EPERM, "inode " + ino + ": hard link to a directory");
            }
            checkFree(d, newName);
            if (i.nlink == 0) {
                throw new FsException(Errno.ENOENT, "inode " + ino + ": link to an unlinked inode");
            }
            if (i.nlink >= LINK_MAX) {
                throw new FsException(Errno.EMLINK, "inode " + ino + ": " + i.nlink + " links");
            }
            i.nlink++;
            MemoryInode.touchCtime(i);
            d.addEntry(newName, i.ino, FileMode.dtype(i.mode));
            MemoryInode.touchMtime(d);
            return referenced(i);
        }
    }

    @Override
    public void unlink(long dirIno, String name) throws IOException {
        synchronized (store) {
            MemoryInode d = dir(dirIno);
            MemoryInode i = child(d, name);
            if (i.isDirectory()) {
                throw new FsException(Errno.EISDIR, "inode " + dirIno + ": '" + name + "' is a directory");
            }
            d.removeEntry(name);
            MemoryInode.touchMtime(d);
            dropLink(i);
        }
    }

    @Override
    public void rmdir(long dirIno, String name) throws IOException {
        synchronized (store) {
            MemoryInode d = dir(dirIno);
            if (name.equals(".")) {
                throw new FsException(Errno.EINVAL, "rmdir of '.'");
            }
            if (name.equals("..")) {
                throw new FsException(Errno.ENOTEMPTY, "rmdir of '..'");
            }
            MemoryInode i = child(d, name);
            if (!i.isDirectory()) {
                throw new FsException(Errno.ENOTDIR, "inode " + i.ino + ": '" + name + "' is not a directory");
            }
            if (!i.entries.isEmpty()) {
                throw new FsException(Errno.ENOTEMPTY, "inode " + i.ino + ": directory not empty");
            }
            d.removeEntry(name);
            d.nlink--;
            MemoryInode.touchMtime(d);
            i.nlink = 0;
            MemoryInode.touchCtime(i);
            maybeFree(i);
        }
    }

    @Override
    public void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags) throws IOException {
        synchronized (store) {
            renameLocked(oldDirIno, oldName, newDirIno, newName, flags);
        }
    }

    private void renameLocked(long oldDirIno, String oldName, long newDirIno, String newName, int flags)
            throws IOException {
        if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0
                || flags == (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
            throw new FsException(Errno.EINVAL, "rename flags 0x" + Integer.toHexString(flags));
        }
        MemoryInode od = dir(oldDirIno);
        MemoryInode nd = dir(newDirIno);
        checkName(oldName);
        MemoryInode src = child(od, oldName);
        checkName(newName);
        MemoryInode.Entry te = nd.entry(newName);
        MemoryInode target = te == null ? null : store.inodes.get(te.ino());
        if (src.isDirectory() && MemoryInode.isInSubtree(nd, src, store.inodes)) {
            throw new FsException(Errno.EINVAL, "rename of directory " + src.ino + " into its own subtree");
        }
        if ((flags & RENAME_EXCHANGE) != 0) {
            if (target == null) {
                throw new FsException(Errno.ENOENT, "inode " + newDirIno + ": no entry '" + newName + "' to exchange");
            }
            if (target.isDirectory() && MemoryInode.isInSubtree(od, target, store.inodes)) {
                throw new FsException(Errno.EINVAL, "exchange of directory " + target.ino + " into its own subtree");
            }
            if (target == src) {
                return;
            }
            MemoryInode.exchange(od, oldName, nd, newName, src, target);
            return;
        }
        if (target != null) {
            if ((flags & RENAME_NOREPLACE) != 0) {
                throw new FsException(Errno.EEXIST, "inode " + newDirIno + ": '" + newName + "' exists");
            }
            if (target == src) {
                return; // two links to one inode: POSIX says do nothing
            }
            if (src.isDirectory() && !target.isDirectory()) {
                throw new FsException(Errno.ENOTDIR, "rename of directory " + src.ino + " over non-directory "
                        + target.ino);
            }
            if (!src.isDirectory() && target.isDirectory()) {
                throw new FsException(Errno.EISDIR, "rename of " + src.ino + " over directory " + target.ino);
            }
            if (target.isDirectory() && !target.entries.isEmpty()) {
                throw new FsException(Errno.ENOTEMPTY, "rename over non-empty directory " + target.ino);
            }
        } else if (src.isDirectory() && od != nd && nd.nlink >= LINK_MAX) {
            throw new FsException(Errno.EMLINK, "inode " + newDirIno + ": " + nd.nlink + " links");
        }
        if (target != null) {
            nd.removeEntry(newName);
            if (target.isDirectory()) {
                nd.nlink--;
                target.nlink = 0;
                MemoryInode.touchCtime(target);
                maybeFree(target);
            } else {
                dropLink(target);
            }
        }
        od.removeEntry(oldName);
        nd.addEntry(newName, src.ino, FileMode.dtype(src.mode));
        if (src.isDirectory() && od != nd) {
            od.nlink--;
            nd.nlink++;
            src.parentIno = nd.ino;
        }
        MemoryInode.touchCtime(src);
        MemoryInode.touchMtime(od);
        MemoryInode.touchMtime(nd);
    }

    // ------------------------------------------------------------------------------------------ fallocate, seek

    @Override
    public void fallocate(FileHandle fh, int mode, long offsetBytes, long lengthBytes) throws IOException {
        synchronized (store) {
            MemoryInode i = handleInode(fh);
            long end = MemoryInode.checkFallocate(i, fh.openFlags(), mode, offsetBytes, lengthBytes);
            boolean keepSize = (mode & FALLOC_FL_KEEP_SIZE) != 0;
            if ((mode & FALLOC_FL_PUNCH_HOLE) != 0) {
                int before = i.pages.size();
                i.zeroData(offsetBytes, end, true);
                store.usedPages -= before - i.pages.size();
            } else {
                allocate(i, offsetBytes, end);
                if ((mode & FALLOC_FL_ZERO_RANGE) != 0) {
                    i.zeroData(offsetBytes, end, false);
                }
                if (!keepSize && end > i.sizeBytes) {
                    i.sizeBytes = end;
                }
            }
            MemoryInode.touchMtime(i);
        }
    }

    @Override
    public long seekDataHole(FileHandle fh, long offsetBytes, int whence) throws IOException {
        synchronized (store) {
            MemoryInode i = handleInode(fh);
            if (whence != SEEK_DATA && whence != SEEK_HOLE) {
                throw new FsException(Errno.EINVAL, "inode " + i.ino + ": whence " + whence);
            }
            if (offsetBytes < 0 || offsetBytes >= i.sizeBytes) {
                throw new FsException(Errno.ENXIO, "inode " + i.ino + ": offset " + offsetBytes + " at or past EOF "
                        + i.sizeBytes);
            }
            return i.seek(offsetBytes, whence == SEEK_DATA);
        }
    }

    // ------------------------------------------------------------------------------------------ xattrs (MemoryXattrs)

    @Override
    public byte[] getxattr(long ino, String name) throws IOException {
        synchronized (store) {
            return MemoryXattrs.get(inode(ino).xattrs, name);
        }
    }

    @Override
    public void setxattr(long ino, String name, byte[] value, int flags) throws IOException {
        synchronized (store) {
            MemoryXattrs.set(inode(ino).xattrs, name, value, flags);
        }
    }

    @Override
    public List<String> listxattr(long ino) throws IOException {
        synchronized (store) {
            return MemoryXattrs.list(inode(ino).xattrs);
        }
    }

    @Override
    public void removexattr(long ino, String name) throws IOException {
        synchronized (store) {
            MemoryXattrs.remove(inode(ino).xattrs, name);
        }
    }
}
