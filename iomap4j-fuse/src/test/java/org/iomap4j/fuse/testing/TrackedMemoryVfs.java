package org.iomap4j.fuse.testing;

import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.testkit.vfs.MemoryVfs;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsFallocate;
import org.iomap4j.vfs.VfsNamespace;
import org.iomap4j.vfs.VfsSeek;
import org.iomap4j.vfs.VfsWrite;

/**
 * The testkit's {@link MemoryVfs} seen through a recording proxy, for the FUSE tests: every {@code Vfs} call goes to
 * the MemoryVfs unchanged, and the proxy keeps its own account of what the node layer asked for, an oracle
 * independent of the MemoryVfs: the references taken (one per successful lookup, create, mknod, mkdir, symlink,
 * link, as {@link Vfs}'s contract says) minus those forgotten, and the open flags of the last open or create. The
 * other queries read the MemoryVfs through the {@code Vfs} interface only (getattr, statfs, readdir).
 */
public interface TrackedMemoryVfs extends VfsWrite, VfsNamespace, VfsFallocate, VfsSeek {
    /** Largest file in bytes; beyond it writes and truncates fail with EFBIG ({@link MemoryVfs#MAX_FILE_BYTES}). */
    long MAX_FILE_BYTES = MemoryVfs.MAX_FILE_BYTES;

    /** References held on {@code ino} by lookup-like calls not yet forgotten (0 if none were taken). */
    long refs(long ino);

    /** The open flags of the last open or create (-1 before any). */
    int lastOpenFlags();

    /** Whether inode {@code ino} still exists (getattr does not answer ENOENT). */
    boolean exists(long ino) throws IOException;

    /** Inodes in use, from statfs: files minus free files. */
    long inodeCount() throws IOException;

    /** Inodes reachable from the root by names (readdir, without taking references). */
    Set<Long> reachableInodes() throws IOException;

    /** An empty MemoryVfs of 4 GiB and 2^20 inodes behind the recording proxy. */
    static TrackedMemoryVfs create() {
        MemoryVfs target = new MemoryVfs(4L << 30, 1 << 20);
        return (TrackedMemoryVfs) Proxy.newProxyInstance(TrackedMemoryVfs.class.getClassLoader(),
                new Class<?>[] {TrackedMemoryVfs.class}, new Recorder(target));
    }

    /** The proxy's handler. Its state is guarded by its monitor. */
    final class Recorder implements InvocationHandler {
        private final MemoryVfs target;
        private final Map<Long, Long> refs = new HashMap<>();
        private int lastOpenFlags = -1;

        Recorder(MemoryVfs target) {
            this.target = target;
        }

        @Override
        public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
            switch (m.getName()) {
                case "refs" -> {
                    synchronized (this) {
                        return refs.getOrDefault((Long) args[0], 0L);
                    }
                }
                case "lastOpenFlags" -> {
                    synchronized (this) {
                        return lastOpenFlags;
                    }
                }
                case "exists" -> {
                    return exists((Long) args[0]);
                }
                case "inodeCount" -> {
                    var st = target.statfs();
                    return st.files() - st.freeFiles();
                }
                case "reachableInodes" -> {
                    return reachable();
                }
                default -> {
                    Object result;
                    try {
                        result = m.invoke(target, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    record(m.getName(), args, result);
                    return result;
                }
            }
        }

        private synchronized void record(String name, Object[] args, Object result) {
            switch (name) {
                case "lookup", "mknod", "mkdir", "symlink", "link" ->
                        refs.merge(((InodeAttr) result).ino(), 1L, Long::sum);
                case "create" -> {
                    refs.merge(((Vfs.Created) result).attr().ino(), 1L, Long::sum);
                    lastOpenFlags = (Integer) args[3];
                }
                case "open" -> lastOpenFlags = (Integer) args[1];
                case "forget" -> refs.computeIfPresent((Long) args[0],
                        (ino, have) -> Math.max(0, have - (Long) args[1]));
                default -> {
                }
            }
        }

        private boolean exists(long ino) throws IOException {
            try {
                target.getattr(ino);
                return true;
            } catch (FsException e) {
                if (e.errno() == Errno.ENOENT) {
                    return false;
                }
                throw e;
            }
        }

        private Set<Long> reachable() throws IOException {
            Set<Long> seen = new HashSet<>();
            ArrayDeque<Long> todo = new ArrayDeque<>();
            todo.add(target.rootIno());
            while (!todo.isEmpty()) {
                long ino = todo.poll();
                if (!seen.add(ino) || !org.iomap4j.vfs.FileMode.isDirectory(target.getattr(ino).mode())) {
                    continue;
                }
                target.readdir(ino, 0, e -> {
                    if (!e.name().equals(".") && !e.name().equals("..")) {
                        todo.add(e.ino());
                    }
                    return true;
                });
            }
            return seen;
        }
    }
}
