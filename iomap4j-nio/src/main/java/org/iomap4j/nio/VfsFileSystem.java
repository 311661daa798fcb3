package org.iomap4j.nio;

import java.io.Closeable;
import java.io.IOException;
import java.net.URI;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.WatchService;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.regex.Pattern;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Vfs;

/**
 * A mounted image as a {@link FileSystem}: one {@link Vfs}, one root "/", one {@link FileStore}.
 *
 * <p>Thread-safety and closing: every operation runs inside {@link #op}, under the read side of {@code closeLock};
 * {@link #close()} takes the write side to mark the file system closed (waiting for running operations), closes
 * open channels, directory streams and watch services, and takes it again to unmount (the Vfs writes everything
 * back: sync, clean superblock) and release the image. Afterwards every operation throws {@link ClosedFileSystemException}. Lock order: closeLock (read) →
 * a channel's position lock → the file lock table's monitor → the Vfs's own locks.
 */
final class VfsFileSystem extends FileSystem {
    private final ExtFileSystemProvider provider;
    private final Path image;
    private final MountedVfs mounted;
    private final Vfs vfs;
    private final EnvOptions env;
    private final Namespace namespace;
    private final VfsPath root;
    private final VfsFileStore store;
    private final FileLockTable locks = new FileLockTable();
    private final ReentrantReadWriteLock closeLock = new ReentrantReadWriteLock();
    private final Set<Closeable> resources = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    /** Set once the Vfs is unmounted (under the write side of closeLock). */
    private volatile boolean unmounted;
    private volatile ExecutorService asyncPool;

    VfsFileSystem(ExtFileSystemProvider provider, Path image, MountedVfs mounted, EnvOptions env) {
        this.provider = provider;
        this.image = image;
        this.mounted = mounted;
        this.vfs = mounted.vfs();
        this.env = env;
        this.namespace = new Namespace(vfs);
        this.root = new VfsPath(this, "/");
        this.store = new VfsFileStore(this, mounted);
    }

    /** A body run by {@link #op}. */
    @FunctionalInterface
    interface IoCall<T> {
        T call() throws IOException;
    }

    /**
     * Runs {@code body} while the file system is open, translating {@link FsException} into the JDK's exceptions
     * named after {@code file} and {@code other} (either may be null).
     *
     * @throws ClosedFileSystemException if closed
     */
    <T> T op(Object file, Object other, IoCall<T> body) throws IOException {
        ReentrantReadWriteLock.ReadLock l = closeLock.readLock();
        l.lock();
        try {
            if (closed) {
                throw new ClosedFileSystemException();
            }
            return body.call();
        } catch (FsException e) {
            throw Errors.translate(e, file == null ? null : file.toString(), other == null ? null : other.toString());
        } finally {
            l.unlock();
        }
    }

    /** The mounted image (Vfs, store facts, DAX mapper). */
    MountedVfs mounted() {
        return mounted;
    }

    /** Throws ReadOnlyFileSystemException on a read-only mount (checked before any change). */
    void checkWritable() {
        if (mounted.readOnly()) {
            throw Errors.readOnly(null);
        }
    }

    void checkOpen() {
        if (closed) {
            throw new ClosedFileSystemException();
        }
    }

    Vfs vfs() {
        return vfs;
    }

    Namespace namespace() {
        return namespace;
    }

    FileLockTable locks() {
        return locks;
    }

    EnvOptions env() {
        return env;
    }

    Path image() {
        return image;
    }

    URI imageUri() {
        return image.toUri();
    }

    VfsPath rootPath() {
        return root;
    }

    VfsFileStore store() {
        return store;
    }

    /** Tracks a channel, stream or watch service to close with the file system. */
    void register(Closeable c) {
        resources.add(c);
    }

    void unregister(Closeable c) {
        resources.remove(c);
    }

