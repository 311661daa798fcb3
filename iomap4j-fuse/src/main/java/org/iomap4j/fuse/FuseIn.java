package org.iomap4j.fuse;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.SetAttr;

/**
 * The typed request records of the wire layer: one record per opcode's {@code fuse_*_in} struct (plus the names
 * that follow it), each with a {@code decode} that reads the {@link Request} payload at the struct's offsets. It
 * exists so that the node layer sees typed inputs only: no payload offset is read outside this class.
 *
 * <p>Source of every layout: include/uapi/linux/fuse.h (protocol 7.38; little-endian, naturally aligned). Offsets
 * are bytes from the end of the 40-byte fuse_in_header. Decoders check lengths through {@link Request}, so a short
 * payload is EINVAL, never garbage. Records are cheap, short-lived values: WRITE's data is a view of the request
 * buffer (no copy), valid until the reader thread reads its next request.
 *
 * <p>The records the warm-up sends ({@link FuseWarmup} plays the kernel) also {@code encode} themselves into a
 * request payload: the inverse of {@code decode}, so that no request is laid out by hand outside this class.
 */
final class FuseIn {
    private static final Logger LOG = System.getLogger(FuseIn.class.getName());

    private FuseIn() {}

    private static final ValueLayout.OfInt U32 = FuseAbi.U32;
    private static final ValueLayout.OfLong U64 = FuseAbi.U64;

