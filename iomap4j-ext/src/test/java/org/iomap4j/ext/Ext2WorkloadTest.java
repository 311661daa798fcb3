package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A seeded random workload (create, write at random offsets, truncate both ways, unlink, rename, mkdir, rmdir,
 * link, symlink, chmod, and a few operations that must fail) generated against an in-memory model, then applied
 * through iomap4j's ext2 and — for the differential test — through the Linux kernel's ext2 on a loop mount of a
 * copy of the same starting image. Oracles: the model, {@code e2fsck -fn}, {@code debugfs dump}/{@code ls}, and
 * the kernel's result. A failure prints the seed and the failing operation.
 */
class Ext2WorkloadTest {
    @TempDir
    Path tmp;

    sealed interface Op permits Create, Write, Truncate, Unlink, Rename, Mkdir, Rmdir, Link, Symlink, Chmod {
        /** The errno the operation must fail with, or null. */
        Errno expect();
    }

    record Create(String path, Errno expect) implements Op {}

    record Write(String path, long off, byte[] data, Errno expect) implements Op {
        @Override
        public String toString() {
            return "Write[" + path + " @" + off + " +" + data.length + "]";
        }
    }

    record Truncate(String path, long size, Errno expect) implements Op {}

    record Unlink(String path, Errno expect) implements Op {}

    record Rename(String from, String to, Errno expect) implements Op {}

    record Mkdir(String path, Errno expect) implements Op {}

    record Rmdir(String path, Errno expect) implements Op {}

    record Link(String existing, String path, Errno expect) implements Op {}

    record Symlink(String path, String target, Errno expect) implements Op {}

    record Chmod(String path, int perm, Errno expect) implements Op {}

    /** A model node: a file's bytes, a symlink's target, or a directory. Identity = inode (hard links share). */
    static final class MNode {
        final char type; // f, d, l
        int perm;
        byte[] data = new byte[0];
        String target;

        MNode(char type, int perm) {
            this.type = type;
            this.perm = perm;
        }
    }

    /** Generates operations against the model, applying each to it. */
    static final class Generator {
        final Random rnd;
        final Map<String, MNode> paths = new TreeMap<>();
        int counter;

        Generator(long seed) {
            rnd = new Random(seed);
        }

        List<String> all(char type) {
            List<String> l = new ArrayList<>();
            for (var e : paths.entrySet()) {
                if (e.getValue().type == type) {
                    l.add(e.getKey());
                }
            }
            return l;
        }

        String dir() {
            List<String> dirs = all('d');
            dirs.add("");
            return dirs.get(rnd.nextInt(dirs.size()));
        }

        String newPath() {
            return dir() + "/n" + (counter++) + (rnd.nextInt(4) == 0 ? "-" + "x".repeat(rnd.nextInt(60)) : "");
        }

        boolean under(String path, String dir) {
            return path.startsWith(dir + "/");
        }

        boolean emptyDir(String d) {
            return paths.keySet().stream().noneMatch(p -> under(p, d));
        }

