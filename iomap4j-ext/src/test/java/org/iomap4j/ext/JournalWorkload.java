package org.iomap4j.ext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Consumer;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;

/**
 * A seeded workload for journaled mounts (create, write, fsync, rename, unlink, truncate, mkdir, fallocate,
 * setxattr) with its model: {@link #files} (path → bytes, paths as {@link TreeModel} spells them, "/d1/f2"; the root directory is "") and
 * {@link #promised}, the files whose fsync returned and that were not changed, renamed or unlinked since (what a
 * crash must keep, with exactly these bytes).
 */
final class JournalWorkload {
    final Map<String, byte[]> files = new TreeMap<>();
    final List<String> dirs = new ArrayList<>();
    private final String base;
    /** Read by crash checks on other threads. */
    final Map<String, byte[]> promised = new ConcurrentSkipListMap<>();
    private final ExtFileSystem fs;
    private final Random rnd;
    private final boolean extents;
    private final Consumer<String> opName;
    private int next;
    int fsyncs;

    JournalWorkload(ExtFileSystem fs, Random rnd, boolean extents, Consumer<String> opName) {
        this(fs, rnd, extents, opName, "");
    }

    /** A workload below directory {@code base} ("" for the root, "/t1" for an existing directory). */
    JournalWorkload(ExtFileSystem fs, Random rnd, boolean extents, Consumer<String> opName, String base) {
        this.base = base;
        this.dirs.add(base);
        this.fs = fs;
        this.rnd = rnd;
        this.extents = extents;
        this.opName = opName;
    }

    private long ino(String path) throws IOException {
        return path.isEmpty() ? fs.rootIno() : fs.lookupPath(path).ino();
    }

    private static String parent(String path) {
        int k = path.lastIndexOf('/');
        return k < 0 ? "" : path.substring(0, k);
    }

    private static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    private static String join(String dir, String name) {
        return dir + "/" + name;
    }

    private <T> T pick(List<T> l) {
        return l.get(rnd.nextInt(l.size()));
    }

    private void writeAll(org.iomap4j.vfs.FileHandle h, long pos, byte[] data) throws IOException {
        ByteBuffer src = ByteBuffer.wrap(data);
        while (src.hasRemaining()) {
            fs.write(h, pos + src.position(), src);
        }
    }

    /** Runs {@code n} random operations. */
    void run(int n) throws IOException {
        for (int k = 0; k < n; k++) {
            step();
        }
    }

    void step() throws IOException {
        List<String> names = new ArrayList<>(files.keySet());
        int op = names.isEmpty() ? 0 : rnd.nextInt(100);
        if (op < 22) {
            create();
        } else if (op < 40) {
            write(pick(names));
        } else if (op < 55) {
            fsync(pick(names));
        } else if (op < 63) {
            rename(pick(names));
        } else if (op < 70) {
            unlink(pick(names));
        } else if (op < 77) {
            truncate(pick(names));
        } else if (op < 84) {
            mkdir();
        } else if (op < 92) {
            fallocate(pick(names));
        } else {
            setxattr(pick(names));
        }
    }