    /** Writes {@code name} NUL-terminated at {@code off} of {@code p}; returns the offset after the NUL. */
    private static int putName(MemorySegment p, int off, String name) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        MemorySegment.copy(b, 0, p, ValueLayout.JAVA_BYTE, off, b.length);
        p.set(ValueLayout.JAVA_BYTE, off + b.length, (byte) 0);
        return off + b.length + 1;
    }

    /** Zeroes the {@code structBytes} of a struct before its fields are set (padding stays zero). */
    private static MemorySegment cleared(MemorySegment p, int structBytes) {
        p.asSlice(0, structBytes).fill((byte) 0);
        return p;
    }

    /** Opcodes whose input is the header alone (STATFS, READLINK, DESTROY, SYNCFS's padding, STATX we refuse). */
    record Empty() {
        static final Empty INSTANCE = new Empty();

        static Empty decode(Request r) {
            return INSTANCE;
        }
    }

    /** LOOKUP, UNLINK, RMDIR, REMOVEXATTR: a NUL-terminated name. */
    record NameIn(String name) {
        static NameIn decode(Request r) throws FsException {
            return new NameIn(r.name(0));
        }

        /** Encodes into payload {@code p}; returns its length. */
        int encode(MemorySegment p) {
            return putName(p, 0, name);
        }
    }

    /** fuse_forget_in {nlookup u64@0}; FORGET is never answered. */
    record ForgetIn(long nlookup) {
        static final int SIZE = 8;

        static ForgetIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new ForgetIn(r.u64(0));
        }

        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U64, 0, nlookup);
            return SIZE;
        }
    }

    /**
     * fuse_batch_forget_in {count u32@0, dummy u32@4} then count x fuse_forget_one {nodeid u64@0, nlookup u64@8}.
     * A count larger than the payload holds is clamped to what it carries (logged).
     */
    record BatchForgetIn(long[] nodeids, long[] nlookups) {
        static final int SIZE = 8;
        static final int ONE_SIZE = 16;

        static BatchForgetIn decode(Request r) throws FsException {
            r.require(SIZE);
            long count = r.u32(0) & 0xffffffffL;
            long fit = (r.payloadBytes() - SIZE) / ONE_SIZE;
            if (count > fit) {
                LOG.log(Level.WARNING, "BATCH_FORGET claims " + count + " entries but carries " + fit);
                count = fit;
            }
            long[] nodeids = new long[(int) count];
            long[] nlookups = new long[(int) count];
            for (int i = 0; i < count; i++) {
                int off = SIZE + i * ONE_SIZE;
                nodeids[i] = r.u64(off);
                nlookups[i] = r.u64(off + 8);
            }
            return new BatchForgetIn(nodeids, nlookups);
        }

        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U32, 0, nodeids.length);
            for (int i = 0; i < nodeids.length; i++) {
                p.set(U64, SIZE + (long) i * ONE_SIZE, nodeids[i]);
                p.set(U64, SIZE + (long) i * ONE_SIZE + 8, nlookups[i]);
            }
            return SIZE + nodeids.length * ONE_SIZE;
        }
    }

    /** fuse_getattr_in {getattr_flags u32@0, dummy u32@4, fh u64@8}; FUSE_GETATTR_FH says fh is set. */
    record GetattrIn(int getattrFlags, long fh) {
        static final int SIZE = 16;
        static final int FUSE_GETATTR_FH = 1;

        static GetattrIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new GetattrIn(r.u32(0), r.u64(8));
        }

        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U32, 0, getattrFlags);
            p.set(U64, 8, fh);
            return SIZE;
        }

        boolean hasFh() {
            return (getattrFlags & FUSE_GETATTR_FH) != 0;
        }
    }

    /**
     * fuse_setattr_in (88 bytes): valid u32@0 padding@4 fh u64@8 size@16 lock_owner@24 atime@32 mtime@40 ctime@48
     * atimensec u32@56 mtimensec@60 ctimensec@64 mode@68 unused4@72 uid@76 gid@80 unused5@84. {@code valid} is the
     * FATTR_* mask saying which fields are set.
     */
    record SetattrIn(int valid, long fh, long sizeBytes, long lockOwner, long atimeSec, long mtimeSec, long ctimeSec,
            int atimeNsec, int mtimeNsec, int ctimeNsec, int mode, int uid, int gid) {
        static final int SIZE = 88;
        static final int FATTR_MODE = 1 << 0;
        static final int FATTR_UID = 1 << 1;
        static final int FATTR_GID = 1 << 2;
        static final int FATTR_SIZE = 1 << 3;
        static final int FATTR_ATIME = 1 << 4;
        static final int FATTR_MTIME = 1 << 5;
        static final int FATTR_FH = 1 << 6;
        static final int FATTR_ATIME_NOW = 1 << 7;
        static final int FATTR_MTIME_NOW = 1 << 8;
        static final int FATTR_LOCKOWNER = 1 << 9;
        static final int FATTR_CTIME = 1 << 10;
        static final int FATTR_KILL_SUIDGID = 1 << 11;
        /**
         * The bits that ask for a change the Vfs makes (FATTR_FH and LOCKOWNER do not; KILL_SUIDGID is the node
         * layer's, {@link KillPriv}). FATTR_CTIME comes from a kernel with the writeback cache, which owns ctime
         * (fs/fuse/dir.c iattr_to_fattr, trust_local_cmtime; fuse_flush_times sends MTIME|CTIME).
         */
        static final int CHANGE_BITS = FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME
                | FATTR_ATIME_NOW | FATTR_MTIME_NOW | FATTR_CTIME;

        static SetattrIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new SetattrIn(r.u32(0), r.u64(8), r.u64(16), r.u64(24), r.u64(32), r.u64(40), r.u64(48),
                    r.u32(56), r.u32(60), r.u32(64), r.u32(68), r.u32(76), r.u32(80));
        }

        boolean has(int fattrBit) {
            return (valid & fattrBit) != 0;
        }

        /**
         * The Vfs changes this asks for, or null when it asks for none (the kernel then only wants the
         * attributes). Times set to "now" win over explicit times, as in fs/fuse/dir.c iattr_to_fattr.
         *
         * @throws FsException EINVAL for a negative size
         */
        SetAttr changes() throws FsException {
            if ((valid & CHANGE_BITS) == 0) {
                return null;
            }
            if (has(FATTR_SIZE) && sizeBytes < 0) {
                throw new FsException(Errno.EINVAL, "setattr size " + sizeBytes);
            }
            boolean atimeNow = has(FATTR_ATIME_NOW);
            boolean mtimeNow = has(FATTR_MTIME_NOW);
            return new SetAttr(has(FATTR_MODE) ? mode : null, has(FATTR_UID) ? uid : null,
                    has(FATTR_GID) ? gid : null, has(FATTR_SIZE) ? sizeBytes : null,
                    has(FATTR_ATIME) && !atimeNow ? atimeSec : null, has(FATTR_MTIME) && !mtimeNow ? mtimeSec : null,
                    atimeNow, mtimeNow, has(FATTR_ATIME) && !atimeNow ? Math.floorMod(atimeNsec, 1_000_000_000) : 0,
                    has(FATTR_MTIME) && !mtimeNow ? Math.floorMod(mtimeNsec, 1_000_000_000) : 0,
                    has(FATTR_CTIME) ? ctimeSec : null, has(FATTR_CTIME) ? Math.floorMod(ctimeNsec, 1_000_000_000) : 0);
        }
    }

    /** SYMLINK: name\0 target\0 (no struct). */
    record SymlinkIn(String name, String target) {
        static SymlinkIn decode(Request r) throws FsException {
            return new SymlinkIn(r.name(0), r.name(r.nameEnd(0) + 1));
        }
    }

    /** fuse_mknod_in {mode u32@0, rdev@4, umask@8, padding@12} name. The kernel has applied the umask. */
    record MknodIn(int mode, int rdev, int umask, String name) {
        static final int SIZE = 16;

        static MknodIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new MknodIn(r.u32(0), r.u32(4), r.u32(8), r.name(SIZE));
        }

        /** rdev as an unsigned device number. */
        long rdevUnsigned() {
            return rdev & 0xffffffffL;
        }
    }

    /** fuse_mkdir_in {mode u32@0, umask@4} name. */
    record MkdirIn(int mode, int umask, String name) {
        static final int SIZE = 8;

        static MkdirIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new MkdirIn(r.u32(0), r.u32(4), r.name(SIZE));
        }

        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U32, 0, mode);
            p.set(U32, 4, umask);
            return putName(p, SIZE, name);
        }
    }

    /**
     * RENAME: fuse_rename_in {newdir u64@0} oldname\0 newname\0; RENAME2: fuse_rename2_in {newdir u64@0,
     * flags u32@8, padding@12} and the names. Plain RENAME decodes with flags 0.
     */
    record RenameIn(long newDirNodeid, int flags, String oldName, String newName) {
        static final int SIZE = 8;
        static final int SIZE2 = 16;

        static RenameIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new RenameIn(r.u64(0), 0, r.name(SIZE), r.name(r.nameEnd(SIZE) + 1));
        }

        static RenameIn decode2(Request r) throws FsException {
            r.require(SIZE2);
            return new RenameIn(r.u64(0), r.u32(8), r.name(SIZE2), r.name(r.nameEnd(SIZE2) + 1));
        }

        /** Encodes a RENAME (flags 0) or RENAME2 payload; returns its length. */
        int encode(MemorySegment p, boolean rename2) {
            int size = rename2 ? SIZE2 : SIZE;
            cleared(p, size).set(U64, 0, newDirNodeid);
            if (rename2) {
                p.set(U32, 8, flags);
            }
            return putName(p, putName(p, size, oldName), newName);
        }
    }

    /** fuse_link_in {oldnodeid u64@0} newname; the header's nodeid is the new parent. */
    record LinkIn(long oldNodeid, String newName) {
        static final int SIZE = 8;

        static LinkIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new LinkIn(r.u64(0), r.name(SIZE));
        }
    }

    /**
     * fuse_open_in {flags u32@0, open_flags u32@4} (OPEN, OPENDIR). {@code flags} are translated to Vfs bits;
     * {@code kernelFlags} keeps the raw value for logs.
     */
    record OpenIn(int flags, int kernelFlags, int openFlags) {
        static final int SIZE = 8;

        static OpenIn decode(Request r, OpenFlagsAbi abi) throws FsException {
            r.require(SIZE);
            int raw = r.u32(0);
            return new OpenIn(abi.toVfs(raw), raw, r.u32(4));
        }

        /** Encodes with {@code flags} in {@code abi}'s values; returns the payload length. */
        int encode(MemorySegment p, OpenFlagsAbi abi) {
            cleared(p, SIZE).set(U32, 0, abi.toKernel(flags));
            p.set(U32, 4, openFlags);
            return SIZE;
        }
    }

    /** fuse_create_in {flags u32@0, mode@4, umask@8, open_flags@12} name; {@code flags} as Vfs bits. */
    record CreateIn(int flags, int mode, int umask, int openFlags, String name) {
        static final int SIZE = 16;

        static CreateIn decode(Request r, OpenFlagsAbi abi) throws FsException {
            r.require(SIZE);
            return new CreateIn(abi.toVfs(r.u32(0)), r.u32(4), r.u32(8), r.u32(12), r.name(SIZE));
        }

        /** Encodes with {@code flags} in {@code abi}'s values; returns the payload length. */
        int encode(MemorySegment p, OpenFlagsAbi abi) {
            cleared(p, SIZE).set(U32, 0, abi.toKernel(flags));
            p.set(U32, 4, mode);
            p.set(U32, 8, umask);
            p.set(U32, 12, openFlags);
            return putName(p, SIZE, name);
        }
    }

    /**
     * fuse_read_in (40 bytes: fh u64@0, offset u64@8, size u32@16, read_flags@20, lock_owner u64@24, flags@32,
     * padding@36): READ, READDIR, READDIRPLUS. {@code sizeBytes} is unsigned on the wire; values above
     * Integer.MAX_VALUE become Integer.MAX_VALUE (replies are capped by the buffer anyway).
     */
    record ReadIn(long fh, long offsetBytes, int sizeBytes, int readFlags, long lockOwner, int flags) {
        static final int SIZE = 40;

        static ReadIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new ReadIn(r.u64(0), r.u64(8), (int) Math.min(Integer.MAX_VALUE, r.u32(16) & 0xffffffffL),
                    r.u32(20), r.u64(24), r.u32(32));
        }

        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U64, 0, fh);
            p.set(U64, 8, offsetBytes);
            p.set(U32, 16, sizeBytes);
            p.set(U32, 20, readFlags);
            p.set(U64, 24, lockOwner);
            p.set(U32, 32, flags);
            return SIZE;
        }
    }

    /**
     * fuse_write_in (40 bytes: fh u64@0, offset u64@8, size u32@16, write_flags@20, lock_owner u64@24, flags@32,
     * padding@36) then {@code size} bytes of data, given as a view of the request buffer (no copy).
     *
     * @param data the bytes to write (position 0, remaining = size)
     */
    record WriteIn(long fh, long offsetBytes, int sizeBytes, int writeFlags, long lockOwner, int flags,
            ByteBuffer data) {
        static final int SIZE = 40;
        /** write_flags: a write from the kernel's page cache (writeback), not on behalf of one fd. */
        static final int FUSE_WRITE_CACHE = 1;

        static WriteIn decode(Request r) throws FsException {
            r.require(SIZE);
            int size = r.u32(16);
            if (size < 0 || (long) SIZE + size > r.payloadBytes()) {
                throw new FsException(Errno.EINVAL, "WRITE of " + (size & 0xffffffffL) + " bytes carries "
                        + (r.payloadBytes() - SIZE));
            }
            return new WriteIn(r.u64(0), r.u64(8), size, r.u32(20), r.u64(24), r.u32(32), r.bytes(SIZE, size));
        }

        /**
         * Encodes the struct and, if {@code data} is not null, copies it after the struct (null: the bytes already
         * at {@code p[SIZE, SIZE + sizeBytes)} are sent). Returns the payload length.
         */
        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U64, 0, fh);
            p.set(U64, 8, offsetBytes);
            p.set(U32, 16, sizeBytes);
            p.set(U32, 20, writeFlags);
            p.set(U64, 24, lockOwner);
            p.set(U32, 32, flags);
            if (data != null) {
                MemorySegment.copy(MemorySegment.ofBuffer(data), 0, p, SIZE, sizeBytes);
            }
            return SIZE + sizeBytes;
        }
    }

    /** fuse_release_in {fh u64@0, flags u32@8, release_flags@12, lock_owner u64@16}: RELEASE, RELEASEDIR. */
    record ReleaseIn(long fh, int flags, int releaseFlags, long lockOwner) {
        static final int SIZE = 24;
        /** The kernel sent fewer bytes before 7.8; we accept the fh alone. */
        static final int MIN_SIZE = 8;

        static ReleaseIn decode(Request r) throws FsException {
            r.require(MIN_SIZE);
            boolean full = r.payloadBytes() >= SIZE;
            return new ReleaseIn(r.u64(0), full ? r.u32(8) : 0, full ? r.u32(12) : 0, full ? r.u64(16) : 0);
        }

        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U64, 0, fh);
            p.set(U32, 8, flags);
            p.set(U32, 12, releaseFlags);
            p.set(U64, 16, lockOwner);
            return SIZE;
        }
    }

    /** fuse_flush_in {fh u64@0, unused@8, padding@12, lock_owner u64@16}. */
    record FlushIn(long fh, long lockOwner) {
        static final int SIZE = 24;

        static FlushIn decode(Request r) throws FsException {
            r.require(8);
            return new FlushIn(r.u64(0), r.payloadBytes() >= SIZE ? r.u64(16) : 0);
        }

        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U64, 0, fh);
            p.set(U64, 16, lockOwner);
            return SIZE;
        }
    }

    /** fuse_fsync_in {fh u64@0, fsync_flags u32@8, padding@12}: FSYNC, FSYNCDIR. */
    record FsyncIn(long fh, int fsyncFlags) {
        static final int SIZE = 16;
        static final int FUSE_FSYNC_FDATASYNC = 1;

        static FsyncIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new FsyncIn(r.u64(0), r.u32(8));
        }

        int encode(MemorySegment p) {
            cleared(p, SIZE).set(U64, 0, fh);
            p.set(U32, 8, fsyncFlags);
            return SIZE;
        }

        boolean dataOnly() {
            return (fsyncFlags & FUSE_FSYNC_FDATASYNC) != 0;
        }
    }

    /** fuse_fallocate_in {fh u64@0, offset u64@8, length u64@16, mode u32@24, padding@28}; mode is FALLOC_FL_*. */
    record FallocateIn(long fh, long offsetBytes, long lengthBytes, int mode) {
        static final int SIZE = 32;

        /** @throws FsException EINVAL for a negative offset, a length ≤ 0 or a range past 2^63 */
        static FallocateIn decode(Request r) throws FsException {
            r.require(SIZE);
            long off = r.u64(8);
            long len = r.u64(16);
            if (off < 0 || len <= 0 || off + len < 0) {
                throw new FsException(Errno.EINVAL, "fallocate [" + off + ", +" + len + ")");
            }
            return new FallocateIn(r.u64(0), off, len, r.u32(24));
        }
    }

    /** fuse_lseek_in {fh u64@0, offset u64@8, whence u32@16, padding@20}. */
    record LseekIn(long fh, long offsetBytes, int whence) {
        static final int SIZE = 24;

        static LseekIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new LseekIn(r.u64(0), r.u64(8), r.u32(16));
        }
    }

    /** fuse_interrupt_in {unique u64@0}: the request to interrupt. Never answered. */
    record InterruptIn(long unique) {
        static final int SIZE = 8;

        static InterruptIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new InterruptIn(r.u64(0));
        }
    }

    /** fuse_access_in {mask u32@0, padding@4}: F_OK 0, X_OK 1, W_OK 2, R_OK 4. */
    record AccessIn(int mask) {
        static final int SIZE = 8;

        static AccessIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new AccessIn(r.u32(0));
        }
    }

    /**
     * fuse_init_in: major u32@0, minor@4, max_readahead@8, flags@12, and from 7.36 flags2@16 and unused[11] (64
     * bytes). {@code flags} is the 64-bit capability set: flags2 is its high half, present when FUSE_INIT_EXT is.
     */
    record InitIn(int major, int minor, int maxReadaheadBytes, long flags) {
        /** The pre-7.36 struct; the kernel sends 64 bytes since. */
        static final int MIN_SIZE = 16;

        static InitIn decode(Request r) throws FsException {
            r.require(MIN_SIZE);
            long flags = r.u32(12) & 0xffffffffL;
            if ((flags & FuseAbi.FUSE_INIT_EXT) != 0 && r.payloadBytes() >= 20) {
                flags |= (r.u32(16) & 0xffffffffL) << 32;
            }
            return new InitIn(r.u32(0), r.u32(4), r.u32(8), flags);
        }

        /** Encodes the 64-byte 7.36+ struct (flags2 = the high half of {@code flags}). */
        int encode(MemorySegment p) {
            cleared(p, FuseAbi.INIT_IN_SIZE).set(U32, 0, major);
            p.set(U32, 4, minor);
            p.set(U32, 8, maxReadaheadBytes);
            p.set(U32, 12, (int) flags);
            p.set(U32, 16, (int) (flags >>> 32));
            return FuseAbi.INIT_IN_SIZE;
        }
    }

    /**
     * fuse_getxattr_in {size u32@0, padding@4} then, for GETXATTR, the name (LISTXATTR has none: {@code name}
     * null). Size 0 asks for the value's (list's) length.
     */
    record GetxattrIn(int sizeBytes, String name) {
        static final int SIZE = 8;

        static GetxattrIn decode(Request r) throws FsException {
            r.require(SIZE);
            return new GetxattrIn(r.u32(0), r.name(SIZE));
        }

        static GetxattrIn decodeList(Request r) throws FsException {
            r.require(SIZE);
            return new GetxattrIn(r.u32(0), null);
        }
    }

    /**
     * fuse_setxattr_in as sent without FUSE_SETXATTR_EXT (FUSE_COMPAT_SETXATTR_IN_SIZE, 8 bytes: size u32@0,
     * flags u32@4), then name\0 and {@code size} bytes of value (copied: values are small and rare).
     */
    record SetxattrIn(int flags, String name, byte[] value) {
        static final int SIZE = 8;

        static SetxattrIn decode(Request r) throws FsException {
            r.require(SIZE);
            int size = r.u32(0);
            String name = r.name(SIZE);
            int valueOff = r.nameEnd(SIZE) + 1;
            if (size < 0) {
                throw new FsException(Errno.EINVAL, "SETXATTR value of " + (size & 0xffffffffL) + " bytes");
            }
            ByteBuffer v = r.bytes(valueOff, size);
            byte[] value = new byte[size];
            v.get(value);
            return new SetxattrIn(r.u32(4), name, value);
        }
    }
}
