package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The kernel's ext4 as a differential oracle (issue 13): one seeded workload (mkdir, create and write at random
 * offsets, truncate up and down, rename, unlink, rmdir, symlink, hard link, chmod, chown, user xattrs, then
 * atime/mtime with nanoseconds, past 2038 and before 1970) runs on two copies of one fresh image: through the
 * kernel's ext4 on a loop mount, and through iomap4j's library. Both images are then mounted read-only by the
 * kernel and compared: every path, its type, mode, owner, link count, size (not for directories, whose block
 * counts may differ), atime and mtime to the nanosecond, symlink target, file bytes (md5) and xattrs
 * (getfattr); {@code e2fsck -fn} is clean on both.
 */
class ExtKernelDifferentialTest {
    @TempDir
    Path tmp;

    /** One side of the differential: the same path-level operations. */
    private interface Side {
        void mkdir(String p) throws IOException;

        void write(String p, long pos, byte[] data) throws IOException;

        void truncate(String p, long size) throws IOException;

        void rename(String from, String to) throws IOException;

        void unlink(String p) throws IOException;

        void rmdir(String p) throws IOException;

        void symlink(String p, String target) throws IOException;

        void link(String existing, String p) throws IOException;

        void chmod(String p, int mode) throws IOException;

        void chown(String p, int uid, int gid) throws IOException;

        void setxattr(String p, String name, byte[] value) throws IOException;

        void times(String p, long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec) throws IOException;
    }

    /** The kernel: java.nio on the loop mount. */
    private record KernelSide(Path root) implements Side {
        Path at(String p) {
            return root.resolve(p);
        }

        public void mkdir(String p) throws IOException {
            Files.createDirectory(at(p));
        }

        public void write(String p, long pos, byte[] data) throws IOException {
            try (FileChannel ch = FileChannel.open(at(p), StandardOpenOption.WRITE, StandardOpenOption.CREATE)) {
                ByteBuffer b = ByteBuffer.wrap(data);
                while (b.hasRemaining()) {
                    ch.write(b, pos + b.position());
                }
            }
        }

        public void truncate(String p, long size) throws IOException {
            try (RandomAccessFile f = new RandomAccessFile(at(p).toFile(), "rw")) {
                f.setLength(size);
            }
        }

