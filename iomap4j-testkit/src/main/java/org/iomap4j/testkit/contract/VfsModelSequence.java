package org.iomap4j.testkit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsFallocate;

/**
 * The random case of {@link VfsContract}: a seeded sequence of creates, writes (positional and O_APPEND),
 * truncates, O_TRUNC opens, hard links, renames (over existing names too), unlinks, punched holes (when
 * {@link VfsFallocate} is offered) and remounts (when supported) on a handful of names in one directory, checked
 * after every step against a model: name &rarr; file, file &rarr; contents. Checks: sizes, link counts, random
 * reads, and every few steps the whole directory listing and every file's contents. A failure names the seed and
 * the step.
 */
final class VfsModelSequence {
    private static final int NAMES = 8;

    private final VfsContractSupport c;
    private final long seed;
    private final Random rnd;
    /** name -> model file id. */
    private final TreeMap<String, Integer> names = new TreeMap<>();
    /** model file id -> contents. */
    private final Map<Integer, byte[]> data = new HashMap<>();
    /** model file id -> inode number. */
    private final Map<Integer, Long> inos = new HashMap<>();
    private int nextId;
    private String step = "start";

    VfsModelSequence(VfsContractSupport contract, long seed) {
        this.c = contract;
        this.seed = seed;
        this.rnd = new Random(seed);
    }

    private String anyName() {
        return "n" + rnd.nextInt(NAMES);
    }

    private String presentName() {
        List<String> l = new ArrayList<>(names.keySet());
        return l.get(rnd.nextInt(l.size()));
    }

    private int links(int id) {
        return (int) names.values().stream().filter(v -> v == id).count();
    }

    void run(int steps) throws IOException {
        for (int i = 0; i < steps; i++) {
            try {
                step(i);
                check(i % 25 == 24);
            } catch (AssertionError | IOException e) {
                throw new AssertionError("seed " + seed + ", step " + i + " (" + step + "): " + e.getMessage(), e);
            }
        }
        check(true);
    }