        Op next() {
            List<String> files = all('f');
            int k = rnd.nextInt(100);
            if (k < 15 || files.isEmpty()) {
                String p = newPath();
                paths.put(p, new MNode('f', 0644));
                return new Create(p, null);
            }
            if (k < 45) {
                String p = files.get(rnd.nextInt(files.size()));
                MNode n = paths.get(p);
                long off = rnd.nextInt(4) == 0 ? rnd.nextInt(700_000) : rnd.nextInt(Math.max(1, n.data.length + 1));
                byte[] d = new byte[1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 100_000 : 9000)];
                rnd.nextBytes(d);
                if (n.data.length < off + d.length) {
                    n.data = Arrays.copyOf(n.data, (int) (off + d.length));
                }
                System.arraycopy(d, 0, n.data, (int) off, d.length);
                return new Write(p, off, d, null);
            }
            if (k < 55) {
                String p = files.get(rnd.nextInt(files.size()));
                MNode n = paths.get(p);
                long size = rnd.nextBoolean() ? rnd.nextInt(Math.max(1, n.data.length + 1)) : rnd.nextInt(400_000);
                n.data = Arrays.copyOf(n.data, (int) size);
                return new Truncate(p, size, null);
            }
            if (k < 63) {
                List<String> victims = new ArrayList<>(files);
                victims.addAll(all('l'));
                String p = victims.get(rnd.nextInt(victims.size()));
                paths.remove(p);
                return new Unlink(p, null);
            }
            if (k < 72) {
                List<String> srcs = new ArrayList<>(paths.keySet());
                String from = srcs.get(rnd.nextInt(srcs.size()));
                MNode n = paths.get(from);
                String to;
                List<String> same = all(n.type);
                if (rnd.nextInt(3) == 0 && same.size() > 1) {
                    to = same.get(rnd.nextInt(same.size())); // over an existing entry of the same type
                } else {
                    to = newPath();
                }
                if (to.equals(from)) {
                    to = newPath();
                }
                if (n.type == 'd' && (under(to, from))) {
                    return new Rename(from, to, Errno.EINVAL);
                }
                if (paths.containsKey(to) && n.type == 'd' && !emptyDir(to)) {
                    return new Rename(from, to, Errno.ENOTEMPTY);
                }
                if (paths.get(to) == n) {
                    return new Rename(from, to, null); // two links to one inode: nothing happens
                }
                Map<String, MNode> moved = new HashMap<>();
                for (var it = paths.entrySet().iterator(); it.hasNext();) {
                    var e = it.next();
                    if (e.getKey().equals(from) || under(e.getKey(), from)) {
                        moved.put(to + e.getKey().substring(from.length()), e.getValue());
                        it.remove();
                    }
                }
                paths.remove(to);
                paths.putAll(moved);
                return new Rename(from, to, null);
            }
            if (k < 80) {
                if (rnd.nextInt(6) == 0 && !all('d').isEmpty()) {
                    String p = all('d').get(rnd.nextInt(all('d').size()));
                    return new Mkdir(p, Errno.EEXIST);
                }
                String p = newPath();
                paths.put(p, new MNode('d', 0755));
                return new Mkdir(p, null);
            }
            if (k < 86) {
                List<String> dirs = all('d');
                if (dirs.isEmpty()) {
                    return next();
                }
                String p = dirs.get(rnd.nextInt(dirs.size()));
                if (!emptyDir(p)) {
                    return new Rmdir(p, Errno.ENOTEMPTY);
                }
                paths.remove(p);
                return new Rmdir(p, null);
            }
            if (k < 91) {
                String e = files.get(rnd.nextInt(files.size()));
                String p = newPath();
                paths.put(p, paths.get(e));
                return new Link(e, p, null);
            }
            if (k < 96) {
                String p = newPath();
                String target = rnd.nextBoolean() ? "t" + rnd.nextInt(1000) : "/long/" + "y".repeat(60 + rnd.nextInt(200));
                MNode n = new MNode('l', 0777);
                n.target = target;
                paths.put(p, n);
                return new Symlink(p, target, null);
            }
            String p = files.get(rnd.nextInt(files.size()));
            int perm = rnd.nextInt(0777 + 1);
            paths.get(p).perm = perm;
            return new Chmod(p, perm, null);
        }

