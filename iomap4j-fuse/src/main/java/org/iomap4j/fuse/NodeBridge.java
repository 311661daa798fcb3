package org.iomap4j.fuse;

import static org.iomap4j.fuse.FuseAbi.*;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fuse.FuseIn.AccessIn;
import org.iomap4j.fuse.FuseIn.BatchForgetIn;
import org.iomap4j.fuse.FuseIn.CreateIn;
import org.iomap4j.fuse.FuseIn.Empty;
import org.iomap4j.fuse.FuseIn.FallocateIn;
import org.iomap4j.fuse.FuseIn.FsyncIn;
import org.iomap4j.fuse.FuseIn.LinkIn;
import org.iomap4j.fuse.FuseIn.LseekIn;
import org.iomap4j.fuse.FuseIn.MkdirIn;
import org.iomap4j.fuse.FuseIn.MknodIn;
import org.iomap4j.fuse.FuseIn.NameIn;
import org.iomap4j.fuse.FuseIn.OpenIn;
import org.iomap4j.fuse.FuseIn.ReadIn;
import org.iomap4j.fuse.FuseIn.ReleaseIn;
import org.iomap4j.fuse.FuseIn.RenameIn;
import org.iomap4j.fuse.FuseIn.SetattrIn;
import org.iomap4j.fuse.FuseIn.SymlinkIn;
import org.iomap4j.fuse.FuseIn.WriteIn;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Caller;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsFallocate;
import org.iomap4j.vfs.VfsNamespace;
import org.iomap4j.vfs.VfsSeek;
import org.iomap4j.vfs.VfsWrite;
import org.iomap4j.vfs.VfsXattr;

