package org.iomap4j.fuse;

import static org.iomap4j.fuse.FuseAbi.*;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node layer: answers each FUSE opcode by calling the {@link Vfs}, bridging kernel node ids to Vfs inode
 * numbers, keeping the kernel's lookup counts and the open file-handle table. It exists so that the wire layer
 * knows nothing of inodes and the Vfs knows nothing of FUSE.
 *
 * <p>Node ids: nodeid 1 is the root; every other nodeid is the Vfs inode number, except that a Vfs inode
 * numbered 1 (if the root is not 1) takes the root's number. The mapping swaps 1 and the root inode number and
 * is its own inverse, so it needs no table and st_ino is always the real inode number.
 *
 * <p>Lookup counts: every reply carrying an entry with a nonzero nodeid (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK,
 * CREATE, each READDIRPLUS entry but "." and "..") took one Vfs reference and adds one here; FORGET and
 * BATCH_FORGET subtract and pass the count to {@link Vfs#forget}. A reply the kernel refused (request
 * interrupted) gives its references back at once. At unmount, {@link #releaseAll} closes leftover handles and
 * forgets leftover counts so the Vfs can free unlinked inodes.
 *
 * <p>Thread-safe: reader threads call concurrently; the tables are concurrent maps and no lock is held while
 * calling the Vfs.
 */
final class NodeBridge {
    private static final Logger LOG = LoggerFactory.getLogger(NodeBridge.class);
    private static final int MAX_PAGES_DEFAULT = 256;
    private static final int PAGE_SIZE = 4096;

    /** An open file as the kernel knows it by fh. */
    record OpenFile(FileHandle handle, long nodeid, boolean directIo) {
    }

    private final Vfs vfs;
    private final FuseOptions options;
    private final long rootIno;
    private final long entryTimeoutNanos;
    private final long attrTimeoutNanos;
    private final long negativeTimeoutNanos;
    private final Map<Long, Long> lookups = new ConcurrentHashMap<>();
    private final Map<Long, OpenFile> files = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);
    private final CountDownLatch initDone = new CountDownLatch(1);
    private volatile int negotiatedFlags;
    private volatile int maxWriteBytes;
    private volatile FsException initFailure;

    NodeBridge(Vfs vfs, FuseOptions options) {
        this.vfs = vfs;
        this.options = options;
        this.rootIno = vfs.rootIno();
        this.entryTimeoutNanos = options.entryTimeout().toNanos();
        this.attrTimeoutNanos = options.attrTimeout().toNanos();
        this.negativeTimeoutNanos = options.negativeTimeout().toNanos();
    }

    /** The kernel nodeid for a Vfs inode number (swaps 1 and the root). */
    long nodeId(long ino) {
        if (ino == rootIno) {
            return ROOT_ID;
        }
        return ino == ROOT_ID ? rootIno : ino;
    }

    /** The Vfs inode number for a kernel nodeid (the same swap). */
    long ino(long nodeid) {
        return nodeId(nodeid);
    }

    CountDownLatch initDone() {
        return initDone;
    }

    /** Why INIT failed, or null. */
    FsException initFailure() {
        return initFailure;
    }

    int negotiatedFlags() {
        return negotiatedFlags;
    }

    int maxWriteBytes() {
        return maxWriteBytes;
    }

    /** Open handles (for tests and leak checks). */
    int openFileCount() {
        return files.size();
    }

    /** The outstanding kernel lookup count of a nodeid (0 if none). */
    long lookupCount(long nodeid) {
        return lookups.getOrDefault(nodeid, 0L);
    }

    // ------------------------------------------------------------------------------------------------------
    // The opcode table.

    Op[] opTable() {
        Op[] t = new Op[MAX_OPCODE];
        put(t, new Op(INIT, "INIT", 16, false, this::init));
        put(t, new Op(DESTROY, "DESTROY", 0, false, (req, reply) -> reply.ok(0)));
        put(t, new Op(LOOKUP, "LOOKUP", 1, false, this::lookup));
        put(t, new Op(FORGET, "FORGET", 8, true, (req, reply) -> forget(req.nodeid, req.u64(0))));
        put(t, new Op(BATCH_FORGET, "BATCH_FORGET", 8, true, this::batchForget));
        put(t, new Op(GETATTR, "GETATTR", 16, false, this::getattr));
        put(t, new Op(SETATTR, "SETATTR", 88, false, this::setattr));
        put(t, new Op(STATX, "STATX", 0, false, (req, reply) -> reply.error(Errno.ENOSYS.code())));
        put(t, new Op(READLINK, "READLINK", 0, false, this::readlink));
        put(t, new Op(SYMLINK, "SYMLINK", 2, false, this::symlink));
        put(t, new Op(MKNOD, "MKNOD", 16, false, this::mknod));
        put(t, new Op(MKDIR, "MKDIR", 8, false, this::mkdir));
        put(t, new Op(UNLINK, "UNLINK", 1, false, (req, reply) -> {
            vfs.unlink(ino(req.nodeid), req.name(0));
            reply.ok(0);
        }));
        put(t, new Op(RMDIR, "RMDIR", 1, false, (req, reply) -> {
            vfs.rmdir(ino(req.nodeid), req.name(0));
            reply.ok(0);
        }));
        put(t, new Op(RENAME, "RENAME", 8, false, (req, reply) -> rename(req, reply, req.u64(0), 0, 8)));
        put(t, new Op(RENAME2, "RENAME2", 16, false, (req, reply) -> rename(req, reply, req.u64(0), req.u32(8), 16)));
        put(t, new Op(LINK, "LINK", 8, false, this::link));
        put(t, new Op(OPEN, "OPEN", 8, false, this::open));
        put(t, new Op(CREATE, "CREATE", 16, false, this::create));
        put(t, new Op(READ, "READ", 24, false, this::read));
        put(t, new Op(WRITE, "WRITE", 40, false, this::write));
        put(t, new Op(FLUSH, "FLUSH", 8, false, (req, reply) -> reply.ok(0)));
        put(t, new Op(FSYNC, "FSYNC", 16, false, this::fsync));
        put(t, new Op(RELEASE, "RELEASE", 8, false, this::release));
        put(t, new Op(OPENDIR, "OPENDIR", 8, false, this::opendir));
        put(t, new Op(READDIR, "READDIR", 24, false, (req, reply) -> readdir(req, reply, false)));
        put(t, new Op(READDIRPLUS, "READDIRPLUS", 24, false, (req, reply) -> readdir(req, reply, true)));
        put(t, new Op(RELEASEDIR, "RELEASEDIR", 8, false, (req, reply) -> reply.ok(0)));
        put(t, new Op(FSYNCDIR, "FSYNCDIR", 16, false, (req, reply) -> {
            vfs.sync();
            reply.ok(0);
        }));
        put(t, new Op(SYNCFS, "SYNCFS", 0, false, (req, reply) -> {
            vfs.sync();
            reply.ok(0);
        }));
        put(t, new Op(STATFS, "STATFS", 0, false, (req, reply) -> {
            putKstatfs(reply.body(), 0, vfs.statfs());
            reply.ok(KSTATFS_SIZE);
        }));
        put(t, new Op(ACCESS, "ACCESS", 8, false, this::access));
        put(t, new Op(FALLOCATE, "FALLOCATE", 32, false, this::fallocate));
        put(t, new Op(LSEEK, "LSEEK", 24, false, this::lseek));
        put(t, new Op(INTERRUPT, "INTERRUPT", 8, true, (req, reply) -> LOG.debug("interrupt of {} ignored",
                req.u64(0))));
        // Extended attributes are not part of the Vfs: report "none" so ls and cp -a stay silent.
        put(t, new Op(GETXATTR, "GETXATTR", 8, false, (req, reply) -> reply.error(Errno.ENODATA.code())));
        put(t, new Op(LISTXATTR, "LISTXATTR", 8, false, this::listxattr));
        put(t, new Op(SETXATTR, "SETXATTR", 8, false, (req, reply) -> reply.error(Errno.EOPNOTSUPP.code())));
        put(t, new Op(REMOVEXATTR, "REMOVEXATTR", 1, false, (req, reply) -> reply.error(Errno.ENODATA.code())));
        return t;
    }

    private static void put(Op[] t, Op op) {
        if (t[op.opcode()] != null) {
            throw new IllegalStateException("opcode " + op.opcode() + " registered twice");
        }
        t[op.opcode()] = op;
    }

    // ------------------------------------------------------------------------------------------------------
    // INIT: fuse_init_in {major@0 minor@4 max_readahead@8 flags@12 flags2@16 ...}; fuse_init_out 64 bytes.

    private void init(Request req, Reply reply) throws IOException {
        try {
            int major = req.u32(0);
            int minor = req.u32(4);
            int maxReadahead = req.u32(8);
            int offered = req.u32(12);
            if (major != KERNEL_VERSION || minor < MIN_MINOR_VERSION) {
                initFailure = new FsException(Errno.ENODEV, "kernel FUSE protocol " + major + "." + minor
                        + " unsupported (need 7." + MIN_MINOR_VERSION + "+)");
                reply.error(71); // EPROTO
                return;
            }
            int wanted = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS
                    | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ATOMIC_O_TRUNC | FUSE_ASYNC_DIO
                    | FUSE_CACHE_SYMLINKS;
            if (options.writebackCache()) {
                wanted |= FUSE_WRITEBACK_CACHE;
            }
            int flags = wanted & offered;
            int maxPages = (flags & FUSE_MAX_PAGES) != 0 ? Math.min(MAX_PAGES_DEFAULT, maxPagesLimit()) : 32;
            int maxWrite = maxPages * PAGE_SIZE;
            MemorySegment b = reply.body();
            b.asSlice(0, INIT_OUT_SIZE).fill((byte) 0);
            b.set(U32, 0, KERNEL_VERSION);
            b.set(U32, 4, Math.min(minor, MINOR_VERSION));
            b.set(U32, 8, maxReadahead);
            b.set(U32, 12, flags);
            b.set(U16, 16, (short) 64); // max_background
            b.set(U16, 18, (short) 48); // congestion_threshold
            b.set(U32, 20, maxWrite);
            b.set(U32, 24, 1); // time_gran: nanoseconds
            b.set(U16, 28, (short) maxPages);
            negotiatedFlags = flags;
            maxWriteBytes = maxWrite;
            LOG.debug("fuse INIT: kernel 7.{} flags {}; reply 7.{} flags {} max_write {}", minor,
                    Integer.toHexString(offered), Math.min(minor, MINOR_VERSION), Integer.toHexString(flags),
                    maxWrite);
            reply.ok(INIT_OUT_SIZE);
        } finally {
            initDone.countDown();
        }
    }

    /**
     * /proc/sys/fs/fuse/max_pages_limit (256 when absent or unreadable). Read line-wise: Files.readString on
     * this size-0 proc file returned only "2" of "256" on kernel 6.18.
     */
    private static int maxPagesLimit() {
        Path p = Path.of("/proc/sys/fs/fuse/max_pages_limit");
        try {
            if (!Files.isReadable(p)) {
                return MAX_PAGES_DEFAULT;
            }
            List<String> lines = Files.readAllLines(p);
            return lines.isEmpty() ? MAX_PAGES_DEFAULT : Math.max(1, Integer.parseInt(lines.get(0).trim()));
        } catch (IOException | NumberFormatException e) {
            LOG.debug("cannot read {}: {}", p, e.toString());
            return MAX_PAGES_DEFAULT;
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Names and attributes.

    private void lookup(Request req, Reply reply) throws IOException {
        InodeAttr attr;
        try {
            attr = vfs.lookup(ino(req.nodeid), req.name(0));
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT && negativeTimeoutNanos > 0) {
                // nodeid 0 with entry_valid > 0: the kernel caches the absence.
                putEntryOut(reply.body(), 0, 0, null, negativeTimeoutNanos, 0);
                reply.ok(ENTRY_OUT_SIZE);
                return;
            }
            throw e;
        }
        replyEntry(reply, attr, 0, 0);
    }

    /**
     * Answers with an entry_out (plus {@code extraBytes} the caller already wrote after it) for an inode the
     * Vfs has just given us one reference on. Returns whether the kernel took it; if not, gives it back.
     */
    private boolean replyEntry(Reply reply, InodeAttr attr, int extraBytes, long fhToDropOnFailure)
            throws IOException {
        long nid = nodeId(attr.ino());
        addLookup(nid);
        putEntryOut(reply.body(), 0, nid, attr, entryTimeoutNanos, attrTimeoutNanos);
        if (reply.ok(ENTRY_OUT_SIZE + extraBytes)) {
            return true;
        }
        forget(nid, 1);
        if (fhToDropOnFailure != 0) {
            OpenFile of = files.remove(fhToDropOnFailure);
            if (of != null) {
                vfs.release(of.handle());
            }
        }
        return false;
    }

    private void addLookup(long nodeid) {
        lookups.merge(nodeid, 1L, Long::sum);
    }

    /** Drops {@code n} kernel lookups of {@code nodeid} and passes them to the Vfs. */
    void forget(long nodeid, long n) throws IOException {
        long[] dropped = new long[1];
        lookups.computeIfPresent(nodeid, (k, have) -> {
            dropped[0] = Math.min(have, n);
            return have - dropped[0] == 0 ? null : have - dropped[0];
        });
        if (dropped[0] != n) {
            LOG.warn("forget of nodeid {} by {} but only {} lookups were counted", nodeid, n, dropped[0]);
        }
        if (dropped[0] > 0) {
            vfs.forget(ino(nodeid), dropped[0]);
        }
    }

    /** fuse_batch_forget_in {count@0 dummy@4} then count × fuse_forget_one {nodeid@0 nlookup@8}. */
    private void batchForget(Request req, Reply reply) throws IOException {
        long count = req.u32(0) & 0xffffffffL;
        long fit = (req.payloadBytes() - 8) / 16;
        if (count > fit) {
            LOG.warn("BATCH_FORGET claims {} entries but carries {}", count, fit);
            count = fit;
        }
        IOException first = null;
        for (int i = 0; i < count; i++) {
            int off = 8 + i * 16;
            try {
                forget(req.u64(off), req.u64(off + 8));
            } catch (IOException e) {
                // One bad forget must not leak the rest of the batch; the first failure is reported.
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private void getattr(Request req, Reply reply) throws IOException {
        putAttrOut(reply.body(), 0, vfs.getattr(ino(req.nodeid)), attrTimeoutNanos);
        reply.ok(ATTR_OUT_SIZE);
    }

    /**
     * fuse_setattr_in: valid@0 fh@8 size@16 lock_owner@24 atime@32 mtime@40 ctime@48 atimensec@56
     * mtimensec@60 ctimensec@64 mode@68 uid@76 gid@80.
     */
    private void setattr(Request req, Reply reply) throws IOException {
        int valid = req.u32(0);
        Integer mode = (valid & FATTR_MODE) != 0 ? req.u32(68) : null;
        Integer uid = (valid & FATTR_UID) != 0 ? req.u32(76) : null;
        Integer gid = (valid & FATTR_GID) != 0 ? req.u32(80) : null;
        Long size = (valid & FATTR_SIZE) != 0 ? req.u64(16) : null;
        boolean atimeNow = (valid & FATTR_ATIME_NOW) != 0;
        boolean mtimeNow = (valid & FATTR_MTIME_NOW) != 0;
        Long atime = (valid & FATTR_ATIME) != 0 && !atimeNow ? req.u64(32) : null;
        Long mtime = (valid & FATTR_MTIME) != 0 && !mtimeNow ? req.u64(40) : null;
        if (size != null && size < 0) {
            throw new FsException(Errno.EINVAL, "setattr size " + size + " of nodeid " + req.nodeid);
        }
        long ino = ino(req.nodeid);
        InodeAttr attr;
        if (mode == null && uid == null && gid == null && size == null && atime == null && mtime == null
                && !atimeNow && !mtimeNow) {
            attr = vfs.getattr(ino);
        } else {
            attr = vfs.setattr(ino, new SetAttr(mode, uid, gid, size, atime, mtime, atimeNow, mtimeNow));
        }
        putAttrOut(reply.body(), 0, attr, attrTimeoutNanos);
        reply.ok(ATTR_OUT_SIZE);
    }

    private void readlink(Request req, Reply reply) throws IOException {
        byte[] target = vfs.readlink(ino(req.nodeid)).getBytes(StandardCharsets.UTF_8);
        if (target.length > reply.maxBodyBytes()) {
            throw new FsException(Errno.ENAMETOOLONG, "symlink target of nodeid " + req.nodeid + " is "
                    + target.length + " bytes");
        }
        MemorySegment.copy(MemorySegment.ofArray(target), 0, reply.body(), 0, target.length);
        reply.ok(target.length);
    }

    /** SYMLINK: name\0 target\0. */
    private void symlink(Request req, Reply reply) throws IOException {
        String name = req.name(0);
        String target = req.name(req.nameEnd(0) + 1);
        replyEntry(reply, vfs.symlink(ino(req.nodeid), name, target, req.uid, req.gid), 0, 0);
    }

    /** fuse_mknod_in {mode@0 rdev@4 umask@8 padding@12} name. The kernel has applied the umask. */
    private void mknod(Request req, Reply reply) throws IOException {
        int mode = req.u32(0);
        long rdev = req.u32(4) & 0xffffffffL;
        replyEntry(reply, vfs.mknod(ino(req.nodeid), req.name(16), mode, rdev, req.uid, req.gid), 0, 0);
    }

    /** fuse_mkdir_in {mode@0 umask@4} name; the mode is passed with S_IFDIR set. */
    private void mkdir(Request req, Reply reply) throws IOException {
        int mode = FileMode.S_IFDIR | (req.u32(0) & FileMode.PERM_MASK);
        replyEntry(reply, vfs.mkdir(ino(req.nodeid), req.name(8), mode, req.uid, req.gid), 0, 0);
    }

    /** RENAME: fuse_rename_in {newdir@0} names; RENAME2: fuse_rename2_in {newdir@0 flags@8 pad@12} names. */
    private void rename(Request req, Reply reply, long newDirNodeid, int flags, int namesOff) throws IOException {
        if ((flags & ~(Vfs.RENAME_NOREPLACE | Vfs.RENAME_EXCHANGE)) != 0
                || flags == (Vfs.RENAME_NOREPLACE | Vfs.RENAME_EXCHANGE)) {
            throw new FsException(Errno.EINVAL, "rename flags " + flags + " not supported");
        }
        String oldName = req.name(namesOff);
        String newName = req.name(req.nameEnd(namesOff) + 1);
        vfs.rename(ino(req.nodeid), oldName, ino(newDirNodeid), newName, flags);
        reply.ok(0);
    }

    /** fuse_link_in {oldnodeid@0} newname; the header's nodeid is the new parent. */
    private void link(Request req, Reply reply) throws IOException {
        long target = ino(req.u64(0));
        replyEntry(reply, vfs.link(target, ino(req.nodeid), req.name(8)), 0, 0);
    }

    // ------------------------------------------------------------------------------------------------------
    // Files.

    /** Open flags as the Vfs should see them: with the writeback cache the kernel owns O_APPEND positions. */
    private int vfsOpenFlags(int flags) {
        if (options.writebackCache()) {
            flags &= ~Vfs.O_APPEND;
            if ((flags & Vfs.O_ACCMODE) == Vfs.O_WRONLY) {
                flags = (flags & ~Vfs.O_ACCMODE) | Vfs.O_RDWR; // the kernel reads to fill partial pages
            }
        }
        return flags;
    }

    private long register(FileHandle fh, long nodeid, int flags) {
        long id = nextFh.getAndIncrement();
        files.put(id, new OpenFile(fh, nodeid, (flags & Vfs.O_DIRECT) != 0));
        return id;
    }

    private static int fopenFlags(int flags) {
        return (flags & Vfs.O_DIRECT) != 0 ? FOPEN_DIRECT_IO : 0;
    }

    /** fuse_open_in {flags@0 open_flags@4}; reply fuse_open_out. */
    private void open(Request req, Reply reply) throws IOException {
        int flags = req.u32(0);
        FileHandle h = vfs.open(ino(req.nodeid), vfsOpenFlags(flags));
        long fh = register(h, req.nodeid, flags);
        putOpenOut(reply.body(), 0, fh, fopenFlags(flags));
        if (!reply.ok(OPEN_OUT_SIZE)) {
            files.remove(fh);
            vfs.release(h);
        }
    }

    /** fuse_create_in {flags@0 mode@4 umask@8 open_flags@12} name; reply entry_out + open_out. */
    private void create(Request req, Reply reply) throws IOException {
        int flags = req.u32(0);
        int mode = req.u32(4);
        if ((mode & FileMode.S_IFMT) == 0) {
            mode |= FileMode.S_IFREG;
        }
        Vfs.Created c = vfs.create(ino(req.nodeid), req.name(16), mode, vfsOpenFlags(flags), req.uid, req.gid);
        long fh = register(c.handle(), nodeId(c.attr().ino()), flags);
        putOpenOut(reply.body(), ENTRY_OUT_SIZE, fh, fopenFlags(flags));
        replyEntry(reply, c.attr(), OPEN_OUT_SIZE, fh);
    }

    private OpenFile file(long fh, Request req) throws FsException {
        OpenFile of = files.get(fh);
        if (of == null) {
            throw new FsException(Errno.EBADF, "no open file handle " + fh + " (nodeid " + req.nodeid + ")");
        }
        return of;
    }

    /** fuse_read_in {fh@0 offset@8 size@16 read_flags@20 ...}; reply the bytes, short only at EOF. */
    private void read(Request req, Reply reply) throws IOException {
        OpenFile of = file(req.u64(0), req);
        long pos = req.u64(8);
        int size = (int) Math.min(req.u32(16) & 0xffffffffL, reply.maxBodyBytes());
        ByteBuffer dst = reply.body().asSlice(0, size).asByteBuffer();
        // The kernel treats a short read as EOF (it zero-fills the rest of the page). Vfs.read returns fewer bytes
        // than asked only at EOF, so one call is the whole answer; asking again past a short O_DIRECT read would
        // send an unaligned direct read (EINVAL) — found by ExerciseMountTest.
        vfs.read(of.handle(), pos, dst);
        reply.ok(dst.position());
    }

    /** fuse_write_in {fh@0 offset@8 size@16 write_flags@20 lock_owner@24 flags@32} data; reply write_out. */
    private void write(Request req, Reply reply) throws IOException {
        OpenFile of = file(req.u64(0), req);
        long pos = req.u64(8);
        int size = req.u32(16);
        if (size < 0 || 40L + size > req.payloadBytes()) {
            throw new FsException(Errno.EINVAL, "WRITE of " + size + " bytes carries " + (req.payloadBytes() - 40));
        }
        int n = vfs.write(of.handle(), pos, req.bytes(40, size));
        MemorySegment b = reply.body();
        b.set(U32, 0, n);
        b.set(U32, 4, 0);
        // A FOPEN_DIRECT_IO write bypasses the kernel page cache; the kernel itself drops the pages it covers
        // afterwards (fs/fuse/file.c fuse_direct_io), so no INVAL_INODE is needed here
        // (FuseMountIntegrationTest.direct_io_write_is_seen_by_a_handle_that_cached_the_page).
        reply.ok(WRITE_OUT_SIZE);
    }

    /** fuse_fsync_in {fh@0 fsync_flags@8}. */
    private void fsync(Request req, Reply reply) throws IOException {
        OpenFile of = file(req.u64(0), req);
        vfs.fsync(of.handle(), (req.u32(8) & FUSE_FSYNC_FDATASYNC) != 0);
        reply.ok(0);
    }

    /** fuse_release_in {fh@0 flags@8 release_flags@12 lock_owner@16}. */
    private void release(Request req, Reply reply) throws IOException {
        OpenFile of = files.remove(req.u64(0));
        if (of == null) {
            throw new FsException(Errno.EBADF, "RELEASE of unknown fh " + req.u64(0));
        }
        vfs.release(of.handle());
        reply.ok(0);
    }

    /** fuse_fallocate_in {fh@0 offset@8 length@16 mode@24}. */
    private void fallocate(Request req, Reply reply) throws IOException {
        OpenFile of = file(req.u64(0), req);
        long off = req.u64(8);
        long len = req.u64(16);
        if (off < 0 || len <= 0 || off + len < 0) {
            throw new FsException(Errno.EINVAL, "fallocate [" + off + ", +" + len + ")");
        }
        vfs.fallocate(of.handle(), req.u32(24), off, len);
        reply.ok(0);
    }

    /** fuse_lseek_in {fh@0 offset@8 whence@16}; reply fuse_lseek_out {offset}. Only SEEK_DATA/SEEK_HOLE come. */
    private void lseek(Request req, Reply reply) throws IOException {
        OpenFile of = file(req.u64(0), req);
        int whence = req.u32(16);
        if (whence != Vfs.SEEK_DATA && whence != Vfs.SEEK_HOLE) {
            throw new FsException(Errno.EINVAL, "lseek whence " + whence);
        }
        long off = req.u64(8);
        if (off < 0) {
            throw new FsException(Errno.ENXIO, "lseek to negative offset " + off);
        }
        reply.body().set(U64, 0, vfs.seekDataHole(of.handle(), off, whence));
        reply.ok(LSEEK_OUT_SIZE);
    }

    // ------------------------------------------------------------------------------------------------------
    // Directories.

    private void opendir(Request req, Reply reply) throws IOException {
        InodeAttr attr = vfs.getattr(ino(req.nodeid));
        if (!attr.isDirectory()) {
            throw new FsException(Errno.ENOTDIR, "opendir of inode " + attr.ino());
        }
        // Directory handles carry no state: readdir offsets are the Vfs's stable cookies.
        putOpenOut(reply.body(), 0, 0, 0);
        reply.ok(OPEN_OUT_SIZE);
    }

    /**
     * READDIR / READDIRPLUS: fuse_read_in {fh@0 offset@8 size@16}; reply packed fuse_dirent (or direntplus)
     * records up to size bytes, each carrying the offset of the next entry.
     */
    private void readdir(Request req, Reply reply, boolean plus) throws IOException {
        long dirIno = ino(req.nodeid);
        long offset = req.u64(8);
        int size = (int) Math.min(req.u32(16) & 0xffffffffL, reply.maxBodyBytes());
        MemorySegment body = reply.body();
        int[] used = {0};
        List<Long> taken = plus ? new ArrayList<>() : List.of();
        try {
            vfs.readdir(dirIno, offset, e -> {
                byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
                int need = plus ? direntPlusSize(name.length) : direntSize(name.length);
                if (used[0] + need > size) {
                    return false;
                }
                int at = used[0];
                if (plus) {
                    InodeAttr attr = null;
                    if (!e.name().equals(".") && !e.name().equals("..")) {
                        try {
                            attr = vfs.lookup(dirIno, e.name());
                        } catch (FsException ex) {
                            if (ex.errno() != Errno.ENOENT) {
                                throw ex;
                            }
                            // Removed since readdir saw it: send the name without entry information.
                        }
                    }
                    if (attr != null) {
                        long nid = nodeId(attr.ino());
                        addLookup(nid);
                        taken.add(nid);
                        putEntryOut(body, at, nid, attr, entryTimeoutNanos, attrTimeoutNanos);
                    } else {
                        putEntryOut(body, at, 0, null, 0, 0);
                    }
                    at += ENTRY_OUT_SIZE;
                }
                putDirent(body, at, e.ino(), e.nextOffset(), e.dtype(), name);
                used[0] += need;
                return true;
            });
        } catch (IOException | RuntimeException ex) {
            undo(taken);
            throw ex;
        }
        if (!reply.ok(used[0])) {
            undo(taken);
        }
    }

    private void undo(List<Long> nodeids) throws IOException {
        for (long nid : nodeids) {
            forget(nid, 1);
        }
    }

    /** fuse_access_in {mask@0}: F_OK 0, X_OK 1, W_OK 2, R_OK 4. Only sent without default_permissions. */
    private void access(Request req, Reply reply) throws IOException {
        int mask = req.u32(0) & 7;
        InodeAttr a = vfs.getattr(ino(req.nodeid));
        if ((mask & 2) != 0 && vfs.isReadOnly()) {
            throw new FsException(Errno.EROFS, "access W_OK on read-only filesystem");
        }
        int perm;
        if (req.uid == 0) {
            // root passes R and W; X needs some x bit (or a directory), as in generic_permission.
            boolean anyX = (a.mode() & 0111) != 0 || a.isDirectory();
            perm = 6 | (anyX ? 1 : 0);
        } else if (req.uid == a.uid()) {
            perm = (a.mode() >> 6) & 7;
        } else if (req.gid == a.gid()) {
            perm = (a.mode() >> 3) & 7; // supplementary groups are not known here
        } else {
            perm = a.mode() & 7;
        }
        if ((mask & ~perm) != 0) {
            throw new FsException(Errno.EACCES, "access mask " + mask + " on inode " + a.ino());
        }
        reply.ok(0);
    }

    /** fuse_getxattr_in {size@0}: size 0 asks for the list length (0: no attributes), else the list (empty). */
    private void listxattr(Request req, Reply reply) throws IOException {
        if (req.u32(0) == 0) {
            reply.body().set(U32, 0, 0);
            reply.body().set(U32, 4, 0);
            reply.ok(GETXATTR_OUT_SIZE);
        } else {
            reply.ok(0);
        }
    }

    // ------------------------------------------------------------------------------------------------------

    /**
     * After the kernel is gone: closes handles it left open and drops the lookups it still held, so the Vfs
     * frees unlinked inodes. Returns the first failure (others suppressed), or null.
     */
    IOException releaseAll() {
        IOException first = null;
        for (Long fh : List.copyOf(files.keySet())) {
            OpenFile of = files.remove(fh);
            if (of == null) {
                continue;
            }
            try {
                vfs.release(of.handle());
            } catch (IOException e) {
                first = chain(first, e);
            }
        }
        for (Long nid : List.copyOf(lookups.keySet())) {
            Long n = lookups.remove(nid);
            if (n == null || n <= 0) {
                continue;
            }
            try {
                vfs.forget(ino(nid), n);
            } catch (IOException e) {
                first = chain(first, e);
            }
        }
        return first;
    }

    private static IOException chain(IOException first, IOException e) {
        if (first == null) {
            return e;
        }
        first.addSuppressed(e);
        return first;
    }
}
