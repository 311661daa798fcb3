package org.iomap4j.nio;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.spi.FileSystemProvider;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Caller;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;

/**
 * The {@code ext} file system provider: ext2/3/4 images as {@link FileSystem}s, through iomap4j's ext driver.
 *
 * <pre>{@code
 * try (FileSystem fs = FileSystems.newFileSystem(Path.of("disk.img"))) {   // read-write; env: readOnly, create, size
 *     Files.writeString(fs.getPath("/hello.txt"), "hi");
 * }
 * }</pre>
 *
 * <p>URIs: {@code ext:<image file URI>!<path>}, e.g. {@code ext:file:///tmp/disk.img!/a/b} (as zipfs's
 * {@code jar:}). {@link #newFileSystem(URI, Map)} opens and registers the image; {@link #getPath(URI)} finds a file
 * system opened by either call. {@link #newFileSystem(Path, Map)} recognises an ext image by its superblock magic
 * and throws UnsupportedOperationException for any other file, so {@link FileSystems#newFileSystem(Path)} moves on
 * to the next provider. Env keys: {@link EnvOptions}.
 *
 * <p>Identity: operations act as {@link Caller#current()} (root unless a caller binds another): new files get its
 * uid and gid; {@link #checkAccess} checks the mode bits for it. The Vfs itself does not check permissions.
 *
 * <p>Errors follow the JDK's default provider ({@link Errors}); a read-only mount throws
 * ReadOnlyFileSystemException for every change; a closed one ClosedFileSystemException.
 */
public final class ExtFileSystemProvider extends FileSystemProvider {
    private final Map<Path, VfsFileSystem> fileSystems = new ConcurrentHashMap<>();

    /**
     * Called by the JDK's ServiceLoader. File systems opened through another instance are not found by
     * {@link java.nio.file.Path#of(URI)}: use the installed provider.
     */
    public ExtFileSystemProvider() {
    }

    @Override
    public String getScheme() {
        return "ext";
    }

    // ---------------------------------------------------------------- file systems

    @Override
    public synchronized FileSystem newFileSystem(URI uri, Map<String, ?> env) throws IOException {
        Path image = imagePath(uri);
        Path key = key(image);
        if (fileSystems.containsKey(key)) {
            throw new FileSystemAlreadyExistsException(uri.toString());
        }
        EnvOptions o = EnvOptions.of(env);
        if (!prepare(image, o)) {
            throw new FileSystemException(image.toString(), null, "not an ext2/3/4 image (no superblock magic 0xEF53"
                    + " at byte 1080)");
        }
        return open(image, o);
    }

    /**
     * Opens the ext image {@code path} (a file of the default file system).
     *
     * @throws UnsupportedOperationException if {@code path} is not an ext image (and {@code create} is not set), or
     *         not a file of the default file system, as {@link FileSystems#newFileSystem(Path, Map)} expects
     * @throws ImageInUseException if the image is open already, here or in another process
     */
    @Override
    public FileSystem newFileSystem(Path path, Map<String, ?> env) throws IOException {
        if (path.getFileSystem() != FileSystems.getDefault()) {
            throw new UnsupportedOperationException("an ext image must be a file of the default file system");
        }
        EnvOptions o = EnvOptions.of(env);
        if (!prepare(path, o)) {
            throw new UnsupportedOperationException(path + " is not an ext2/3/4 image");
        }
        return open(path, o);
    }

    /** Creates the image if asked and needed; false if {@code image} is not an ext image. */
    private static boolean prepare(Path image, EnvOptions o) throws IOException {
        if (o.create() && (!Files.exists(image) || Files.size(image) == 0)) {
            if (o.sizeBytes() <= 0) {
                throw new IllegalArgumentException("env 'create' needs a positive 'size' (bytes, or e.g. \"64M\")");
            }
            ExtImages.create(image, o.sizeBytes(), o.blockSizeBytes());
            return true;
        }
        return ExtImages.isExtImage(image);
    }

    private VfsFileSystem open(Path image, EnvOptions o) throws IOException {
        Path key = key(image);
        MountedVfs m = ExtImages.mount(key, o);
        VfsFileSystem fs = new VfsFileSystem(this, key, m, o);
        fileSystems.put(key, fs);
        return fs;
    }

    void removeFileSystem(VfsFileSystem fs) {
        fileSystems.remove(fs.image(), fs);
    }

    private static Path key(Path image) throws IOException {
        return Files.exists(image) ? image.toRealPath() : image.toAbsolutePath().normalize();
    }

    private void checkUri(URI uri) {
        if (!getScheme().equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("URI scheme is not '" + getScheme() + "': " + uri);
        }
    }

