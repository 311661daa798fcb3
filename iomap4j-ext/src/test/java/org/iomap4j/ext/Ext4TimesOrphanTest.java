package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.InodeTimestamp;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Inode timestamps against the kernel's ext4 (signed seconds, epoch bits, nanoseconds where i_extra_isize leaves
 * room, the 32-bit clamp of 128-byte inodes, crtime), and the orphan list processed at a read-write mount
 * (images made with debugfs; oracles e2fsck -fn and debugfs).
 */
class Ext4TimesOrphanTest {
    @TempDir
    Path tmp;

    /** utimensat times: nanoseconds, before 1970, past 2038, past 2446 (beyond even the extra word: clamped). */
    static final Instant[] TIMES = {
        Instant.parse("1960-01-01T00:00:00.123456789Z"), Instant.parse("2100-01-01T00:00:00.5Z"),
        Instant.parse("2500-01-01T00:00:00.987654321Z"), Instant.parse("1901-12-13T20:45:52Z"),
        Instant.parse("2038-01-19T03:14:08.000000001Z"), Instant.parse("2025-06-30T12:34:56.000000007Z")};

    private static Instant of(long sec, int nsec) {
        return Instant.ofEpochSecond(sec, nsec);
    }

    /**
     * The differential: iomap4j and the kernel each set the same times on their own copy of one image; each
     * reads both copies; all four views agree, and e2fsck is clean on both.
     */
    @ParameterizedTest(name = "inode size {0}")
    @ValueSource(strings = {"256", "128"})
    void timestampsMatchTheKernelBothWays(String inodeSize) throws Exception {
        String why = Ext2Tools.loopMountUnavailableReason();
        Assumptions.assumeTrue(why == null, "kernel loop mount unavailable: " + why);
        Path start = Ext2Tools.mkfsExt4(tmp.resolve("t.img"), 32L << 20, "-I", inodeSize, "-O",
                "^has_journal,^extent,^64bit,^metadata_csum");
        Path ours = Files.copy(start, tmp.resolve("ours.img"));
        Path kern = Files.copy(start, tmp.resolve("kernel.img"));
        try (ExtFileSystem fs = ExtFileSystem.mount(ours, ExtMountOptions.defaults())) {
            for (int k = 0; k < TIMES.length; k++) {
                Vfs.Created c = fs.create(fs.rootIno(), "t" + k, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                fs.release(c.handle());
                Instant t = TIMES[k];
                Instant a = t.minusSeconds(86_400 * 3).plusNanos(1);
                fs.setattr(c.attr().ino(), SetAttr.times(a.getEpochSecond(), a.getNano(), t.getEpochSecond(),
                        t.getNano()));
                fs.forget(c.attr().ino(), 1);
            }
        }
        List<Instant[]> kernelView = new ArrayList<>();
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(kern, tmp, false, "ext4")) {
            for (int k = 0; k < TIMES.length; k++) {
                Path p = Files.createFile(m.root().resolve("t" + k));
                Instant t = TIMES[k];
                // coreutils touch: utimensat with nanoseconds (the JDK's setTimes refuses times before 1970)
                Ext2Tools.run("touch", "-m", "-d", t.toString(), p.toString()).ok();
                Ext2Tools.run("touch", "-a", "-d", t.minusSeconds(86_400 * 3).plusNanos(1).toString(), p.toString())
                        .ok();
            }
            for (int k = 0; k < TIMES.length; k++) {
                kernelView.add(kernelTimes(m.root().resolve("t" + k)));
            }
        }
        // The kernel's own result is the expectation; it must have clamped / truncated as documented.
        boolean extra = inodeSize.equals("256");
        for (int k = 0; k < TIMES.length; k++) {
            // timestamp_truncate: clamp to [S32_MIN, max], nanoseconds dropped at a bound or without the extra word
            long max = extra ? InodeTimestamp.MAX_EXTRA_SECONDS : Integer.MAX_VALUE;
            long sec = Math.clamp(TIMES[k].getEpochSecond(), Integer.MIN_VALUE, max);
            int nsec = extra && sec != max && sec != Integer.MIN_VALUE ? TIMES[k].getNano() : 0;
            assertThat(kernelView.get(k)[1]).as("kernel mtime t" + k).isEqualTo(of(sec, nsec));
        }
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(ours, tmp, true, "ext4")) {
            for (int k = 0; k < TIMES.length; k++) {
                assertThat(kernelTimes(m.root().resolve("t" + k))).as("kernel reading our t" + k)
                        .containsExactly(kernelView.get(k));
            }
        }
        for (Path img : List.of(ours, kern)) {
            try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
                for (int k = 0; k < TIMES.length; k++) {
                    InodeAttr a = fs.lookupPath("/t" + k);
                    assertThat(new Instant[] {of(a.atimeSec(), a.atimeNsec()), of(a.mtimeSec(), a.mtimeNsec())})
                            .as("iomap4j reading " + img.getFileName() + " t" + k).containsExactly(kernelView.get(k));
                }
            }
        }
        Ext2Tools.assertFsckClean(ours);
        Ext2Tools.assertFsckClean(kern);
    }

    /** atime and mtime as the kernel reports them (stat(1) "%.9X %.9Y": signed seconds with 9 decimals). */
    private static Instant[] kernelTimes(Path p) {
        String[] f = Ext2Tools.run("stat", "-c", "%.9X %.9Y", p.toString()).ok().stdout().trim().split(" ");
        return new Instant[] {parse(f[0]), parse(f[1])};
    }

    private static Instant parse(String decimal) {
        java.math.BigDecimal d = new java.math.BigDecimal(decimal);
        java.math.BigDecimal sec = d.setScale(0, java.math.RoundingMode.FLOOR);
        return Instant.ofEpochSecond(sec.longValueExact(), d.subtract(sec).movePointRight(9).intValueExact());
    }

    /** New inodes get i_extra_isize (s_want_extra_isize) and crtime on 256-byte inodes, none on 128-byte ones. */
    @Test
    void newInodesGetExtraIsizeAndCrtime() throws Exception {
        for (String size : List.of("256", "128")) {
            // ^metadata_csum: directory block checksums are the directory room's (not written here yet)
            Path img = Ext2Tools.mkfsExt4(tmp.resolve("x" + size + ".img"), 16L << 20, "-I", size, "-O",
                    "^has_journal,^extent,^64bit,^metadata_csum");
            long ino;
            Instant before = Instant.now().minusSeconds(1);
            try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
                ino = fs.mkdir(fs.rootIno(), "d", 0755, 0, 0).ino();
                fs.forget(ino, 1);
            }
            Ext2Tools.assertFsckClean(img);
            DiskInode d = Ext4MetadataTest.inode(img, ino);
            if (size.equals("256")) {
                assertThat(d.extraIsize()).isEqualTo(Ext4MetadataTest.superblock(img).wantExtraIsize()).isEqualTo(32);
                assertThat(d.crtimeTs()).isNotNull();
                assertThat(of(d.crtimeTs().seconds(), d.crtimeTs().nanos())).isAfter(before);
                assertThat(Ext2Tools.debugfs(img, "stat /d").ok().stdout()).contains("crtime:");
            } else {
                assertThat(d.extraIsize()).isZero();
                assertThat(d.crtimeTs()).isNull();
            }
        }
    }

    // ---------------------------------------------------------------- orphans

    /**
     * s_last_orphan -> a (unlinked, links 0) -> b (linked, i_size cut to 5000 with its blocks still allocated,
     * an interrupted truncate): a read-write mount frees a and b's blocks past 5000 bytes, empties the list, and
     * the image is e2fsck clean with b's first 5000 bytes intact.
     */
    @ParameterizedTest(name = "mkfs.ext4 -O {0}")
    @ValueSource(strings = {"^has_journal,^extent,^64bit", "^has_journal,^extent,^64bit,^metadata_csum,uninit_bg"})
    void orphanListIsProcessedAtMount(String features) throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("o.img"), 32L << 20, "-b", "1024", "-O", features);
        byte[] data = new byte[300_000];
        new Random(7).nextBytes(data);
        Path src = Files.write(tmp.resolve("src.bin"), data);
        Ext2Tools.debugfsScript(img, List.of("write " + src + " a", "write " + src + " b"), tmp);
        long a;
        long b;
        long freeWithoutA;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            a = fs.lookupPath("/a").ino();
            b = fs.lookupPath("/b").ino();
            freeWithoutA = fs.superblock().freeBlocksCount();
        }
        Ext2Tools.debugfsScript(img, List.of("unlink /a", "sif <" + a + "> links_count 0", "sif <" + a + "> dtime " + b,
                "sif <" + b + "> size 5000", "sif <" + b + "> dtime 0", "ssv last_orphan " + a), tmp);
        assertThat(Ext2Tools.e2fsck(img).exitCode()).as("the image needs its orphans processed").isNotZero();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            assertThat(fs.lookupPath("/b").sizeBytes()).isEqualTo(5000);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext4MetadataTest.superblock(img).lastOrphan()).isZero();
        assertThat(Ext2Tools.debugfsDump(img, "/b", tmp)).isEqualTo(Arrays.copyOf(data, 5000));
        long bBlocks = (5000 + 1023) / 1024;
        assertThat(Ext2Tools.debugfs(img, "testi <" + a + ">").ok().stdout()).contains("not in use");
        // a's blocks and b's blocks past 5000 bytes (data and the indirect block) are free again.
        long free = Ext4MetadataTest.superblock(img).freeBlocksCount();
        assertThat(free).isGreaterThan(freeWithoutA + (data.length / 1024 - bBlocks));
    }

    @Test
    void loopingOrphanListIsNamedNotAHang() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("l.img"), 16L << 20, "-O", "^has_journal,^extent,^64bit");
        Path src = Files.write(tmp.resolve("s.bin"), new byte[3000]);
        Ext2Tools.debugfsScript(img, List.of("write " + src + " b"), tmp);
        long b;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            b = fs.lookupPath("/b").ino();
        }
        Ext2Tools.debugfsScript(img, List.of("sif <" + b + "> dtime " + b, "ssv last_orphan " + b), tmp);
        assertThatThrownBy(() -> ExtFileSystem.mount(img, ExtMountOptions.defaults()).close())
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("orphan list")
                .hasMessageContaining("inode " + b);
    }
}
