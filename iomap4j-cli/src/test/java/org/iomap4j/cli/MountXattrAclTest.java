package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.iomap4j.ext.Ext2Tools;
import org.iomap4j.testkit.tools.HostTools;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * xattrs and POSIX ACLs through a real {@code iomapfs mount} (FUSE_POSIX_ACL: the kernel enforces ACLs) and the
 * {@code iomapfs xattr} command, with the kernel's ext4 on a loop mount as the oracle: ACLs the kernel put on an
 * image deny and grant another uid (nobody, through setpriv) as on the kernel's mount; the same
 * setfattr/setfacl/chmod/create workload under a default ACL and a umask gives the same getfacl and getfattr
 * output on both mounts; the kernel reads what the FUSE mount wrote; {@code e2fsck -fn} stays clean.
 */
class MountXattrAclTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void tools() throws IOException {
        MountedImage.requireFuse();
        String why = Ext2Tools.loopMountUnavailableReason();
        assumeTrue(why == null, () -> "skipped: " + why);
        for (String t : new String[] {"setfattr", "getfattr", "setfacl", "getfacl"}) {
            assumeTrue(HostTools.which(t) != null, () -> "skipped: " + t + " missing (Debian packages attr, acl)");
        }
        assumeTrue(OtherUser.canSwitch(), "skipped: not root (setpriv to another uid)");
        OtherUser.openUp(tmp);
    }

    static Ext2Tools.Result sh(Path dir, String script) {
        return Ext2Tools.run("sh", "-c", "cd '" + dir + "' && " + script).ok();
    }

    /** Runs {@code script} in a kernel loop mount of {@code img}; returns its stdout. */
    private String onKernel(Path img, String script) throws IOException {
        Path mp = Files.createTempDirectory(tmp, "kmnt");
        OtherUser.openUp(mp);
        Ext2Tools.run("mount", "-t", "ext4", "-o", "loop", img.toString(), mp.toString()).ok();
        try {
            return sh(mp, script).stdout();
        } finally {
            Ext2Tools.run("umount", mp.toString()).ok();
        }
    }

    /** The workload: xattrs, ACLs, chmod, creates under a default ACL and under a plain umask 077. */
    static final String WORKLOAD = String.join(" && ",
            "umask 022", "touch f plain-dir-file", "mkdir d e",
            "setfattr -n user.comment -v hello f", "setfattr -n user.blob -v 0x00ff10 f",
            "setfattr -n trusted.t -v secret f", "setfattr -n user.gone -v x f", "setfattr -x user.gone f",
            "setfacl -m u:1234:rw,g:55:r f", "chmod 640 f",
            "setfacl -d -m u:65534:rwx,g::rx,o::- d", "setfacl -m u:1234:rx d",
            "touch d/inherited", "mkdir d/subdir", "touch d/subdir/deeper",
            "(umask 077 && touch e/private && mkdir e/privdir)",
            "setfacl -m u:1234:r e && setfacl -b e");
    static final String VIEW = "getfacl -R -n -p . 2>/dev/null | sort && getfattr -R -d -m- -e hex . | sort"
            + " && find . -printf '%p %M\\n' | sort";

    @Test
    void sameWorkload_onFuseAndKernel_agree_andKernelReadsIt() throws Exception {
        Path k = Ext2Tools.mke2fs(tmp.resolve("k.img"), 16L << 20, "-I", "256");
        Path m = tmp.resolve("m.img");
        Files.copy(k, m);
        String kernelView = onKernel(k, WORKLOAD + " && " + VIEW);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        String fuseView;
        try (MountedImage mi = MountedImage.start(m, mnt, "--warmup-ms", "0")) {
            fuseView = sh(mnt, WORKLOAD + " && " + VIEW).stdout();
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(mi.awaitExit()).as(mi.output.toString()).isZero();
        }
        assertThat(fuseView).isEqualTo(kernelView);
        assertThat(fuseView).contains("user:65534:rwx", "default:user:65534:rwx", "# file: d/inherited");
        Ext2Tools.assertFsckClean(m);
        assertThat(onKernel(m, VIEW)).as("the kernel reads what the FUSE mount wrote").isEqualTo(kernelView);

        // The CLI reads and writes the same attributes.
        Cli.Run get = Cli.run("xattr", "get", m + ":/f", "user.comment");
        assertThat(get.exit()).as(get.toString()).isZero();
        assertThat(get.out()).isEqualTo("user.comment=\"hello\"\n");
        assertThat(Cli.run("xattr", "set", m + ":/f", "user.new", "0x0102").exit()).isZero();
        assertThat(Cli.run("xattr", "remove", m + ":/f", "user.comment").exit()).isZero();
        Cli.Run list = Cli.run("xattr", "list", "-d", "-e", "hex", m + ":/f");
        assertThat(list.out()).contains("user.blob=0x00ff10", "user.new=0x0102", "system.posix_acl_access=0x02000000")
                .doesNotContain("user.comment");
        Cli.Run missing = Cli.run("xattr", "get", m + ":/f", "user.comment");
        assertThat(missing.exit()).isNotZero();
        assertThat(missing.err()).contains("No data available");
        Ext2Tools.assertFsckClean(m);
        assertThat(onKernel(m, "getfattr -n user.new -e hex f")).contains("user.new=0x0102");
    }

    @Test
    void aclsOnTheImage_areEnforcedForAnotherUid() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("acl.img"), 16L << 20, "-I", "128");
        onKernel(img, String.join(" && ", "echo open > denied.txt", "chmod 644 denied.txt",
                "setfacl -m u:65534:- denied.txt", "echo granted > granted.txt", "chmod 600 granted.txt",
                "setfacl -m u:65534:r granted.txt", "mkdir box", "chmod 700 box", "setfacl -m u:65534:rwx box"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (MountedImage mi = MountedImage.start(img, mnt, "--warmup-ms", "0")) {
            OtherUser.Run denied = OtherUser.sh("cat " + mnt + "/denied.txt");
            assertThat(denied.exit()).as("mode 0644 but an ACL entry denies uid 65534").isNotZero();
            assertThat(denied.err()).contains("Permission denied");
            OtherUser.Run granted = OtherUser.sh("cat " + mnt + "/granted.txt");
            assertThat(granted.exit()).as("mode 0600 but an ACL entry grants uid 65534: " + granted).isZero();
            assertThat(granted.out()).isEqualTo("granted\n");
            OtherUser.Run box = OtherUser.sh("echo x > " + mnt + "/box/mine && cat " + mnt + "/box/mine");
            assertThat(box.exit()).as(box.toString()).isZero();
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(mi.awaitExit()).as(mi.output.toString()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
    }
}
