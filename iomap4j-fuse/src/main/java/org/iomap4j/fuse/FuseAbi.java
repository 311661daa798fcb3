package org.iomap4j.fuse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.StatFs;

/**
 * The kernel FUSE ABI (wire layer): opcodes, INIT flags, struct sizes and field offsets, encoders for the reply
 * structs and notifications, and the few readers of replies the warm-up (playing the kernel) needs. It exists so
 * that every byte offset of the outgoing wire format lives in one place, checked by FuseAbiTest and FuseOutTest;
 * the incoming structs are decoded by {@link FuseIn}.
 *
 * <p>Source of every fact: include/uapi/linux/fuse.h (protocol 7.38 layouts; all little-endian, naturally
 * aligned). Offsets are in bytes from the start of the struct.
 */
final class FuseAbi {
    private FuseAbi() {}

    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Protocol version we speak: 7.38 structures (INIT reply minor = min(kernel minor, this)). */
    static final int KERNEL_VERSION = 7;
    static final int MINOR_VERSION = 38;
    /** Oldest kernel minor we accept (7.31: max_pages, killpriv, the layouts used here). */
    static final int MIN_MINOR_VERSION = 31;

    static final long ROOT_ID = 1;

    // ---- opcodes (enum fuse_opcode) ----
    static final int LOOKUP = 1;
    static final int FORGET = 2;
    static final int GETATTR = 3;
    static final int SETATTR = 4;
    static final int READLINK = 5;
    static final int SYMLINK = 6;
    static final int MKNOD = 8;
    static final int MKDIR = 9;
    static final int UNLINK = 10;
    static final int RMDIR = 11;
    static final int RENAME = 12;
    static final int LINK = 13;
    static final int OPEN = 14;
    static final int READ = 15;
    static final int WRITE = 16;
    static final int STATFS = 17;
    static final int RELEASE = 18;
    static final int FSYNC = 20;
    static final int SETXATTR = 21;
    static final int GETXATTR = 22;
    static final int LISTXATTR = 23;
    static final int REMOVEXATTR = 24;
    static final int FLUSH = 25;
    static final int INIT = 26;
    static final int OPENDIR = 27;
    static final int READDIR = 28;
    static final int RELEASEDIR = 29;
    static final int FSYNCDIR = 30;
    static final int GETLK = 31;
    static final int SETLK = 32;
    static final int SETLKW = 33;
    static final int ACCESS = 34;
    static final int CREATE = 35;
    static final int INTERRUPT = 36;
    static final int BMAP = 37;
    static final int DESTROY = 38;
    static final int IOCTL = 39;
    static final int POLL = 40;
    static final int NOTIFY_REPLY = 41;
    static final int BATCH_FORGET = 42;
    static final int FALLOCATE = 43;
    static final int READDIRPLUS = 44;
    static final int RENAME2 = 45;
    static final int LSEEK = 46;
    static final int COPY_FILE_RANGE = 47;
    static final int SETUPMAPPING = 48;
    static final int REMOVEMAPPING = 49;
    static final int SYNCFS = 50;
    static final int TMPFILE = 51;
    static final int STATX = 52;
    static final int MAX_OPCODE = 64;

    // ---- notification codes (enum fuse_notify_code), sent with unique 0 ----
    static final int NOTIFY_INVAL_INODE = 2;
    static final int NOTIFY_INVAL_ENTRY = 3;

    // ---- INIT flags (fuse_init_in.flags / fuse_init_out.flags) ----
    static final int FUSE_ASYNC_READ = 1 << 0;
    static final int FUSE_POSIX_LOCKS = 1 << 1;
    static final int FUSE_ATOMIC_O_TRUNC = 1 << 3;
    static final int FUSE_EXPORT_SUPPORT = 1 << 4;
    static final int FUSE_BIG_WRITES = 1 << 5;
    static final int FUSE_DONT_MASK = 1 << 6;
    static final int FUSE_FLOCK_LOCKS = 1 << 10;
    static final int FUSE_AUTO_INVAL_DATA = 1 << 12;
    static final int FUSE_DO_READDIRPLUS = 1 << 13;
    static final int FUSE_READDIRPLUS_AUTO = 1 << 14;
    static final int FUSE_ASYNC_DIO = 1 << 15;
    static final int FUSE_WRITEBACK_CACHE = 1 << 16;
    static final int FUSE_PARALLEL_DIROPS = 1 << 18;
    static final int FUSE_HANDLE_KILLPRIV = 1 << 19;
    /** The kernel enforces POSIX ACLs (implies default_permissions; the fs stores ACLs and applies the umask). */
    static final int FUSE_POSIX_ACL = 1 << 20;
    static final int FUSE_MAX_PAGES = 1 << 22;
    static final int FUSE_CACHE_SYMLINKS = 1 << 23;
    static final int FUSE_HANDLE_KILLPRIV_V2 = 1 << 28;
    static final int FUSE_INIT_EXT = 1 << 30;
    /**
     * (7.39, flags2 bit 4) FOPEN_DIRECT_IO files may be mmap'd shared, and their direct I/O first writes back and
     * invalidates the kernel's cached pages of the range (fs/fuse/file.c fuse_direct_io, fuse_file_mmap).
     */
    static final long FUSE_DIRECT_IO_ALLOW_MMAP = 1L << 36;