/**
 * The node layer: answers each FUSE opcode's typed input ({@link FuseIn}) with {@link Vfs} calls and a typed
 * {@link Reply}, bridging kernel node ids to Vfs inode numbers, keeping the kernel's lookup counts and the open
 * file-handle table. It exists so that the wire layer knows nothing of inodes and the Vfs knows nothing of FUSE;
 * it reads no payload offset and writes no reply struct itself.
 *
 * <p>Capabilities: the Vfs's optional interfaces are looked up once ({@link Vfs#capability}); an absent one
 * puts a refusing row in the opcode table, answering what the kernel expects: {@link VfsWrite} absent → EROFS for
 * WRITE, CREATE, attribute changes and write-mode opens; {@link VfsNamespace} absent → EPERM (EROFS without
 * VfsWrite); {@link VfsFallocate}, {@link VfsSeek}, {@link VfsXattr} absent → ENOSYS, which the kernel remembers
 * (no_fallocate, no_lseek with generic_file_llseek's fallback, no_getxattr...: callers see EOPNOTSUPP).
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
    private static final Logger LOG = System.getLogger(NodeBridge.class.getName());

    /**
     * An open file as the kernel knows it by fh.
     *
     * @param fopenDirectIo the open was answered FOPEN_DIRECT_IO (the kernel's page cache is bypassed)
     * @param guarded       a write-mode open registered with the {@link WritebackSpaceGuard}
     */
    record OpenFile(FileHandle handle, long nodeid, boolean fopenDirectIo, boolean guarded) {
    }

    private final Vfs vfs;
    private final VfsWrite writer;
    private final VfsNamespace namespace;
    private final VfsFallocate fallocator;
    private final VfsSeek seeker;
    private final VfsXattr xattrs;
    private final FuseOptions options;
    private final FuseInit init;
    private final OpenFlagsAbi openFlagsAbi;
    private final long rootIno;
    private final long entryTimeoutNanos;
    private final long attrTimeoutNanos;
    private final long negativeTimeoutNanos;
    private final Map<Long, Long> lookups = new ConcurrentHashMap<>();
    private final Map<Long, OpenFile> files = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);
    private final KillPriv killPriv;
    /** Keeps ENOSPC at write(2) with the writeback cache; null without it or without VfsWrite. */
    private final WritebackSpaceGuard spaceGuard;
    /** Drops the kernel's cached attributes of a nodeid (FUSE_NOTIFY_INVAL_INODE, offset -1); null: no kernel. */
    private volatile AttrInvalidator attrInvalidator;

    /** Sends FUSE_NOTIFY_INVAL_INODE for attributes only (safe inside a handler: it takes no page lock). */
    @FunctionalInterface
    interface AttrInvalidator {
        void invalidateAttrs(long nodeid) throws IOException;
    }

    NodeBridge(Vfs vfs, FuseOptions options) {
        this(vfs, options, OpenFlagsAbi.host());
    }

    /** @param openFlagsAbi the kernel's open(2) flag layout (the host's; another one in tests) */
    NodeBridge(Vfs vfs, FuseOptions options, OpenFlagsAbi openFlagsAbi) {
        this.vfs = vfs;
        this.writer = vfs.capability(VfsWrite.class).orElse(null);
        this.namespace = vfs.capability(VfsNamespace.class).orElse(null);
        this.fallocator = vfs.capability(VfsFallocate.class).orElse(null);
        this.seeker = vfs.capability(VfsSeek.class).orElse(null);
        this.xattrs = vfs.capability(VfsXattr.class).orElse(null);
        this.options = options;
        this.init = new FuseInit(options.writebackCache(), FuseInit.maxPagesLimit(), xattrs != null && xattrs.posixAcls());
        this.openFlagsAbi = openFlagsAbi;
        this.rootIno = vfs.rootIno();
        this.entryTimeoutNanos = options.entryTimeout().toNanos();
        this.attrTimeoutNanos = options.attrTimeout().toNanos();
        this.negativeTimeoutNanos = options.negativeTimeout().toNanos();
        this.killPriv = new KillPriv(vfs, writer, xattrs);
        this.spaceGuard = options.writebackCache() && writer != null && !options.readOnly()
                ? new WritebackSpaceGuard(vfs, options.writebackReserveBytes()) : null;
    }

    /** Called by the mount once the kernel has mounted it: the guard reads the mount's dirty bound. */
    void mounted(java.nio.file.Path mountpoint) {
        if (guardActive()) {
            spaceGuard.mounted(mountpoint);
        }
    }

    private boolean guardActive() {
        return spaceGuard != null && writebackCached();
    }

    /** The attribute timeout for replies about {@code nodeid}: zero while its cached writers are gated. */
    private long attrTimeout(long nodeid) {
        return guardActive() && spaceGuard.gated(nodeid) ? 0 : attrTimeoutNanos;
    }

    /** Re-checks free space after a change; on entering the low state drops gated inodes' cached attributes. */
    private void refreshSpace() throws IOException {
        if (!guardActive()) {
            return;
        }
        for (long nid : spaceGuard.refresh()) {
            dropAttrs(nid);
        }
    }

    private void dropAttrs(long nodeid) {
        try {
            attrsChanged(nodeid);
        } catch (IOException e) {
            // ENOENT: the kernel has no inode for it any more (nothing cached to drop).
            LOG.log(Level.DEBUG, () -> "attribute invalidation of nodeid " + nodeid + ": " + e);
        }
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

    /** Set by the mount once its /dev/fuse fds are open. */
    void attrInvalidator(AttrInvalidator invalidator) {
        this.attrInvalidator = invalidator;
    }

    /** After the server changed attributes the kernel cached without telling it in a reply (a killed suid). */
    private void attrsChanged(long nodeid) throws IOException {
        AttrInvalidator inv = attrInvalidator;
        if (inv != null) {
            inv.invalidateAttrs(nodeid);
        }
    }

    CountDownLatch initDone() {
        return init.done();
    }

    /** Why INIT failed, or null. */
    FsException initFailure() {
        return init.failure();
    }

    /** The INIT hook of the io_uring transport: ask for FUSE_OVER_IO_URING. */
    void requestOverIoUring() {
        init.requestOverIoUring();
    }

    /** All 64 granted INIT flags. */
    long negotiatedFlags64() {
        return init.negotiatedFlags();
    }

    /** The granted INIT flags (low 32 bits; all of them: {@link FuseInit#negotiatedFlags()}). */
    int negotiatedFlags() {
        return (int) init.negotiatedFlags();
    }

    int maxWriteBytes() {
        return init.maxWriteBytes();
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
    // The opcode table: wire decoder + node handler per opcode; absent capabilities get refusing rows.

    Op<?>[] opTable() {
        Op<?>[] t = new Op<?>[MAX_OPCODE];
        put(t, init.op());
        put(t, new Op<>(DESTROY, "DESTROY", 0, false, Empty::decode, (req, in, reply) -> reply.empty()));
        put(t, new Op<>(LOOKUP, "LOOKUP", 1, false, NameIn::decode, this::lookup));
        put(t, new Op<>(FORGET, "FORGET", FuseIn.ForgetIn.SIZE, true, FuseIn.ForgetIn::decode,
                (req, in, reply) -> forget(req.nodeid, in.nlookup())));
        put(t, new Op<>(BATCH_FORGET, "BATCH_FORGET", BatchForgetIn.SIZE, true, BatchForgetIn::decode,
                (req, in, reply) -> batchForget(in)));
        put(t, new Op<>(GETATTR, "GETATTR", FuseIn.GetattrIn.SIZE, false, FuseIn.GetattrIn::decode, this::getattr));
        put(t, new Op<>(SETATTR, "SETATTR", SetattrIn.SIZE, false, SetattrIn::decode, this::setattr));
        put(t, Op.refuse(STATX, "STATX", Errno.ENOSYS.code())); // the kernel falls back to GETATTR
        put(t, new Op<>(READLINK, "READLINK", 0, false, Empty::decode, this::readlink));
        put(t, new Op<>(OPEN, "OPEN", OpenIn.SIZE, false, r -> OpenIn.decode(r, openFlagsAbi), this::open));
        put(t, new Op<>(READ, "READ", ReadIn.SIZE, false, ReadIn::decode, this::read));
        put(t, new Op<>(FLUSH, "FLUSH", 8, false, FuseIn.FlushIn::decode, (req, in, reply) -> {
            vfs.flush(file(in.fh(), req).handle());
            reply.empty();
        }));
        put(t, new Op<>(FSYNC, "FSYNC", FsyncIn.SIZE, false, FsyncIn::decode, (req, in, reply) -> {
            vfs.fsync(file(in.fh(), req).handle(), in.dataOnly());
            reply.empty();
        }));
        put(t, new Op<>(RELEASE, "RELEASE", ReleaseIn.MIN_SIZE, false, ReleaseIn::decode, this::release));
        put(t, new Op<>(OPENDIR, "OPENDIR", OpenIn.SIZE, false, r -> OpenIn.decode(r, openFlagsAbi),
                this::opendir));
        put(t, new Op<>(READDIR, "READDIR", ReadIn.SIZE, false, ReadIn::decode,
                (req, in, reply) -> readdir(req, in, reply, false)));
        put(t, new Op<>(READDIRPLUS, "READDIRPLUS", ReadIn.SIZE, false, ReadIn::decode,
                (req, in, reply) -> readdir(req, in, reply, true)));
        put(t, new Op<>(RELEASEDIR, "RELEASEDIR", ReleaseIn.MIN_SIZE, false, ReleaseIn::decode,
                (req, in, reply) -> reply.empty()));
        put(t, new Op<>(FSYNCDIR, "FSYNCDIR", FsyncIn.SIZE, false, FsyncIn::decode, (req, in, reply) -> {
            vfs.sync();
            reply.empty();
        }));
        put(t, new Op<>(SYNCFS, "SYNCFS", 0, false, Empty::decode, (req, in, reply) -> {
            vfs.sync();
            reply.empty();
        }));
        put(t, new Op<>(STATFS, "STATFS", 0, false, Empty::decode, (req, in, reply) -> reply.statfs(vfs.statfs())));
        put(t, new Op<>(ACCESS, "ACCESS", AccessIn.SIZE, false, AccessIn::decode, this::access));
        put(t, new Op<>(INTERRUPT, "INTERRUPT", FuseIn.InterruptIn.SIZE, true, FuseIn.InterruptIn::decode,
                (req, in, reply) -> LOG.log(Level.DEBUG, () -> "interrupt of " + in.unique() + " ignored")));
        writeOps(t);
        namespaceOps(t);
        if (fallocator != null) {
            put(t, new Op<>(FALLOCATE, "FALLOCATE", FallocateIn.SIZE, false, FallocateIn::decode, this::fallocate));
        } else {
            put(t, Op.refuse(FALLOCATE, "FALLOCATE", Errno.ENOSYS.code()));
        }
        if (seeker != null) {
            put(t, new Op<>(LSEEK, "LSEEK", LseekIn.SIZE, false, LseekIn::decode, this::lseek));
        } else {
            put(t, Op.refuse(LSEEK, "LSEEK", Errno.ENOSYS.code()));
        }
        XattrOps.register(t, xattrs, this);
        return t;
    }

    private void writeOps(Op<?>[] t) {
        if (writer == null) {
            put(t, Op.refuse(WRITE, "WRITE", Errno.EROFS.code()));
            put(t, Op.refuse(CREATE, "CREATE", Errno.EROFS.code()));
            return;
        }
        put(t, new Op<>(WRITE, "WRITE", WriteIn.SIZE, false, WriteIn::decode, this::write));
        put(t, new Op<>(CREATE, "CREATE", CreateIn.SIZE, false, r -> CreateIn.decode(r, openFlagsAbi), this::create));
    }

    private void namespaceOps(Op<?>[] t) {
        if (namespace == null) {
            int errno = writer == null ? Errno.EROFS.code() : Errno.EPERM.code();
            put(t, Op.refuse(MKNOD, "MKNOD", errno));
            put(t, Op.refuse(MKDIR, "MKDIR", errno));
            put(t, Op.refuse(SYMLINK, "SYMLINK", errno));
            put(t, Op.refuse(LINK, "LINK", errno));
            put(t, Op.refuse(UNLINK, "UNLINK", errno));
            put(t, Op.refuse(RMDIR, "RMDIR", errno));
            put(t, Op.refuse(RENAME, "RENAME", errno));
            put(t, Op.refuse(RENAME2, "RENAME2", errno));
            return;
        }
        VfsNamespace ns = namespace;
        put(t, new Op<>(SYMLINK, "SYMLINK", 2, false, SymlinkIn::decode, (req, in, reply) -> replyEntry(reply,
                ns.symlink(ino(req.nodeid), in.name(), in.target(), req.uid, req.gid))));
        put(t, new Op<>(MKNOD, "MKNOD", MknodIn.SIZE, false, MknodIn::decode, (req, in, reply) -> replyEntry(reply,
                umasked(in.umask(), () -> ns.mknod(ino(req.nodeid), in.name(), in.mode(), in.rdevUnsigned(), req.uid,
                        req.gid)))));
        // The kernel sends mkdir's mode without S_IFDIR; the Vfs contract takes S_IFDIR|perm.
        put(t, new Op<>(MKDIR, "MKDIR", MkdirIn.SIZE, false, MkdirIn::decode, (req, in, reply) -> replyEntry(reply,
                umasked(in.umask(), () -> ns.mkdir(ino(req.nodeid), in.name(),
                        FileMode.S_IFDIR | (in.mode() & FileMode.PERM_MASK), req.uid, req.gid)))));
        put(t, new Op<>(LINK, "LINK", LinkIn.SIZE, false, LinkIn::decode, (req, in, reply) -> replyEntry(reply,
                ns.link(ino(in.oldNodeid()), ino(req.nodeid), in.newName()))));
        put(t, new Op<>(UNLINK, "UNLINK", 1, false, NameIn::decode, (req, in, reply) -> {
            ns.unlink(ino(req.nodeid), in.name());
            reply.empty();
        }));
        put(t, new Op<>(RMDIR, "RMDIR", 1, false, NameIn::decode, (req, in, reply) -> {
            ns.rmdir(ino(req.nodeid), in.name());
            reply.empty();
        }));
        put(t, new Op<>(RENAME, "RENAME", RenameIn.SIZE, false, RenameIn::decode, this::rename));
        put(t, new Op<>(RENAME2, "RENAME2", RenameIn.SIZE2, false, RenameIn::decode2, this::rename));
    }

    static void put(Op<?>[] t, Op<?> op) {
        if (t[op.opcode()] != null) {
            throw new IllegalStateException("opcode " + op.opcode() + " registered twice");
        }
        t[op.opcode()] = op;
    }

    // ------------------------------------------------------------------------------------------------------
    // Names and attributes.

    private void lookup(Request req, NameIn in, Reply reply) throws IOException {
        InodeAttr attr;
        try {
            attr = vfs.lookup(ino(req.nodeid), in.name());
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT && negativeTimeoutNanos > 0) {
                reply.negativeEntry(negativeTimeoutNanos); // the kernel caches the absence
                return;
            }
            throw e;
        }
        replyEntry(reply, attr);
    }

    /**
     * Answers with an entry_out for an inode the Vfs has just given us one reference on. Returns whether the
     * kernel took it; if not, gives the reference back.
     */
    private boolean replyEntry(Reply reply, InodeAttr attr) throws IOException {
        long nid = nodeId(attr.ino());
        addLookup(nid);
        if (reply.entry(nid, attr, entryTimeoutNanos, attrTimeout(nid))) {
            return true;
        }
        forget(nid, 1);
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
            LOG.log(Level.WARNING, "forget of nodeid " + nodeid + " by " + n + " but only " + dropped[0]
                    + " lookups were counted");
        }
        if (dropped[0] > 0) {
            vfs.forget(ino(nodeid), dropped[0]);
        }
    }

    private void batchForget(BatchForgetIn in) throws IOException {
        IOException first = null;
        for (int i = 0; i < in.nodeids().length; i++) {
            try {
                forget(in.nodeids()[i], in.nlookups()[i]);
            } catch (IOException e) {
                // One bad forget must not leak the rest of the batch; the first failure is reported.
                first = FuseMount.chain(first, e);
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private void setattr(Request req, SetattrIn in, Reply reply) throws IOException {
        SetAttr changes = in.changes();
        long ino = ino(req.nodeid);
        if (in.has(SetattrIn.FATTR_KILL_SUIDGID) && writer != null) {
            // HANDLE_KILLPRIV_V2: a truncate without CAP_FSETID, or a chown of a non-directory.
            changes = killPriv.fold(ino, changes, req.uid, req.gid);
        }
        InodeAttr attr;
        if (changes == null) {
            // notify_change always sets ATTR_CTIME, which FUSE passes on only with the writeback cache: a SETATTR
            // that changes nothing else (chown(f, -1, -1)) still moves ctime, as on ext4.
            attr = writer != null ? writer.setattr(ino, SetAttr.CTIME_ONLY) : vfs.getattr(ino);
        } else if (writer == null) {
            throw new FsException(Errno.EROFS, "setattr of nodeid " + req.nodeid + ": filesystem cannot write");
        } else {
            attr = writer.setattr(ino, changes);
        }
        reply.attr(attr, attrTimeout(req.nodeid));
    }

    /**
     * GETATTR. One carrying a cached write-mode handle (FUSE_GETATTR_FH) is, while the handle is gated, the kernel's
     * refresh before a cached write(2): {@link WritebackSpaceGuard#checkCachedWrite} may answer ENOSPC.
     */
    private void getattr(Request req, FuseIn.GetattrIn in, Reply reply) throws IOException {
        if (in.hasFh() && guardActive()) {
            OpenFile of = files.get(in.fh());
            if (of != null && of.guarded() && !of.fopenDirectIo()) {
                refreshSpace();
                spaceGuard.checkCachedWrite(req.nodeid);
            }
        }
        reply.attr(vfs.getattr(ino(req.nodeid)), attrTimeout(req.nodeid));
    }

    private void readlink(Request req, Empty in, Reply reply) throws IOException {
        byte[] target = vfs.readlink(ino(req.nodeid)).getBytes(StandardCharsets.UTF_8);
        if (target.length > reply.maxBodyBytes()) {
            throw new FsException(Errno.ENAMETOOLONG, "symlink target of nodeid " + req.nodeid + " is "
                    + target.length + " bytes");
        }
        reply.bytes(target);
    }

    private void rename(Request req, RenameIn in, Reply reply) throws IOException {
        int flags = in.flags();
        if ((flags & ~(Vfs.RENAME_NOREPLACE | Vfs.RENAME_EXCHANGE)) != 0
                || flags == (Vfs.RENAME_NOREPLACE | Vfs.RENAME_EXCHANGE)) {
            throw new FsException(Errno.EINVAL, "rename flags " + flags + " not supported");
        }
        namespace.rename(ino(req.nodeid), in.oldName(), ino(in.newDirNodeid()), in.newName(), flags);
        reply.empty();
    }

    // ------------------------------------------------------------------------------------------------------
    // Files. Open flags arrive as Vfs bits (translated from the kernel's architecture by the wire layer).

    /** Open flags as the Vfs should see them ({@link WritebackSpaceGuard#cachedOpenFlags} under the cache). */
    private int vfsOpenFlags(int flags) {
        return options.writebackCache() ? WritebackSpaceGuard.cachedOpenFlags(flags) : flags;
    }

    private long register(OpenFile of) {
        long id = nextFh.getAndIncrement();
        files.put(id, of);
        return id;
    }

    /**
     * The open's record: FOPEN_DIRECT_IO as {@link #fopenFlags} decides, or, for a write-mode open under the
     * writeback cache, as the {@link WritebackSpaceGuard} decides (direct when free space is low). A cached
     * write open of an inode whose writers are gated drops the kernel's cached attributes so the gate applies.
     */
    private OpenFile openRecord(FileHandle h, long nodeid, int flags) throws IOException {
        if (!guardActive() || (flags & Vfs.O_ACCMODE) == Vfs.O_RDONLY) {
            return new OpenFile(h, nodeid, fopenFlags(flags) != 0, false);
        }
        refreshSpace();
        boolean direct = spaceGuard.openForWrite(nodeid);
        if (!direct && spaceGuard.gated(nodeid)) {
            dropAttrs(nodeid);
        }
        return new OpenFile(h, nodeid, direct, true);
    }

    /** Forgets an open record (its handle is released by the caller). */
    private void unregister(long fh) {
        OpenFile of = files.remove(fh);
        if (of != null && of.guarded()) {
            spaceGuard.released(of.nodeid(), of.fopenDirectIo());
        }
    }

    /**
     * FOPEN_DIRECT_IO for an O_DIRECT open, but only without the writeback cache: a FOPEN_DIRECT_IO read does not
     * write back the kernel's dirty pages first (fs/fuse/file.c fuse_direct_io only waits for writeback already
     * under way), so it would read what the server has, short of the kernel's size. Without it the kernel's own
     * O_DIRECT path (generic_file_read_iter / generic_file_direct_write: write back and invalidate the range, then
     * fuse_direct_IO) still sends the I/O straight to the server. Found by MountMmapCoherenceTest.
     */
    private int fopenFlags(int flags) {
        if (writebackCached()) {
            return 0;
        }
        return (flags & Vfs.O_DIRECT) != 0 ? FOPEN_DIRECT_IO : 0;
    }

    private void open(Request req, OpenIn in, Reply reply) throws IOException {
        int flags = in.flags();
        if (writer == null && ((flags & Vfs.O_ACCMODE) != Vfs.O_RDONLY || (flags & Vfs.O_TRUNC) != 0)) {
            throw new FsException(Errno.EROFS, "open of nodeid " + req.nodeid + " for writing: filesystem cannot"
                    + " write");
        }
        FileHandle h = vfs.open(ino(req.nodeid), vfsOpenFlags(flags));
        if ((in.openFlags() & FUSE_OPEN_KILL_SUIDGID) != 0 && (flags & Vfs.O_TRUNC) != 0 && writer != null) {
            try {
                if (killPriv.kill(ino(req.nodeid), req.uid, req.gid)) {
                    attrsChanged(req.nodeid);
                }
            } catch (IOException | RuntimeException e) {
                vfs.release(h);
                throw e;
            }
        }
        OpenFile of = openRecord(h, req.nodeid, flags);
        long fh = register(of);
        if (!reply.open(fh, of.fopenDirectIo() ? FOPEN_DIRECT_IO : 0)) {
            unregister(fh);
            vfs.release(h);
        }
    }

    /**
     * Runs a create-type call with the request's umask bound ({@link Caller#UMASK}) when FUSE_DONT_MASK was granted
     * (with FUSE_POSIX_ACL): the kernel then sent the mode unmasked and the Vfs applies a default ACL or the umask.
     */
    private <T> T umasked(int umask, ScopedValue.CallableOp<T, IOException> op) throws IOException {
        return init.dontMask() ? ScopedValue.where(Caller.UMASK, umask & 0777).call(op) : op.call();
    }

    private void create(Request req, CreateIn in, Reply reply) throws IOException {
        int mode = in.mode();
        if ((mode & FileMode.S_IFMT) == 0) {
            mode |= FileMode.S_IFREG;
        }
        int m = mode;
        Vfs.Created c = umasked(in.umask(), () -> writer.create(ino(req.nodeid), in.name(), m, vfsOpenFlags(in.flags()),
                req.uid, req.gid));
        long nid = nodeId(c.attr().ino());
        OpenFile of;
        try {
            of = openRecord(c.handle(), nid, in.flags());
        } catch (IOException | RuntimeException e) {
            vfs.release(c.handle());
            vfs.forget(c.attr().ino(), 1);
            throw e;
        }
        long fh = register(of);
        addLookup(nid);
        if (!reply.created(nid, c.attr(), entryTimeoutNanos, attrTimeout(nid), fh,
                of.fopenDirectIo() ? FOPEN_DIRECT_IO : 0)) {
            forget(nid, 1);
            unregister(fh);
            vfs.release(of.handle());
        }
    }

    private OpenFile file(long fh, Request req) throws FsException {
        OpenFile of = files.get(fh);
        if (of == null) {
            throw new FsException(Errno.EBADF, "no open file handle " + fh + " (nodeid " + req.nodeid + ")");
        }
        return of;
    }

    /** READ: the bytes, short only at EOF, read straight into the (page-aligned) reply buffer. */
    private void read(Request req, ReadIn in, Reply reply) throws IOException {
        OpenFile of = file(in.fh(), req);
        ByteBuffer dst = reply.dataBuffer(in.sizeBytes());
        // The kernel treats a short read as EOF (it zero-fills the rest of the page). Vfs.read returns fewer bytes
        // than asked only at EOF, so one call is the whole answer; asking again past a short O_DIRECT read would
        // send an unaligned direct read (EINVAL) — found by ExerciseMountTest.
        vfs.read(of.handle(), in.offsetBytes(), dst);
        reply.data(dst.position());
    }

    private void write(Request req, WriteIn in, Reply reply) throws IOException {
        OpenFile of = file(in.fh(), req);
        if ((in.writeFlags() & FUSE_WRITE_KILL_SUIDGID) != 0) {
            if (killPriv.kill(ino(of.nodeid()), req.uid, req.gid)) { // before the data, as file_remove_privs
                attrsChanged(of.nodeid());
            }
        }
        if (of.guarded() && of.fopenDirectIo() && (in.writeFlags() & FUSE_WRITE_CACHE) == 0) {
            spaceGuard.checkUncachedWrite(of.nodeid(), in.data().remaining());
        }
        int n = writer.write(of.handle(), in.offsetBytes(), in.data());
        if (guardActive() && spaceGuard.refreshDue(n)) {
            refreshSpace();
        }
        // A FOPEN_DIRECT_IO write bypasses the kernel page cache; the kernel itself drops the pages it covers
        // afterwards (fs/fuse/file.c fuse_direct_io), so no INVAL_INODE is needed here
        // (FuseMountIntegrationTest.direct_io_write_is_seen_by_a_handle_that_cached_the_page).
        reply.written(n);
    }

    private void release(Request req, ReleaseIn in, Reply reply) throws IOException {
        OpenFile of = files.get(in.fh());
        if (of == null) {
            throw new FsException(Errno.EBADF, "RELEASE of unknown fh " + in.fh());
        }
        unregister(in.fh());
        vfs.release(of.handle());
        reply.empty();
    }

    private void fallocate(Request req, FallocateIn in, Reply reply) throws IOException {
        OpenFile of = file(in.fh(), req);
        if (guardActive() && (in.mode() & ~(0x01 | 0x40)) == 0) { // allocating: 0, KEEP_SIZE, UNSHARE_RANGE
            spaceGuard.checkUncachedWrite(of.nodeid(), in.lengthBytes());
        }
        fallocator.fallocate(of.handle(), in.mode(), in.offsetBytes(), in.lengthBytes());
        reply.empty();
    }

    /** Whether INIT granted FUSE_WRITEBACK_CACHE (the kernel owns size and holds dirty pages the server lacks). */
    private boolean writebackCached() {
        return (init.negotiatedFlags() & FUSE_WRITEBACK_CACHE) != 0;
    }

    /**
     * LSEEK: only SEEK_DATA and SEEK_HOLE come (the kernel answers the others itself). With the writeback cache and
     * a write handle of the inode open with the cache, ENOSYS: fuse_lseek asks the server without writing back dirty
     * pages first, so data the kernel still holds (possibly beyond the server's size) would be reported as a hole or
     * as ENXIO; after ENOSYS the kernel answers itself for good (generic_file_llseek: data up to its own size, the
     * hole at EOF), which is always right, only blind to holes. Found by ExerciseMountTest ('seek_hole' answered
     * ENXIO below the kernel's size). With no cached writer open the kernel holds no dirty page of the inode (close
     * wrote them back: fuse_flush), so the server's answer is exact (MountSparseDioTest).
     */
    private void lseek(Request req, LseekIn in, Reply reply) throws IOException {
        if (writebackCached() && spaceGuard != null && spaceGuard.hasCachedWriter(req.nodeid)) {
            throw new FsException(Errno.ENOSYS, "lseek SEEK_DATA/SEEK_HOLE with the writeback cache: the kernel"
                    + " answers itself");
        }
        OpenFile of = file(in.fh(), req);
        if (in.whence() != Vfs.SEEK_DATA && in.whence() != Vfs.SEEK_HOLE) {
            throw new FsException(Errno.EINVAL, "lseek whence " + in.whence());
        }
        if (in.offsetBytes() < 0) {
            throw new FsException(Errno.ENXIO, "lseek to negative offset " + in.offsetBytes());
        }
        reply.lseek(seeker.seekDataHole(of.handle(), in.offsetBytes(), in.whence()));
    }

    // ------------------------------------------------------------------------------------------------------
    // Directories.

    private void opendir(Request req, OpenIn in, Reply reply) throws IOException {
        InodeAttr attr = vfs.getattr(ino(req.nodeid));
        if (!attr.isDirectory()) {
            throw new FsException(Errno.ENOTDIR, "opendir of inode " + attr.ino());
        }
        // Directory handles carry no state: readdir offsets are the Vfs's stable cookies.
        reply.open(0, 0);
    }

    /** READDIR / READDIRPLUS: entries up to the size asked, each carrying the offset of the next. */
    private void readdir(Request req, ReadIn in, Reply reply, boolean plus) throws IOException {
        long dirIno = ino(req.nodeid);
        DirentWriter out = reply.dirents(in.sizeBytes());
        List<Long> taken = plus ? new ArrayList<>() : List.of();
        try {
            vfs.readdir(dirIno, in.offsetBytes(), e -> {
                byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
                if (!out.fits(name.length, plus)) {
                    return false;
                }
                if (!plus) {
                    out.add(e.ino(), e.nextOffset(), e.dtype(), name);
                    return true;
                }
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
                long nid = 0;
                if (attr != null) {
                    nid = nodeId(attr.ino());
                    addLookup(nid);
                    taken.add(nid);
                }
                out.addPlus(nid, attr, attr == null ? 0 : entryTimeoutNanos, attr == null ? 0 : attrTimeout(nid),
                        e.ino(), e.nextOffset(), e.dtype(), name);
                return true;
            });
        } catch (IOException | RuntimeException ex) {
            undo(taken);
            throw ex;
        }
        if (!out.send()) {
            undo(taken);
        }
    }

    private void undo(List<Long> nodeids) throws IOException {
        for (long nid : nodeids) {
            forget(nid, 1);
        }
    }

    /** ACCESS (only sent without default_permissions): F_OK 0, X_OK 1, W_OK 2, R_OK 4. */
    private void access(Request req, AccessIn in, Reply reply) throws IOException {
        int mask = in.mask() & 7;
        InodeAttr a = vfs.getattr(ino(req.nodeid));
        if ((mask & 2) != 0 && (vfs.isReadOnly() || writer == null)) {
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
        reply.empty();
    }

    // ------------------------------------------------------------------------------------------------------

    /**
     * After the kernel is gone: closes handles it left open and drops the lookups it still held, so the Vfs
     * frees unlinked inodes. Returns the first failure (others suppressed), or null.
     */
    IOException releaseAll() {
        IOException first = null;
        for (Long fh : List.copyOf(files.keySet())) {
            OpenFile of = files.get(fh);
            if (of == null) {
                continue;
            }
            unregister(fh);
            try {
                vfs.release(of.handle());
            } catch (IOException e) {
                first = FuseMount.chain(first, e);
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
                first = FuseMount.chain(first, e);
            }
        }
        return first;
    }
}