        public void rename(String from, String to) throws IOException {
            Files.move(at(from), at(to), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }

        public void unlink(String p) throws IOException {
            Files.delete(at(p));
        }

        public void rmdir(String p) throws IOException {
            Files.delete(at(p));
        }

        public void symlink(String p, String target) throws IOException {
            Files.createSymbolicLink(at(p), Path.of(target));
        }

        public void link(String existing, String p) throws IOException {
            Files.createLink(at(p), at(existing));
        }

        public void chmod(String p, int mode) throws IOException {
            Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
            PosixFilePermission[] order = PosixFilePermission.values(); // OWNER_READ .. OTHERS_EXECUTE
            for (int bit = 0; bit < 9; bit++) {
                if ((mode & (0400 >> bit)) != 0) {
                    perms.add(order[bit]);
                }
            }
            Files.setPosixFilePermissions(at(p), perms);
        }

        public void chown(String p, int uid, int gid) throws IOException {
            Files.setAttribute(at(p), "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(at(p), "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
        }

        public void setxattr(String p, String name, byte[] value) throws IOException {
            Files.getFileAttributeView(at(p), UserDefinedFileAttributeView.class)
                    .write(name.substring("user.".length()), ByteBuffer.wrap(value));
        }

        public void times(String p, long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec) throws IOException {
            // utimensat through python's os.utime(ns=...): java.nio's setTimes does not keep times before 1970
            // with nanoseconds (it stored 0 for 1960-01-01T00:00:00.158Z here).
            long atNs = Math.multiplyExact(atimeSec, 1_000_000_000L) + atimeNsec;
            long mtNs = Math.multiplyExact(mtimeSec, 1_000_000_000L) + mtimeNsec;
            Ext2Tools.run("python3", "-c", "import os,sys; os.utime(sys.argv[1], ns=(int(sys.argv[2]), int(sys.argv[3])))",
                    at(p).toString(), Long.toString(atNs), Long.toString(mtNs)).ok();
        }
    }

    /** iomap4j: the library's Vfs calls, paths resolved by lookups. */
    private record LibrarySide(ExtFileSystem fs) implements Side {
        long ino(String p) throws IOException {
            return p.isEmpty() ? fs.rootIno() : fs.lookupPath("/" + p).ino();
        }

        static String parent(String p) {
            int k = p.lastIndexOf('/');
            return k < 0 ? "" : p.substring(0, k);
        }

        static String name(String p) {
            return p.substring(p.lastIndexOf('/') + 1);
        }

        public void mkdir(String p) throws IOException {
            fs.mkdir(ino(parent(p)), name(p), 0755, 0, 0);
        }

        public void write(String p, long pos, byte[] data) throws IOException {
            FileHandle h;
            try {
                h = fs.open(ino(p), Vfs.O_RDWR);
            } catch (FsException e) {
                h = fs.create(ino(parent(p)), name(p), 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0).handle();
            }
            try {
                ByteBuffer b = ByteBuffer.wrap(data);
                while (b.hasRemaining()) {
                    fs.write(h, pos + b.position(), b);
                }
            } finally {
                fs.release(h);
            }
        }

        public void truncate(String p, long size) throws IOException {
            fs.setattr(ino(p), SetAttr.size(size));
        }

        public void rename(String from, String to) throws IOException {
            fs.rename(ino(parent(from)), name(from), ino(parent(to)), name(to), 0);
        }

        public void unlink(String p) throws IOException {
            fs.unlink(ino(parent(p)), name(p));
        }

        public void rmdir(String p) throws IOException {
            fs.rmdir(ino(parent(p)), name(p));
        }

        public void symlink(String p, String target) throws IOException {
            fs.symlink(ino(parent(p)), name(p), target, 0, 0);
        }

        public void link(String existing, String p) throws IOException {
            fs.link(ino(existing), ino(parent(p)), name(p));
        }

        public void chmod(String p, int mode) throws IOException {
            fs.setattr(ino(p), SetAttr.mode(mode));
        }

        public void chown(String p, int uid, int gid) throws IOException {
            fs.setattr(ino(p), SetAttr.owner(uid, gid));
        }

        public void setxattr(String p, String name, byte[] value) throws IOException {
            fs.setxattr(ino(p), name, value, 0);
        }

        public void times(String p, long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec) throws IOException {
            fs.setattr(ino(p), SetAttr.times(atimeSec, atimeNsec, mtimeSec, mtimeNsec));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"-b 4096", "-b 1024 -I 256 -O ^has_journal", "-b 2048 -I 128 -O ^metadata_csum"})
    void sameWorkloadOnTheKernelAndOnIomap4jGivesTheSameTree(String mkfsOptions) throws Exception {
        Assumptions.assumeTrue(Ext2Tools.loopMountUnavailableReason() == null,
                String.valueOf(Ext2Tools.loopMountUnavailableReason()));
        long seed = Long.getLong("iomap4j.diff.seed", new Random().nextLong());
        System.out.println("ExtKernelDifferentialTest [" + mkfsOptions + "] seed " + seed
                + " (-Diomap4j.diff.seed=" + seed + " replays it)");
        Path kernelImage = Ext2Tools.sparseImage(tmp.resolve("kernel.img"), 64L << 20);
        List<String> mkfs = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F"));
        mkfs.addAll(List.of(mkfsOptions.split(" ")));
        mkfs.add(kernelImage.toString());
        Ext2Tools.run(mkfs.toArray(String[]::new)).ok();
        Path ourImage = Files.copy(kernelImage, tmp.resolve("iomap4j.img"));
        List<Op> ops = workload(new Random(seed), 400);
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(kernelImage, tmp, false, "ext4")) {
            apply(new KernelSide(m.root()), ops);
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(ourImage, ExtMountOptions.defaults())) {
            assertThat(fs.isReadOnly()).as(String.valueOf(fs.readOnlyReason())).isFalse();
            apply(new LibrarySide(fs), ops);
        }
        Ext2Tools.assertFsckClean(kernelImage);
        Ext2Tools.assertFsckClean(ourImage);
        String kernelTree;
        String ourTree;
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(kernelImage, tmp, true, "ext4")) {
            kernelTree = describe(m.root());
        }
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(ourImage, tmp, true, "ext4")) {
            ourTree = describe(m.root());
        }
        assertThat(ourTree).as("iomap4j's tree (seed " + seed + ") vs the kernel's").isEqualTo(kernelTree);
        assertThat(kernelTree).as("what the workload made").contains("|f|").contains("|l|").contains("user.k");
        System.out.println("ExtKernelDifferentialTest [" + mkfsOptions + "]: " + ops.size() + " operations, "
                + kernelTree.lines().count() + " lines of tree description equal");
    }

    /** One operation of the workload, already checked valid against the model of names. */
    private record Op(String kind, String path, String other, long a, long b, byte[] data) {
        /** times: atime seconds in a, mtime seconds in b, nanoseconds (atime, mtime) in data as two ints. */
        int nsec(int k) {
            return ByteBuffer.wrap(data).getInt(4 * k);
        }
    }

    private static void apply(Side s, List<Op> ops) throws IOException {
        for (Op op : ops) {
            switch (op.kind) {
                case "mkdir" -> s.mkdir(op.path);
                case "write" -> s.write(op.path, op.a, op.data);
                case "truncate" -> s.truncate(op.path, op.a);
                case "rename" -> s.rename(op.path, op.other);
                case "unlink" -> s.unlink(op.path);
                case "rmdir" -> s.rmdir(op.path);
                case "symlink" -> s.symlink(op.path, op.other);
                case "link" -> s.link(op.other, op.path);
                case "chmod" -> s.chmod(op.path, (int) op.a);
                case "chown" -> s.chown(op.path, (int) op.a, (int) op.b);
                case "setxattr" -> s.setxattr(op.path, op.other, op.data);
                case "times" -> s.times(op.path, op.a, op.nsec(0), op.b, op.nsec(1));
                default -> throw new IllegalStateException(op.kind);
            }
        }
    }

    /** A valid sequence of operations, tracked against a model of which names are files, dirs and symlinks. */
    private static List<Op> workload(Random rnd, int n) {
        List<Op> ops = new ArrayList<>();
        List<String> dirs = new ArrayList<>(List.of(""));
        List<String> files = new ArrayList<>();
        List<String> links = new ArrayList<>();
        int next = 0;
        for (int k = 0; k < n; k++) {
            int r = rnd.nextInt(100);
            String dir = dirs.get(rnd.nextInt(dirs.size()));
            String fresh = (dir.isEmpty() ? "" : dir + "/") + "n" + next++;
            if (r < 8) {
                ops.add(new Op("mkdir", fresh, null, 0, 0, null));
                dirs.add(fresh);
            } else if (r < 40 || files.isEmpty()) {
                boolean newFile = files.isEmpty() || rnd.nextInt(3) == 0;
                String p = newFile ? fresh : files.get(rnd.nextInt(files.size()));
                byte[] data = new byte[rnd.nextInt(4) == 0 ? rnd.nextInt(300_000) : rnd.nextInt(5_000)];
                rnd.nextBytes(data);
                ops.add(new Op("write", p, null, rnd.nextInt(3) == 0 ? rnd.nextInt(1 << 20) : 0, 0, data));
                if (newFile) {
                    files.add(p);
                }
            } else if (r < 48) {
                ops.add(new Op("truncate", files.get(rnd.nextInt(files.size())), null, rnd.nextInt(400_000), 0,
                        null));
            } else if (r < 56) {
                int i = rnd.nextInt(files.size());
                ops.add(new Op("rename", files.get(i), fresh, 0, 0, null));
                files.set(i, fresh);
            } else if (r < 62) {
                String p = files.remove(rnd.nextInt(files.size()));
                ops.add(new Op("unlink", p, null, 0, 0, null));
            } else if (r < 66) {
                String target = rnd.nextBoolean() ? "../" + "t".repeat(rnd.nextInt(100) + 1)
                        : "x".repeat(rnd.nextInt(200) + 60); // fast (in-inode) and slow (block) symlinks
                ops.add(new Op("symlink", fresh, target, 0, 0, null));
                links.add(fresh);
            } else if (r < 70) {
                ops.add(new Op("link", fresh, files.get(rnd.nextInt(files.size())), 0, 0, null));
                files.add(fresh);
            } else if (r < 78) {
                String p = rnd.nextBoolean() ? files.get(rnd.nextInt(files.size())) : dir;
                if (!p.isEmpty()) {
                    ops.add(new Op("chmod", p, null, rnd.nextInt(01000) | 0700, 0, null));
                }
            } else if (r < 84) {
                ops.add(new Op("chown", files.get(rnd.nextInt(files.size())), null, 1000 + rnd.nextInt(3),
                        1000 + rnd.nextInt(3), null));
            } else if (r < 94) {
                String p = rnd.nextBoolean() ? files.get(rnd.nextInt(files.size())) : dir;
                if (!p.isEmpty()) {
                    // at most 3 names of up to 250 bytes: they fit one 1 KiB xattr block (else ENOSPC on both)
                    byte[] v = new byte[rnd.nextInt(4) == 0 ? 100 + rnd.nextInt(150) : rnd.nextInt(40)];
                    rnd.nextBytes(v);
                    ops.add(new Op("setxattr", p, "user.k" + rnd.nextInt(3), 0, 0, v));
                }
            } else {
                // rmdir of an empty leaf directory, if one exists
                for (String d : dirs) {
                    if (!d.isEmpty() && dirs.stream().noneMatch(o -> o.startsWith(d + "/"))
                            && files.stream().noneMatch(f -> f.startsWith(d + "/"))
                            && links.stream().noneMatch(f -> f.startsWith(d + "/"))) {
                        ops.add(new Op("rmdir", d, null, 0, 0, null));
                        dirs.remove(d);
                        break;
                    }
                }
            }
        }
        // Last, times on everything but symlinks (a later change in a directory would move its mtime): nanoseconds,
        // past 2038, before 1970 and around the epoch bits.
        long[] specials = {4102444800L, -315619200L, 2147483648L, 0, 1_700_000_000L};
        List<String> timed = new ArrayList<>(files);
        timed.addAll(dirs.subList(1, dirs.size()));
        for (int i = 0; i < timed.size(); i++) {
            long at = i < specials.length ? specials[i] : 1_000_000_000L + rnd.nextInt(1 << 30);
            long mt = i < specials.length ? specials[specials.length - 1 - i] : 1_000_000_000L + rnd.nextInt(1 << 30);
            int ans = i == 0 ? 1 : rnd.nextInt(1_000_000_000);
            int mns = i == 0 ? 1 : rnd.nextInt(1_000_000_000);
            byte[] ns = ByteBuffer.allocate(8).putInt(ans).putInt(mns).array();
            ops.add(new Op("times", timed.get(i), null, at, mt, ns));
        }
        return ops;
    }

    /**
     * A canonical description of a mounted tree (root and lost+found left out): per path, sorted, type, mode, owner,
     * link count, atime and mtime with nanoseconds (not for symlinks, whose times the workload does not set), link
     * target and size (not for directories); then the md5 of every file and its user xattrs, sorted.
     */
    private static String describe(Path root) {
        String stat = Ext2Tools.run("sh", "-c", "cd '" + root + "' && find . -mindepth 1 -path ./lost+found -prune "
                + "-o -printf '%p|%y|%m|%U|%G|%n|%A@|%T@|%l|%s\\n' | sort").stdout();
        StringBuilder sb = new StringBuilder();
        for (String line : stat.lines().toList()) {
            String[] f = line.split("\\|", -1);
            if (f[1].equals("l")) {
                f[6] = "-";
                f[7] = "-";
            }
            if (f[1].equals("d")) {
                f[9] = "-";
            }
            sb.append(String.join("|", f)).append('\n');
        }
        sb.append(Ext2Tools.run("sh", "-c", "cd '" + root + "' && find . -path ./lost+found -prune -o -type f "
                + "-exec md5sum {} + | sort -k2").stdout());
        sb.append(Ext2Tools.run("sh", "-c", "cd '" + root + "' && find . -path ./lost+found -prune -o ! -type l "
                + "-print | sort | while read -r f; do echo \"$f\"; getfattr -P -d -m '^user\\.' -e hex \"$f\" "
                + "2>/dev/null | grep -v '^#' | sort; done").stdout());
        return sb.toString();
    }
}
