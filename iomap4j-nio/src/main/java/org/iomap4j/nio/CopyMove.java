package org.iomap4j.nio;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.Arrays;
import java.util.List;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Caller;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;

/**
 * {@link java.nio.file.Files#copy} and {@link java.nio.file.Files#move} between paths of this provider, with the
 * JDK's Unix semantics (sun.nio.fs.UnixCopyFile): a directory is copied empty; an existing target is replaced
 * only with REPLACE_EXISTING (a non-empty directory target is DirectoryNotEmptyException); COPY_ATTRIBUTES copies
 * permissions, owner and times; ATOMIC_MOVE is one rename (replacing an existing target, as rename(2)); a move
 * within one image is a rename, across images a copy and a delete (ATOMIC_MOVE: AtomicMoveNotSupportedException).
 */
final class CopyMove {
    private CopyMove() {}

    private static final int CHUNK_BYTES = 1 << 20;

    static void copy(VfsPath src, VfsPath dst, CopyOption... options) throws IOException {
        List<CopyOption> opts = Arrays.asList(options);
        if (opts.contains(StandardCopyOption.ATOMIC_MOVE)) {
            throw new UnsupportedOperationException("ATOMIC_MOVE is not a copy option");
        }
        boolean replace = opts.contains(StandardCopyOption.REPLACE_EXISTING);
        boolean attrs = opts.contains(StandardCopyOption.COPY_ATTRIBUTES);
        boolean follow = !opts.contains(LinkOption.NOFOLLOW_LINKS);
        if (src.getFileSystem() != dst.getFileSystem()) {
            crossCopy(src, dst, replace, attrs, follow);
            return;
        }
        VfsFileSystem fs = src.getFileSystem();
        Namespace ns = fs.namespace();
        fs.checkWritable();
        fs.op(src, dst, () -> {
            InodeAttr s = ns.stat(ns.loc(src), follow);
            if (!prepareTarget(ns, s, dst, replace)) {
                return null;
            }
            if (s.isSymlink()) {
                ns.symlink(ns.loc(dst), fs.vfs().readlink(s.ino()));
            } else if (s.isDirectory()) {
                ns.mkdir(ns.loc(dst), attrs ? s.mode() & 07777 : Namespace.DEFAULT_DIR_MODE);
            } else if (s.isRegular()) {
                copyData(fs, ns, s, dst, attrs);
            } else {
                throw new FsException(Errno.EOPNOTSUPP, "copying special file inode " + s.ino());
            }
            if (attrs && !s.isSymlink()) {
                ns.setattr(ns.loc(dst), false, new SetAttr(s.mode() & 07777,
                        Caller.current().uid() == 0 ? s.uid() : null, Caller.current().uid() == 0 ? s.gid() : null,
                        null, s.atimeSec(), s.mtimeSec(), false, false));
            }
            return null;
        });
    }

    /**
     * Removes an existing target if allowed. Returns false if source and target are the same file (nothing to
     * do). Throws FileAlreadyExistsException (EEXIST) without REPLACE_EXISTING, ENOTEMPTY for a full directory.
     */
    private static boolean prepareTarget(Namespace ns, InodeAttr s, VfsPath dst, boolean replace) throws IOException {
        InodeAttr t;
        try {
            t = ns.stat(ns.loc(dst), false);
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT) {
                return true;
            }
            throw e;
        }
        if (t.ino() == s.ino()) {
            return false;
        }
        if (!replace) {
            throw new FsException(Errno.EEXIST, "target exists");
        }
        ns.delete(ns.loc(dst), Namespace.DeleteKind.ANY, true);
        return true;
    }

    private static void copyData(VfsFileSystem fs, Namespace ns, InodeAttr s, VfsPath dst, boolean attrs)
            throws IOException {
        Vfs vfs = fs.vfs();
        Namespace.Parent p = ns.parent(ns.loc(dst));
        Vfs.Created made;
        try {
            Caller c = Caller.current();
            made = Capabilities.write(vfs).create(p.dir().ino(), p.name(), attrs ? s.mode() & 07777 : Namespace.DEFAULT_FILE_MODE,
                    Vfs.O_WRONLY | Vfs.O_CREAT | Vfs.O_EXCL, c.uid(), c.gid());
        } finally {
            ns.put(p.dir());
        }
        FileHandle out = made.handle();
        FileHandle in = null;
        try {
            in = vfs.open(s.ino(), Vfs.O_RDONLY);
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, Math.max(4096, s.sizeBytes())));
            long pos = 0;
            while (true) {
                buf.clear();
                int n = vfs.read(in, pos, buf);
                if (n <= 0) {
                    break;
                }
                buf.flip();
                Capabilities.write(vfs).write(out, pos, buf);
                pos += n;
            }
        } finally {
            try {
                if (in != null) {
                    vfs.release(in);
                }
            } finally {
                vfs.release(out);
                vfs.forget(made.attr().ino(), 1);
            }
        }
    }

    /** Copy between two images: through streams and attribute views, as the JDK copies to a foreign target. */
    private static void crossCopy(VfsPath src, VfsPath dst, boolean replace, boolean attrs, boolean follow)
            throws IOException {
        LinkOption[] lo = follow ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
        PosixFileAttributes a = Files.readAttributes(src, PosixFileAttributes.class, lo);
        if (Files.exists(dst, LinkOption.NOFOLLOW_LINKS)) {
            if (!replace) {
                throw new FileAlreadyExistsException(dst.toString());
            }
            Files.delete(dst);
        }
        if (a.isSymbolicLink()) {
            Files.createSymbolicLink(dst, dst.getFileSystem().getPath(Files.readSymbolicLink(src).toString()));
            return;
        }
        if (a.isDirectory()) {
            Files.createDirectory(dst);
        } else {
            try (InputStream in = Files.newInputStream(src)) {
                Files.copy(in, dst);
            }
        }
        if (attrs) {
            PosixFileAttributeView v = Files.getFileAttributeView(dst, PosixFileAttributeView.class);
            v.setPermissions(a.permissions());
            v.setTimes(a.lastModifiedTime(), a.lastAccessTime(), null);
        }
    }

    static void move(VfsPath src, VfsPath dst, CopyOption... options) throws IOException {
        List<CopyOption> opts = Arrays.asList(options);
        boolean atomic = opts.contains(StandardCopyOption.ATOMIC_MOVE);
        boolean replace = opts.contains(StandardCopyOption.REPLACE_EXISTING);
        if (src.getFileSystem() != dst.getFileSystem()) {
            if (atomic) {
                throw new AtomicMoveNotSupportedException(src.toString(), dst.toString(), "different images");
            }
            InodeAttr s = src.getFileSystem().op(src, null,
                    () -> src.getFileSystem().namespace().stat(src.getFileSystem().namespace().loc(src), false));
            if (s.isDirectory()) {
                try (var entries = Files.list(src)) {
                    if (entries.findAny().isPresent()) {
                        throw new DirectoryNotEmptyException(src.toString());
                    }
                }
            }
            crossCopy(src, dst, replace, true, false);
            Files.delete(src);
            return;
        }
        VfsFileSystem fs = src.getFileSystem();
        Namespace ns = fs.namespace();
        fs.checkWritable();
        fs.op(src, dst, () -> {
            if (atomic) {
                ns.rename(ns.loc(src), ns.loc(dst), 0);
                return null;
            }
            InodeAttr s = ns.stat(ns.loc(src), false);
            if (!prepareTarget(ns, s, dst, replace)) {
                return null;
            }
            ns.rename(ns.loc(src), ns.loc(dst), Vfs.RENAME_NOREPLACE);
            return null;
        });
    }
}
