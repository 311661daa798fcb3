package org.iomap4j.fuse;

import java.util.Locale;

import org.iomap4j.vfs.Vfs;

/**
 * The kernel's open(2) flag values on one architecture and their translation to the {@link Vfs} contract's
 * {@code O_*} bits (wire layer). It exists because FUSE OPEN and CREATE carry the kernel's raw {@code f_flags},
 * whose values differ by architecture, while the Vfs has bits of its own.
 *
 * <p>Sources: include/uapi/asm-generic/fcntl.h (x86-64, riscv64, and the defaults), and
 * arch/arm64/include/uapi/asm/fcntl.h (= arch/arm's): O_DIRECTORY 040000, O_NOFOLLOW 0100000, O_DIRECT 0200000,
 * O_LARGEFILE 0400000. Other architectures (alpha, mips, parisc, powerpc and sparc have other layouts) are refused
 * until someone checks their header.
 *
 * <p>Immutable and thread-safe. Translation of the asm-generic layout is a mask (the Vfs bits equal it); arm64's
 * moves the four bits.
 */
final class OpenFlagsAbi {
    /** Each Vfs flag bit (single bits; O_ACCMODE and O_SYNC's __O_SYNC part handled as plain bits). */
    private static final int[] VFS_BITS = {
        Vfs.O_CREAT, Vfs.O_EXCL, Vfs.O_NOCTTY, Vfs.O_TRUNC, Vfs.O_APPEND, Vfs.O_NONBLOCK, Vfs.O_DSYNC, Vfs.O_ASYNC,
        Vfs.O_DIRECT, Vfs.O_LARGEFILE, Vfs.O_DIRECTORY, Vfs.O_NOFOLLOW, Vfs.O_NOATIME, Vfs.O_CLOEXEC,
        Vfs.O_SYNC & ~Vfs.O_DSYNC, Vfs.O_PATH,
    };

    /** asm-generic/fcntl.h values, in {@link #VFS_BITS} order. */
    private static final int[] GENERIC = {
        0100, 0200, 0400, 01000, 02000, 04000, 010000, 020000,
        040000, 0100000, 0200000, 0400000, 01000000, 02000000,
        04000000, 010000000,
    };

    /** arm64 (and arm): asm-generic with O_DIRECT, O_LARGEFILE, O_DIRECTORY and O_NOFOLLOW moved. */
    private static final int[] ARM64 = {
        0100, 0200, 0400, 01000, 02000, 04000, 010000, 020000,
        0200000, 0400000, 040000, 0100000, 01000000, 02000000,
        04000000, 010000000,
    };

    static final OpenFlagsAbi GENERIC_ABI = new OpenFlagsAbi("asm-generic", GENERIC);
    static final OpenFlagsAbi ARM64_ABI = new OpenFlagsAbi("arm64", ARM64);

    private final String name;
    private final int[] kernelBits;
    private final boolean identity;
    private final int kernelKnown;

    private OpenFlagsAbi(String name, int[] kernelBits) {
        this.name = name;
        this.kernelBits = kernelBits;
        boolean same = true;
        int known = Vfs.O_ACCMODE;
        for (int i = 0; i < kernelBits.length; i++) {
            same &= kernelBits[i] == VFS_BITS[i];
            known |= kernelBits[i];
        }
        this.identity = same;
        this.kernelKnown = known;
    }

    /** The layout of the running JVM's architecture ({@code os.arch}). */
    static OpenFlagsAbi host() {
        return forArch(System.getProperty("os.arch", ""));
    }

    /**
     * The layout for a Java {@code os.arch} name: amd64/x86_64 and riscv64 (asm-generic), aarch64/arm64.
     *
     * @throws IllegalArgumentException for an architecture with another layout or an unknown one
     */
    static OpenFlagsAbi forArch(String osArch) {
        return switch (osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64", "riscv64" -> GENERIC_ABI;
            case "aarch64", "arm64" -> ARM64_ABI;
            default -> throw new IllegalArgumentException("open(2) flag layout of architecture '" + osArch
                    + "' is not known (asm-generic and arm64 are)");
        };
    }

    /** The kernel's flags as Vfs bits; bits the table does not know are dropped. */
    int toVfs(int kernelFlags) {
        if (identity) {
            return kernelFlags & kernelKnown;
        }
        int out = kernelFlags & Vfs.O_ACCMODE;
        for (int i = 0; i < kernelBits.length; i++) {
            if ((kernelFlags & kernelBits[i]) != 0) {
                out |= VFS_BITS[i];
            }
        }
        return out;
    }

    /** Vfs bits as this architecture's kernel flags (for building requests: tests, warm-up). */
    int toKernel(int vfsFlags) {
        int out = vfsFlags & Vfs.O_ACCMODE;
        for (int i = 0; i < kernelBits.length; i++) {
            if ((vfsFlags & VFS_BITS[i]) != 0) {
                out |= kernelBits[i];
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return name;
    }
}