    void create() throws IOException {
        String dir = pick(dirs);
        String path = join(dir, "f" + next++);
        byte[] data = new byte[rnd.nextInt(3) == 0 ? rnd.nextInt(40_000) : rnd.nextInt(5000)];
        rnd.nextBytes(data);
        opName.accept("create+write " + path + " (" + data.length + " bytes)");
        Vfs.Created c = fs.create(ino(dir), name(path), 0644,
                Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
        try {
            writeAll(c.handle(), 0, data);
            files.put(path, data);
            if (rnd.nextInt(3) == 0) {
                opName.accept("fsync new " + path);
                fs.fsync(c.handle(), false);
                promise(path);
            }
        } finally {
            fs.release(c.handle());
            fs.forget(c.attr().ino(), 1);
        }
    }

    private void promise(String path) {
        fsyncs++;
        promised.put(path, files.get(path).clone());
    }

    void write(String path) throws IOException {
        byte[] old = files.get(path);
        int len = 1 + rnd.nextInt(rnd.nextInt(4) == 0 ? 30_000 : 3000);
        long pos = old.length == 0 ? 0 : rnd.nextInt(old.length + 2000);
        byte[] data = new byte[len];
        rnd.nextBytes(data);
        opName.accept("write " + path + " @" + pos + " +" + len);
        promised.remove(path);
        long ino = ino(path);
        var h = fs.open(ino, Vfs.O_RDWR);
        try {
            writeAll(h, pos, data);
        } finally {
            fs.release(h);
        }
        byte[] now = Arrays.copyOf(old, (int) Math.max(old.length, pos + len));
        System.arraycopy(data, 0, now, (int) pos, len);
        files.put(path, now);
    }

    void fsync(String path) throws IOException {
        opName.accept("fsync " + path);
        var h = fs.open(ino(path), Vfs.O_RDWR);
        try {
            fs.fsync(h, rnd.nextBoolean());
            promise(path);
        } finally {
            fs.release(h);
        }
    }

    void rename(String path) throws IOException {
        String toDir = pick(dirs);
        String to = join(toDir, rnd.nextInt(4) == 0 && files.size() > 1 ? name(pick(new ArrayList<>(files.keySet())))
                : "r" + next++);
        if (to.equals(path) || dirs.contains(to)) {
            return;
        }
        opName.accept("rename " + path + " -> " + to);
        fs.rename(ino(parent(path)), name(path),
                ino(toDir), name(to), 0);
        promised.remove(path);
        promised.remove(to);
        files.put(to, files.remove(path));
    }

    void unlink(String path) throws IOException {
        opName.accept("unlink " + path);
        fs.unlink(ino(parent(path)), name(path));
        promised.remove(path);
        files.remove(path);
    }

    void truncate(String path) throws IOException {
        byte[] old = files.get(path);
        long size = rnd.nextInt(old.length + 3000);
        opName.accept("truncate " + path + " to " + size);
        promised.remove(path);
        fs.setattr(ino(path), SetAttr.size(size));
        files.put(path, Arrays.copyOf(old, (int) size));
    }

    void mkdir() throws IOException {
        String dir = pick(dirs);
        String path = join(dir, "d" + next++);
        opName.accept("mkdir " + path);
        fs.mkdir(ino(dir), name(path), 0755, 0, 0);
        dirs.add(path);
    }

    void fallocate(String path) throws IOException {
        byte[] old = files.get(path);
        long off = rnd.nextInt(old.length + 8192);
        long len = 1 + rnd.nextInt(20_000);
        opName.accept("fallocate " + path + " @" + off + " +" + len);
        promised.remove(path);
        var h = fs.open(ino(path), Vfs.O_RDWR);
        try {
            fs.fallocate(h, 0, off, len);
        } finally {
            fs.release(h);
        }
        if (off + len > old.length) {
            files.put(path, Arrays.copyOf(old, (int) (off + len)));
        }
    }

    void setxattr(String path) throws IOException {
        opName.accept("setxattr " + path);
        byte[] v = ("value-" + rnd.nextInt(1000)).repeat(1 + rnd.nextInt(20)).getBytes(StandardCharsets.US_ASCII);
        fs.setxattr(ino(path), "user.k" + rnd.nextInt(3), v, 0);
    }

    /** Problems of {@code tree} against the model: every file and directory with its bytes ("" if none). */
    String compareAll(Map<String, TreeModel.Node> tree) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            TreeModel.Node n = tree.get(e.getKey());
            if (n == null || !Arrays.equals(n.content(), e.getValue())) {
                sb.append(e.getKey()).append(": ").append(n).append(" expected ").append(e.getValue().length)
                        .append(" bytes; ");
            }
        }
        for (String d : dirs) {
            if (!d.isEmpty() && tree.get(d) == null) {
                sb.append("directory ").append(d).append(" missing; ");
            }
        }
        long extra = tree.entrySet().stream().filter(e -> e.getValue().content() != null)
                .filter(e -> e.getKey().startsWith(base + "/"))
                .filter(e -> !files.containsKey(e.getKey())).count();
        if (extra > 0) {
            sb.append(extra).append(" files not in the model; ");
        }
        return sb.toString();
    }

    /** Problems of {@code tree} against the promises ("" if none). */
    String comparePromised(Map<String, TreeModel.Node> tree, Map<String, byte[]> promises) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, byte[]> e : promises.entrySet()) {
            TreeModel.Node n = tree.get(e.getKey());
            if (n == null || !Arrays.equals(n.content(), e.getValue())) {
                sb.append("fsync'd ").append(e.getKey()).append(" (").append(e.getValue().length).append(" bytes) is ")
                        .append(n).append("; ");
            }
        }
        return sb.toString();
    }

}