    // ---- setattr valid bits (FATTR_*) ----
    static final int FATTR_MODE = 1 << 0;
    static final int FATTR_UID = 1 << 1;
    static final int FATTR_GID = 1 << 2;
    static final int FATTR_SIZE = 1 << 3;
    static final int FATTR_ATIME = 1 << 4;
    static final int FATTR_MTIME = 1 << 5;
    static final int FATTR_FH = 1 << 6;
    static final int FATTR_ATIME_NOW = 1 << 7;
    static final int FATTR_MTIME_NOW = 1 << 8;

    // ---- open reply flags (FOPEN_*) ----
    static final int FOPEN_DIRECT_IO = 1 << 0;
    static final int FOPEN_KEEP_CACHE = 1 << 1;

    static final int FUSE_FSYNC_FDATASYNC = 1;
    static final int FUSE_WRITE_CACHE = 1;
    /** fuse_write_in.write_flags: clear setuid/setgid (sent with FUSE_HANDLE_KILLPRIV_V2; fs/fuse/file.c). */
    static final int FUSE_WRITE_KILL_SUIDGID = 1 << 2;
    /** fuse_open_in.open_flags: an O_TRUNC open that must clear setuid/setgid (FUSE_HANDLE_KILLPRIV_V2). */
    static final int FUSE_OPEN_KILL_SUIDGID = 1 << 0;

    // ---- struct sizes ----
    static final int IN_HEADER_SIZE = 40;
    static final int OUT_HEADER_SIZE = 16;
    static final int ATTR_SIZE = 88;
    static final int ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
    static final int ATTR_OUT_SIZE = 16 + ATTR_SIZE;
    static final int OPEN_OUT_SIZE = 16;
    static final int KSTATFS_SIZE = 80;
    static final int DIRENT_HEADER_SIZE = 24;
    static final int INIT_IN_MIN_SIZE = 16;
    /** fuse_init_in since 7.36 (flags2 and unused[11]). */
    static final int INIT_IN_SIZE = 64;
    static final int INIT_OUT_SIZE = 64;
    static final int WRITE_OUT_SIZE = 8;
    static final int LSEEK_OUT_SIZE = 8;
    static final int GETXATTR_OUT_SIZE = 8;
    static final int NOTIFY_INVAL_INODE_SIZE = 24;
    static final int NOTIFY_INVAL_ENTRY_SIZE = 16;

    // ---- fuse_in_header offsets ----
    static final int IN_LEN = 0;
    static final int IN_OPCODE = 4;
    static final int IN_UNIQUE = 8;
    static final int IN_NODEID = 16;
    static final int IN_UID = 24;
    static final int IN_GID = 28;
    static final int IN_PID = 32;
    static final int IN_TOTAL_EXTLEN = 36;

    /** The size of a dirent holding a name of {@code nameLenBytes}: header + name padded to 8 bytes. */
    static int direntSize(int nameLenBytes) {
        return align8(DIRENT_HEADER_SIZE + nameLenBytes);
    }

    /** The size of a direntplus: entry_out followed by a dirent. */
    static int direntPlusSize(int nameLenBytes) {
        return ENTRY_OUT_SIZE + direntSize(nameLenBytes);
    }

    static int align8(int n) {
        return (n + 7) & ~7;
    }

    /**
     * Writes a fuse_in_header as the kernel does (the warm-up plays the kernel): len, opcode, unique, nodeid;
     * uid, gid, pid and total_extlen 0.
     */
    static void putInHeader(MemorySegment in, int lenBytes, int opcode, long unique, long nodeid) {
        in.asSlice(0, IN_HEADER_SIZE).fill((byte) 0);
        in.set(U32, IN_LEN, lenBytes);
        in.set(U32, IN_OPCODE, opcode);
        in.set(U64, IN_UNIQUE, unique);
        in.set(U64, IN_NODEID, nodeid);
    }

