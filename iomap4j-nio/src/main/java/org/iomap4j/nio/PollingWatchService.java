package org.iomap4j.nio;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.Watchable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.iomap4j.vfs.InodeAttr;

/**
 * A {@link WatchService} that polls: every interval it lists each watched directory and compares each entry's
 * (inode, mtime, ctime, size) with the last listing, queuing ENTRY_CREATE, ENTRY_DELETE and ENTRY_MODIFY events as
 * the JDK's own polling watcher (sun.nio.fs.PollingWatchService) does. A change and its undoing within one interval
 * are not seen; times have ext2's one-second resolution, so a rewrite of the same size in the same second as the
 * last listing shows only if the inode's ctime or size changed. A watched directory that disappears cancels its key.
 *
 * <p>One daemon platform thread per service; {@link #close()} (or closing the file system) stops it.
 */
final class PollingWatchService implements WatchService {
    private final VfsFileSystem fs;
    private final ScheduledExecutorService poller;
    private final LinkedBlockingDeque<Key> signalled = new LinkedBlockingDeque<>();
    private final Map<VfsPath, Key> keys = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /** Put on the queue by close to wake waiting take() calls. */
    private final Key closeMarker;

    PollingWatchService(VfsFileSystem fs, long intervalMillis) {
        this.fs = fs;
        this.closeMarker = new Key(this, null, Set.of());
        this.poller = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("iomap4j-nio-watch").factory());
        poller.scheduleWithFixedDelay(this::pollAll, intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
    }

    VfsFileSystem fileSystem() {
        return fs;
    }

    WatchKey register(VfsPath dir, WatchEvent.Kind<?>[] events) throws IOException {
        if (closed) {
            throw new ClosedWatchServiceException();
        }
        Set<WatchEvent.Kind<?>> kinds = new java.util.HashSet<>();
        for (WatchEvent.Kind<?> k : events) {
            if (k == StandardWatchEventKinds.ENTRY_CREATE || k == StandardWatchEventKinds.ENTRY_DELETE
                    || k == StandardWatchEventKinds.ENTRY_MODIFY) {
                kinds.add(k);
            } else if (k != StandardWatchEventKinds.OVERFLOW) {
                throw new UnsupportedOperationException("event kind " + k.name() + " not supported");
            }
        }
        VfsPath abs = (VfsPath) dir.toAbsolutePath();
        Map<String, Stamp> snap = snapshot(abs);
        synchronized (this) {
            Key k = keys.get(abs);
            if (k != null && k.isValid()) {
                k.kinds = Set.copyOf(kinds);
                return k;
            }
            k = new Key(this, dir, kinds);
            k.last = snap;
            keys.put(abs, k);
            return k;
        }
    }

    /** What identifies a version of an entry. */
    private record Stamp(long ino, long mtimeSec, long ctimeSec, long sizeBytes) {
    }

    private Map<String, Stamp> snapshot(VfsPath dir) throws IOException {
        Namespace ns = fs.namespace();
        return fs.op(dir, null, () -> {
            Namespace.Node n = ns.walk(ns.loc(dir), true);
            try {
                if (!n.attr().isDirectory()) {
                    throw new NotDirectoryException(dir.toString());
                }
                List<String> names = new ArrayList<>();
                fs.vfs().readdir(n.ino(), 0, e -> {
                    if (!e.name().equals(".") && !e.name().equals("..")) {
                        names.add(e.name());
                    }
                    return true;
                });
                Map<String, Stamp> m = new HashMap<>();
                for (String name : names) {
                    InodeAttr a;
                    try {
                        a = fs.vfs().lookup(n.ino(), name);
                    } catch (org.iomap4j.FsException e) {
                        continue; // removed since the listing
                    }
                    fs.vfs().forget(a.ino(), 1);
                    m.put(name, new Stamp(a.ino(), a.mtimeSec(), a.ctimeSec(), a.sizeBytes()));
                }
                return m;
            } finally {
                ns.put(n);
            }
        });
    }

