package org.iomap4j.fuse;

import java.lang.foreign.MemorySegment;

import org.iomap4j.vfs.InodeAttr;

/**
 * Packs a READDIR body (fuse_dirent records) or a READDIRPLUS body (fuse_direntplus: entry_out + dirent) into the
 * reply buffer up to the size the kernel asked for, then sends it. It exists so that the node layer adds entries
 * by value and never computes a record offset; {@link #fits} lets it check room before taking a lookup reference.
 *
 * <p>Layouts: include/uapi/linux/fuse.h (fuse_dirent {ino u64@0, off u64@8, namelen u32@16, type u32@20, name@24}
 * padded to 8 bytes; FUSE_DIRENT_ALIGN). One writer per reply, used by the handling thread only.
 */
final class DirentWriter {
    private final Reply reply;
    private final MemorySegment body;
    private final int limitBytes;
    private int usedBytes;

    DirentWriter(Reply reply, MemorySegment body, int limitBytes) {
        this.reply = reply;
        this.body = body;
        this.limitBytes = limitBytes;
    }

    /** Whether a dirent (or with {@code plus} a direntplus) for a name of {@code nameBytes} still fits. */
    boolean fits(int nameBytes, boolean plus) {
        int need = plus ? FuseAbi.direntPlusSize(nameBytes) : FuseAbi.direntSize(nameBytes);
        return usedBytes + need <= limitBytes;
    }

    /**
     * Appends a fuse_dirent. {@code nextOffset} is the readdir cookie of the entry after this one.
     *
     * @throws IllegalStateException if it does not {@link #fits fit}
     */
    void add(long ino, long nextOffset, int dtype, byte[] name) {
        check(name.length, false);
        usedBytes += FuseAbi.putDirent(body, usedBytes, ino, nextOffset, dtype, name);
    }

    /**
     * Appends a fuse_direntplus: an entry_out for {@code nodeid} (0 with null {@code attr}: the name without entry
     * information, as for "." and "..") and the dirent.
     *
     * @throws IllegalStateException if it does not {@link #fits fit}
     */
    void addPlus(long nodeid, InodeAttr attr, long entryTimeoutNanos, long attrTimeoutNanos, long ino,
            long nextOffset, int dtype, byte[] name) {
        check(name.length, true);
        FuseAbi.putEntryOut(body, usedBytes, nodeid, attr, entryTimeoutNanos, attrTimeoutNanos);
        usedBytes += FuseAbi.ENTRY_OUT_SIZE;
        usedBytes += FuseAbi.putDirent(body, usedBytes, ino, nextOffset, dtype, name);
    }

    private void check(int nameBytes, boolean plus) {
        if (!fits(nameBytes, plus)) {
            throw new IllegalStateException("dirent of a " + nameBytes + "-byte name does not fit (" + usedBytes
                    + " of " + limitBytes + " bytes used)");
        }
    }

    /** Bytes packed so far. */
    int usedBytes() {
        return usedBytes;
    }

    /** Sends the packed entries (an empty body is the end of the directory). */
    boolean send() {
        return reply.ok(usedBytes);
    }
}
