package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.CrashPointBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Crash consistency of ext2 without a journal. A seeded workload (create, write, fsync, rename, unlink, truncate,
 * mkdir, sync) runs on the testkit's {@link FaultInjectingBlockDevice} through a {@link CrashPointBlockDevice}:
 * just before and just after every flush, and after random writes in between, the device is power-cut (unflushed
 * writes dropped, or a random subset kept in order) into a crashed image. Each crashed image must be repaired by {@code e2fsck -fy}, then be clean for
 * {@code e2fsck -fn}, and keep every promise made before the crash point: a file (by inode number) whose fsync
 * completed and that was not changed since has exactly its fsync'd bytes and size (read by debugfs), and a
 * directory not changed since the last completed sync has exactly its entries.
 */
class CrashConsistencyTest {
    @TempDir
    Path tmp;

    /** What was promised durable at a point in the workload. */
    record Promises(Map<Long, byte[]> files, Map<Long, Map<String, Long>> dirs) {
        Promises copy() {
            Map<Long, byte[]> f = new HashMap<>();
            files.forEach((k, v) -> f.put(k, v.clone()));
            Map<Long, Map<String, Long>> d = new HashMap<>();
            dirs.forEach((k, v) -> d.put(k, new TreeMap<>(v)));
            return new Promises(f, d);
        }
    }

    /** Repairs and checks one crashed image; returns null if all holds, else what failed. */
    String checkCrashedImage(byte[] bytes, Promises p, String ctx) throws IOException {
        Path img = tmp.resolve("crashed.img");
        Files.write(img, bytes);
        Ext2Tools.Result fix = Ext2Tools.run("e2fsck", "-fy", img.toString());
        if (fix.exitCode() > 3) {
            return ctx + ": e2fsck -fy exited " + fix.exitCode() + ":\n" + fix.stdout() + fix.stderr();
        }
        Ext2Tools.Result again = Ext2Tools.e2fsck(img);
        if (again.exitCode() != 0) {
            return ctx + ": second e2fsck -fn not clean (" + again.exitCode() + "):\n" + again.stdout()
                    + "\nfirst e2fsck -fy said:\n" + fix.stdout();
        }
        for (Map.Entry<Long, byte[]> e : p.files().entrySet()) {
            byte[] actual = Ext2Tools.debugfsDump(img, "<" + e.getKey() + ">", tmp);
            if (!Arrays.equals(actual, e.getValue())) {
                int diff = Arrays.mismatch(actual, e.getValue());
                return ctx + ": fsync'd inode " + e.getKey() + " has " + actual.length + " bytes, promised "
                        + e.getValue().length + ", first difference at " + diff + "\ne2fsck -fy said:\n" + fix.stdout();
            }
        }
        for (Map.Entry<Long, Map<String, Long>> e : p.dirs().entrySet()) {
            Map<String, Long> actual = new TreeMap<>();
            for (Ext2Tools.ListEntry le : Ext2Tools.debugfsList(img, "<" + e.getKey() + ">")) {
                if (!le.name().equals(".") && !le.name().equals("..")) {
                    actual.put(le.name(), le.ino());
                }
            }
            if (!actual.equals(e.getValue())) {
                return ctx + ": synced directory inode " + e.getKey() + " has entries " + actual + ", promised "
                        + e.getValue() + "\ne2fsck -fy said:\n" + fix.stdout();
            }
        }
        return null;
    }

    /** The workload's model: directories by inode with their entries, file contents by inode. */
    static final class Model {
        final Map<Long, Map<String, Long>> dirs = new HashMap<>();
        final Map<Long, byte[]> files = new HashMap<>();
    }

    @ParameterizedTest
    @ValueSource(longs = {0xa54ff53aL, 0x510e527fL, 0x9b05688cL})
    void everyFlushBoundaryAndRandomPoints_fsckRepairs_fsyncAndSyncPromisesHold(long seed) throws Exception {
        Random rnd = new Random(seed);
        Path image = Ext2Tools.mke2fs(tmp.resolve("base.img"), 4L << 20, "-b", "1024", "-N", "128");
        byte[] base = Files.readAllBytes(image);
        MemoryBlockDevice mem = new MemoryBlockDevice(base.length, 512);
        mem.write(0, ByteBuffer.wrap(base));
        FaultInjectingBlockDevice fid = new FaultInjectingBlockDevice(mem);
        Promises promises = new Promises(new HashMap<>(), new HashMap<>());
        CrashPointBlockDevice dev = new CrashPointBlockDevice(fid, new Random(seed ^ 0x5bd1e995L), 0.25,
                (bytes, ctx) -> checkCrashedImage(bytes, promises, ctx));
        Model m = new Model();
        List<String> log = new ArrayList<>();
        try (ExtFileSystem fs = ExtFileSystem.mount(dev, new ExtMountOptions(false, 1L << 20, 64 << 10, 256L << 10))) {
            long root = fs.rootIno();
            m.dirs.put(root, new TreeMap<>(Map.of("lost+found", fs.lookup(root, "lost+found").ino())));
            dev.setArmed(true);
            for (int step = 0; step < 200; step++) {
                String op = runOne(fs, m, promises, rnd);
                log.add(step + ": " + op);
                dev.setLastOp(op);
            }
            dev.setArmed(false);
        }
        System.out.println("crash consistency seed " + seed + ": " + dev.pointsTested() + " crash points tested, "
                + dev.pointsPassed() + " passed, " + fid.stats());
        assertThat(dev.failures()).as("seed %d, workload:\n%s", seed, String.join("\n", log)).isEmpty();
        assertThat(dev.pointsTested()).isGreaterThan(150);
    }