        /** The model as {@link TreeModel} nodes. */
        Map<String, TreeModel.Node> expected() {
            Map<MNode, Integer> links = new IdentityHashMap<>();
            for (MNode n : paths.values()) {
                links.merge(n, 1, Integer::sum);
            }
            Map<String, TreeModel.Node> out = new TreeMap<>();
            for (var e : paths.entrySet()) {
                MNode n = e.getValue();
                switch (n.type) {
                    case 'd' -> {
                        int subdirs = 0;
                        for (var o : paths.entrySet()) {
                            if (o.getValue().type == 'd' && o.getKey().startsWith(e.getKey() + "/")
                                    && o.getKey().indexOf('/', e.getKey().length() + 1) < 0) {
                                subdirs++;
                            }
                        }
                        out.put(e.getKey(), new TreeModel.Node(040000 | n.perm, 2 + subdirs, 0, null, null));
                    }
                    case 'l' -> out.put(e.getKey(), new TreeModel.Node(0120777, 1, n.target.length(), null, n.target));
                    default -> out.put(e.getKey(), new TreeModel.Node(0100000 | n.perm, links.get(n), n.data.length,
                            n.data, null));
                }
            }
            return out;
        }
    }

    interface Applier {
        void apply(Op op) throws IOException;
    }

    /** Applies operations through the ext2 Vfs by path, dropping every reference it takes. */
    static Applier ours(ExtFileSystem fs) {
        return op -> {
            switch (op) {
                case Create c -> {
                    Vfs.Created cr = fs.create(parent(fs, c.path()), name(c.path()), 0644,
                            Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
                    fs.release(cr.handle());
                    fs.forget(cr.attr().ino(), 1);
                }
                case Write w -> {
                    FileHandle fh = fs.open(fs.lookupPath(w.path()).ino(), Vfs.O_RDWR);
                    try {
                        ByteBuffer b = ByteBuffer.wrap(w.data());
                        long pos = w.off();
                        while (b.hasRemaining()) {
                            pos += fs.write(fh, pos, b);
                        }
                    } finally {
                        fs.release(fh);
                    }
                }
                case Truncate t -> fs.setattr(fs.lookupPath(t.path()).ino(), org.iomap4j.vfs.SetAttr.size(t.size()));
                case Unlink u -> fs.unlink(parent(fs, u.path()), name(u.path()));
                case Rename r -> fs.rename(parent(fs, r.from()), name(r.from()), parent(fs, r.to()), name(r.to()), 0);
                case Mkdir m -> fs.forget(fs.mkdir(parent(fs, m.path()), name(m.path()), 0755, 0, 0).ino(), 1);
                case Rmdir r -> fs.rmdir(parent(fs, r.path()), name(r.path()));
                case Link l -> fs.forget(fs.link(fs.lookupPath(l.existing()).ino(), parent(fs, l.path()),
                        name(l.path())).ino(), 1);
                case Symlink s -> fs.forget(fs.symlink(parent(fs, s.path()), name(s.path()), s.target(), 0, 0).ino(), 1);
                case Chmod c -> fs.setattr(fs.lookupPath(c.path()).ino(), org.iomap4j.vfs.SetAttr.mode(c.perm()));
            }
        };
    }

    private static long parent(ExtFileSystem fs, String path) throws IOException {
        String p = path.substring(0, path.lastIndexOf('/'));
        return fs.lookupPath(p.isEmpty() ? "/" : p).ino();
    }

    private static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    /** Applies operations to a kernel mount through java.nio (each maps to one system call). */
    static Applier kernel(Path root) {
        return op -> {
            switch (op) {
                case Create c -> Files.createFile(root.resolve("." + c.path()),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")));
                case Write w -> {
                    try (FileChannel ch = FileChannel.open(root.resolve("." + w.path()), StandardOpenOption.WRITE)) {
                        ByteBuffer b = ByteBuffer.wrap(w.data());
                        long pos = w.off();
                        while (b.hasRemaining()) {
                            pos += ch.write(b, pos);
                        }
                    }
                }
                case Truncate t -> {
                    try (RandomAccessFile f = new RandomAccessFile(root.resolve("." + t.path()).toFile(), "rw")) {
                        f.setLength(t.size());
                    }
                }
                case Unlink u -> Files.delete(root.resolve("." + u.path()));
                case Rename r -> Files.move(root.resolve("." + r.from()), root.resolve("." + r.to()),
                        StandardCopyOption.ATOMIC_MOVE);
                case Mkdir m -> Files.createDirectory(root.resolve("." + m.path()),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
                case Rmdir r -> Files.delete(root.resolve("." + r.path()));
                case Link l -> Files.createLink(root.resolve("." + l.path()), root.resolve("." + l.existing()));
                case Symlink s -> Files.createSymbolicLink(root.resolve("." + s.path()), Path.of(s.target()));
                case Chmod c -> Files.setPosixFilePermissions(root.resolve("." + c.path()), perms(c.perm()));
            }
        };
    }

    private static Set<PosixFilePermission> perms(int mode) {
        StringBuilder sb = new StringBuilder();
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            sb.append((mode & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-');
        }
        return PosixFilePermissions.fromString(sb.toString());
    }

    private static Errno errnoOfKernel(IOException e) {
        return switch (e) {
            case FileAlreadyExistsException x -> Errno.EEXIST;
            case DirectoryNotEmptyException x -> Errno.ENOTEMPTY;
            case NoSuchFileException x -> Errno.ENOENT;
            case FileSystemException x when String.valueOf(x.getReason()).contains("Invalid argument") -> Errno.EINVAL;
            case FileSystemException x when String.valueOf(x.getReason()).contains("not empty") -> Errno.ENOTEMPTY;
            default -> Errno.EIO;
        };
    }

    /** Runs every operation, checking each one's outcome; the message carries the seed and the operation. */
    static void replay(List<Op> ops, Applier a, boolean kernel, long seed) {
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            Errno got = null;
            try {
                a.apply(op);
            } catch (FsException e) {
                got = e.errno();
                if (op.expect() == null) {
                    throw new AssertionError("seed " + seed + " op #" + i + " " + op + " failed: " + e, e);
                }
            } catch (IOException e) {
                got = kernel ? errnoOfKernel(e) : Errno.EIO;
                if (op.expect() == null) {
                    throw new AssertionError("seed " + seed + " op #" + i + " " + op + " failed: " + e, e);
                }
            }
            if (got != op.expect()) {
                throw new AssertionError("seed " + seed + " op #" + i + " " + op + ": expected " + op.expect()
                        + " got " + got);
            }
        }
    }

    static List<Op> generate(long seed, int count, Generator[] modelOut) {
        Generator g = new Generator(seed);
        List<Op> ops = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ops.add(g.next());
        }
        modelOut[0] = g;
        return ops;
    }

    private Path startImage(String name, String bs) throws IOException {
        return Ext2Tools.mke2fs(tmp.resolve(name), 64L << 20, "-b", bs);
    }

    private static void assertTree(Map<String, TreeModel.Node> actual, Map<String, TreeModel.Node> expected, String what,
            long seed) {
        assertThat(actual.keySet()).as(what + " paths, seed " + seed).containsExactlyElementsOf(expected.keySet());
        for (var e : expected.entrySet()) {
            assertThat(actual.get(e.getKey())).as(what + " " + e.getKey() + ", seed " + seed).isEqualTo(e.getValue());
        }
    }

    @ParameterizedTest(name = "seed {0}, block size {1}")
    @CsvSource({"1, 1024", "2, 4096", "3, 2048"})
    void randomWorkloadMatchesModelAndIsFsckClean(long seed, String bs) throws Exception {
        System.out.println("workload seed " + seed + " block size " + bs);
        workloadMatchesModelAndIsFsckClean(seed, startImage("w.img", bs));
    }

    /**
     * ext4 metadata without extents (so the indirect map serves the data): flex_bg (bitmaps and inode tables of
     * 16 groups in group 0), uninit_bg (BLOCK_UNINIT/INODE_UNINIT groups, bg_itable_unused, crc16 descriptor
     * checksums), huge_file, dir_nlink, extra_isize (nanosecond times, crtime), 128- and 256-byte inodes, 1/2/4 KiB
     * blocks; 256 MiB so that there are many groups, most of them uninitialized at the start.
     */
    @ParameterizedTest(name = "seed {0}, mkfs.ext4 {1}")
    @CsvSource({
        "21, '-b 1024 -O ^has_journal,^extent,^64bit,^metadata_csum,uninit_bg'",
        "22, '-b 4096 -I 128 -O ^has_journal,^extent,^64bit,^metadata_csum,uninit_bg'",
        "23, '-b 2048 -O ^has_journal,^extent,^64bit,^metadata_csum,^flex_bg,uninit_bg'",
        "24, '-b 1024 -I 128 -O ^has_journal,^extent,^64bit,^metadata_csum,^flex_bg,^uninit_bg'",
        "25, '-b 1024 -O ^has_journal,^extent,^64bit,^metadata_csum,uninit_bg,^resize_inode,sparse_super2'"})
    void ext4WorkloadMatchesModelAndIsFsckClean(long seed, String mkfsOpts) throws Exception {
        System.out.println("workload seed " + seed + " mkfs.ext4 " + mkfsOpts);
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("w4.img"), 256L << 20, mkfsOpts.split(" "));
        Map<String, TreeModel.Node> expected = workloadMatchesModelAndIsFsckClean(seed, img);
        String why = Ext2Tools.loopMountUnavailableReason();
        Assumptions.assumeTrue(why == null, "kernel loop mount unavailable, kernel read-back skipped: " + why);
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, true, "ext4")) {
            assertTree(kernelTree(m.root()), expected, "kernel ext4 reading iomap4j's image vs model", seed);
        }
    }

    /** The tree under a kernel mount as {@link TreeModel} nodes (lost+found left out, as TreeModel.capture does). */
    static Map<String, TreeModel.Node> kernelTree(Path root) throws IOException {
        Map<String, TreeModel.Node> out = new TreeMap<>();
        try (var walk = Files.walk(root)) {
            for (Path p : walk.filter(p -> !p.equals(root)).toList()) {
                String rel = "/" + root.relativize(p).toString();
                if (rel.equals("/lost+found") || rel.startsWith("/lost+found/")) {
                    continue;
                }
                int mode = (Integer) Files.getAttribute(p, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                int nlink = (Integer) Files.getAttribute(p, "unix:nlink", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                long size = (Long) Files.getAttribute(p, "unix:size", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                if (Files.isSymbolicLink(p)) {
                    out.put(rel, new TreeModel.Node(mode, nlink, size, null, Files.readSymbolicLink(p).toString()));
                } else if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, new TreeModel.Node(mode, nlink, 0, null, null));
                } else {
                    out.put(rel, new TreeModel.Node(mode, nlink, size, Files.readAllBytes(p), null));
                }
            }
        }
        return out;
    }

    private Map<String, TreeModel.Node> workloadMatchesModelAndIsFsckClean(long seed, Path img) throws Exception {
        Generator[] model = new Generator[1];
        List<Op> ops = generate(seed, 1000, model);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withCache(4L << 20, 64 << 10))) {
            replay(ops, ours(fs), false, seed);
        }
        Ext2Tools.assertFsckClean(img);
        Map<String, TreeModel.Node> expected = model[0].expected();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            assertTree(TreeModel.capture(fs), expected, "iomap4j ext2 vs model", seed);
        }
        // debugfs (independent of our reader) sees the same bytes and names.
        for (var e : expected.entrySet()) {
            if (e.getValue().content() != null) {
                assertThat(Ext2Tools.debugfsDump(img, e.getKey(), tmp)).as("debugfs dump " + e.getKey() + " seed " + seed)
                        .isEqualTo(e.getValue().content());
            }
        }
        List<String> rootNames = Ext2Tools.debugfsList(img, "/").stream().map(Ext2Tools.ListEntry::name)
                .filter(n -> !n.equals(".") && !n.equals("..") && !n.equals("lost+found")).sorted().toList();
        assertThat(rootNames).containsExactlyElementsOf(expected.keySet().stream()
                .filter(p -> p.lastIndexOf('/') == 0).map(p -> p.substring(1)).sorted().toList());
        return expected;
    }

    @ParameterizedTest(name = "seed {0}, block size {1}")
    @CsvSource({"11, 1024", "12, 4096"})
    void kernelDifferential(long seed, String bs) throws Exception {
        String why = Ext2Tools.loopMountUnavailableReason();
        Assumptions.assumeTrue(why == null, "kernel loop mount unavailable, differential test skipped: " + why);
        Path start = startImage("start.img", bs);
        Path oursImg = Files.copy(start, tmp.resolve("ours.img"));
        Path kernelImg = Files.copy(start, tmp.resolve("kernel.img"));
        Generator[] model = new Generator[1];
        List<Op> ops = generate(seed, 800, model);
        try (ExtFileSystem fs = ExtFileSystem.mount(oursImg, ExtMountOptions.defaults())) {
            replay(ops, ours(fs), false, seed);
        }
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(kernelImg, tmp, false)) {
            replay(ops, kernel(m.root()), true, seed);
        }
        Ext2Tools.assertFsckClean(oursImg);
        Ext2Tools.assertFsckClean(kernelImg);
        Map<String, TreeModel.Node> oursTree;
        Map<String, TreeModel.Node> kernelTree;
        try (ExtFileSystem fs = ExtFileSystem.mount(oursImg, ExtMountOptions.defaults().withReadOnly(true))) {
            oursTree = TreeModel.capture(fs);
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(kernelImg, ExtMountOptions.defaults().withReadOnly(true))) {
            kernelTree = TreeModel.capture(fs);
        }
        assertTree(kernelTree, model[0].expected(), "kernel vs model", seed);
        assertTree(oursTree, kernelTree, "iomap4j vs kernel", seed);
        // Same block usage for the same files: i_blocks (data + indirect) agree file by file.
        String oursDf = Ext2Tools.run("dumpe2fs", "-h", oursImg.toString()).ok().stdout();
        String kernelDf = Ext2Tools.run("dumpe2fs", "-h", kernelImg.toString()).ok().stdout();
        assertThat(line(oursDf, "Free inodes:")).isEqualTo(line(kernelDf, "Free inodes:"));
    }

    private static String line(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).findFirst().orElse("");
    }
}
