package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.PosixAcl;
import org.iomap4j.ext.disk.PosixAcl.Entry;
import org.iomap4j.testkit.tools.HostTools;
import org.iomap4j.vfs.Caller;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsXattr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * xattrs and POSIX ACLs against the kernel's ext4 driver on a loop mount (the oracle): the same workload of
 * setfattr values (ACLs as the posix_acl_xattr bytes setfacl sends), chmod, create and mkdir under a default
 * ACL is run on one image by the kernel and on an identical image by iomap4j; then the kernel reads both and
 * {@code getfattr -d -m- -e hex -R}, {@code getfacl -R -n} and the modes must agree, iomap4j must read the
 * kernel's image the same way, and {@code e2fsck -fn} must be clean on both. Also the xattr-block leak of
 * issue 13 (a kernel-written block freed by unlink), shared blocks (refcount) and the error contract.
 */
class ExtXattrKernelTest {
    @TempDir
    Path tmp;

    private static final HexFormat HEX = HexFormat.of();

    static String kernelUnavailable() {
        String r = Ext2Tools.loopMountUnavailableReason();
        if (r != null) {
            return r;
        }
        for (String t : new String[] {"setfattr", "getfattr", "setfacl", "getfacl"}) {
            if (HostTools.which(t) == null) {
                return t + " not installed (Debian packages attr, acl)";
            }
        }
        return null;
    }

    /** Runs {@code sh -c script} in {@code dir} with umask 022. */
    static Ext2Tools.Result sh(Path dir, String script) {
        return Ext2Tools.run("sh", "-c", "cd '" + dir + "' && umask 022 && " + script).ok();
    }

    /** A kernel ext4 loop mount (the ext4 driver also serves ext2/ext3 images), unmounted by close. */
    static final class KernelMount implements AutoCloseable {
        final Path root;

        KernelMount(Path image, Path scratch) throws IOException {
            root = Files.createTempDirectory(scratch, "kmnt");
            Ext2Tools.run("mount", "-t", "ext4", "-o", "loop", image.toString(), root.toString()).ok();
        }

        @Override
        public void close() {
            Ext2Tools.run("umount", root.toString()).ok();
        }
    }

    static byte[] acl(Entry... entries) {
        return PosixAcl.encodeXattr(List.of(entries));
    }

    static Entry e(int tag, int perm) {
        return new Entry(tag, perm, PosixAcl.UNDEFINED_ID);
    }

    static Entry e(int tag, int perm, long id) {
        return new Entry(tag, perm, id);
    }

    /** The workload's ACL values (what setfacl would send). */
    static final byte[] ACL_F = acl(e(PosixAcl.TAG_USER_OBJ, 6), e(PosixAcl.TAG_USER, 6, 1234),
            e(PosixAcl.TAG_GROUP_OBJ, 4), e(PosixAcl.TAG_GROUP, 4, 55), e(PosixAcl.TAG_MASK, 6), e(PosixAcl.TAG_OTHER, 4));
    static final byte[] ACL_EQUIV = acl(e(PosixAcl.TAG_USER_OBJ, 7), e(PosixAcl.TAG_GROUP_OBJ, 5), e(PosixAcl.TAG_OTHER, 1));
    static final byte[] ACL_DEF = acl(e(PosixAcl.TAG_USER_OBJ, 7), e(PosixAcl.TAG_USER, 7, 1234),
            e(PosixAcl.TAG_GROUP_OBJ, 5), e(PosixAcl.TAG_MASK, 7), e(PosixAcl.TAG_OTHER, 1));
    static final byte[] ACL_D = acl(e(PosixAcl.TAG_USER_OBJ, 7), e(PosixAcl.TAG_GROUP_OBJ, 5),
            e(PosixAcl.TAG_GROUP, 5, 77), e(PosixAcl.TAG_MASK, 5), e(PosixAcl.TAG_OTHER, 5));

    static String big(int n, char c) {
        return String.valueOf(c).repeat(n);
    }