    private static final int MAX_FILE = 48 << 10;

    /** Runs one random workload step; updates the model and the promises; returns its description. */
    private String runOne(ExtFileSystem fs, Model m, Promises p, Random rnd) throws IOException {
        List<Long> dirInos = new ArrayList<>(m.dirs.keySet());
        dirInos.sort(null);
        List<long[]> files = new ArrayList<>(); // {dirIno, index in names}
        List<String> fileNames = new ArrayList<>();
        for (long d : dirInos) {
            for (Map.Entry<String, Long> e : m.dirs.get(d).entrySet()) {
                if (m.files.containsKey(e.getValue())) {
                    files.add(new long[] {d, e.getValue()});
                    fileNames.add(e.getKey());
                }
            }
        }
        int kind = rnd.nextInt(100);
        if (files.isEmpty() || kind < 15) {
            long d = dirInos.get(rnd.nextInt(dirInos.size()));
            String name = "f" + rnd.nextInt(1000);
            if (m.dirs.get(d).containsKey(name)) {
                return "skip create";
            }
            Vfs.Created c = fs.create(d, name, 0644, Vfs.O_RDWR | Vfs.O_EXCL, 0, 0);
            fs.release(c.handle());
            fs.forget(c.attr().ino(), 1);
            m.dirs.get(d).put(name, c.attr().ino());
            m.files.put(c.attr().ino(), new byte[0]);
            p.dirs().remove(d);
            return "create " + d + "/" + name + " = inode " + c.attr().ino();
        }
        int fi = rnd.nextInt(files.size());
        long dir = files.get(fi)[0];
        long ino = files.get(fi)[1];
        String name = fileNames.get(fi);
        if (kind < 45) {
            int pos = rnd.nextInt(MAX_FILE - 1);
            int len = 1 + rnd.nextInt(Math.min(16 << 10, MAX_FILE - pos));
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            FileHandle h = fs.open(ino, Vfs.O_RDWR);
            try {
                ByteBuffer src = ByteBuffer.wrap(data);
                while (src.hasRemaining()) {
                    fs.write(h, pos + src.position(), src);
                }
            } finally {
                fs.release(h);
            }
            byte[] old = m.files.get(ino);
            byte[] now = Arrays.copyOf(old, Math.max(old.length, pos + len));
            System.arraycopy(data, 0, now, pos, len);
            m.files.put(ino, now);
            p.files().remove(ino);
            return "write inode " + ino + " [" + pos + ", +" + len + ")";
        } else if (kind < 62) {
            FileHandle h = fs.open(ino, Vfs.O_RDWR);
            try {
                fs.fsync(h, rnd.nextBoolean());
            } finally {
                fs.release(h);
            }
            p.files().put(ino, m.files.get(ino).clone());
            return "fsync inode " + ino;
        } else if (kind < 70) {
            int size = rnd.nextInt(MAX_FILE);
            fs.setattr(ino, SetAttr.size(size));
            m.files.put(ino, Arrays.copyOf(m.files.get(ino), size));
            p.files().remove(ino);
            return "truncate inode " + ino + " to " + size;
        } else if (kind < 78) {
            long to = dirInos.get(rnd.nextInt(dirInos.size()));
            String newName = "r" + rnd.nextInt(1000);
            Long replaced = m.dirs.get(to).get(newName);
            if (replaced != null && !m.files.containsKey(replaced)) {
                return "skip rename onto a directory";
            }
            fs.rename(dir, name, to, newName, 0);
            m.dirs.get(dir).remove(name);
            m.dirs.get(to).put(newName, ino);
            if (replaced != null && replaced != ino) {
                m.files.remove(replaced);
                p.files().remove(replaced);
            }
            p.dirs().remove(dir);
            p.dirs().remove(to);
            return "rename " + dir + "/" + name + " -> " + to + "/" + newName;
        } else if (kind < 85) {
            fs.unlink(dir, name);
            m.dirs.get(dir).remove(name);
            m.files.remove(ino);
            p.files().remove(ino);
            p.dirs().remove(dir);
            return "unlink " + dir + "/" + name;
        } else if (kind < 92) {
            long d = dirInos.get(rnd.nextInt(dirInos.size()));
            String dn = "d" + rnd.nextInt(100);
            if (m.dirs.get(d).containsKey(dn)) {
                return "skip mkdir";
            }
            InodeAttr a = fs.mkdir(d, dn, 0755, 0, 0);
            fs.forget(a.ino(), 1);
            m.dirs.get(d).put(dn, a.ino());
            m.dirs.put(a.ino(), new TreeMap<>());
            p.dirs().remove(d);
            return "mkdir " + d + "/" + dn + " = inode " + a.ino();
        } else {
            fs.sync();
            for (Map.Entry<Long, Map<String, Long>> e : m.dirs.entrySet()) {
                p.dirs().put(e.getKey(), new TreeMap<>(e.getValue()));
            }
            for (Map.Entry<Long, byte[]> e : m.files.entrySet()) {
                p.files().put(e.getKey(), e.getValue().clone());
            }
            return "sync";
        }
    }
}