    /** fuse_out_header.len (u32@0). */
    static int outLen(MemorySegment out) {
        return out.get(U32, 0);
    }

    /** fuse_out_header.error (i32@4): 0 or -errno. */
    static int outError(MemorySegment out) {
        return out.get(U32, 4);
    }

    /** fuse_out_header.unique (u64@8). */
    static long outUnique(MemorySegment out) {
        return out.get(U64, 8);
    }

    /** Writes a fuse_out_header: len u32 @0, error i32 @4 (0 or -errno), unique u64 @8. */
    static void putOutHeader(MemorySegment out, int lenBytes, int negErrno, long unique) {
        out.set(U32, 0, lenBytes);
        out.set(U32, 4, negErrno);
        out.set(U64, 8, unique);
    }

    /**
     * Writes a fuse_attr (88 bytes) at {@code off}: ino@0 size@8 blocks@16 atime@24 mtime@32 ctime@40
     * atimensec@48 mtimensec@52 ctimensec@56 mode@60 nlink@64 uid@68 gid@72 rdev@76 blksize@80 flags@84.
     */
    static void putAttr(MemorySegment out, long off, InodeAttr a) {
        out.set(U64, off, a.ino());
        out.set(U64, off + 8, a.sizeBytes());
        out.set(U64, off + 16, a.blocks512());
        out.set(U64, off + 24, a.atimeSec());
        out.set(U64, off + 32, a.mtimeSec());
        out.set(U64, off + 40, a.ctimeSec());
        out.set(U32, off + 48, a.atimeNsec());
        out.set(U32, off + 52, a.mtimeNsec());
        out.set(U32, off + 56, a.ctimeNsec());
        out.set(U32, off + 60, a.mode());
        out.set(U32, off + 64, a.nlink());
        out.set(U32, off + 68, a.uid());
        out.set(U32, off + 72, a.gid());
        out.set(U32, off + 76, (int) a.rdev());
        out.set(U32, off + 80, a.blockSizeBytes());
        out.set(U32, off + 84, 0);
    }

    /**
     * Writes a fuse_entry_out (128 bytes) at {@code off}: nodeid@0 generation@8 entry_valid@16 attr_valid@24
     * entry_valid_nsec@32 attr_valid_nsec@36 attr@40. {@code attr} may be null only with nodeid 0 (negative
     * entry): the attr is then zeroed.
     */
    static void putEntryOut(MemorySegment out, long off, long nodeid, InodeAttr attr, long entryTimeoutNanos,
            long attrTimeoutNanos) {
        out.set(U64, off, nodeid);
        out.set(U64, off + 8, attr == null ? 0 : attr.generation());
        out.set(U64, off + 16, entryTimeoutNanos / 1_000_000_000L);
        out.set(U64, off + 24, attrTimeoutNanos / 1_000_000_000L);
        out.set(U32, off + 32, (int) (entryTimeoutNanos % 1_000_000_000L));
        out.set(U32, off + 36, (int) (attrTimeoutNanos % 1_000_000_000L));
        if (attr == null) {
            out.asSlice(off + 40, ATTR_SIZE).fill((byte) 0);
        } else {
            putAttr(out, off + 40, attr);
        }
    }

    /** Writes a fuse_attr_out (104 bytes): attr_valid@0 attr_valid_nsec@8 dummy@12 attr@16. */
    static void putAttrOut(MemorySegment out, long off, InodeAttr attr, long attrTimeoutNanos) {
        out.set(U64, off, attrTimeoutNanos / 1_000_000_000L);
        out.set(U32, off + 8, (int) (attrTimeoutNanos % 1_000_000_000L));
        out.set(U32, off + 12, 0);
        putAttr(out, off + 16, attr);
    }

    /** Writes a fuse_open_out (16 bytes): fh@0 open_flags@8 backing_id@12. */
    static void putOpenOut(MemorySegment out, long off, long fh, int openFlags) {
        out.set(U64, off, fh);
        out.set(U32, off + 8, openFlags);
        out.set(U32, off + 12, 0);
    }

    /**
     * Writes a fuse_kstatfs (80 bytes): blocks@0 bfree@8 bavail@16 files@24 ffree@32 bsize@40 namelen@44
     * frsize@48 padding@52 spare[6]@56.
     */
    static void putKstatfs(MemorySegment out, long off, StatFs s) {
        out.asSlice(off, KSTATFS_SIZE).fill((byte) 0);
        out.set(U64, off, s.blocks());
        out.set(U64, off + 8, s.freeBlocks());
        out.set(U64, off + 16, s.availBlocks());
        out.set(U64, off + 24, s.files());
        out.set(U64, off + 32, s.freeFiles());
        out.set(U32, off + 40, s.blockSizeBytes());
        out.set(U32, off + 44, s.nameMaxBytes());
        out.set(U32, off + 48, s.blockSizeBytes());
    }