    /** The workload as a shell script for the kernel mount. */
    static String kernelScript() {
        return String.join(" && ",
                "touch f g r s1 s2",
                "setfattr -n user.a -v hello f",
                "setfattr -n user.big -v " + big(300, 'b') + " f",
                "setfattr -n trusted.t -v x f",
                "setfattr -n security.s -v y f",
                "setfattr -n system.posix_acl_access -v 0x" + HEX.formatHex(ACL_F) + " f",
                "chmod 600 f",
                "setfattr -n system.posix_acl_access -v 0x" + HEX.formatHex(ACL_EQUIV) + " g",
                "setfattr -n user.x -v 1 r", "setfattr -n user.y -v " + big(100, 'y') + " r", "setfattr -x user.x r",
                "setfattr -n user.same -v " + big(90, 's') + " s1", "setfattr -n user.same -v " + big(90, 's') + " s2",
                "mkdir d",
                "setfattr -n system.posix_acl_default -v 0x" + HEX.formatHex(ACL_DEF) + " d",
                "setfattr -n system.posix_acl_access -v 0x" + HEX.formatHex(ACL_D) + " d",
                "touch d/child", "mkdir d/sub", "touch d/sub/grand", "mknod d/fifo p",
                "chmod 750 d/child",
                "setfattr -n user.replace -v one s2", "setfattr -n user.replace -v " + big(40, 't') + " s2");
    }

    /** The same workload through iomap4j's Vfs (creates as FUSE with FUSE_DONT_MASK sends them: umask bound). */
    static void iomapWorkload(ExtFileSystem fs) throws Exception {
        ScopedValue.where(Caller.UMASK, 022).call(() -> {
            long root = fs.rootIno();
            long f = touch(fs, root, "f");
            long g = touch(fs, root, "g");
            long r = touch(fs, root, "r");
            long s1 = touch(fs, root, "s1");
            long s2 = touch(fs, root, "s2");
            fs.setxattr(f, "user.a", bytes("hello"), 0);
            fs.setxattr(f, "user.big", bytes(big(300, 'b')), 0);
            fs.setxattr(f, "trusted.t", bytes("x"), 0);
            fs.setxattr(f, "security.s", bytes("y"), 0);
            fs.setxattr(f, "system.posix_acl_access", ACL_F, 0);
            fs.setattr(f, SetAttr.mode(0600));
            fs.setxattr(g, "system.posix_acl_access", ACL_EQUIV, 0);
            fs.setxattr(r, "user.x", bytes("1"), 0);
            fs.setxattr(r, "user.y", bytes(big(100, 'y')), 0);
            fs.removexattr(r, "user.x");
            fs.setxattr(s1, "user.same", bytes(big(90, 's')), 0);
            fs.setxattr(s2, "user.same", bytes(big(90, 's')), 0);
            long d = fs.mkdir(root, "d", 0777, 0, 0).ino();
            fs.forget(d, 1);
            fs.setxattr(d, "system.posix_acl_default", ACL_DEF, 0);
            fs.setxattr(d, "system.posix_acl_access", ACL_D, 0);
            long child = touch(fs, d, "child");
            long sub = fs.mkdir(d, "sub", 0777, 0, 0).ino();
            fs.forget(sub, 1);
            touch(fs, sub, "grand");
            fs.forget(fs.mknod(d, "fifo", org.iomap4j.vfs.FileMode.S_IFIFO | 0666, 0, 0, 0).ino(), 1);
            fs.setattr(child, SetAttr.mode(0750));
            fs.setxattr(s2, "user.replace", bytes("one"), 0);
            fs.setxattr(s2, "user.replace", bytes(big(40, 't')), 0);
            return null;
        });
    }

