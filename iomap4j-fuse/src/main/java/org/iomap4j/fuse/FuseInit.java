package org.iomap4j.fuse;

import static org.iomap4j.fuse.FuseAbi.*;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * INIT negotiation (wire layer): decides the protocol minor, the capability flags, max_write/max_pages,
 * max_readahead and time_gran from what the kernel offers, answers INIT and records the outcome for the mount
 * ({@link #done()}, {@link #failure()}, {@link #negotiatedFlags()}, {@link #maxWriteBytes()}).
 *
 * <p>Rules (include/uapi/linux/fuse.h "Version negotiation", fs/fuse/inode.c process_init_reply): major must be
 * {@link FuseAbi#KERNEL_VERSION}; reply minor = min(kernel's, ours); flags = wanted ∧ offered, 64 bits, the high
 * half in flags2 with FUSE_INIT_EXT; with FUSE_MAX_PAGES, max_pages ≤ /proc/sys/fs/fuse/max_pages_limit and
 * max_write = max_pages × 4 KiB, else the kernel's 32-page cap. time_gran 1: nanosecond timestamps.
 *
 * <p>Thread-safe: INIT comes once, on one reader; the outcome fields are volatile and published before
 * {@link #done()} counts down.
 */
final class FuseInit {
    private static final Logger LOG = System.getLogger(FuseInit.class.getName());
    private static final int PAGE_SIZE = 4096;
    /** max_pages without FUSE_MAX_PAGES (FUSE_DEFAULT_MAX_PAGES_PER_REQ, fs/fuse/fuse_i.h). */
    static final int DEFAULT_MAX_PAGES = 32;
    /** The max_pages we ask for: 1 MiB requests, the size of {@link Channel#BUFFER_BYTES}' payload. */
    static final int WANTED_MAX_PAGES = 256;
    private static final int EPROTO = 71;

    /**
     * What we answer to INIT (fuse_init_out).
     *
     * @param flags 64-bit capability flags (low half: flags, high half: flags2)
     */
    record InitOut(int major, int minor, int maxReadaheadBytes, long flags, int maxBackground,
            int congestionThreshold, int maxWriteBytes, int timeGranNanos, int maxPages) {
    }

    private final boolean writebackCache;
    private final boolean posixAcl;
    private final int maxPagesLimit;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile long negotiatedFlags;
    private volatile int maxWriteBytes;
    private volatile FsException failure;
    /** Ask for FUSE_OVER_IO_URING ({@link FuseUring}: set before mount(2) when the rings are ready). */
    private volatile boolean overIoUring;

    /**
     * @param writebackCache ask for FUSE_WRITEBACK_CACHE (the kernel then owns size and mtime)
     * @param maxPagesLimit  the kernel's max_pages_limit ({@link #maxPagesLimit()} on a live system)
     */
    FuseInit(boolean writebackCache, int maxPagesLimit) {
        this(writebackCache, maxPagesLimit, false);
    }

    /**
     * @param posixAcl ask for FUSE_POSIX_ACL with FUSE_DONT_MASK (the Vfs stores POSIX ACLs and applies
     *                 default ACLs or the umask on create, {@link org.iomap4j.vfs.VfsXattr#posixAcls()}): the kernel
     *                 then checks permissions against ACLs itself (fs/fuse/acl.c, default_permissions implied) and
     *                 sends create modes unmasked with the caller's umask
     */
    FuseInit(boolean writebackCache, int maxPagesLimit, boolean posixAcl) {
        this.writebackCache = writebackCache;
        this.posixAcl = posixAcl;
        this.maxPagesLimit = Math.max(1, maxPagesLimit);
    }

    /** True once INIT granted FUSE_DONT_MASK: create requests carry an umask the Vfs must apply. */
    boolean dontMask() {
        return (negotiatedFlags & FUSE_DONT_MASK) != 0;
    }

    /** Asks for FUSE_OVER_IO_URING in INIT (the transport hook of {@link FuseUring}). */
    void requestOverIoUring() {
        overIoUring = true;
    }

    /** The capability flags we want (the kernel grants their intersection with its offer). */
    long wantedFlags() {
        long wanted = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS | FUSE_DO_READDIRPLUS
                | FUSE_READDIRPLUS_AUTO | FUSE_ATOMIC_O_TRUNC | FUSE_ASYNC_DIO | FUSE_CACHE_SYMLINKS
                | FUSE_HANDLE_KILLPRIV_V2;
        if (posixAcl) {
            wanted |= FUSE_POSIX_ACL | FUSE_DONT_MASK;
        }
        if (overIoUring) {
            wanted |= FuseUringAbi.FUSE_OVER_IO_URING;
        }
        // With the cache, write opens get FOPEN_DIRECT_IO when space is low (WritebackSpaceGuard): they must still
        // mmap shared and see the kernel's dirty pages.
        return writebackCache ? wanted | FUSE_WRITEBACK_CACHE | FUSE_DIRECT_IO_ALLOW_MMAP : wanted;
    }

    /**
     * The answer to {@code in}.
     *
     * @throws FsException ENODEV for a major other than 7 or a minor below {@link FuseAbi#MIN_MINOR_VERSION}
     */
    InitOut negotiate(FuseIn.InitIn in) throws FsException {
        if (in.major() != KERNEL_VERSION || in.minor() < MIN_MINOR_VERSION) {
            throw new FsException(Errno.ENODEV, "kernel FUSE protocol " + in.major() + "." + in.minor()
                    + " unsupported (need 7." + MIN_MINOR_VERSION + "+)");
        }
        long flags = wantedFlags() & in.flags();
        if ((flags >>> 32) != 0) {
            flags |= FUSE_INIT_EXT;
        }
        int maxPages = (flags & FUSE_MAX_PAGES) != 0 ? Math.min(WANTED_MAX_PAGES, maxPagesLimit) : DEFAULT_MAX_PAGES;
        return new InitOut(KERNEL_VERSION, Math.min(in.minor(), MINOR_VERSION), in.maxReadaheadBytes(), flags, 64,
                48, maxPages * PAGE_SIZE, 1, maxPages);
    }

    /** The INIT row of the opcode table. */
    Op<FuseIn.InitIn> op() {
        return new Op<>(INIT, "INIT", FuseIn.InitIn.MIN_SIZE, false, FuseIn.InitIn::decode, this::handle);
    }

    private void handle(Request req, FuseIn.InitIn in, Reply reply) {
        try {
            InitOut out;
            try {
                out = negotiate(in);
            } catch (FsException e) {
                failure = e;
                reply.error(EPROTO);
                return;
            }
            negotiatedFlags = out.flags();
            maxWriteBytes = out.maxWriteBytes();
            if (LOG.isLoggable(Level.DEBUG)) {
                LOG.log(Level.DEBUG, "fuse INIT: kernel 7." + in.minor() + " flags " + Long.toHexString(in.flags())
                        + "; reply 7." + out.minor() + " flags " + Long.toHexString(out.flags()) + " max_write "
                        + out.maxWriteBytes());
            }
            reply.init(out);
        } finally {
            done.countDown();
        }
    }

    /**
     * Writes a fuse_init_out (64 bytes): major u32@0 minor@4 max_readahead@8 flags@12 max_background u16@16
     * congestion_threshold u16@18 max_write u32@20 time_gran@24 max_pages u16@28 map_alignment u16@30 flags2 u32@32
     * unused[7]@36.
     */
    static void putInitOut(MemorySegment b, InitOut out) {
        b.asSlice(0, INIT_OUT_SIZE).fill((byte) 0);
        b.set(U32, 0, out.major());
        b.set(U32, 4, out.minor());
        b.set(U32, 8, out.maxReadaheadBytes());
        b.set(U32, 12, (int) out.flags());
        b.set(U16, 16, (short) out.maxBackground());
        b.set(U16, 18, (short) out.congestionThreshold());
        b.set(U32, 20, out.maxWriteBytes());
        b.set(U32, 24, out.timeGranNanos());
        b.set(U16, 28, (short) out.maxPages());
        b.set(U32, 32, (int) (out.flags() >>> 32));
    }

    CountDownLatch done() {
        return done;
    }

    /** Why INIT failed, or null. */
    FsException failure() {
        return failure;
    }

    /** The granted capability flags (64 bits). */
    long negotiatedFlags() {
        return negotiatedFlags;
    }

    int maxWriteBytes() {
        return maxWriteBytes;
    }

    /**
     * /proc/sys/fs/fuse/max_pages_limit ({@link #WANTED_MAX_PAGES} when absent or unreadable). Read line-wise:
     * Files.readString on this size-0 proc file returned only "2" of "256" on kernel 6.18.
     */
    static int maxPagesLimit() {
        Path p = Path.of("/proc/sys/fs/fuse/max_pages_limit");
        try {
            if (!Files.isReadable(p)) {
                return WANTED_MAX_PAGES;
            }
            List<String> lines = Files.readAllLines(p);
            return lines.isEmpty() ? WANTED_MAX_PAGES : Math.max(1, Integer.parseInt(lines.get(0).trim()));
        } catch (IOException | NumberFormatException e) {
            LOG.log(Level.DEBUG, () -> "cannot read " + p + ": " + e);
            return WANTED_MAX_PAGES;
        }
    }
}