    /** The image file of {@code ext:<file URI>!/path}. */
    private Path imagePath(URI uri) {
        checkUri(uri);
        String ssp = uri.getRawSchemeSpecificPart();
        int sep = ssp.indexOf("!/");
        String image = sep < 0 ? ssp : ssp.substring(0, sep);
        if (image.endsWith("!")) {
            image = image.substring(0, image.length() - 1);
        }
        return Path.of(URI.create(image));
    }

    @Override
    public FileSystem getFileSystem(URI uri) {
        try {
            VfsFileSystem fs = fileSystems.get(key(imagePath(uri)));
            if (fs == null) {
                throw new FileSystemNotFoundException(uri.toString());
            }
            return fs;
        } catch (IOException e) {
            throw new FileSystemNotFoundException(uri + ": " + e.getMessage());
        }
    }

    /** The path of {@code ext:<file URI>!/path} in an open file system; FileSystemNotFoundException otherwise. */
    @Override
    public Path getPath(URI uri) {
        VfsFileSystem fs = (VfsFileSystem) getFileSystem(uri);
        String ssp = uri.getRawSchemeSpecificPart();
        int sep = ssp.indexOf("!/");
        if (sep < 0) {
            return fs.rootPath();
        }
        try {
            return fs.getPath(new URI(ssp.substring(sep + 1)).getPath());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("bad path in " + uri, e);
        }
    }

    static VfsPath toVfs(Path p) {
        if (!(p instanceof VfsPath v)) {
            throw new ProviderMismatchException("not an ext path: " + p);
        }
        return v;
    }

    private static boolean follow(LinkOption... options) {
        return !Arrays.asList(options).contains(LinkOption.NOFOLLOW_LINKS);
    }

    // ---------------------------------------------------------------- channels

    @Override
    public SeekableByteChannel newByteChannel(Path path, Set<? extends OpenOption> options,
            FileAttribute<?>... attrs) throws IOException {
        return newFileChannel(path, options, attrs);
    }

    @Override
    public FileChannel newFileChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
            throws IOException {
        VfsPath p = toVfs(path);
        VfsFileSystem fs = p.getFileSystem();
        return openChannel(fs, p, fs.op(p, null, () -> fs.namespace().loc(p)), options, attrs);
    }

    @Override
    public AsynchronousFileChannel newAsynchronousFileChannel(Path path, Set<? extends OpenOption> options,
            ExecutorService executor, FileAttribute<?>... attrs) throws IOException {
        VfsPath p = toVfs(path);
        VfsFileChannel ch = (VfsFileChannel) newFileChannel(p, options, attrs);
        return new VfsAsyncFileChannel(ch, executor != null ? executor : p.getFileSystem().asyncPool());
    }

    /** open(2) at {@code loc} with the JDK's option rules; {@code shown} names the file in exceptions. */
    VfsFileChannel openChannel(VfsFileSystem fs, VfsPath shown, Namespace.Loc loc, Set<? extends OpenOption> options,
            FileAttribute<?>... attrs) throws IOException {
        boolean read = options.contains(StandardOpenOption.READ);
        boolean write = options.contains(StandardOpenOption.WRITE);
        boolean append = options.contains(StandardOpenOption.APPEND);
        boolean truncate = options.contains(StandardOpenOption.TRUNCATE_EXISTING);
        boolean createNew = options.contains(StandardOpenOption.CREATE_NEW);
        boolean create = createNew || options.contains(StandardOpenOption.CREATE);
        boolean follow = !options.contains(LinkOption.NOFOLLOW_LINKS);
        for (OpenOption o : options) {
            if (!(o instanceof StandardOpenOption) && o != LinkOption.NOFOLLOW_LINKS) {
                throw new UnsupportedOperationException("open option " + o + " not supported");
            }
        }
        if (append) {
            write = true;
            if (read) {
                throw new IllegalArgumentException("READ + APPEND not allowed");
            }
            if (truncate) {
                throw new IllegalArgumentException("APPEND + TRUNCATE_EXISTING not allowed");
            }
        }
        if (!read && !write) {
            read = true;
        }
        if (write) {
            fs.checkWritable();
        }
        create &= write;
        int flags = read && write ? Vfs.O_RDWR : write ? Vfs.O_WRONLY : Vfs.O_RDONLY;
        if (write && truncate) {
            flags |= Vfs.O_TRUNC;
        }
        if (append) {
            flags |= Vfs.O_APPEND;
        }
        if (options.contains(StandardOpenOption.SYNC)) {
            flags |= Vfs.O_SYNC;
        } else if (options.contains(StandardOpenOption.DSYNC)) {
            flags |= Vfs.O_DSYNC;
        }
        Integer perm = Attributes.initialMode(attrs);
        final int openFlags = flags;
        final boolean readable = read;
        final boolean writable = write;
        final boolean mayCreate = create;
        Namespace ns = fs.namespace();
        return fs.op(shown, null, () -> {
            Vfs vfs = fs.vfs();
            Namespace.Node n = null;
            if (!createNew) {
                try {
                    n = ns.walk(loc, follow);
                } catch (FsException e) {
                    if (e.errno() != Errno.ENOENT || !mayCreate) {
                        throw e;
                    }
                }
            }
            if (n == null) {
                Namespace.Parent parent = ns.parent(follow ? ns.danglingTarget(loc) : loc);
                try {
                    Caller c = Caller.current();
                    Vfs.Created made = Capabilities.write(vfs).create(parent.dir().ino(), parent.name(),
                            perm != null ? perm : Namespace.DEFAULT_FILE_MODE,
                            openFlags | Vfs.O_CREAT | (createNew ? Vfs.O_EXCL : 0), c.uid(), c.gid());
                    return channel(fs, shown, made.attr().ino(), made.handle(), readable, writable, append, options);
                } finally {
                    ns.put(parent.dir());
                }
            }
            try {
                InodeAttr a = n.attr();
                if (a.isSymlink()) {
                    throw new FsException(Errno.ELOOP, "inode " + a.ino() + " is a symbolic link (NOFOLLOW_LINKS)");
                }
                if (!n.counted()) {
                    // the base directory itself (root, or a directory stream's own): the channel takes a reference
                    // of its own through the directory's "." entry
                    InodeAttr self = vfs.lookup(a.ino(), ".");
                    n = new Namespace.Node(self.ino(), self, true);
                }
                FileHandle fh = null;
                if (a.isDirectory()) {
                    if (writable) {
                        throw new FsException(Errno.EISDIR, "inode " + a.ino() + " is a directory");
                    }
                } else {
                    fh = vfs.open(a.ino(), openFlags);
                }
                VfsFileChannel ch = channel(fs, shown, a.ino(), fh, readable, writable, append, options);
                n = null; // the channel owns the reference now
                return ch;
            } finally {
                ns.put(n);
            }
        });
    }

