package org.iomap4j.fuse.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

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

/**
 * A small in-memory {@link Vfs} for testing the FUSE server without ext2: inode numbers, hard links, symlinks,
 * device nodes, renames with NOREPLACE/EXCHANGE, readdir cookies stable across changes, files as byte arrays with
 * 4 KiB allocation tracking (so st_blocks, SEEK_DATA/SEEK_HOLE and fallocate punch-hole behave like a sparse
 * filesystem), and Linux's errno for each failure. Unlinked inodes live on until their last reference and last
 * handle are gone, like the contract demands.
 *
 * <p>Thread-safe by one monitor: simple, not fast.
 */
public final class MemoryVfs implements VfsWrite, VfsNamespace, VfsFallocate, VfsSeek {
    private static final int BLOCK = 4096;
    /** Largest file size; beyond it writes and truncates fail with EFBIG. */
    public static final long MAX_FILE_BYTES = 1L << 30;
    private static final long ROOT = 1;
    private static final long TOTAL_BLOCKS = 1L << 20;
    private static final long TOTAL_INODES = 1L << 20;

    private final Map<Long, Node> inodes = new HashMap<>();
    private long nextIno = ROOT + 1;
    private long allocatedBlocks;
    private int lastOpenFlags = -1;

    /** One inode. Fields are guarded by the MemoryVfs monitor. */
    private static final class Node {
        final long ino;
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
        long refs;
        int opens;
        // regular files
        byte[] data = new byte[0];
        long size;
        final BitSet blocks = new BitSet();
        // symlinks
        String target;
        // directories
        long parent;
        long nextCookie = 1;
        final Map<String, Long> cookieByName = new HashMap<>();
        final TreeMap<Long, Child> childByCookie = new TreeMap<>();

        Node(long ino, int mode) {
            this.ino = ino;
            this.mode = mode;
        }

        boolean isDir() {
            return FileMode.isDirectory(mode);
        }
    }

    private record Child(String name, long ino) {
    }

    /** An open file of this Vfs. */
    private static final class Handle implements FileHandle {
        private final long ino;
        private final int flags;
        private boolean released;

        Handle(long ino, int flags) {
            this.ino = ino;
            this.flags = flags;
        }

        @Override
        public long ino() {
            return ino;
        }

        @Override
        public int openFlags() {
            return flags;
        }
    }