    static long touch(ExtFileSystem fs, long dir, String name) throws IOException {
        Vfs.Created c = fs.create(dir, name, 0666, Vfs.O_RDWR | Vfs.O_EXCL, 0, 0);
        fs.release(c.handle());
        fs.forget(c.attr().ino(), 1);
        return c.attr().ino();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** path → (name → hex value), from {@code getfattr -d -m- -e hex -R} (order of names normalised). */
    static Map<String, Map<String, String>> getfattrDump(Path root) {
        String out = sh(root, "getfattr -R -d -m- -e hex .").stdout();
        Map<String, Map<String, String>> m = new TreeMap<>();
        Map<String, String> cur = null;
        for (String line : out.split("\n")) {
            if (line.startsWith("# file: ")) {
                cur = new TreeMap<>();
                m.put(line.substring(8), cur);
            } else if (cur != null && line.contains("=")) {
                cur.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1));
            }
        }
        return m;
    }

    /** The kernel's view of a tree: xattrs, ACLs (getfacl -R -n) and modes. */
    static String kernelView(Path root) {
        return "xattrs " + getfattrDump(root) + "\nacls\n" + sh(root, "getfacl -R -n -p . | sort").stdout()
                + "\nmodes\n" + sh(root, "find . -printf '%p %M %s\\n' | sort").stdout();
    }

    static Path image(Path p, int inodeSize, String kind) throws IOException {
        Ext2Tools.sparseImage(p, 8L << 20);
        List<String> cmd = new ArrayList<>(List.of("mke2fs", "-q", "-F", "-I", String.valueOf(inodeSize), "-b", "1024"));
        switch (kind) {
            case "ext2" -> cmd.addAll(List.of("-t", "ext2"));
            case "ext3" -> cmd.addAll(List.of("-t", "ext3"));
            case "ext4" -> cmd.addAll(List.of("-t", "ext4", "-O", "^has_journal"));
            default -> cmd.addAll(List.of("-t", "ext4", "-O", "^has_journal,^extent,^64bit,^flex_bg")); // ext4-lite
        }
        cmd.add(p.toString());
        Ext2Tools.run(cmd.toArray(String[]::new)).ok();
        // Same uuid and hash seed on both images: identical block hashes and checksum seeds.
        Ext2Tools.run("tune2fs", "-U", "6b1e3a40-6a1c-4cde-9a3a-2f61c2f0a001", p.toString()).ok();
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"ext2:128", "ext2:256", "ext3:256", "ext4:128", "ext4:256", "ext4-lite:256"})
    void sameWorkload_kernelAndIomap4j_agree(String variant) throws Exception {
        String why = kernelUnavailable();
        assumeTrue(why == null, () -> "skipped: " + why);
        String kind = variant.split(":")[0];
        int isize = Integer.parseInt(variant.split(":")[1]);
        Path k = image(tmp.resolve("k.img"), isize, kind);
        Path m = image(tmp.resolve("m.img"), isize, kind);
        String kernelOnKernel;
        try (KernelMount km = new KernelMount(k, tmp)) {
            sh(km.root, kernelScript());
            kernelOnKernel = kernelView(km.root);
        }
        Ext2Tools.assertFsckClean(k);
        // iomap4j reads the kernel's image as the kernel does (metadata_csum: block checksums verified).
        Map<String, Map<String, String>> kernelDump = kernelDumpOf(k);
        try (ExtFileSystem fs = mountOrSkip(k, variant)) {
            Map<String, Map<String, String>> iomap = iomapView(fs);
            assertThat(iomap).as("%s: iomap4j's view of the kernel's image", variant).isEqualTo(kernelDump);
        }
        Ext2Tools.assertFsckClean(k);
        try (ExtFileSystem fs = ExtFileSystem.mount(m, ExtMountOptions.defaults())) {
            assumeTrue(!fs.isReadOnly(), () -> "skipped the write half: " + variant + " mounts read-only here: "
                    + fs.readOnlyReason());
            iomapWorkload(fs);
        }
        Ext2Tools.assertFsckClean(m);
        String kernelOnIomap;
        try (KernelMount km = new KernelMount(m, tmp)) {
            kernelOnIomap = kernelView(km.root);
        }
        System.out.println(variant + ": kernel view of the kernel's image, " + kernelOnKernel.length() + " chars");
        assertThat(kernelOnIomap).as("%s: the kernel's view of iomap4j's image", variant).isEqualTo(kernelOnKernel);
    }

    /** Mounts, or skips the test when this driver refuses the image's features (named in the reason). */
    static ExtFileSystem mountOrSkip(Path img, String variant) throws IOException {
        try {
            return ExtFileSystem.mount(img, ExtMountOptions.defaults());
        } catch (FsException e) {
            assumeTrue(e.errno() != Errno.EINVAL || !e.getMessage().contains("unsupported"),
                    () -> "skipped: " + variant + ": " + e.getMessage());
            throw e;
        }
    }

    private Map<String, Map<String, String>> kernelDumpOf(Path image) throws IOException {
        try (KernelMount km = new KernelMount(image, tmp)) {
            return getfattrDump(km.root);
        }
    }

    /** iomap4j's getfattr -R -d -m- -e hex equivalent (files with attributes only, as getfattr prints). */
    static Map<String, Map<String, String>> iomapView(ExtFileSystem fs) throws IOException {
        Map<String, Map<String, String>> out = new TreeMap<>();
        fs.walkTree("/", (path, attr) -> {
            Map<String, String> names = new TreeMap<>();
            for (String n : fs.listxattr(attr.ino())) {
                names.put(n, "0x" + HEX.formatHex(fs.getxattr(attr.ino(), n)));
            }
            if (!names.isEmpty()) {
                out.put(path.equals("/") ? "." : path.substring(1), names);
            }
        });
        return out;
    }

    /** Issue 13's leak: a kernel-written xattr block (private and shared) is released by unlink. */
    @ParameterizedTest
    @ValueSource(ints = {128, 256})
    void kernelXattrBlock_unlinkThroughIomap4j_freesOrDecrements(int isize) throws Exception {
        String why = kernelUnavailable();
        assumeTrue(why == null, () -> "skipped: " + why);
        Path img = Ext2Tools.mke2fs(tmp.resolve("leak.img"), 8L << 20, "-b", "1024", "-I", String.valueOf(isize));
        long freeBefore;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            freeBefore = fs.statfs().freeBlocks();
        }
        String v = big(isize == 128 ? 8 : 200, 'v'); // 256-byte inodes: too big for the inode body
        try (KernelMount km = new KernelMount(img, tmp)) {
            sh(km.root, "touch a b c && setfattr -n user.k -v " + v + " a && setfattr -n user.k -v " + v
                    + " b && setfattr -n user.k -v " + v + " c && setfattr -n user.other -v " + v + " c");
        }
        Ext2Tools.assertFsckClean(img);
        String aAcl = fileAcl(img, "a");
        assertThat(fileAcl(img, "b")).as("kernel shares identical blocks").isEqualTo(aAcl);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            fs.unlink(fs.rootIno(), "a"); // shared: refcount 2 -> 1
        }
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.getxattr(fs.lookupPath("/b").ino(), "user.k")).isEqualTo(bytes(v));
            fs.unlink(fs.rootIno(), "b"); // last reference: freed
            fs.unlink(fs.rootIno(), "c"); // private block: freed
        }
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.statfs().freeBlocks()).isEqualTo(freeBefore);
        }
    }

    static String fileAcl(Path img, String path) {
        Matcher mt = Pattern.compile("File ACL: (\\d+)").matcher(Ext2Tools.debugfs(img, "stat " + path).ok().stdout());
        assertThat(mt.find()).isTrue();
        return mt.group(1);
    }

    /** Copy-on-write of a shared block and sharing of identical new blocks, e2fsck (refcounts) as the oracle. */
    @Test
    void sharedBlocks_copyOnWrite_andSharing_fsckClean() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("share.img"), 8L << 20, "-b", "1024", "-I", "128");
        long[] inos = new long[4];
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            for (int n = 0; n < 4; n++) {
                inos[n] = touch(fs, fs.rootIno(), "s" + n);
                fs.setxattr(inos[n], "user.same", bytes("identical value"), 0);
            }
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(List.of(fileAcl(img, "s1"), fileAcl(img, "s2"), fileAcl(img, "s3"))).containsOnly(fileAcl(img, "s0"));
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            fs.setxattr(inos[1], "user.more", bytes("private"), 0); // copy-on-write
            fs.removexattr(inos[2], "user.same"); // drops its reference, no block left
            assertThat(fs.getxattr(inos[0], "user.same")).isEqualTo(bytes("identical value"));
            assertThat(fs.listxattr(inos[1])).containsExactlyInAnyOrder("user.same", "user.more");
            assertThat(fs.listxattr(inos[2])).isEmpty();
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(fileAcl(img, "s1")).isNotEqualTo(fileAcl(img, "s0"));
        assertThat(fileAcl(img, "s2")).isEqualTo("0");
        assertThat(fileAcl(img, "s3")).isEqualTo(fileAcl(img, "s0"));
        if (kernelUnavailable() == null) {
            try (KernelMount km = new KernelMount(img, tmp)) {
                assertThat(getfattrDump(km.root).get("s1")).containsEntry("user.more", "0x" + HEX.formatHex(bytes("private")));
            }
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            for (int n = 0; n < 4; n++) {
                fs.unlink(fs.rootIno(), "s" + n);
            }
        }
        Ext2Tools.assertFsckClean(img);
    }

    /** The other ways an inode is freed: last close of an unlinked file, rename over it, rmdir, a failed create. */
    @Test
    void openUnlinked_renamedOver_rmdir_releaseTheirBlocks() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("free.img"), 8L << 20, "-b", "1024", "-I", "128");
        long freeBefore;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            freeBefore = fs.statfs().freeBlocks();
            long root = fs.rootIno();
            Vfs.Created open = fs.create(root, "open", 0644, Vfs.O_RDWR, 0, 0);
            fs.setxattr(open.attr().ino(), "user.k", bytes("open file"), 0);
            long victim = touch(fs, root, "victim");
            fs.setxattr(victim, "user.k", bytes("renamed over"), 0);
            touch(fs, root, "src");
            long dir = fs.mkdir(root, "dir", 0755, 0, 0).ino();
            fs.forget(dir, 1);
            fs.setxattr(dir, "system.posix_acl_default", ACL_DEF, 0);
            fs.unlink(root, "open");
            Ext2Tools.assertFsckClean(img); // nothing synced yet: the on-disk image is still the empty one
            fs.rename(root, "src", root, "victim", 0);
            fs.rmdir(root, "dir");
            fs.sync();
            assertThat(fs.getxattr(open.attr().ino(), "user.k")).isEqualTo(bytes("open file"));
            fs.release(open.handle());
            fs.forget(open.attr().ino(), 1);
            fs.unlink(root, "victim");
        }
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.statfs().freeBlocks()).isEqualTo(freeBefore);
        }
    }

    /** A damaged xattr block: a clear error naming inode and block; unlink still frees the inode. */
    @Test
    void corruptXattrBlock_clearError_unlinkLeavesItForFsck() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("bad.img"), 8L << 20, "-b", "1024", "-I", "128");
        long ino;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            ino = touch(fs, fs.rootIno(), "f");
            fs.setxattr(ino, "user.k", bytes("value"), 0);
        }
        long pblk = Long.parseLong(fileAcl(img, "f"));
        try (var ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x12, 0x34}), pblk * 1024); // h_magic
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThatThrownBy(() -> fs.getxattr(ino, "user.k")).isInstanceOf(org.iomap4j.CorruptFilesystemException.class)
                    .hasMessageContaining("inode " + ino).hasMessageContaining("xattr block " + pblk);
            assertThatThrownBy(() -> fs.listxattr(ino)).isInstanceOf(org.iomap4j.CorruptFilesystemException.class);
            fs.unlink(fs.rootIno(), "f");
            assertErrno(() -> fs.lookup(fs.rootIno(), "f"), Errno.ENOENT);
        }
        Ext2Tools.Result r = Ext2Tools.run("e2fsck", "-fy", img.toString());
        assertThat(r.exitCode()).as(r.stdout()).isEqualTo(1); // the leftover block is freed by e2fsck
        Ext2Tools.assertFsckClean(img);
    }

    /** An ext2 image made without ext_attr gets the feature with its first attribute, as the kernel does. */
    @Test
    void imageWithoutExtAttr_getsTheFeature() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("noea.img"), 8L << 20, "-b", "1024", "-I", "128", "-O", "^ext_attr");
        assertThat(Ext2Tools.run("dumpe2fs", "-h", img.toString()).ok().stdout()).doesNotContain("ext_attr");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            fs.setxattr(touch(fs, fs.rootIno(), "f"), "user.k", bytes("v"), 0);
        }
        assertThat(Ext2Tools.run("dumpe2fs", "-h", img.toString()).ok().stdout()).contains("ext_attr");
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "ea_list f").ok().stdout()).contains("user.k (1) = \"v\"");
    }

    @Test
    void errorContract() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("err.img"), 8L << 20, "-b", "1024", "-I", "256");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long f = touch(fs, fs.rootIno(), "f");
            long d = fs.lookupPath("/lost+found").ino();
            assertThat(fs.capability(VfsXattr.class)).isPresent();
            assertErrno(() -> fs.getxattr(f, "user.none"), Errno.ENODATA);
            assertErrno(() -> fs.removexattr(f, "user.none"), Errno.ENODATA);
            assertErrno(() -> fs.setxattr(f, "user.none", bytes("v"), VfsXattr.XATTR_REPLACE), Errno.ENODATA);
            fs.setxattr(f, "user.k", bytes("v"), VfsXattr.XATTR_CREATE);
            assertErrno(() -> fs.setxattr(f, "user.k", bytes("w"), VfsXattr.XATTR_CREATE), Errno.EEXIST);
            assertErrno(() -> fs.setxattr(f, "os2.k", bytes("v"), 0), Errno.EOPNOTSUPP);
            assertErrno(() -> fs.setxattr(f, "user." + "n".repeat(251), bytes("v"), 0), Errno.ERANGE);
            assertErrno(() -> fs.setxattr(f, "user.huge", new byte[65537], 0), Errno.E2BIG);
            assertErrno(() -> fs.setxattr(f, "user.huge", new byte[2000], 0), Errno.ENOSPC); // > 1 KiB block
            assertErrno(() -> fs.setxattr(f, "system.posix_acl_default", ACL_DEF, 0), Errno.EACCES);
            assertErrno(() -> fs.setxattr(d, "system.posix_acl_access", new byte[] {2, 0, 0, 0, 1}, 0), Errno.EINVAL);
            byte[] noMask = acl(e(PosixAcl.TAG_USER_OBJ, 7), e(PosixAcl.TAG_USER, 7, 5), e(PosixAcl.TAG_GROUP_OBJ, 5),
                    e(PosixAcl.TAG_OTHER, 1));
            assertErrno(() -> fs.setxattr(d, "system.posix_acl_access", noMask, 0), Errno.EINVAL);
            // The value that fits is still there, the block can take ~1000 bytes.
            fs.setxattr(f, "user.fits", new byte[900], 0);
            assertThat(fs.getxattr(f, "user.fits")).hasSize(900);
            assertThat(fs.getxattr(f, "user.k")).isEqualTo(bytes("v"));
            // An equivalent access ACL is stored as the mode only.
            fs.setxattr(f, "system.posix_acl_access", ACL_EQUIV, 0);
            assertThat(fs.getattr(f).mode() & 0777).isEqualTo(0751);
            assertErrno(() -> fs.getxattr(f, "system.posix_acl_access"), Errno.ENODATA);
            fs.removexattr(f, "system.posix_acl_access"); // absent: no error, as on the kernel's ext4
            fs.removexattr(d, "system.posix_acl_default");
            fs.setxattr(d, "system.posix_acl_default", ACL_DEF, VfsXattr.XATTR_CREATE);
            fs.setxattr(d, "system.posix_acl_default", ACL_DEF, VfsXattr.XATTR_CREATE); // flags ignored for ACLs
            assertThat(fs.getxattr(d, "system.posix_acl_default")).isEqualTo(ACL_DEF);
        }
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, new ExtMountOptions(true, 1L << 20, 64 << 10, 256L << 10))) {
            long f = fs.lookupPath("/f").ino();
            assertThat(fs.getxattr(f, "user.k")).isEqualTo(bytes("v"));
            assertErrno(() -> fs.setxattr(f, "user.k", bytes("w"), 0), Errno.EROFS);
        }
    }

    interface Call {
        void run() throws Exception;
    }

    static void assertErrno(Call c, Errno want) {
        assertThatThrownBy(c::run).isInstanceOfSatisfying(FsException.class,
                ex -> assertThat(ex.errno()).as(ex.getMessage()).isEqualTo(want));
    }

    /** Unused-name guard: the ACL builders produce what PosixAcl decodes. */
    @Test
    void aclBuildersRoundTrip() {
        assertThat(Arrays.equals(PosixAcl.encodeXattr(PosixAcl.decodeXattr(ACL_F)), ACL_F)).isTrue();
    }
}
