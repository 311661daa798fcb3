package org.iomap4j.s3;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;

/** Path-level helpers over a {@link Vfs} for tests (what a front end does with lookups). */
final class VfsPaths {
    private final Vfs fs;

    VfsPaths(Vfs fs) {
        this.fs = fs;
    }

    InodeAttr stat(String path) throws IOException {
        long ino = fs.rootIno();
        InodeAttr a = fs.getattr(ino);
        for (String part : path.split("/")) {
            if (!part.isEmpty()) {
                a = fs.lookup(a.ino(), part);
            }
        }
        return a;
    }

    long parent(String path) throws IOException {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? fs.rootIno() : stat(path.substring(0, slash)).ino();
    }

    static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    FileHandle create(String path) throws IOException {
        return fs.capability(org.iomap4j.vfs.VfsWrite.class).orElseThrow().create(parent(path), name(path), 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0).handle();
    }

    FileHandle open(String path) throws IOException {
        return fs.open(stat(path).ino(), Vfs.O_RDWR);
    }

    void mkdir(String path) throws IOException {
        fs.capability(org.iomap4j.vfs.VfsNamespace.class).orElseThrow().mkdir(parent(path), name(path), 0755, 0, 0);
    }

    byte[] read(FileHandle fh, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            int n = fs.read(fh, pos + b.position(), b);
            if (n <= 0) {
                break;
            }
        }
        return Arrays.copyOf(b.array(), b.position());
    }

    void write(FileHandle fh, long pos, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            fs.capability(org.iomap4j.vfs.VfsWrite.class).orElseThrow().write(fh, pos + b.position(), b);
        }
    }

    /** Names in a directory, "." and ".." left out, in readdir order. */
    List<String> list(String path) throws IOException {
        List<String> out = new ArrayList<>();
        long ino = path.isEmpty() ? fs.rootIno() : stat(path).ino();
        fs.readdir(ino, 0, e -> {
            if (!e.name().equals(".") && !e.name().equals("..")) {
                out.add(e.name());
            }
            return true;
        });
        return out;
    }
}