    public MemoryVfs() {
        Node root = new Node(ROOT, FileMode.S_IFDIR | 0755);
        root.nlink = 2;
        root.parent = ROOT;
        touchAll(root);
        inodes.put(ROOT, root);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Test helpers.

    /** The open flags of the last open or create (-1 before any). */
    public synchronized int lastOpenFlags() {
        return lastOpenFlags;
    }

    /** Inodes that still exist (reachable or kept alive by references/handles). */
    public synchronized int inodeCount() {
        return inodes.size();
    }

    /** Inodes reachable from the root by names. */
    public synchronized Set<Long> reachableInodes() {
        Set<Long> seen = new HashSet<>();
        ArrayDeque<Long> todo = new ArrayDeque<>();
        todo.add(ROOT);
        while (!todo.isEmpty()) {
            long ino = todo.poll();
            if (!seen.add(ino)) {
                continue;
            }
            Node n = inodes.get(ino);
            if (n != null && n.isDir()) {
                n.childByCookie.values().forEach(c -> todo.add(c.ino()));
            }
        }
        return seen;
    }

    /** The references (lookup counts) held on an inode, or -1 if it does not exist. */
    public synchronized long refs(long ino) {
        Node n = inodes.get(ino);
        return n == null ? -1 : n.refs;
    }

    /** Whether inode {@code ino} still exists. */
    public synchronized boolean exists(long ino) {
        return inodes.containsKey(ino);
    }

    // ---------------------------------------------------------------------------------------------------------

    @Override
    public long rootIno() {
        return ROOT;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public synchronized InodeAttr lookup(long dirIno, String name) throws IOException {
        Node dir = dir(dirIno);
        checkName(name);
        long ino;
        if (name.equals(".")) {
            ino = dir.ino;
        } else if (name.equals("..")) {
            ino = dir.parent;
        } else {
            Long cookie = dir.cookieByName.get(name);
            if (cookie == null) {
                throw new FsException(Errno.ENOENT, "no " + name + " in inode " + dirIno);
            }
            ino = dir.childByCookie.get(cookie).ino();
        }
        Node n = node(ino);
        n.refs++;
        return attr(n);
    }

    @Override
    public synchronized InodeAttr getattr(long ino) throws IOException {
        return attr(node(ino));
    }

    @Override
    public synchronized InodeAttr setattr(long ino, SetAttr c) throws IOException {
        Node n = node(ino);
        if (c.sizeBytes() != null) {
            if (n.isDir()) {
                throw new FsException(Errno.EISDIR, "truncate of directory " + ino);
            }
            if (!FileMode.isRegular(n.mode)) {
                throw new FsException(Errno.EINVAL, "truncate of non-regular inode " + ino);
            }
            truncate(n, c.sizeBytes());
        }
        if (c.mode() != null) {
            n.mode = (n.mode & FileMode.S_IFMT) | (c.mode() & FileMode.PERM_MASK);
        }
        if (c.uid() != null) {
            n.uid = c.uid();
        }
        if (c.gid() != null) {
            n.gid = c.gid();
        }
        Instant now = Instant.now();
        if (c.atimeNow()) {
            n.atimeSec = now.getEpochSecond();
            n.atimeNsec = now.getNano();
        } else if (c.atimeSec() != null) {
            n.atimeSec = c.atimeSec();
            n.atimeNsec = 0;
        }
        if (c.mtimeNow()) {
            n.mtimeSec = now.getEpochSecond();
            n.mtimeNsec = now.getNano();
        } else if (c.mtimeSec() != null) {
            n.mtimeSec = c.mtimeSec();
            n.mtimeNsec = 0;
        }
        n.ctimeSec = now.getEpochSecond();
        n.ctimeNsec = now.getNano();
        return attr(n);
    }

    @Override
    public synchronized InodeAttr mknod(long dirIno, String name, int mode, long rdev, int uid, int gid)
            throws IOException {
        if ((mode & FileMode.S_IFMT) == 0) {
            mode |= FileMode.S_IFREG;
        }
        if (FileMode.isDirectory(mode) || FileMode.isSymlink(mode)) {
            throw new FsException(Errno.EINVAL, "mknod of type " + Integer.toOctalString(mode));
        }
        Node n = newChild(dirIno, name, mode, uid, gid);
        n.rdev = rdev;
        n.refs++;
        return attr(n);
    }

    @Override
    public synchronized InodeAttr mkdir(long dirIno, String name, int mode, int uid, int gid) throws IOException {
        Node n = newChild(dirIno, name, FileMode.S_IFDIR | (mode & FileMode.PERM_MASK), uid, gid);
        n.nlink = 2;
        n.parent = dirIno;
        dir(dirIno).nlink++;
        n.refs++;
        return attr(n);
    }

    @Override
    public synchronized InodeAttr symlink(long dirIno, String name, String target, int uid, int gid)
            throws IOException {
        if (target.getBytes(StandardCharsets.UTF_8).length > 4095) {
            throw new FsException(Errno.ENAMETOOLONG, "symlink target of " + target.length() + " chars");
        }
        Node n = newChild(dirIno, name, FileMode.S_IFLNK | 0777, uid, gid);
        n.target = target;
        n.size = target.getBytes(StandardCharsets.UTF_8).length;
        n.refs++;
        return attr(n);
    }

    @Override
    public synchronized String readlink(long ino) throws IOException {
        Node n = node(ino);
        if (!FileMode.isSymlink(n.mode)) {
            throw new FsException(Errno.EINVAL, "inode " + ino + " is not a symlink");
        }
        return n.target;
    }

    @Override
    public synchronized InodeAttr link(long ino, long newDirIno, String newName) throws IOException {
        Node n = node(ino);
        if (n.isDir()) {
            throw new FsException(Errno.EPERM, "hard link to directory " + ino);
        }
        if (n.nlink >= 65000) {
            throw new FsException(Errno.EMLINK, "inode " + ino + " has " + n.nlink + " links");
        }
        addEntry(dir(newDirIno), newName, ino);
        n.nlink++;
        touchCtime(n);
        n.refs++;
        return attr(n);
    }

    @Override
    public synchronized void unlink(long dirIno, String name) throws IOException {
        Node dir = dir(dirIno);
        Node n = child(dir, name);
        if (n.isDir()) {
            throw new FsException(Errno.EISDIR, "unlink of directory " + name);
        }
        removeEntry(dir, name);
        n.nlink--;
        touchCtime(n);
        maybeFree(n);
    }

    @Override
    public synchronized void rmdir(long dirIno, String name) throws IOException {
        if (name.equals(".")) {
            throw new FsException(Errno.EINVAL, "rmdir of .");
        }
        if (name.equals("..")) {
            throw new FsException(Errno.ENOTEMPTY, "rmdir of ..");
        }
        Node dir = dir(dirIno);
        Node n = child(dir, name);
        if (!n.isDir()) {
            throw new FsException(Errno.ENOTDIR, "rmdir of non-directory " + name);
        }
        if (!n.cookieByName.isEmpty()) {
            throw new FsException(Errno.ENOTEMPTY, "directory " + name + " not empty");
        }
        removeEntry(dir, name);
        dir.nlink--;
        n.nlink = 0;
        maybeFree(n);
    }

    @Override
    public synchronized void rename(long oldDirIno, String oldName, long newDirIno, String newName, int flags)
            throws IOException {
        Node oldDir = dir(oldDirIno);
        Node newDir = dir(newDirIno);
        checkName(newName);
        Node src = child(oldDir, oldName);
        Long dstCookie = newDir.cookieByName.get(newName);
        Node dst = dstCookie == null ? null : node(newDir.childByCookie.get(dstCookie).ino());
        if (src.isDir() && isSelfOrDescendant(newDir, src.ino)) {
            throw new FsException(Errno.EINVAL, "rename of directory " + oldName + " into itself");
        }
        if ((flags & RENAME_EXCHANGE) != 0) {
            if (dst == null) {
                throw new FsException(Errno.ENOENT, "rename exchange: no " + newName);
            }
            if (dst.isDir() && isSelfOrDescendant(oldDir, dst.ino)) {
                throw new FsException(Errno.EINVAL, "rename exchange of directory into itself");
            }
            replaceEntry(oldDir, oldName, dst.ino);
            replaceEntry(newDir, newName, src.ino);
            if (oldDir != newDir) {
                if (src.isDir()) {
                    src.parent = newDir.ino;
                    oldDir.nlink--;
                    newDir.nlink++;
                }
                if (dst.isDir()) {
                    dst.parent = oldDir.ino;
                    newDir.nlink--;
                    oldDir.nlink++;
                }
            }
            touchCtime(src);
            touchCtime(dst);
            return;
        }
        if (dst != null) {
            if ((flags & RENAME_NOREPLACE) != 0) {
                throw new FsException(Errno.EEXIST, "rename noreplace: " + newName + " exists");
            }
            if (dst == src) {
                return; // two links to one inode: POSIX says do nothing
            }
            if (src.isDir() && !dst.isDir()) {
                throw new FsException(Errno.ENOTDIR, "rename directory over non-directory " + newName);
            }
            if (!src.isDir() && dst.isDir()) {
                throw new FsException(Errno.EISDIR, "rename non-directory over directory " + newName);
            }
            if (dst.isDir() && !dst.cookieByName.isEmpty()) {
                throw new FsException(Errno.ENOTEMPTY, "rename over non-empty directory " + newName);
            }
            removeEntry(newDir, newName);
            if (dst.isDir()) {
                dst.nlink = 0;
                newDir.nlink--;
            } else {
                dst.nlink--;
            }
            touchCtime(dst);
            maybeFree(dst);
        }
        removeEntry(oldDir, oldName);
        addEntry(newDir, newName, src.ino);
        if (src.isDir() && oldDir != newDir) {
            src.parent = newDir.ino;
            oldDir.nlink--;
            newDir.nlink++;
        }
        touchCtime(src);
    }

    @Override
    public void readdir(long dirIno, long offset, DirSink sink) throws IOException {
        // Snapshot under the monitor, feed the sink outside it (the sink may call lookup).
        java.util.List<DirEntry> batch = new java.util.ArrayList<>();
        synchronized (this) {
            Node dir = dir(dirIno);
            if (offset < 1) {
                batch.add(new DirEntry(".", dir.ino, FileMode.DT_DIR, 1));
            }
            if (offset < 2) {
                batch.add(new DirEntry("..", dir.parent, FileMode.DT_DIR, 2));
            }
            for (Map.Entry<Long, Child> e : dir.childByCookie.tailMap(Math.max(0, offset - 2), false).entrySet()) {
                Node n = inodes.get(e.getValue().ino());
                int dtype = n == null ? FileMode.DT_UNKNOWN : FileMode.dtype(n.mode);
                batch.add(new DirEntry(e.getValue().name(), e.getValue().ino(), dtype, e.getKey() + 2));
            }
        }
        for (DirEntry e : batch) {
            if (!sink.accept(e)) {
                return;
            }
        }
    }

    @Override
    public synchronized FileHandle open(long ino, int openFlags) throws IOException {
        Node n = node(ino);
        if (n.isDir()) {
            throw new FsException(Errno.EISDIR, "open of directory " + ino);
        }
        if ((openFlags & O_TRUNC) != 0 && (openFlags & O_ACCMODE) != O_RDONLY && FileMode.isRegular(n.mode)) {
            truncate(n, 0);
        }
        n.opens++;
        lastOpenFlags = openFlags;
        return new Handle(ino, openFlags);
    }

    @Override
    public synchronized Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid)
            throws IOException {
        Node dir = dir(dirIno);
        checkName(name);
        if (dir.cookieByName.containsKey(name)) {
            if ((openFlags & O_EXCL) != 0) {
                throw new FsException(Errno.EEXIST, name + " exists");
            }
            Node n = child(dir, name);
            FileHandle h = open(n.ino, openFlags);
            n.refs++;
            return new Created(attr(n), h);
        }
        Node n = newChild(dirIno, name, FileMode.S_IFREG | (mode & FileMode.PERM_MASK), uid, gid);
        n.refs++;
        n.opens++;
        lastOpenFlags = openFlags;
        return new Created(attr(n), new Handle(n.ino, openFlags));
    }

    @Override
    public synchronized int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException {
        Handle h = handle(fh);
        if ((h.flags & O_ACCMODE) == O_WRONLY) {
            throw new FsException(Errno.EBADF, "read on write-only handle of " + h.ino);
        }
        Node n = node(h.ino);
        if (posBytes < 0) {
            throw new FsException(Errno.EINVAL, "read at " + posBytes);
        }
        if (posBytes >= n.size || !dst.hasRemaining()) {
            return 0;
        }
        int len = (int) Math.min(dst.remaining(), n.size - posBytes);
        int fromData = (int) Math.max(0, Math.min(len, n.data.length - posBytes));
        if (fromData > 0) {
            dst.put(n.data, (int) posBytes, fromData);
        }
        for (int i = fromData; i < len; i++) {
            dst.put((byte) 0);
        }
        return len;
    }

    @Override
    public synchronized int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException {
        Handle h = handle(fh);
        if ((h.flags & O_ACCMODE) == O_RDONLY) {
            throw new FsException(Errno.EBADF, "write on read-only handle of " + h.ino);
        }
        Node n = node(h.ino);
        long pos = (h.flags & O_APPEND) != 0 ? n.size : posBytes;
        int len = src.remaining();
        if (pos < 0 || pos + len > MAX_FILE_BYTES) {
            throw new FsException(Errno.EFBIG, "write [" + pos + ", +" + len + ") of inode " + h.ino);
        }
        if (len == 0) {
            return 0;
        }
        ensureCapacity(n, pos + len);
        src.get(n.data, (int) pos, len);
        allocate(n, pos, pos + len);
        n.size = Math.max(n.size, pos + len);
        Instant now = Instant.now();
        n.mtimeSec = n.ctimeSec = now.getEpochSecond();
        n.mtimeNsec = n.ctimeNsec = now.getNano();
        return len;
    }

    @Override
    public synchronized void fsync(FileHandle fh, boolean dataOnly) throws IOException {
        handle(fh);
    }

    @Override
    public synchronized void release(FileHandle fh) throws IOException {
        Handle h = handle(fh);
        h.released = true;
        Node n = inodes.get(h.ino);
        if (n == null) {
            throw new FsException(Errno.EIO, "release of handle on freed inode " + h.ino);
        }
        n.opens--;
        maybeFree(n);
    }

    @Override
    public synchronized void fallocate(FileHandle fh, int mode, long offsetBytes, long lengthBytes)
            throws IOException {
        Handle h = handle(fh);
        Node n = node(h.ino);
        long end = offsetBytes + lengthBytes;
        if (offsetBytes < 0 || lengthBytes <= 0 || end > MAX_FILE_BYTES) {
            throw new FsException(Errno.EINVAL, "fallocate [" + offsetBytes + ", +" + lengthBytes + ")");
        }
        if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
            allocate(n, offsetBytes, end);
            if (mode == 0 && end > n.size) {
                n.size = end;
            }
        } else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
            long zeroEnd = Math.min(end, n.data.length);
            if (offsetBytes < zeroEnd) {
                Arrays.fill(n.data, (int) offsetBytes, (int) zeroEnd, (byte) 0);
            }
            long firstFull = (offsetBytes + BLOCK - 1) / BLOCK;
            long lastFull = end / BLOCK; // exclusive
            for (long b = firstFull; b < lastFull && b < Integer.MAX_VALUE; b++) {
                if (n.blocks.get((int) b)) {
                    n.blocks.clear((int) b);
                    allocatedBlocks--;
                }
            }
        } else {
            throw new FsException(Errno.EOPNOTSUPP, "fallocate mode " + mode);
        }
        touchCtime(n);
    }

    @Override
    public synchronized long seekDataHole(FileHandle fh, long offsetBytes, int whence) throws IOException {
        Node n = node(handle(fh).ino);
        if (offsetBytes < 0 || offsetBytes >= n.size) {
            throw new FsException(Errno.ENXIO, "offset " + offsetBytes + " at or past EOF " + n.size);
        }
        int blk = (int) (offsetBytes / BLOCK);
        if (whence == SEEK_DATA) {
            int next = n.blocks.nextSetBit(blk);
            long at = next < 0 ? Long.MAX_VALUE : Math.max(offsetBytes, (long) next * BLOCK);
            if (at >= n.size) {
                throw new FsException(Errno.ENXIO, "no data after " + offsetBytes);
            }
            return at;
        }
        if (whence == SEEK_HOLE) {
            int next = n.blocks.nextClearBit(blk);
            return Math.min(n.size, Math.max(offsetBytes, (long) next * BLOCK));
        }
        throw new FsException(Errno.EINVAL, "whence " + whence);
    }

    @Override
    public synchronized void forget(long ino, long count) throws IOException {
        Node n = inodes.get(ino);
        if (n == null) {
            throw new FsException(Errno.ESTALE, "forget of freed inode " + ino);
        }
        if (count > n.refs) {
            throw new FsException(Errno.EIO, "forget " + count + " of inode " + ino + " holding " + n.refs);
        }
        n.refs -= count;
        maybeFree(n);
    }

    @Override
    public synchronized StatFs statfs() {
        return new StatFs(BLOCK, TOTAL_BLOCKS, TOTAL_BLOCKS - allocatedBlocks, TOTAL_BLOCKS - allocatedBlocks,
                TOTAL_INODES, TOTAL_INODES - inodes.size(), 255);
    }

    @Override
    public void sync() {
        // Memory only: nothing to make durable.
    }

    @Override
    public void close() {
        // Memory only: nothing to release.
    }

    // ---------------------------------------------------------------------------------------------------------

    private Node node(long ino) throws FsException {
        Node n = inodes.get(ino);
        if (n == null) {
            throw new FsException(Errno.ESTALE, "no inode " + ino);
        }
        return n;
    }

    private Node dir(long ino) throws FsException {
        Node n = node(ino);
        if (!n.isDir()) {
            throw new FsException(Errno.ENOTDIR, "inode " + ino + " is not a directory");
        }
        return n;
    }

    private Node child(Node dir, String name) throws FsException {
        checkName(name);
        Long cookie = dir.cookieByName.get(name);
        if (cookie == null) {
            throw new FsException(Errno.ENOENT, "no " + name + " in inode " + dir.ino);
        }
        return node(dir.childByCookie.get(cookie).ino());
    }

    private static Handle handle(FileHandle fh) throws FsException {
        if (!(fh instanceof Handle h) || h.released) {
            throw new FsException(Errno.EBADF, "bad or released file handle " + fh);
        }
        return h;
    }

    private static void checkName(String name) throws FsException {
        if (name.isEmpty() || name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
            throw new FsException(Errno.EINVAL, "bad name '" + name + "'");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > 255) {
            throw new FsException(Errno.ENAMETOOLONG, "name of " + name.length() + " chars");
        }
    }

    private Node newChild(long dirIno, String name, int mode, int uid, int gid) throws FsException {
        Node dir = dir(dirIno);
        checkName(name);
        if (name.equals(".") || name.equals("..") || dir.cookieByName.containsKey(name)) {
            throw new FsException(Errno.EEXIST, name + " exists in inode " + dirIno);
        }
        if (dir.nlink == 0) {
            throw new FsException(Errno.ENOENT, "directory " + dirIno + " was removed");
        }
        if (inodes.size() >= TOTAL_INODES) {
            throw new FsException(Errno.ENOSPC, "no free inodes");
        }
        Node n = new Node(nextIno++, mode);
        n.nlink = 1;
        n.uid = uid;
        n.gid = gid;
        touchAll(n);
        inodes.put(n.ino, n);
        addEntry(dir, name, n.ino);
        return n;
    }

    private void addEntry(Node dir, String name, long ino) throws FsException {
        checkName(name);
        if (dir.cookieByName.containsKey(name)) {
            throw new FsException(Errno.EEXIST, name + " exists in inode " + dir.ino);
        }
        long cookie = dir.nextCookie++;
        dir.cookieByName.put(name, cookie);
        dir.childByCookie.put(cookie, new Child(name, ino));
        touchMtime(dir);
    }

    private void removeEntry(Node dir, String name) {
        Long cookie = dir.cookieByName.remove(name);
        dir.childByCookie.remove(cookie);
        touchMtime(dir);
    }

    private void replaceEntry(Node dir, String name, long ino) {
        long cookie = dir.cookieByName.get(name);
        dir.childByCookie.put(cookie, new Child(name, ino));
        touchMtime(dir);
    }

    private boolean isSelfOrDescendant(Node dir, long ancestorIno) {
        Node cur = dir;
        for (int depth = 0; depth < inodes.size() + 1; depth++) {
            if (cur.ino == ancestorIno) {
                return true;
            }
            if (cur.ino == ROOT) {
                return false;
            }
            cur = inodes.get(cur.parent);
            if (cur == null) {
                return false;
            }
        }
        return false;
    }

    private void maybeFree(Node n) {
        if (n.ino != ROOT && n.nlink <= 0 && n.refs == 0 && n.opens == 0) {
            allocatedBlocks -= n.blocks.cardinality();
            inodes.remove(n.ino);
        }
    }

    private void truncate(Node n, long size) throws FsException {
        if (size < 0 || size > MAX_FILE_BYTES) {
            throw new FsException(Errno.EFBIG, "truncate of inode " + n.ino + " to " + size);
        }
        if (size < n.data.length) {
            n.data = Arrays.copyOf(n.data, (int) size);
        }
        int firstFree = (int) ((size + BLOCK - 1) / BLOCK);
        for (int b = n.blocks.nextSetBit(firstFree); b >= 0; b = n.blocks.nextSetBit(b + 1)) {
            n.blocks.clear(b);
            allocatedBlocks--;
        }
        n.size = size;
        Instant now = Instant.now();
        n.mtimeSec = n.ctimeSec = now.getEpochSecond();
        n.mtimeNsec = n.ctimeNsec = now.getNano();
    }

    private static void ensureCapacity(Node n, long endBytes) {
        if (endBytes > n.data.length) {
            long cap = Math.max(endBytes, Math.min(MAX_FILE_BYTES, (long) n.data.length * 2));
            n.data = Arrays.copyOf(n.data, (int) Math.min(cap, Integer.MAX_VALUE - 16));
        }
    }

    private void allocate(Node n, long startBytes, long endBytes) {
        for (long b = startBytes / BLOCK; b < (endBytes + BLOCK - 1) / BLOCK; b++) {
            if (!n.blocks.get((int) b)) {
                n.blocks.set((int) b);
                allocatedBlocks++;
            }
        }
    }

    private static void touchAll(Node n) {
        Instant now = Instant.now();
        n.atimeSec = n.mtimeSec = n.ctimeSec = now.getEpochSecond();
        n.atimeNsec = n.mtimeNsec = n.ctimeNsec = now.getNano();
    }

    private static void touchMtime(Node n) {
        Instant now = Instant.now();
        n.mtimeSec = n.ctimeSec = now.getEpochSecond();
        n.mtimeNsec = n.ctimeNsec = now.getNano();
    }

    private static void touchCtime(Node n) {
        Instant now = Instant.now();
        n.ctimeSec = now.getEpochSecond();
        n.ctimeNsec = now.getNano();
    }

    private InodeAttr attr(Node n) {
        long blocks512 = FileMode.isRegular(n.mode) ? (long) n.blocks.cardinality() * (BLOCK / 512)
                : n.isDir() ? BLOCK / 512 : 0;
        long size = n.isDir() ? BLOCK : n.size;
        return new InodeAttr(n.ino, n.mode, n.nlink, n.uid, n.gid, n.rdev, size, blocks512, BLOCK, n.atimeSec,
                n.atimeNsec, n.mtimeSec, n.mtimeNsec, n.ctimeSec, n.ctimeNsec, 1);
    }
}