    private static VfsFileChannel channel(VfsFileSystem fs, VfsPath shown, long ino, FileHandle fh, boolean read,
            boolean write, boolean append, Set<? extends OpenOption> options) {
        VfsFileChannel ch = new VfsFileChannel(fs, (VfsPath) shown.toAbsolutePath(), ino, fh, read, write, append,
                options.contains(StandardOpenOption.DELETE_ON_CLOSE));
        fs.register(ch);
        return ch;
    }

    // ---------------------------------------------------------------- namespace

    @Override
    public DirectoryStream<Path> newDirectoryStream(Path dir, DirectoryStream.Filter<? super Path> filter)
            throws IOException {
        VfsPath p = toVfs(dir);
        VfsFileSystem fs = p.getFileSystem();
        Namespace.Node n = fs.op(p, null, () -> {
            Namespace.Node node = fs.namespace().walk(fs.namespace().loc(p), true);
            if (!node.attr().isDirectory()) {
                fs.namespace().put(node);
                throw new FsException(Errno.ENOTDIR, "inode " + node.ino() + " is not a directory");
            }
            return node;
        });
        return new VfsDirectoryStream(fs, p, n, filter);
    }

    @Override
    public void createDirectory(Path dir, FileAttribute<?>... attrs) throws IOException {
        VfsPath p = toVfs(dir);
        VfsFileSystem fs = p.getFileSystem();
        Integer perm = Attributes.initialMode(attrs);
        fs.checkWritable();
        fs.op(p, null, () -> {
            fs.namespace().mkdir(fs.namespace().loc(p), perm);
            return null;
        });
    }

    @Override
    public void createSymbolicLink(Path link, Path target, FileAttribute<?>... attrs) throws IOException {
        VfsPath p = toVfs(link);
        VfsFileSystem fs = p.getFileSystem();
        p.check(target);
        if (attrs.length > 0) {
            throw new UnsupportedOperationException("symbolic links take no initial attributes");
        }
        fs.checkWritable();
        fs.op(p, null, () -> {
            fs.namespace().symlink(fs.namespace().loc(p), target.toString());
            return null;
        });
    }

    @Override
    public void createLink(Path link, Path existing) throws IOException {
        VfsPath p = toVfs(link);
        VfsFileSystem fs = p.getFileSystem();
        VfsPath e = p.check(existing);
        fs.checkWritable();
        fs.op(p, e, () -> {
            fs.namespace().link(fs.namespace().loc(p), fs.namespace().loc(e));
            return null;
        });
    }

    @Override
    public void delete(Path path) throws IOException {
        delete(path, false);
    }

    @Override
    public boolean deleteIfExists(Path path) throws IOException {
        return delete(path, true);
    }