    private void step(int i) throws IOException {
        int op = rnd.nextInt(100);
        if (names.isEmpty() || op < 12) {
            String n = anyName();
            step = "create " + n;
            if (names.containsKey(n)) {
                assertThat(errno(() -> c.w().create(c.work, n, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0)))
                        .isEqualTo(Errno.EEXIST);
                return;
            }
            byte[] d = c.randomBytes(rnd.nextInt(20_000));
            long ino = c.file(c.work, n, d).ino();
            int id = nextId++;
            names.put(n, id);
            data.put(id, d);
            inos.put(id, ino);
        } else if (op < 40) {
            String n = presentName();
            int id = names.get(n);
            byte[] d = data.get(id);
            boolean append = rnd.nextInt(4) == 0;
            long pos = append ? d.length : rnd.nextInt(d.length + 30_000);
            byte[] w = c.randomBytes(1 + rnd.nextInt(20_000));
            step = (append ? "append " : "write ") + w.length + " at " + pos + " to " + n;
            FileHandle fh = c.vfs.open(inos.get(id), append ? Vfs.O_WRONLY | Vfs.O_APPEND : Vfs.O_RDWR);
            try {
                c.writeAt(fh, append ? rnd.nextInt(1000) : pos, w);
            } finally {
                c.vfs.release(fh);
            }
            byte[] nd = Arrays.copyOf(d, (int) Math.max(d.length, pos + w.length));
            System.arraycopy(w, 0, nd, (int) pos, w.length);
            data.put(id, nd);
        } else if (op < 50) {
            String n = presentName();
            int id = names.get(n);
            int size = rnd.nextInt(data.get(id).length * 3 / 2 + 2);
            step = "truncate " + n + " to " + size;
            assertThat(c.w().setattr(inos.get(id), SetAttr.size(size)).sizeBytes()).isEqualTo(size);
            data.put(id, Arrays.copyOf(data.get(id), size));
        } else if (op < 54) {
            String n = presentName();
            step = "open O_TRUNC " + n;
            int id = names.get(n);
            c.vfs.release(c.vfs.open(inos.get(id), Vfs.O_WRONLY | Vfs.O_TRUNC));
            data.put(id, new byte[0]);
        } else if (op < 64) {
            String from = presentName();
            String to = anyName();
            step = "link " + from + " to " + to;
            int id = names.get(from);
            if (names.containsKey(to)) {
                assertThat(errno(() -> c.ns().link(inos.get(id), c.work, to))).isEqualTo(Errno.EEXIST);
                return;
            }
            assertThat(c.ns().link(inos.get(id), c.work, to).nlink()).isEqualTo(links(id) + 1);
            names.put(to, id);
        } else if (op < 76) {
            String from = presentName();
            String to = anyName();
            step = "rename " + from + " to " + to;
            c.ns().rename(c.work, from, c.work, to, 0);
            int id = names.get(from);
            if (!from.equals(to) && !Integer.valueOf(id).equals(names.get(to))) {
                names.remove(from);
                Integer replaced = names.put(to, id);
                if (replaced != null && links(replaced) == 0) {
                    data.remove(replaced);
                    inos.remove(replaced);
                }
            }
        } else if (op < 86) {
            String n = presentName();
            step = "unlink " + n;
            c.ns().unlink(c.work, n);
            int id = names.remove(n);
            assertThat(errno(() -> c.vfs.lookup(c.work, n))).isEqualTo(Errno.ENOENT);
            if (links(id) == 0) {
                data.remove(id);
                inos.remove(id);
            }
        } else if (op < 94) {
            String n = presentName();
            int id = names.get(n);
            byte[] d = data.get(id);
            if (d.length == 0 || c.vfs.capability(VfsFallocate.class).isEmpty()) {
                return;
            }
            int off = rnd.nextInt(d.length);
            int len = 1 + rnd.nextInt(d.length - off + 10_000);
            step = "punch " + off + "+" + len + " in " + n;
            FileHandle fh = c.vfs.open(inos.get(id), Vfs.O_RDWR);
            try {
                c.cap(VfsFallocate.class).fallocate(fh, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, off, len);
            } catch (FsException e) {
                if (e.errno() != Errno.EOPNOTSUPP) {
                    throw e;
                }
                return;
            } finally {
                c.vfs.release(fh);
            }
            Arrays.fill(d, off, (int) Math.min(d.length, (long) off + len), (byte) 0);
        } else if (op < 97) {
            step = "remount";
            long work = c.work;
            if (c.tryRemount()) {
                assertThat(c.vfs.getattr(work).isDirectory()).isTrue();
            }
        } else {
            String n = presentName();
            int id = names.get(n);
            step = "reread " + n;
            assertThat(c.contents(inos.get(id))).isEqualTo(data.get(id));
        }
    }

    private static Errno errno(VfsContractSupport.Op op) {
        return VfsContractSupport.errno(op);
    }

    private void check(boolean full) throws IOException {
        step = step + " / check";
        for (Map.Entry<String, Integer> e : names.entrySet()) {
            int id = e.getValue();
            long ino = c.vfs.lookup(c.work, e.getKey()).ino();
            c.vfs.forget(ino, 1);
            assertThat(ino).as("inode of %s", e.getKey()).isEqualTo(inos.get(id));
            var a = c.vfs.getattr(ino);
            assertThat(a.sizeBytes()).as("size of %s", e.getKey()).isEqualTo(data.get(id).length);
            assertThat(a.nlink()).as("links of %s", e.getKey()).isEqualTo(links(id));
        }
        if (!names.isEmpty()) {
            int id = names.get(presentName());
            byte[] d = data.get(id);
            int off = d.length == 0 ? 0 : rnd.nextInt(d.length);
            int len = rnd.nextInt(10_000);
            FileHandle fh = c.vfs.open(inos.get(id), Vfs.O_RDONLY);
            try {
                assertThat(c.read(fh, off, len)).isEqualTo(Arrays.copyOfRange(d, off, Math.min(d.length, off + len)));
            } finally {
                c.vfs.release(fh);
            }
        }
        if (full) {
            assertThat(c.names(c.work)).isEqualTo(names.keySet());
            for (int id : new java.util.TreeSet<>(names.values())) {
                assertThat(c.contents(inos.get(id))).as("contents of file %d", id).isEqualTo(data.get(id));
            }
        }
    }
}