    /**
     * Writes a fuse_dirent at {@code off}: ino@0 off@8 namelen@16 type@20 name@24, zero-padded to 8 bytes.
     * Returns its size ({@link #direntSize}).
     */
    static int putDirent(MemorySegment out, long off, long ino, long nextOffset, int dtype, byte[] name) {
        int size = direntSize(name.length);
        out.set(U64, off, ino);
        out.set(U64, off + 8, nextOffset);
        out.set(U32, off + 16, name.length);
        out.set(U32, off + 20, dtype);
        MemorySegment.copy(name, 0, out, ValueLayout.JAVA_BYTE, off + 24, name.length);
        out.asSlice(off + 24 + name.length, size - 24 - name.length).fill((byte) 0);
        return size;
    }

    // ---- reply readers (the kernel's side: warm-up and tests) ----

    /** fuse_entry_out.nodeid (u64@0) of an entry_out at {@code off}. */
    static long entryNodeid(MemorySegment out, long off) {
        return out.get(U64, off);
    }

    /** fuse_open_out.fh (u64@0) of an open_out at {@code off}. */
    static long openFh(MemorySegment out, long off) {
        return out.get(U64, off);
    }

    /** fuse_write_out.size (u32@0). */
    static int writtenBytes(MemorySegment out) {
        return out.get(U32, 0);
    }

    /** Receives one fuse_direntplus of a READDIRPLUS body. */
    @FunctionalInterface
    interface DirentPlusVisitor {
        void visit(long nodeid, long nextOffset, int nameLenBytes);
    }

    /**
     * Walks the fuse_direntplus records of a READDIRPLUS body: entry_out (nodeid@0) then fuse_dirent (off@8,
     * namelen@16), each padded to 8 bytes.
     */
    static void forEachDirentPlus(MemorySegment body, DirentPlusVisitor visitor) {
        long at = 0;
        while (at + ENTRY_OUT_SIZE + DIRENT_HEADER_SIZE <= body.byteSize()) {
            long dirent = at + ENTRY_OUT_SIZE;
            int nameLen = body.get(U32, dirent + 16);
            visitor.visit(body.get(U64, at), body.get(U64, dirent + 8), nameLen);
            at += direntPlusSize(nameLen);
        }
    }

    /**
     * Writes a FUSE_NOTIFY_INVAL_INODE message (out header with unique 0 and error = the code, then
     * fuse_notify_inval_inode_out {ino u64@0, off i64@8, len i64@16}); returns its length.
     */
    static int putNotifyInvalInode(MemorySegment msg, long nodeid, long offBytes, long lenBytes) {
        int len = OUT_HEADER_SIZE + NOTIFY_INVAL_INODE_SIZE;
        putOutHeader(msg, len, NOTIFY_INVAL_INODE, 0);
        msg.set(U64, OUT_HEADER_SIZE, nodeid);
        msg.set(U64, OUT_HEADER_SIZE + 8, offBytes);
        msg.set(U64, OUT_HEADER_SIZE + 16, lenBytes);
        return len;
    }

    /**
     * Writes a FUSE_NOTIFY_INVAL_ENTRY message (fuse_notify_inval_entry_out {parent u64@0, namelen u32@8,
     * flags u32@12} then the name and a NUL); returns its length.
     */
    static int putNotifyInvalEntry(MemorySegment msg, long parentNodeid, byte[] name) {
        int len = OUT_HEADER_SIZE + NOTIFY_INVAL_ENTRY_SIZE + name.length + 1;
        putOutHeader(msg, len, NOTIFY_INVAL_ENTRY, 0);
        msg.set(U64, OUT_HEADER_SIZE, parentNodeid);
        msg.set(U32, OUT_HEADER_SIZE + 8, name.length);
        msg.set(U32, OUT_HEADER_SIZE + 12, 0);
        MemorySegment.copy(name, 0, msg, ValueLayout.JAVA_BYTE, OUT_HEADER_SIZE + NOTIFY_INVAL_ENTRY_SIZE,
                name.length);
        msg.set(ValueLayout.JAVA_BYTE, OUT_HEADER_SIZE + NOTIFY_INVAL_ENTRY_SIZE + name.length, (byte) 0);
        return len;
    }
}