    private boolean delete(Path path, boolean ifExists) throws IOException {
        VfsPath p = toVfs(path);
        VfsFileSystem fs = p.getFileSystem();
        fs.checkWritable();
        return fs.op(p, null, () -> fs.namespace().delete(fs.namespace().loc(p), Namespace.DeleteKind.ANY, ifExists));
    }

    @Override
    public Path readSymbolicLink(Path link) throws IOException {
        VfsPath p = toVfs(link);
        VfsFileSystem fs = p.getFileSystem();
        try {
            return fs.getPath(fs.op(p, null, () -> fs.namespace().readlink(fs.namespace().loc(p))));
        } catch (FileSystemException e) {
            if (e.getCause() instanceof FsException fe && fe.errno() == Errno.EINVAL) {
                throw Errors.notLink(p.toString());
            }
            throw e;
        }
    }

    @Override
    public void copy(Path source, Path target, CopyOption... options) throws IOException {
        CopyMove.copy(toVfs(source), toVfs(target), options);
    }

    @Override
    public void move(Path source, Path target, CopyOption... options) throws IOException {
        CopyMove.move(toVfs(source), toVfs(target), options);
    }

    @Override
    public boolean isSameFile(Path path, Path path2) throws IOException {
        VfsPath a = toVfs(path);
        if (a.equals(path2)) {
            return true;
        }
        if (!(path2 instanceof VfsPath b) || b.getFileSystem() != a.getFileSystem()) {
            return false;
        }
        VfsFileSystem fs = a.getFileSystem();
        long ia = fs.op(a, null, () -> fs.namespace().stat(fs.namespace().loc(a), true).ino());
        long ib = fs.op(b, null, () -> fs.namespace().stat(fs.namespace().loc(b), true).ino());
        return ia == ib;
    }

    /** A name starting with '.' is hidden, as on Unix. */
    @Override
    public boolean isHidden(Path path) {
        Path name = toVfs(path).getFileName();
        return name != null && name.toString().startsWith(".");
    }

    @Override
    public FileStore getFileStore(Path path) throws IOException {
        VfsPath p = toVfs(path);
        VfsFileSystem fs = p.getFileSystem();
        fs.op(p, null, () -> fs.namespace().stat(fs.namespace().loc(p), true));
        return fs.store();
    }

    /**
     * Checks existence and the mode bits for {@link Caller#current()} as access(2) would: root may read and write
     * anything and execute what has an execute bit; WRITE on a read-only mount is AccessDeniedException.
     */
    @Override
    public void checkAccess(Path path, AccessMode... modes) throws IOException {
        VfsPath p = toVfs(path);
        VfsFileSystem fs = p.getFileSystem();
        InodeAttr a = fs.op(p, null, () -> fs.namespace().stat(fs.namespace().loc(p), true));
        Caller c = Caller.current();
        for (AccessMode m : modes) {
            boolean ok;
            if (m == AccessMode.WRITE && fs.isReadOnly()) {
                throw new AccessDeniedException(p.toString(), null, "read-only file system");
            }
            int bit = switch (m) {
                case READ -> 4;
                case WRITE -> 2;
                case EXECUTE -> 1;
            };
            if (c.uid() == 0) {
                ok = m != AccessMode.EXECUTE || a.isDirectory() || (a.mode() & 0111) != 0;
            } else if (c.uid() == a.uid()) {
                ok = (a.mode() & (bit << 6)) != 0;
            } else if (c.gid() == a.gid()) {
                ok = (a.mode() & (bit << 3)) != 0;
            } else {
                ok = (a.mode() & bit) != 0;
            }
            if (!ok) {
                throw new AccessDeniedException(p.toString());
            }
        }
    }

    // ---------------------------------------------------------------- attributes

    private static Attributes.Target target(VfsPath p, LinkOption... options) {
        VfsFileSystem fs = p.getFileSystem();
        return new Attributes.Target(fs, p, () -> fs.namespace().loc(p), follow(options));
    }

    @Override
    public <V extends FileAttributeView> V getFileAttributeView(Path path, Class<V> type, LinkOption... options) {
        return Attributes.view(target(toVfs(path), options), type);
    }

    @Override
    public <A extends BasicFileAttributes> A readAttributes(Path path, Class<A> type, LinkOption... options)
            throws IOException {
        return Attributes.read(target(toVfs(path), options), type);
    }

    @Override
    public Map<String, Object> readAttributes(Path path, String attributes, LinkOption... options)
            throws IOException {
        return Attributes.read(target(toVfs(path), options), attributes);
    }

    @Override
    public void setAttribute(Path path, String attribute, Object value, LinkOption... options) throws IOException {
        Attributes.set(target(toVfs(path), options), attribute, value);
    }
}
