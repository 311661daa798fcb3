package org.iomap4j.nio;

import java.io.IOException;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.Channel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The byte-range locks of one file system, by inode, with the in-process semantics the JDK documents for
 * {@link FileChannel#lock}: a lock is held on behalf of the whole JVM, so a request overlapping any lock already
 * held on the same file, through any channel, fails with {@link OverlappingFileLockException} (it neither waits
 * nor is granted); locks are released explicitly or when their channel closes. As the image itself is locked
 * exclusively by the mount, no other process can access the files, so no host lock is taken.
 *
 * <p>Guarded by this object's monitor, a leaf lock (nothing is called out while it is held).
 */
final class FileLockTable {
    private final Map<Long, List<VfsFileLock>> byIno = new HashMap<>();

    /** Takes a lock for {@code owner} (the channel a user sees) or throws OverlappingFileLockException. */
    synchronized VfsFileLock lock(Channel owner, long ino, long position, long size, boolean shared) {
        List<VfsFileLock> held = byIno.computeIfAbsent(ino, k -> new ArrayList<>());
        for (VfsFileLock l : held) {
            if (l.overlaps(position, size)) {
                throw new OverlappingFileLockException();
            }
        }
        VfsFileLock l = owner instanceof AsynchronousFileChannel a
                ? new VfsFileLock(this, ino, a, position, size, shared)
                : new VfsFileLock(this, ino, (FileChannel) owner, position, size, shared);
        held.add(l);
        return l;
    }

    /** Releases every lock {@code owner} holds (on channel close). */
    synchronized void releaseAll(Channel owner, long ino) {
        List<VfsFileLock> held = byIno.get(ino);
        if (held == null) {
            return;
        }
        held.removeIf(l -> {
            if (l.acquiredBy() == owner) {
                l.invalidate();
                return true;
            }
            return false;
        });
        if (held.isEmpty()) {
            byIno.remove(ino);
        }
    }

    private synchronized void remove(VfsFileLock l) {
        List<VfsFileLock> held = byIno.get(l.ino);
        if (held != null) {
            held.remove(l);
            if (held.isEmpty()) {
                byIno.remove(l.ino);
            }
        }
        l.invalidate();
    }

    /** A lock of the table; valid until released or its channel closes. */
    static final class VfsFileLock extends FileLock {
        private final FileLockTable table;
        private final long ino;
        private volatile boolean valid = true;

        VfsFileLock(FileLockTable table, long ino, FileChannel ch, long position, long size, boolean shared) {
            super(ch, position, size, shared);
            this.table = table;
            this.ino = ino;
        }

        VfsFileLock(FileLockTable table, long ino, AsynchronousFileChannel ch, long position, long size,
                boolean shared) {
            super(ch, position, size, shared);
            this.table = table;
            this.ino = ino;
        }

        void invalidate() {
            valid = false;
        }

        @Override
        public boolean isValid() {
            return valid && acquiredBy().isOpen();
        }

        /** @throws ClosedChannelException if the channel is closed (as the JDK's FileLock) */
        @Override
        public void release() throws IOException {
            if (!acquiredBy().isOpen()) {
                throw new ClosedChannelException();
            }
            if (valid) {
                table.remove(this);
            }
        }
    }
}
