package org.iomap4j.ext;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;

/**
 * A filesystem tree as plain data (path → type, mode, link count, size, bytes or symlink target), captured from
 * any {@link Vfs} and compared as a whole: the in-memory oracle of the workload tests, reusable by the FUSE and
 * CLI tests through the test-jar.
 */
public final class TreeModel {
    /** What one path holds; {@code content} for files, {@code target} for symlinks. */
    public record Node(int mode, int nlink, long sizeBytes, byte[] content, String target) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Node n && n.mode == mode && n.nlink == nlink && n.sizeBytes == sizeBytes
                    && Arrays.equals(n.content, content) && java.util.Objects.equals(n.target, target);
        }

        @Override
        public int hashCode() {
            return mode * 31 + Long.hashCode(sizeBytes);
        }

        @Override
        public String toString() {
            return String.format("mode=0%o nlink=%d size=%d%s", mode, nlink, sizeBytes,
                    target != null ? " -> " + target : content != null ? " crc=" + Arrays.hashCode(content) : "");
        }
    }

    private TreeModel() {}

    /** Captures the whole tree under the root of {@code fs} (paths relative, "/" separated, root = ""). */
    public static Map<String, Node> capture(Vfs fs) throws IOException {
        Map<String, Node> out = new TreeMap<>();
        walk(fs, fs.rootIno(), "", out, 0);
        return out;
    }

    private static void walk(Vfs fs, long dirIno, String prefix, Map<String, Node> out, int depth) throws IOException {
        if (depth > 64) {
            throw new AssertionError("directory tree deeper than 64 at " + prefix + " (loop?)");
        }
        List<DirEntry> entries = new ArrayList<>();
        fs.readdir(dirIno, 0, e -> entries.add(e));
        for (DirEntry e : entries) {
            if (e.name().equals(".") || e.name().equals("..") || (prefix.isEmpty() && e.name().equals("lost+found"))) {
                continue;
            }
            String path = prefix + "/" + e.name();
            InodeAttr a = fs.getattr(e.ino());
            if (a.isDirectory()) {
                out.put(path, new Node(a.mode(), a.nlink(), 0, null, null));
                walk(fs, e.ino(), path, out, depth + 1);
            } else if (a.isSymlink()) {
                out.put(path, new Node(a.mode(), a.nlink(), a.sizeBytes(), null, fs.readlink(e.ino())));
            } else {
                out.put(path, new Node(a.mode(), a.nlink(), a.sizeBytes(), readAll(fs, e.ino(), a.sizeBytes()), null));
            }
        }
    }

    static byte[] readAll(Vfs fs, long ino, long size) throws IOException {
        FileHandle fh = fs.open(ino, Vfs.O_RDONLY);
        try {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            long pos = 0;
            while (true) {
                buf.clear();
                int n = fs.read(fh, pos, buf);
                if (n <= 0) {
                    break;
                }
                bos.write(buf.array(), 0, n);
                pos += n;
            }
            if (pos != size) {
                throw new AssertionError("inode " + ino + ": read " + pos + " bytes of " + size);
            }
            return bos.toByteArray();
        } finally {
            fs.release(fh);
        }
    }
}
