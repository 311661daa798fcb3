package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import org.iomap4j.fuse.FuseIn.InitIn;
import org.junit.jupiter.api.Test;

/**
 * INIT with a Vfs that stores POSIX ACLs: FUSE_POSIX_ACL (the kernel enforces ACLs, default_permissions implied)
 * comes with FUSE_DONT_MASK (the kernel sends create modes unmasked plus the umask, which the Vfs applies unless a
 * default ACL decides: fs/fuse/dir.c masks with current_umask() itself without it); neither is asked for
 * otherwise, and neither is granted when the kernel does not offer it.
 */
class FuseInitAclTest {
    private static final long OFFERED = FuseAbi.FUSE_ASYNC_READ | FuseAbi.FUSE_POSIX_ACL | FuseAbi.FUSE_DONT_MASK;

    @Test
    void posixAclVfs_asksForPosixAclAndDontMask() throws Exception {
        FuseInit.InitOut out = new FuseInit(false, 256, true).negotiate(new InitIn(7, 45, 4096, OFFERED));
        assertThat(out.flags() & (FuseAbi.FUSE_POSIX_ACL | FuseAbi.FUSE_DONT_MASK))
                .isEqualTo(FuseAbi.FUSE_POSIX_ACL | FuseAbi.FUSE_DONT_MASK);
        FuseInit.InitOut without = new FuseInit(false, 256).negotiate(new InitIn(7, 45, 4096, OFFERED));
        assertThat(without.flags() & (FuseAbi.FUSE_POSIX_ACL | FuseAbi.FUSE_DONT_MASK)).isZero();
        FuseInit.InitOut notOffered = new FuseInit(false, 256, true)
                .negotiate(new InitIn(7, 45, 4096, FuseAbi.FUSE_ASYNC_READ));
        assertThat(notOffered.flags() & (FuseAbi.FUSE_POSIX_ACL | FuseAbi.FUSE_DONT_MASK)).isZero();
        assertThat(new FuseInit(false, 256, true).dontMask()).as("nothing granted before INIT").isFalse();
    }
}
