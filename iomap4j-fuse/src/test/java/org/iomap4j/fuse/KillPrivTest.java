package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import org.iomap4j.fuse.testing.TrackedMemoryVfs;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.VfsWrite;
import org.iomap4j.vfs.VfsXattr;
import org.junit.jupiter.api.Test;

/**
 * The kill rule (fs/attr.c setattr_should_drop_suidgid) on its own, and {@link KillPriv} against the in-memory Vfs;
 * the kernel comparison is MountKillPrivTest (iomap4j-cli) through a real mount.
 */
final class KillPrivTest {
    @Test
    void setuid_always_goes_setgid_with_group_exec_or_for_a_caller_outside_the_group() {
        assertThat(KillPriv.killedMode(0106777, 0, 1000, 1000)).isEqualTo(0100777);
        assertThat(KillPriv.killedMode(0104755, 5, 0, 0)).as("root too: the kernel only asks when it must")
                .isEqualTo(0100755);
        assertThat(KillPriv.killedMode(0102767, 7, 1000, 7)).as("no group exec, caller in the group: kept")
                .isEqualTo(0102767);
        assertThat(KillPriv.killedMode(0102767, 7, 1000, 8)).as("no group exec, caller outside the group")
                .isEqualTo(0100767);
        assertThat(KillPriv.killedMode(0102767, 7, 0, 8)).as("no group exec, root (capable)").isEqualTo(0102767);
        assertThat(KillPriv.killedMode(0100777, 0, 1000, 1000)).isEqualTo(0100777);
    }

    @Test
    void kill_changes_the_mode_once_and_drops_security_capability() throws Exception {
        TrackedMemoryVfs vfs = TrackedMemoryVfs.create();
        VfsWrite w = vfs.capability(VfsWrite.class).orElseThrow();
        VfsXattr x = vfs.capability(VfsXattr.class).orElse(null);
        InodeAttr f = vfs.mknod(vfs.rootIno(), "f", 0106775, 0, 0, 0);
        KillPriv k = new KillPriv(vfs, w, x);
        assertThat(k.kill(f.ino(), 1000, 1000)).isTrue();
        assertThat(vfs.getattr(f.ino()).mode()).isEqualTo(0100775);
        assertThat(k.kill(f.ino(), 1000, 1000)).as("nothing left to kill").isFalse();
        if (x != null) {
            x.setxattr(f.ino(), KillPriv.SECURITY_CAPABILITY, new byte[] {1, 2, 3}, 0);
            assertThat(k.kill(f.ino(), 1000, 1000)).isTrue();
            assertThat(x.listxattr(f.ino())).doesNotContain(KillPriv.SECURITY_CAPABILITY);
        }
        w.setattr(f.ino(), SetAttr.mode(04755));
        assertThat(k.fold(f.ino(), SetAttr.size(0), 1000, 1000)).as("truncate with the kill folded in")
                .isEqualTo(new SetAttr(0755, null, null, 0L, null, null, false, false));
        assertThat(k.fold(f.ino(), SetAttr.mode(04700), 1000, 1000)).as("an explicit mode wins")
                .isEqualTo(SetAttr.mode(04700));
    }
}
