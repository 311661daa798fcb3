package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.iomap4j.ext.Ext2Tools;
import org.iomap4j.fuse.Fusermount;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code iomapfs mount} run by an unprivileged uid (nobody, through setpriv), with the image and the mount point
 * owned by that uid: the mount is made by fusermount3, private to its owner, nosuid/nodev, unmounted by
 * {@code iomapfs umount} as that user, auto-unmounted when the server is SIGKILLed; and the one-line errors a user
 * gets (no fusermount3, --allow-other without user_allow_other, a read-write mount of a read-only image).
 * Skipped, saying so, only where fusermount3 is not installed ({@code .ci/run} installs it).
 */
class MountNonRootTest {
    @TempDir
    Path tmp;
    private OtherUser user;
    private Path img;
    private Path mnt;

    @BeforeAll
    static void needFusermount() {
        String reason = null;
        try {
            Fusermount.locate();
        } catch (org.iomap4j.FsException e) {
            reason = "skipped: " + e.getMessage();
        }
        if (reason != null) {
            System.out.println("MountNonRootTest " + reason);
        }
        Assumptions.assumeTrue(reason == null, reason);
        MountedImage.requireFuse();
        try {
            String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(Path.of("/dev/fuse")));
            assertThat(mode).as("/dev/fuse mode: users cannot open it (the fuse3 udev rule makes it 0666; .ci/run "
                    + "does so where udev does not run)").isEqualTo("rw-rw-rw-");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @BeforeEach
    void imageAndMountpointOwnedByTheUser() throws Exception {
        user = new OtherUser(tmp);
        img = tmp.resolve("user.img");
        // The root directory is the user's too (mke2fs -E root_owner), so that they may write in it.
        assertThat(Cli.run("mkfs", img.toString(), "--size", "64M", "--root-owner",
                OtherUser.UID + ":" + OtherUser.GID).exit()).isZero();
        assertThat(Ext2Tools.debugfs(img, "stat /").stdout()).contains("User: " + OtherUser.UID,
                "Group: " + OtherUser.GID);
        Ext2Tools.assertFsckClean(img);
        OtherUser.chown(img);
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        OtherUser.chown(mnt);
    }

    private MountedImage mountAsUser(String... extra) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("mount", img.toString(), mnt.toString(),
                "--warmup-ms", "0"));
        cmd.addAll(List.of(extra));
        return MountedImage.startCommand(user.iomapfs(cmd.toArray(String[]::new)), img, mnt);
    }

    @Test
    void userMount_throughFusermount_privateNosuidNodev_umountAsUser_imageClean() throws Exception {
        try (MountedImage m = mountAsUser()) {
            String entry = m.mountEntry();
            assertThat(entry).as(m.output.toString()).isNotNull();
            String[] f = entry.split(" ");
            assertThat(f[2]).isEqualTo("fuse.iomapfs");
            assertThat(List.of(f[3].split(","))).contains("rw", "nosuid", "nodev", "user_id=" + OtherUser.UID,
                    "default_permissions").doesNotContain("allow_other");
            assertThat(m.output.toString()).contains("through fusermount3", "private");
            OtherUser.Run w = OtherUser.sh("echo hello > " + mnt + "/f && mkdir " + mnt + "/d && cat " + mnt + "/f"
                    + " && stat -c '%u' " + mnt + "/f");
            assertThat(w.exit()).as(w.toString()).isZero();
            assertThat(w.out()).isEqualTo("hello\n" + OtherUser.UID + "\n");
            if (OtherUser.canSwitch()) {
                // Private: without allow_other even root is kept out (the FUSE connection's owner check).
                assertThat(Files.exists(mnt.resolve("f"))).as("root sees into a private user mount").isFalse();
            }
            OtherUser.Run um = user.run("umount", mnt.toString());
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
            assertThat(m.isMounted()).isFalse();
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDump(img, "/f", tmp)).isEqualTo("hello\n".getBytes(StandardCharsets.UTF_8));
        assertThat(Ext2Tools.debugfs(img, "stat /d").stdout()).contains("User: " + OtherUser.UID);
    }

    @Test
    void defaultMount_asUser_makesTheirImage_andMnt_thenRemovesMnt() throws Exception {
        Path work = Files.createDirectory(tmp.resolve("work"));
        OtherUser.chown(work);
        Path defaultImg = work.resolve("iomapfs.img");
        Path defaultMnt = work.resolve("mnt");
        try (MountedImage m = MountedImage.startCommand(user.iomapfs("mount", "--warmup-ms", "0"), defaultImg,
                defaultMnt, work)) {
            assertThat(m.output.toString()).contains("created iomapfs.img", "root directory yours");
            OtherUser.Run w = OtherUser.sh("echo top > " + defaultMnt + "/top.txt && cat " + defaultMnt + "/top.txt");
            assertThat(w.exit()).as(w.toString()).isZero();
            OtherUser.Run um = user.run("umount", defaultMnt.toString());
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
        }
        assertThat(defaultMnt).as("the default mount point made for the mount is removed").doesNotExist();
        Ext2Tools.assertFsckClean(defaultImg);
        assertThat(Ext2Tools.debugfsDump(defaultImg, "/top.txt", tmp)).isEqualTo("top\n".getBytes(
                StandardCharsets.UTF_8));
    }

    @Test
    void sigkill_autoUnmount_leavesNoDeadMount() throws Exception {
        try (MountedImage m = mountAsUser()) {
            assertThat(m.isMounted()).isTrue();
            assertThat(m.mountEntry()).doesNotContain("auto_unmount"); // a helper option, not the kernel's
            m.process.destroyForcibly(); // SIGKILL: no shutdown hook, no unmount by the server
            m.process.waitFor();
            // fusermount3 sees its socket close and detaches the mount; bounded wait, not a timing assertion.
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (m.isMounted() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(m.isMounted()).as("mount left behind by a killed server").isFalse();
            assertThat(Files.isDirectory(mnt)).as("mount point usable again (no ENOTCONN)").isTrue();
        }
        assertThat(Ext2Tools.e2fsck(img).exitCode()).as("nothing worse than an unclean flag").isLessThanOrEqualTo(1);
    }

    @Test
    void allowOther_withoutUserAllowOther_isOneLineError_elseShared() throws Exception {
        boolean confAllows = Fusermount.userAllowOther();
        if (!confAllows) {
            OtherUser.Run r = user.run("mount", img.toString(), mnt.toString(), "--allow-other", "--warmup-ms", "0");
            assertThat(r.exit()).as(r.toString()).isEqualTo(1);
            assertThat(r.errLines()).as(r.toString()).hasSize(1);
            assertThat(r.err()).contains("user_allow_other", "/etc/fuse.conf");
            assertThat(MountedImage.mountEntry(mnt)).isNull();
        } else {
            try (MountedImage m = mountAsUser("--allow-other")) {
                assertThat(m.mountEntry()).contains("allow_other");
                assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
                assertThat(m.awaitExit()).isZero();
            }
        }
    }

    @Test
    void missingFusermount_isOneLineError() {
        OtherUser.Run r = user.run(Map.of("PATH", tmp.toString()), "mount", img.toString(), mnt.toString(),
                "--warmup-ms", "0");
        assertThat(r.exit()).as(r.toString()).isEqualTo(1);
        assertThat(r.errLines()).as(r.toString()).hasSize(1);
        assertThat(r.err()).contains("fusermount3 not found", "fuse3");
    }

    @Test
    void readWriteMount_ofReadOnlyImage_hintsRo_andRoMounts() throws Exception {
        Files.setPosixFilePermissions(img, PosixFilePermissions.fromString("r--r--r--"));
        OtherUser.Run r = user.run("mount", img.toString(), mnt.toString(), "--warmup-ms", "0");
        assertThat(r.exit()).as(r.toString()).isEqualTo(1);
        assertThat(r.errLines()).as(r.toString()).hasSize(1);
        assertThat(r.err()).contains("read-only for you", "--ro").doesNotContain("(EACCES");
        assertThat(MountedImage.mountEntry(mnt)).isNull();
        try (MountedImage m = mountAsUser("--ro")) {
            assertThat(List.of(m.mountEntry().split(" ")[3].split(","))).contains("ro");
            OtherUser.Run w = OtherUser.sh("touch " + mnt + "/x");
            assertThat(w.exit()).isNotZero();
            assertThat(w.err()).contains("Read-only file system");
            assertThat(user.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).isZero();
        }
    }
}
