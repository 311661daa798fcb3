package org.iomap4j.nio;

import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.ClosedDirectoryStreamException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Set;
import org.iomap4j.vfs.DirEntry;

/**
 * A directory's entries (without "." and ".."), read lazily in batches through {@link org.iomap4j.vfs.Vfs#readdir}
 * and filtered; also a {@link SecureDirectoryStream}: while open it holds a reference on the directory's inode,
 * and its relative-path operations resolve from that inode, so they reach the same directory even if it is
 * renamed meanwhile (the *at system calls on an open directory descriptor).
 *
 * <p>One iterator per stream, as {@link java.nio.file.DirectoryStream} specifies. Entries created or removed while
 * iterating may or may not be seen; no entry is returned twice (the Vfs's readdir offsets are stable).
 */
final class VfsDirectoryStream implements SecureDirectoryStream<Path> {
    private static final int BATCH = 256;

    private final VfsFileSystem fs;
    private final VfsPath dir;
    private final Namespace.Node node;
    private final Filter<? super Path> filter;
    private volatile boolean closed;
    private boolean iterated;

    /** Takes over {@code node}'s reference. */
    VfsDirectoryStream(VfsFileSystem fs, VfsPath dir, Namespace.Node node, Filter<? super Path> filter) {
        this.fs = fs;
        this.dir = dir;
        this.node = node;
        this.filter = filter;
        fs.register(this);
    }

    @Override
    public synchronized Iterator<Path> iterator() {
        if (closed) {
            throw new IllegalStateException("directory stream closed");
        }
        if (iterated) {
            throw new IllegalStateException("iterator already obtained");
        }
        iterated = true;
        return new Iterator<>() {
            private final Deque<Path> ready = new ArrayDeque<>();
            private long offset;
            private boolean end;

            /**
             * After the stream is closed no more is read, but entries already read ahead are still returned, as
             * DirectoryStream allows: so a {@code next()} after a {@code hasNext()} that said true never fails,
             * even if the stream (or the whole file system) is closed in between.
             */
            @Override
            public boolean hasNext() {
                while (ready.isEmpty() && !end && !closed) {
                    fill();
                }
                return !ready.isEmpty();
            }

            private void fill() {
                Deque<DirEntry> batch = new ArrayDeque<>();
                try {
                    fs.op(dir, null, () -> {
                        fs.vfs().readdir(node.ino(), offset, e -> {
                            batch.add(e);
                            return batch.size() < BATCH;
                        });
                        return null;
                    });
                    if (batch.isEmpty()) {
                        end = true;
                    }
                    for (DirEntry e : batch) {
                        offset = e.nextOffset();
                        if (e.name().equals(".") || e.name().equals("..")) {
                            continue;
                        }
                        Path p = dir.resolve(e.name());
                        if (filter == null || filter.accept(p)) {
                            ready.add(p);
                        }
                    }
                } catch (IOException e) {
                    end = true;
                    throw new DirectoryIteratorException(e);
                }
            }

            @Override
            public Path next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.poll();
            }
        };
    }

    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        fs.unregister(this);
        fs.release(dir, () -> {
            fs.namespace().put(node);
            return null;
        });
    }

    private void ensureOpen() {
        if (closed) {
            throw new ClosedDirectoryStreamException();
        }
    }

    /** Where a path given to this stream starts: this directory, or the root for an absolute path. */
    private Namespace.Loc loc(Path path) throws IOException {
        VfsPath p = dir.check(path);
        if (p.isAbsolute()) {
            return fs.namespace().loc(p);
        }
        return new Namespace.Loc(node.borrowed(), p.names());
    }

    private Object display(Path path) {
        return dir.check(path).isAbsolute() ? path : dir.resolve(path);
    }

    private static boolean follow(LinkOption... options) {
        return !Arrays.asList(options).contains(LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public SecureDirectoryStream<Path> newDirectoryStream(Path path, LinkOption... options) throws IOException {
        ensureOpen();
        VfsPath shown = (VfsPath) display(path);
        Namespace.Node n = fs.op(shown, null, () -> fs.namespace().walk(loc(path), follow(options)));
        if (!n.attr().isDirectory()) {
            fs.op(shown, null, () -> {
                fs.namespace().put(n);
                return null;
            });
            throw new java.nio.file.NotDirectoryException(shown.toString());
        }
        return new VfsDirectoryStream(fs, shown, n, null);
    }

    @Override
    public SeekableByteChannel newByteChannel(Path path, Set<? extends OpenOption> options,
            FileAttribute<?>... attrs) throws IOException {
        ensureOpen();
        return fs.provider().openChannel(fs, (VfsPath) display(path), loc(path), options, attrs);
    }

    @Override
    public void deleteFile(Path path) throws IOException {
        ensureOpen();
        fs.checkWritable();
        fs.op(display(path), null, () -> fs.namespace().delete(loc(path), Namespace.DeleteKind.FILE, false));
    }

    @Override
    public void deleteDirectory(Path path) throws IOException {
        ensureOpen();
        fs.checkWritable();
        fs.op(display(path), null, () -> fs.namespace().delete(loc(path), Namespace.DeleteKind.DIRECTORY, false));
    }

    /** Renames {@code srcpath} (relative to this directory) to {@code targetpath} relative to {@code targetdir}. */
    @Override
    public void move(Path srcpath, SecureDirectoryStream<Path> targetdir, Path targetpath) throws IOException {
        ensureOpen();
        if (!(targetdir instanceof VfsDirectoryStream t) || t.fs != fs) {
            throw new java.nio.file.ProviderMismatchException("target directory stream of another file system");
        }
        t.ensureOpen();
        fs.checkWritable();
        fs.op(display(srcpath), t.display(targetpath), () -> {
            fs.namespace().rename(loc(srcpath), t.loc(targetpath), 0);
            return null;
        });
    }

    @Override
    public <V extends FileAttributeView> V getFileAttributeView(Class<V> type) {
        ensureOpen();
        return Attributes.view(new Attributes.Target(fs, dir, () -> new Namespace.Loc(node.borrowed(),
                java.util.List.of()), true), type);
    }

    @Override
    public <V extends FileAttributeView> V getFileAttributeView(Path path, Class<V> type, LinkOption... options) {
        ensureOpen();
        return Attributes.view(new Attributes.Target(fs, display(path), () -> loc(path), follow(options)), type);
    }
}
