package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.iomap4j.fuse.WireHarness.Answer;
import org.iomap4j.fuse.testing.TrackedMemoryVfs;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;

/**
 * Open flags from the kernel's per-architecture values to the Vfs contract's bits. Oracle: the values of
 * include/uapi/asm-generic/fcntl.h and arch/arm64/include/uapi/asm/fcntl.h, written here as literals.
 */
final class OpenFlagsAbiTest {
    // arm64: O_DIRECTORY 040000, O_NOFOLLOW 0100000, O_DIRECT 0200000, O_LARGEFILE 0400000
    private static final int ARM64_O_DIRECTORY = 040000;
    private static final int ARM64_O_NOFOLLOW = 0100000;
    private static final int ARM64_O_DIRECT = 0200000;
    private static final int ARM64_O_LARGEFILE = 0400000;

    @Test
    void the_architecture_is_chosen_from_os_arch() {
        assertThat(OpenFlagsAbi.forArch("amd64")).isSameAs(OpenFlagsAbi.GENERIC_ABI);
        assertThat(OpenFlagsAbi.forArch("riscv64")).isSameAs(OpenFlagsAbi.GENERIC_ABI);
        assertThat(OpenFlagsAbi.forArch("aarch64")).isSameAs(OpenFlagsAbi.ARM64_ABI);
        assertThatThrownBy(() -> OpenFlagsAbi.forArch("ppc64le")).isInstanceOf(IllegalArgumentException.class);
        assertThat(OpenFlagsAbi.host()).isNotNull();
    }

    @Test
    void aarch64_flags_move_to_the_vfs_bits() {
        OpenFlagsAbi arm = OpenFlagsAbi.ARM64_ABI;
        assertThat(arm.toVfs(ARM64_O_DIRECT | 2)).isEqualTo(Vfs.O_DIRECT | Vfs.O_RDWR);
        assertThat(arm.toVfs(ARM64_O_DIRECTORY)).isEqualTo(Vfs.O_DIRECTORY);
        assertThat(arm.toVfs(ARM64_O_NOFOLLOW)).isEqualTo(Vfs.O_NOFOLLOW);
        assertThat(arm.toVfs(ARM64_O_LARGEFILE)).isEqualTo(Vfs.O_LARGEFILE);
        // The bit that is O_DIRECT on x86-64 is O_DIRECTORY on arm64: never O_DIRECT there.
        assertThat(arm.toVfs(040000) & Vfs.O_DIRECT).isZero();
        // Shared bits stay put: O_CREAT|O_EXCL|O_TRUNC|O_APPEND|O_NONBLOCK|O_DSYNC|O_NOATIME|O_CLOEXEC|O_SYNC|O_PATH
        int common = 0100 | 0200 | 01000 | 02000 | 04000 | 010000 | 01000000 | 02000000 | 04010000 | 010000000;
        assertThat(arm.toVfs(common | 1)).isEqualTo(common | 1);
        for (int bit = 0; bit < 31; bit++) {
            int vfs = 1 << bit & Vfs.O_KNOWN;
            assertThat(arm.toVfs(arm.toKernel(vfs))).as("round trip of bit %d", bit).isEqualTo(vfs);
        }
    }

    @Test
    void asm_generic_is_the_identity_on_known_bits_and_drops_unknown_ones() {
        OpenFlagsAbi x86 = OpenFlagsAbi.GENERIC_ABI;
        assertThat(x86.toVfs(040000 | 0100000 | 2)).isEqualTo(Vfs.O_DIRECT | Vfs.O_LARGEFILE | Vfs.O_RDWR);
        assertThat(x86.toVfs(Vfs.O_KNOWN)).isEqualTo(Vfs.O_KNOWN);
        assertThat(x86.toVfs(020000000)).as("__O_TMPFILE is not a Vfs flag").isZero();
        assertThat(x86.toKernel(Vfs.O_DIRECT)).isEqualTo(040000);
    }

    @Test
    void an_arm64_kernel_o_direct_open_gets_direct_io_and_the_vfs_sees_o_direct() throws Throwable {
        TrackedMemoryVfs vfs = TrackedMemoryVfs.create();
        InodeAttr f = vfs.mknod(vfs.rootIno(), "f", 0100644, 0, 0, 0);
        NodeBridge bridge = new NodeBridge(vfs, FuseOptions.defaults(), OpenFlagsAbi.ARM64_ABI);
        FuseServer s = new FuseServer(bridge.opTable(), false);
        try (WireHarness h = new WireHarness()) {
            // fuse_open_in {flags u32@0, open_flags@4}: arm64 O_RDWR|O_DIRECT|O_LARGEFILE
            h.send(s, FuseAbi.OPEN, f.ino(), WireHarness.le(8).putInt(0, 2 | ARM64_O_DIRECT | ARM64_O_LARGEFILE)
                    .array());
            Answer a = h.answer();
            assertThat(a.error()).isZero();
            assertThat(a.body().getInt(8)).as("FOPEN_DIRECT_IO").isEqualTo(FuseAbi.FOPEN_DIRECT_IO);
            assertThat(vfs.lastOpenFlags()).isEqualTo(Vfs.O_RDWR | Vfs.O_DIRECT | Vfs.O_LARGEFILE);
            // The x86-64 O_DIRECT value is O_DIRECTORY on arm64: a plain cached open.
            h.send(s, FuseAbi.OPEN, f.ino(), WireHarness.le(8).putInt(0, 040000).array());
            assertThat(h.answer().body().getInt(8)).isZero();
        }
    }
}
