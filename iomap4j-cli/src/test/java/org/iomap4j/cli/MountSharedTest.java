package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code iomapfs mount} as root: shared by default (allow_other + default_permissions: another uid gets what the
 * modes give it), {@code --private} keeps other uids out, nosuid/nodev unless {@code --suid}/{@code --dev}; the
 * mount point must exist and be empty; and the read-only commands work on the mounted image with a warning. The
 * other uid is nobody, through setpriv; the oracle is the kernel's answer to that uid and /proc/self/mounts.
 */
class MountSharedTest {
    @TempDir
    Path tmp;
    private Path img;
    private Path mnt;

    @BeforeEach
    void image() throws Exception {
        MountedImage.requireFuse();
        OtherUser.openUp(tmp);
        img = tmp.resolve("t.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "64M").exit()).isZero();
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    private static List<String> options(MountedImage m) throws Exception {
        return List.of(m.mountEntry().split(" ")[3].split(","));
    }

    @Test
    void rootMount_isShared_otherUidGetsWhatModesGive_andInspectionWorksWithWarning() throws Exception {
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0")) {
            assertThat(options(m)).contains("allow_other", "default_permissions", "nosuid", "nodev", "user_id=0");
            Files.writeString(mnt.resolve("public.txt"), "for everyone\n");
            Files.setPosixFilePermissions(mnt.resolve("public.txt"), PosixFilePermissions.fromString("rw-r--r--"));
            Files.writeString(mnt.resolve("secret.txt"), "root only\n");
            Files.setPosixFilePermissions(mnt.resolve("secret.txt"), PosixFilePermissions.fromString("rw-------"));
            Path drop = Files.createDirectory(mnt.resolve("drop"));
            Files.setPosixFilePermissions(drop, PosixFilePermissions.fromString("rwxrwxrwx"));

            OtherUser.Run read = OtherUser.sh("cat " + mnt + "/public.txt");
            assertThat(read.exit()).as(read.toString()).isZero();
            assertThat(read.out()).isEqualTo("for everyone\n");
            OtherUser.Run denied = OtherUser.sh("cat " + mnt + "/secret.txt");
            assertThat(denied.exit()).isNotZero();
            assertThat(denied.err()).contains("Permission denied");
            OtherUser.Run rootDir = OtherUser.sh("touch " + mnt + "/not-mine");
            assertThat(rootDir.err()).as("root dir is 0755 root").contains("Permission denied");
            OtherUser.Run write = OtherUser.sh("echo mine > " + drop + "/f && stat -c %u " + drop + "/f");
            assertThat(write.exit()).as(write.toString()).isZero();
            assertThat(write.out().trim()).isEqualTo(Integer.toString(OtherUser.UID));

            // Read-only commands on the mounted image: allowed, with one warning line (as dumpe2fs/debugfs).
            for (String[] cmd : List.of(new String[] {"ls", img.toString()}, new String[] {"info", img.toString()},
                    new String[] {"stat", img + ":/"}, new String[] {"df", img.toString()})) {
                Cli.Run r = Cli.run(cmd);
                assertThat(r.exit()).as(String.join(" ", cmd) + "\n" + r).isZero();
                assertThat(r.err()).contains("warning", "mounted read-write");
            }
            assertThat(Cli.run("ls", img.toString()).out()).contains("lost+found");
            // Writing is still refused while mounted.
            Cli.Run cp = Cli.run("cp", tmp.resolve("t.img").toString(), img + ":/x");
            assertThat(cp.exit()).isEqualTo(1);
            assertThat(cp.err()).contains("in use");

            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "stat /drop/f").stdout()).contains("User: " + OtherUser.UID);
    }

    @Test
    void privateMount_keepsOtherUidsOut_suidDevLiftTheFlags() throws Exception {
        Files.writeString(tmp.resolve("f"), "x");
        assertThat(Cli.run("cp", tmp.resolve("f").toString(), img + ":/f").exit()).isZero();
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0", "--private", "--suid", "--dev")) {
            assertThat(options(m)).doesNotContain("allow_other", "nosuid", "nodev");
            assertThat(Files.readString(mnt.resolve("f"))).isEqualTo("x");
            OtherUser.Run r = OtherUser.sh("cat " + mnt + "/f");
            assertThat(r.exit()).isNotZero();
            assertThat(r.err()).contains("Permission denied");
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).isZero();
        }
    }

    @Test
    void mountpoint_mustExist_andBeEmpty_unlessNonempty() throws Exception {
        Cli.Run missing = Cli.run("mount", img.toString(), tmp.resolve("nowhere").toString(), "--warmup-ms", "0");
        assertThat(missing.exit()).as(missing.toString()).isEqualTo(1);
        assertThat(missing.err()).contains("does not exist").hasLineCount(1);
        assertThat(tmp.resolve("nowhere")).as("not created behind the user's back").doesNotExist();

        Files.writeString(mnt.resolve("hidden"), "under the mount");
        Cli.Run full = Cli.run("mount", img.toString(), mnt.toString(), "--warmup-ms", "0");
        assertThat(full.exit()).as(full.toString()).isEqualTo(1);
        assertThat(full.err()).contains("not empty", "--nonempty").hasLineCount(1);
        assertThat(MountedImage.mountEntry(mnt)).isNull();

        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0", "--nonempty")) {
            assertThat(Files.exists(mnt.resolve("hidden"))).as("covered by the mount").isFalse();
            assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).isZero();
        }
        assertThat(Files.readString(mnt.resolve("hidden"))).isEqualTo("under the mount");
    }

    @Test
    void sigkill_ofRootServer_leavesNoDeadMount() throws Exception {
        try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0")) {
            m.process.destroyForcibly();
            m.process.waitFor();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (m.isMounted() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(m.isMounted()).as("dead mount left behind").isFalse();
        }
    }
}
