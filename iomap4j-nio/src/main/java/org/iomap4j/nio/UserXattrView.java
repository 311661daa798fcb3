package org.iomap4j.nio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.vfs.VfsXattr;

/**
 * The "user" view: a file's extended attributes in the {@code user.} namespace, through the file system's
 * {@link VfsXattr} (present only when the mounted Vfs offers it), as the JDK's Linux provider maps them: a view
 * name {@code n} is the xattr {@code user.n}; other namespaces are not visible. Errors follow the JDK on Linux: a
 * missing attribute is a {@code FileSystemException} ("No data available"), a value that does not fit {@code dst}
 * an IOException, a read-only file system a {@code ReadOnlyFileSystemException}.
 */
final class UserXattrView implements UserDefinedFileAttributeView {
    static final String PREFIX = "user.";
    private final Attributes.Target t;
    private final VfsXattr xattr;

    UserXattrView(Attributes.Target t, VfsXattr xattr) {
        this.t = t;
        this.xattr = xattr;
    }

    @Override
    public String name() {
        return "user";
    }

    private long ino() throws IOException {
        return t.stat().ino();
    }

    @Override
    public List<String> list() throws IOException {
        long ino = ino();
        List<String> out = new ArrayList<>();
        for (String n : t.fs().op(t.name(), null, () -> xattr.listxattr(ino))) {
            if (n.startsWith(PREFIX)) {
                out.add(n.substring(PREFIX.length()));
            }
        }
        return out;
    }

    /** The whole value of {@code user.name}. */
    byte[] value(String name) throws IOException {
        long ino = ino();
        return t.fs().op(t.name(), null, () -> xattr.getxattr(ino, PREFIX + name));
    }

    @Override
    public int size(String name) throws IOException {
        return value(name).length;
    }

    @Override
    public int read(String name, ByteBuffer dst) throws IOException {
        byte[] v = value(name);
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("read-only buffer");
        }
        if (dst.remaining() < v.length) {
            throw new IOException("Insufficient space in buffer: user." + name + " has " + v.length + " bytes, "
                    + dst.remaining() + " remain (" + t.name() + ")");
        }
        dst.put(v);
        return v.length;
    }

    @Override
    public int write(String name, ByteBuffer src) throws IOException {
        t.fs().checkWritable();
        byte[] v = new byte[src.remaining()];
        src.get(src.position(), v);
        long ino = ino();
        t.fs().op(t.name(), null, () -> {
            xattr.setxattr(ino, PREFIX + name, v, 0);
            return null;
        });
        src.position(src.position() + v.length);
        return v.length;
    }

    @Override
    public void delete(String name) throws IOException {
        t.fs().checkWritable();
        long ino = ino();
        t.fs().op(t.name(), null, () -> {
            xattr.removexattr(ino, PREFIX + name);
            return null;
        });
    }
}
