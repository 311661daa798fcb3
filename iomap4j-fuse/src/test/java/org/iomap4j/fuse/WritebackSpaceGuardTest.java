package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.testkit.vfs.MemoryVfs;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;

/**
 * {@link WritebackSpaceGuard}'s states against a {@link MemoryVfs} whose free space the test consumes: plenty (write
 * opens cached), low (new opens direct, cached writers gated, their inodes named once for attribute invalidation),
 * reserve reached (the gate answers ENOSPC); the per-inode mode rule; direct writes kept off the kernel's dirty bound
 * while a cached writer is open. {@link BdiDirtyLimit}'s st_dev decoding against glibc's makedev layout.
 */
class WritebackSpaceGuardTest {
    private static final long MIB = 1 << 20;

    private final MemoryVfs vfs = new MemoryVfs(64 * MIB, 64);
    private FileHandle filler;
    private long fillerBytes;

    private long freeBytes() throws Exception {
        var s = vfs.statfs();
        return s.availBlocks() * s.blockSizeBytes();
    }

    /** Writes into a filler file until at most {@code targetFree} bytes are free. */
    private void fillTo(long targetFree) throws Exception {
        if (filler == null) {
            filler = vfs.create(vfs.rootIno(), "filler", 0100644, Vfs.O_RDWR, 0, 0).handle();
        }
        while (freeBytes() > targetFree) {
            int n = (int) Math.min(MIB, freeBytes() - targetFree);
            fillerBytes += vfs.write(filler, fillerBytes, ByteBuffer.allocate(Math.max(n, 4096)));
        }
    }

    @Test
    void plentyLowAndReserve_decideOpensAndGateCachedWriters() throws Exception {
        // B = 2 MiB, R = 8 MiB: low below 16 MiB free, the gate below 8 MiB.
        WritebackSpaceGuard g = new WritebackSpaceGuard(vfs, 8 * MIB, 2 * MIB, 64 * MIB);
        assertThat(g.reserveBytes()).isEqualTo(8 * MIB);
        assertThat(g.refresh()).isEmpty();
        assertThat(g.openForWrite(5)).as("plenty: cached").isFalse();
        assertThat(g.hasCachedWriter(5)).isTrue();
        assertThat(g.gated(5)).isFalse();
        g.checkCachedWrite(5);

        fillTo(15 * MIB);
        assertThat(g.refresh()).as("entering low names the cached writers once").containsExactly(5L);
        assertThat(g.refresh()).isEmpty();
        assertThat(g.gated(5)).isTrue();
        assertThat(g.openForWrite(6)).as("low: a new inode goes direct").isTrue();
        assertThat(g.openForWrite(5)).as("an inode with a cached writer stays cached").isFalse();
        g.checkCachedWrite(5); // ~15 MiB free: above the reserve
        g.checkUncachedWrite(6, MIB);

        fillTo(7 * MIB);
        assertThatThrownBy(() -> g.checkCachedWrite(5)).isInstanceOf(FsException.class)
                .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.ENOSPC));
        long free = freeBytes();
        assertThatThrownBy(() -> g.checkUncachedWrite(6, free - MIB))
                .as("a direct write may not take the kernel's dirty bound while a cached writer is open")
                .isInstanceOf(FsException.class);
        g.checkUncachedWrite(6, free - 2 * MIB);
        g.released(5, false);
        g.released(5, false);
        assertThat(g.hasCachedWriter(5)).isFalse();
        g.checkUncachedWrite(6, free); // nothing cached is open: everything may go
        assertThat(g.openForWrite(6)).as("an inode with a direct handle stays direct").isTrue();
        g.released(6, true);
        g.released(6, true);
        assertThat(g.openForWrite(7)).as("still low").isTrue();
    }

    @Test
    void automaticReserve_isTheBoundPlusASixteenthOfTheImage_cappedAt32MiB() {
        assertThat(new WritebackSpaceGuard(vfs, 0, 4 * MIB, 64 * MIB).reserveBytes()).isEqualTo(8 * MIB);
        assertThat(new WritebackSpaceGuard(vfs, 0, 48 * MIB, 1L << 40).reserveBytes()).isEqualTo(80 * MIB);
        assertThat(new WritebackSpaceGuard(vfs, 0, MIB, 4 * MIB).reserveBytes()).as("margin at least 1 MiB")
                .isEqualTo(2 * MIB);
        assertThat(new WritebackSpaceGuard(vfs, 8 * MIB, 48 * MIB, 1L << 40).reserveBytes())
                .as("an explicit reserve below twice the kernel's bound keeps half of it as margin")
                .isEqualTo(52 * MIB);
    }

    @Test
    void bdiName_decodesStDevAsGlibc() {
        assertThat(BdiDirtyLimit.name(53)).isEqualTo("0:53"); // makedev(0, 53)
        assertThat(BdiDirtyLimit.name((7L << 8) | 3)).isEqualTo("7:3");
        // makedev(259, 300): minor's high bits at 20.., major's high bits at 44..
        long dev = ((259L & 0xfff) << 8) | ((259L & ~0xfffL) << 32) | (300 & 0xff) | ((300L & ~0xffL) << 12);
        assertThat(BdiDirtyLimit.name(dev)).isEqualTo("259:300");
        assertThat(BdiDirtyLimit.boundBytes(10_000)).as("1% of a positive threshold").isPositive();
    }
}
