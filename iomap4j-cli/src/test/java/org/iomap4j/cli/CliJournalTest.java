package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.iomap4j.ext.Ext2Tools;
import org.iomap4j.testkit.tools.HostTools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code iomapfs journal replay}: an ext3 image the kernel left needing recovery (loop mount, fsync'd writes, the
 * shutdown ioctl without log flush) is replayed in place, e2fsck -fn is clean afterwards and the fsync'd file reads
 * back; {@code ls}/{@code cat} before the replay read the image through an in-memory replay and leave it unchanged.
 */
class CliJournalTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void replayAKernelCrashedExt3Image() throws Exception {
        Path img = kernelCrashedExt3("j.img");
        byte[] before = Files.readAllBytes(img);
        Cli.Run cat = Cli.run("cat", img + ":/dir/synced.txt");
        assertThat(cat.exit()).as(cat.toString()).isZero();
        assertThat(new String(cat.bytes())).isEqualTo("made durable by fsync\n");
        assertThat(Files.readAllBytes(img)).as("cat replays in memory only").isEqualTo(before);

        Cli.Run r = Cli.run("journal", "replay", img.toString());
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("replayed transactions");
        assertThat(Ext2Tools.run("dumpe2fs", "-h", img.toString()).stdout()).doesNotContain("needs_recovery");
        Ext2Tools.run("e2fsck", "-fn", img.toString()).ok();
        Cli.Run again = Cli.run("journal", "replay", img.toString());
        assertThat(again.exit()).as(again.toString()).isZero();
        assertThat(again.out()).contains("nothing replayed");
        Cli.Run cat2 = Cli.run("cat", img + ":/dir/synced.txt");
        assertThat(new String(cat2.bytes())).isEqualTo("made durable by fsync\n");
    }

    /** mkfs.ext3, a kernel loop mount, an fsync'd file, the shutdown ioctl without log flush: needs_recovery. */
    private Path kernelCrashedExt3(String name) throws Exception {
        for (String t : new String[] {"mkfs.ext3", "e2fsck", "dumpe2fs", "xfs_io"}) {
            Assumptions.assumeTrue(HostTools.which(t) != null, () -> {
                System.out.println("SKIP: tool '" + t + "' is not installed");
                return "tool '" + t + "' is not installed";
            });
        }
        String why = Ext2Tools.loopMountUnavailableReason();
        if (why != null) {
            System.out.println("SKIP: " + why);
            Assumptions.abort(why);
        }
        Path img = Ext2Tools.sparseImage(tmp.resolve(name), 32L << 20);
        Ext2Tools.run("mkfs.ext3", "-q", "-F", img.toString()).ok();
        Path mnt = Files.createDirectories(tmp.resolve(name + ".kmnt"));
        Ext2Tools.run("mount", "-t", "ext3", "-o", "loop", img.toString(), mnt.toString()).ok();
        try {
            Files.createDirectories(mnt.resolve("dir"));
            Files.writeString(mnt.resolve("dir/synced.txt"), "made durable by fsync\n");
            Ext2Tools.run("xfs_io", "-c", "fsync", mnt.resolve("dir/synced.txt").toString()).ok();
            Ext2Tools.run("xfs_io", "-x", "-c", "shutdown", mnt.toString()).ok();
        } finally {
            Ext2Tools.run("umount", mnt.toString()).ok();
        }
        assertThat(Ext2Tools.run("dumpe2fs", "-h", img.toString()).stdout()).contains("needs_recovery");

        return img;
    }

    /**
     * Through a real {@code iomapfs mount}: {@code --ro} serves the kernel's committed state from an in-memory
     * replay and leaves the image untouched; a read-write mount replays into the image and clears needs_recovery,
     * and e2fsck -fn is clean after the unmount.
     */
    @Test
    @Timeout(300)
    void fuseMountReplaysInMemoryReadOnlyAndIntoTheImageReadWrite() throws Exception {
        Path img = kernelCrashedExt3("m.img");
        Path mnt = Files.createDirectories(tmp.resolve("fmnt"));
        byte[] before = Files.readAllBytes(img);
        try (MountedImage m = MountedImage.start(img, mnt, "--ro")) {
            assertThat(Files.readString(mnt.resolve("dir/synced.txt"))).isEqualTo("made durable by fsync\n");
        }
        assertThat(Files.readAllBytes(img)).as("--ro mount replays in memory only").isEqualTo(before);
        try (MountedImage m = MountedImage.start(img, mnt)) {
            assertThat(Files.readString(mnt.resolve("dir/synced.txt"))).isEqualTo("made durable by fsync\n");
            assertThat(m.output.toString()).contains("journal replayed");
        }
        assertThat(Ext2Tools.run("dumpe2fs", "-h", img.toString()).stdout()).doesNotContain("needs_recovery");
        Ext2Tools.run("e2fsck", "-fn", img.toString()).ok();
    }

    @Test
    void imageWithoutJournalFailsWithAClearMessage() throws Exception {
        Path img = tmp.resolve("e2.img");
        Cli.Run mk = Cli.run("mkfs", img.toString(), "--size", "8M");
        assertThat(mk.exit()).as(mk.toString()).isZero();
        Cli.Run r = Cli.run("journal", "replay", img.toString());
        assertThat(r.exit()).as(r.toString()).isEqualTo(1);
        assertThat(r.err()).contains("no journal");
        Cli.Run missing = Cli.run("journal", "replay", tmp.resolve("nope.img").toString());
        assertThat(missing.exit()).isEqualTo(2);
    }
}
