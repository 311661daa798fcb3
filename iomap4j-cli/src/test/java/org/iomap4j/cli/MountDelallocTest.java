package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delayed allocation is {@code iomapfs mount}'s default on extent images, as it is the kernel's ext4 default, and
 * {@code --nodelalloc} turns it off as the kernel's mount option does. Two files written through the mount in
 * interleaved 4 KiB writes: with delalloc each is allocated at writeback as whole dirty runs, so it lands in a few
 * extents (debugfs {@code ex} counts them after unmount); both ways the bytes survive and e2fsck is clean.
 */
class MountDelallocTest {
    private static final int CHUNKS = 48;
    @TempDir
    Path tmp;

    @Test
    void delallocByDefault_fewExtentsForInterleavedWriters_nodelallocOptOut() throws Exception {
        MountedImage.requireFuse();
        byte[] chunk = new byte[4096];
        new Random(5).nextBytes(chunk);
        Path src = Files.write(tmp.resolve("chunk"), chunk);
        for (boolean nodelalloc : new boolean[] {false, true}) {
            Path img = Ext2Tools.mkfsExt4(tmp.resolve("d" + nodelalloc + ".img"), 64L << 20, "-b", "4096", "-O",
                    "^has_journal");
            Path mnt = Files.createDirectory(tmp.resolve("mnt" + nodelalloc));
            String[] extra = nodelalloc ? new String[] {"--warmup-ms", "0", "--nodelalloc"}
                    : new String[] {"--warmup-ms", "0"};
            try (MountedImage m = MountedImage.start(img, mnt, extra)) {
                assertThat(m.output.toString()).contains("(read-write");
                if (nodelalloc) {
                    assertThat(m.output.toString()).contains(", nodelalloc)");
                } else {
                    assertThat(m.output.toString()).doesNotContain("nodelalloc");
                }
                String M = mnt.toString();
                Ext2Tools.run("sh", "-c", "i=0; while [ $i -lt " + CHUNKS + " ]; do for f in a b; do dd if=" + src
                        + " of=" + M + "/$f bs=4096 seek=$i conv=notrunc status=none || exit 1; done; i=$((i+1));"
                        + " done").ok();
                Cli.Run um = Cli.run("umount", M);
                assertThat(um.exit()).as(um.toString()).isZero();
                assertThat(m.awaitExit()).as(m.output.toString()).isZero();
            }
            Ext2Tools.assertFsckClean(img);
            byte[] expect = new byte[CHUNKS * 4096];
            for (int i = 0; i < CHUNKS; i++) {
                System.arraycopy(chunk, 0, expect, i * 4096, 4096);
            }
            for (String f : new String[] {"/a", "/b"}) {
                assertThat(Ext2Tools.debugfsDump(img, f, tmp)).as(f + " nodelalloc=" + nodelalloc).isEqualTo(expect);
                long extents = Ext2Tools.debugfs(img, "ex " + f).ok().stdout().lines()
                        .filter(l -> l.matches("^\\s*\\d+/\\s*\\d+\\s+.*")).count();
                System.out.println("MountDelallocTest: " + f + " in " + extents + " extents, "
                        + (nodelalloc ? "nodelalloc" : "delalloc"));
                if (!nodelalloc) {
                    // Background writeback (every 5 s) may split a file's run once or twice; nodelalloc
                    // alternates a and b block by block (up to 48 extents each, unless the allocator preallocates).
                    assertThat(extents).as("extents of %s with delalloc", f).isBetween(1L, 6L);
                }
            }
        }
    }
}
