package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The directory name index ({@link DirIndex}) changes nothing on disk: the same seeded workload of creates,
 * unlinks, renames (within and across two directories), mkdir/rmdir and lookups, applied to two copies of one
 * mke2fs image — one with the index, one with linear scans only (the behaviour before the index) — must give
 * byte-identical directory blocks ({@code debugfs dump}), the same lookup answers, the model's names
 * ({@code debugfs ls}) and clean {@code e2fsck -fn}. The indexed side is remounted now and then so that the index
 * is also rebuilt from disk mid-workload.
 */
class DirIndexTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void indexedDirectoriesMatchLinearScansByteForByte(long seed) throws Exception {
        Path a = Ext2Tools.mke2fs(tmp.resolve("a.img"), 32L << 20, "-b", "1024", "-N", "8192");
        Path b = tmp.resolve("b.img");
        Files.copy(a, b, StandardCopyOption.REPLACE_EXISTING);
        Random rnd = new Random(seed);
        String[] dirs = {"d", "e"};
        // Model: directory → names present (a TreeSet keeps picks deterministic).
        TreeMap<String, TreeSet<String>> model = new TreeMap<>();
        for (String d : dirs) {
            model.put(d, new TreeSet<>());
        }
        ExtFileSystem fa = ExtFileSystem.mount(a, ExtMountOptions.defaults());
        ExtFileSystem fb = ExtFileSystem.mount(b, ExtMountOptions.defaults());
        fb.dirs.indexEnabled = false;
        String op = "start";
        int i = 0;
        try {
            for (String d : dirs) {
                fa.forget(fa.mkdir(fa.rootIno(), d, 0755, 0, 0).ino(), 1);
                fb.forget(fb.mkdir(fb.rootIno(), d, 0755, 0, 0).ino(), 1);
            }
            for (i = 0; i < 2500; i++) {
                String d = dirs[rnd.nextInt(dirs.length)];
                TreeSet<String> names = model.get(d);
                int kind = rnd.nextInt(100);
                if (kind < 45 || names.isEmpty()) {
                    String n = randomName(rnd);
                    boolean dir = rnd.nextInt(10) == 0;
                    op = (dir ? "mkdir " : "create ") + d + "/" + n;
                    Errno ea = create(fa, d, n, dir);
                    Errno eb = create(fb, d, n, dir);
                    assertThat(ea).as(op).isEqualTo(eb).isEqualTo(names.contains(n) ? Errno.EEXIST : null);
                    names.add(n);
                } else if (kind < 75) {
                    String n = pick(rnd, names);
                    op = "unlink/rmdir " + d + "/" + n;
                    remove(fa, d, n);
                    remove(fb, d, n);
                    names.remove(n);
                } else if (kind < 90) {
                    String n = pick(rnd, names);
                    String d2 = dirs[rnd.nextInt(dirs.length)];
                    String n2 = rnd.nextInt(4) == 0 && !model.get(d2).isEmpty() ? pick(rnd, model.get(d2))
                            : randomName(rnd);
                    op = "rename " + d + "/" + n + " -> " + d2 + "/" + n2;
                    Errno ea = rename(fa, d, n, d2, n2);
                    Errno eb = rename(fb, d, n, d2, n2);
                    assertThat(ea).as(op).isEqualTo(eb);
                    if (ea == null) {
                        names.remove(n);
                        model.get(d2).add(n2);
                    }
                } else if (kind < 98) {
                    String n = rnd.nextBoolean() ? pick(rnd, names) : randomName(rnd);
                    op = "lookup " + d + "/" + n;
                    Long ia = lookup(fa, d, n);
                    Long ib = lookup(fb, d, n);
                    assertThat(ia).as(op).isEqualTo(ib);
                    assertThat(ia != null).as(op).isEqualTo(names.contains(n));
                } else {
                    op = "remount indexed side";
                    fa.close();
                    fa = ExtFileSystem.mount(a, ExtMountOptions.defaults());
                }
            }
        } catch (Throwable t) {
            throw new AssertionError("seed " + seed + ", op #" + i + " (" + op + ") failed", t);
        } finally {
            fa.close();
            fb.close();
        }
        for (String d : dirs) {
            assertThat(Ext2Tools.debugfsDump(a, "/" + d, tmp)).as("seed %d: blocks of /%s", seed, d)
                    .isEqualTo(Ext2Tools.debugfsDump(b, "/" + d, tmp));
            List<String> listed = new ArrayList<>();
            for (Ext2Tools.ListEntry e : Ext2Tools.debugfsList(a, "/" + d)) {
                if (!e.name().equals(".") && !e.name().equals("..")) {
                    listed.add(e.name());
                }
            }
            assertThat(listed).as("seed %d: names in /%s", seed, d).containsExactlyInAnyOrderElementsOf(model.get(d));
        }
        Ext2Tools.assertFsckClean(a);
        Ext2Tools.assertFsckClean(b);
    }

    private static String randomName(Random rnd) {
        int len = 1 + (rnd.nextInt(4) == 0 ? rnd.nextInt(60) : rnd.nextInt(8));
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < len; k++) {
            sb.append((char) ('a' + rnd.nextInt(6)));
        }
        return sb.toString();
    }

    private static String pick(Random rnd, TreeSet<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.get(rnd.nextInt(l.size()));
    }

    private static long dirIno(ExtFileSystem fs, String d) throws Exception {
        InodeAttr a = fs.lookup(fs.rootIno(), d);
        fs.forget(a.ino(), 1);
        return a.ino();
    }

    private static Errno create(ExtFileSystem fs, String d, String n, boolean dir) throws Exception {
        try {
            InodeAttr a = dir ? fs.mkdir(dirIno(fs, d), n, 0755, 0, 0)
                    : fs.mknod(dirIno(fs, d), n, FileMode.S_IFREG | 0644, 0, 0, 0);
            fs.forget(a.ino(), 1);
            return null;
        } catch (FsException e) {
            return e.errno();
        }
    }

    private static void remove(ExtFileSystem fs, String d, String n) throws Exception {
        long di = dirIno(fs, d);
        InodeAttr a = fs.lookup(di, n);
        fs.forget(a.ino(), 1);
        if (a.isDirectory()) {
            fs.rmdir(di, n);
        } else {
            fs.unlink(di, n);
        }
    }

    private static Errno rename(ExtFileSystem fs, String d, String n, String d2, String n2) throws Exception {
        try {
            fs.rename(dirIno(fs, d), n, dirIno(fs, d2), n2, 0);
            return null;
        } catch (FsException e) {
            return e.errno();
        }
    }

    private static Long lookup(ExtFileSystem fs, String d, String n) throws Exception {
        try {
            InodeAttr a = fs.lookup(dirIno(fs, d), n);
            fs.forget(a.ino(), 1);
            return a.ino();
        } catch (FsException e) {
            assertThat(e.errno()).isEqualTo(Errno.ENOENT);
            return null;
        }
    }
}