    private void pollAll() {
        for (Map.Entry<VfsPath, Key> e : keys.entrySet()) {
            Key k = e.getValue();
            if (!k.isValid()) {
                keys.remove(e.getKey(), k);
                continue;
            }
            Map<String, Stamp> now;
            try {
                now = snapshot(e.getKey());
            } catch (IOException | RuntimeException x) {
                k.cancel(); // the directory is gone (or the file system closed)
                continue;
            }
            Map<String, Stamp> before = k.last;
            k.last = now;
            for (Map.Entry<String, Stamp> n : now.entrySet()) {
                Stamp old = before.get(n.getKey());
                if (old == null) {
                    k.signal(StandardWatchEventKinds.ENTRY_CREATE, n.getKey());
                } else if (!old.equals(n.getValue())) {
                    k.signal(StandardWatchEventKinds.ENTRY_MODIFY, n.getKey());
                }
            }
            for (String name : before.keySet()) {
                if (!now.containsKey(name)) {
                    k.signal(StandardWatchEventKinds.ENTRY_DELETE, name);
                }
            }
        }
    }

    private void enqueue(Key k) {
        signalled.add(k);
    }

    private void ensureOpen() {
        if (closed) {
            throw new ClosedWatchServiceException();
        }
    }

    private WatchKey check(Key k) {
        if (k == closeMarker) {
            signalled.add(closeMarker);
            throw new ClosedWatchServiceException();
        }
        return k;
    }

    @Override
    public WatchKey poll() {
        ensureOpen();
        Key k = signalled.poll();
        return k == null ? null : check(k);
    }

    @Override
    public WatchKey poll(long timeout, TimeUnit unit) throws InterruptedException {
        ensureOpen();
        Key k = signalled.poll(timeout, unit);
        return k == null ? null : check(k);
    }

    @Override
    public WatchKey take() throws InterruptedException {
        ensureOpen();
        return check(signalled.take());
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        poller.shutdownNow();
        for (Key k : keys.values()) {
            k.valid = false;
        }
        keys.clear();
        signalled.add(closeMarker);
        fs.unregister(this);
    }

    /** One event; repeated identical events are counted, as the JDK's watchers do. */
    private static final class Event<T> implements WatchEvent<T> {
        private final Kind<T> kind;
        private final T context;
        private int count = 1;

        Event(Kind<T> kind, T context) {
            this.kind = kind;
            this.context = context;
        }

        @Override
        public Kind<T> kind() {
            return kind;
        }

        @Override
        public int count() {
            return count;
        }

        @Override
        public T context() {
            return context;
        }

        @Override
        public String toString() {
            return kind.name() + " " + context + (count > 1 ? " x" + count : "");
        }
    }

    /** The key of one watched directory: READY or SIGNALLED, with pending events. */
    private static final class Key implements WatchKey {
        private final PollingWatchService ws;
        private final VfsPath dir;
        volatile Set<WatchEvent.Kind<?>> kinds;
        volatile Map<String, Stamp> last = Map.of();
        volatile boolean valid = true;
        private boolean signalledState;
        private List<WatchEvent<?>> events = new ArrayList<>();

        Key(PollingWatchService ws, VfsPath dir, Set<WatchEvent.Kind<?>> kinds) {
            this.ws = ws;
            this.dir = dir;
            this.kinds = kinds;
        }

        synchronized void signal(WatchEvent.Kind<Path> kind, String name) {
            if (!kinds.contains(kind)) {
                return;
            }
            Path ctx = ws.fs.getPath(name);
            if (!events.isEmpty() && events.getLast() instanceof Event<?> last && last.kind() == kind
                    && Objects.equals(last.context(), ctx)) {
                last.count++;
            } else {
                events.add(new Event<>(kind, ctx));
            }
            if (!signalledState) {
                signalledState = true;
                ws.enqueue(this);
            }
        }

        @Override
        public boolean isValid() {
            return valid && !ws.closed;
        }

        @Override
        public synchronized List<WatchEvent<?>> pollEvents() {
            List<WatchEvent<?>> out = events;
            events = new ArrayList<>();
            return out;
        }

        @Override
        public synchronized boolean reset() {
            if (!isValid()) {
                return false;
            }
            if (!events.isEmpty()) {
                ws.enqueue(this);
            } else {
                signalledState = false;
            }
            return true;
        }

        @Override
        public void cancel() {
            valid = false;
            ws.keys.values().remove(this);
        }

        @Override
        public Watchable watchable() {
            return dir;
        }
    }
}