    /** The executor of AsynchronousFileChannels opened without one: daemon threads, shut down by close. */
    ExecutorService asyncPool() {
        ExecutorService p = asyncPool;
        if (p == null) {
            synchronized (this) {
                p = asyncPool;
                if (p == null) {
                    p = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("iomap4j-nio-async-", 0).factory());
                    asyncPool = p;
                }
            }
        }
        return p;
    }

    @Override
    public ExtFileSystemProvider provider() {
        return provider;
    }

    /**
     * Runs the release of a channel or stream (handles, references, delete-on-close) while the Vfs is mounted, also
     * while {@link #close()} is closing resources; after the unmount it does nothing, the unmount having freed
     * everything.
     */
    void release(Object file, IoCall<?> body) throws IOException {
        ReentrantReadWriteLock.ReadLock l = closeLock.readLock();
        l.lock();
        try {
            if (!unmounted) {
                body.call();
            }
        } catch (FsException e) {
            throw Errors.translate(e, file == null ? null : file.toString(), null);
        } finally {
            l.unlock();
        }
    }

    /**
     * Closes every open channel, directory stream and watch service, then unmounts: all data and metadata are
     * written back and the image is released. Idempotent.
     *
     * <p>Three steps: set the closed flag under the write side of the close lock (it waits for running
     * operations; new ones fail), close the resources holding no lock (a channel's close takes its own monitor and
     * then the read side: holding the write side here could deadlock with a user closing the same channel), and
     * unmount under the write side again (releases still running finish first; later ones do nothing).
     */
    @Override
    public void close() throws IOException {
        closeLock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            closeLock.writeLock().unlock();
        }
        IOException failure = null;
        try {
            for (Closeable c : new ArrayList<>(resources)) {
                try {
                    c.close();
                } catch (IOException e) {
                    failure = e;
                }
            }
            resources.clear();
            ExecutorService p = asyncPool;
            if (p != null) {
                p.shutdown();
            }
            closeLock.writeLock().lock();
            try {
                mounted.unmount();
            } catch (IOException e) {
                if (failure != null) {
                    e.addSuppressed(failure);
                }
                failure = e;
            } finally {
                unmounted = true;
                closeLock.writeLock().unlock();
            }
        } finally {
            provider.removeFileSystem(this);
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public boolean isOpen() {
        return !closed;
    }

    @Override
    public boolean isReadOnly() {
        return mounted.readOnly();
    }

    @Override
    public String getSeparator() {
        return "/";
    }

    @Override
    public Iterable<Path> getRootDirectories() {
        checkOpen();
        return List.of(root);
    }

    @Override
    public Iterable<FileStore> getFileStores() {
        checkOpen();
        return List.of(store);
    }

    @Override
    public Set<String> supportedFileAttributeViews() {
        return Attributes.supportedViews(vfs);
    }

    @Override
    public VfsPath getPath(String first, String... more) {
        return VfsPath.of(this, first, more);
    }

    /** "glob:" ({@link Globs}) or "regex:" ({@link Pattern}) matched against the path's string. */
    @Override
    public PathMatcher getPathMatcher(String syntaxAndPattern) {
        int colon = syntaxAndPattern.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("expected syntax:pattern, got '" + syntaxAndPattern + "'");
        }
        String syntax = syntaxAndPattern.substring(0, colon);
        String pattern = syntaxAndPattern.substring(colon + 1);
        String regex;
        if (syntax.equalsIgnoreCase("glob")) {
            regex = Globs.toRegex(pattern);
        } else if (syntax.equalsIgnoreCase("regex")) {
            regex = pattern;
        } else {
            throw new UnsupportedOperationException("syntax '" + syntax + "' not supported (glob or regex)");
        }
        Pattern p = Pattern.compile(regex);
        return path -> p.matcher(path.toString()).matches();
    }

    @Override
    public UserPrincipalLookupService getUserPrincipalLookupService() {
        return Principals.LOOKUP;
    }

    /** A polling watch service (interval: env {@code watchIntervalMillis}). */
    @Override
    public WatchService newWatchService() {
        checkOpen();
        PollingWatchService ws = new PollingWatchService(this, env.watchIntervalMillis());
        register(ws);
        return ws;
    }

    @Override
    public String toString() {
        return provider.getScheme() + ":" + imageUri();
    }
}
