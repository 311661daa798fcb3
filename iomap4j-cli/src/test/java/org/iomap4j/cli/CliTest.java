package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every subcommand of {@code iomapfs} without mounting, checked against e2fsprogs (e2fsck, debugfs, dumpe2fs) and
 * against the host files that were copied in; and the bad inputs a user will try.
 */
class CliTest {
    @TempDir
    Path tmp;

    private Path mkfs(String name, String size) {
        Path img = tmp.resolve(name);
        Cli.Run r = Cli.run("mkfs", img.toString(), "--size", size);
        assertThat(r.exit()).as(r.toString()).isZero();
        return img;
    }

    /** A host tree with the sizes that cross block and indirect-block boundaries, a symlink and a subdirectory. */
    private Path hostTree(long seed) throws IOException {
        Random rnd = new Random(seed);
        Path root = tmp.resolve("host");
        Files.createDirectories(root.resolve("sub/deeper"));
        int[] sizes = {0, 1, 4095, 4096, 4097, 12 * 4096, 13 * 4096 + 7, 5 << 20};
        for (int i = 0; i < sizes.length; i++) {
            byte[] b = new byte[sizes[i]];
            rnd.nextBytes(b);
            Files.write(root.resolve((i % 2 == 0 ? "" : "sub/") + "f" + sizes[i]), b);
        }
        Files.writeString(root.resolve("sub/deeper/note.txt"), "deep\n");
        Files.setPosixFilePermissions(root.resolve("sub/deeper/note.txt"), PosixFilePermissions.fromString("rwxr-x---"));
        Files.createSymbolicLink(root.resolve("sub/link"), Path.of("deeper/note.txt"));
        return root;
    }

    private static List<Path> files(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).map(root::relativize).sorted().toList();
        }
    }

    @Test
    void mkfs_infoAndDf_agreeWithDumpe2fs() {
        Path img = mkfs("a.img", "64M");
        Ext2Tools.assertFsckClean(img);
        Cli.Run info = Cli.run("info", img.toString());
        assertThat(info.exit()).as(info.toString()).isZero();
        String dump = Ext2Tools.run("dumpe2fs", "-h", img.toString()).ok().stdout();
        for (String key : List.of("Block count:", "Inode count:", "Free blocks:", "Free inodes:", "Block size:",
                "Blocks per group:", "Inode size:")) {
            assertThat(field(info.out(), key)).as(key).isEqualTo(field(dump, key));
        }
        assertThat(field(info.out(), "Filesystem state:")).isEqualTo("clean");
        Cli.Run df = Cli.run("df", img.toString());
        assertThat(df.exit()).as(df.toString()).isZero();
        long freeBlocks = Long.parseLong(field(dump, "Free blocks:"));
        long reserved = Long.parseLong(field(dump, "Reserved block count:"));
        String[] cols = df.out().lines().toList().get(1).trim().split("\\s+");
        assertThat(Long.parseLong(cols[3])).as("available KiB").isEqualTo((freeBlocks - reserved) * 4);
        assertThat(Ext2Tools.e2fsck(img).exitCode()).as("info/df leave the image clean").isZero();
    }

    private static String field(String text, String key) {
        return text.lines().filter(l -> l.startsWith(key)).findFirst()
                .map(l -> l.substring(key.length()).trim()).orElse("<missing " + key + ">");
    }

    @Test
    void cpIn_tree_thenLsCatStat_andDebugfsSeeTheSameBytes() throws IOException {
        Path img = mkfs("a.img", "64M");
        Path host = hostTree(7);
        Cli.Run cp = Cli.run("cp", "-r", "--no-progress", host.toString(), img + ":/");
        assertThat(cp.exit()).as(cp.toString()).isZero();
        Ext2Tools.assertFsckClean(img);
        for (Path rel : files(host)) {
            byte[] expected = Files.readAllBytes(host.resolve(rel));
            String inner = "/host/" + rel;
            assertThat(Ext2Tools.debugfsDump(img, inner, tmp)).as("debugfs dump " + inner).isEqualTo(expected);
            Cli.Run cat = Cli.run("cat", img + ":" + inner);
            assertThat(cat.exit()).as(cat.toString()).isZero();
            assertThat(cat.bytes()).as("cat " + inner).isEqualTo(expected);
        }
        Cli.Run ls = Cli.run("ls", "-l", "-R", img + ":/host");
        assertThat(ls.exit()).as(ls.toString()).isZero();
        assertThat(ls.out()).contains("f5242880", "sub:", "link -> deeper/note.txt", "-rwxr-x---");
        Cli.Run stat = Cli.run("stat", img + ":/host/sub/deeper/note.txt");
        assertThat(stat.out()).contains("Size: 5 ", "(0750/-rwxr-x---)");
        String debugfsStat = Ext2Tools.debugfs(img, "stat /host/sub/deeper/note.txt").stdout();
        assertThat(debugfsStat).contains("Mode:  0750");
        Cli.Run lsLink = Cli.run("stat", img + ":/host/sub/link");
        assertThat(lsLink.out()).contains("symbolic link", "-> deeper/note.txt");
    }

    @Test
    void cpOut_roundTripsTree_withModesAndSymlinks() throws IOException {
        Path img = mkfs("a.img", "64M");
        Path host = hostTree(11);
        assertThat(Cli.run("cp", "-r", "--no-progress", host.toString(), img + ":/").exit()).isZero();
        Path back = Files.createDirectory(tmp.resolve("back"));
        Cli.Run out = Cli.run("cp", "-r", "--no-progress", img + ":/host", back.toString());
        assertThat(out.exit()).as(out.toString()).isZero();
        assertThat(files(back.resolve("host"))).isEqualTo(files(host));
        for (Path rel : files(host)) {
            assertThat(Files.readAllBytes(back.resolve("host").resolve(rel))).as(rel.toString())
                    .isEqualTo(Files.readAllBytes(host.resolve(rel)));
            assertThat(Files.getPosixFilePermissions(back.resolve("host").resolve(rel)))
                    .isEqualTo(Files.getPosixFilePermissions(host.resolve(rel)));
        }
        assertThat(Files.readSymbolicLink(back.resolve("host/sub/link"))).isEqualTo(Path.of("deeper/note.txt"));
        assertThat(Files.getLastModifiedTime(back.resolve("host/f0")).toMillis() / 1000)
                .isEqualTo(Files.getLastModifiedTime(host.resolve("f0")).toMillis() / 1000);
    }

    @Test
    void fiemap_listsTheBlocksDebugfsReports() throws IOException {
        Path img = mkfs("a.img", "64M");
        Path host = hostTree(3);
        assertThat(Cli.run("cp", "-r", "--no-progress", host.toString(), img + ":/").exit()).isZero();
        Cli.Run fm = Cli.run("fiemap", img + ":/host/sub/f5242880");
        assertThat(fm.exit()).as(fm.toString()).isZero();
        List<Long> fromFiemap = new ArrayList<>();
        for (String line : fm.out().lines().toList()) {
            String[] f = line.trim().split("[\\s:.]+");
            if (f.length >= 6 && f[0].matches("\\d+") && line.contains("..")) {
                long p0 = Long.parseLong(f[3]);
                long p1 = Long.parseLong(f[4]);
                for (long p = p0; p <= p1; p++) {
                    fromFiemap.add(p);
                }
            }
        }
        List<Long> fromDebugfs = new ArrayList<>();
        for (Ext2Tools.BlockRun run : Ext2Tools.debugfsDataRuns(img, "/host/sub/f5242880")) {
            for (long i = 0; i < run.nrBlocks(); i++) {
                fromDebugfs.add(run.pblk() + i);
            }
        }
        assertThat(fromFiemap).hasSize((5 << 20) / 4096).containsExactlyElementsOf(fromDebugfs);
        assertThat(fm.out()).contains("last,eof");
    }

    @Test
    void badInput_clearErrors_andExitCodes() throws IOException {
        Path img = mkfs("a.img", "64M");
        // Image missing: not an IMAGE:/PATH at all -> usage error.
        Cli.Run missing = Cli.run("ls", tmp.resolve("nope.img") + ":/");
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("nope.img");
        // Not ext2.
        Path junk = tmp.resolve("junk.img");
        byte[] noise = new byte[1 << 20];
        new Random(5).nextBytes(noise);
        Files.write(junk, noise);
        Cli.Run notExt2 = Cli.run("ls", junk + ":/");
        assertThat(notExt2.exit()).isEqualTo(1);
        assertThat(notExt2.err()).contains("junk.img").doesNotContain("Exception");
        // Path not found.
        Cli.Run nf = Cli.run("cat", img + ":/no/such");
        assertThat(nf.exit()).isEqualTo(1);
        assertThat(nf.err()).contains(img + ":/no/such", "no such file");
        // cp target exists.
        Path f = Files.writeString(tmp.resolve("x.txt"), "x");
        assertThat(Cli.run("cp", f.toString(), img + ":/x.txt").exit()).isZero();
        Cli.Run again = Cli.run("cp", f.toString(), img + ":/x.txt");
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).contains("exists");
        // Usage errors.
        assertThat(Cli.run("cp", f.toString()).exit()).isEqualTo(2);
        assertThat(Cli.run("mkfs", tmp.resolve("b.img").toString(), "--size", "lots").exit()).isEqualTo(2);
        assertThat(Cli.run("frobnicate").exit()).isEqualTo(2);
        Cli.Run dir = Cli.run("cp", tmp.resolve("host-missing").toString(), img + ":/");
        assertThat(dir.exit()).isEqualTo(1);
        Ext2Tools.assertFsckClean(img);
    }

    @Test
    void cpOut_refusesSymlinksPointingOutside_andKeepsTheRest() throws IOException {
        Path img = mkfs("a.img", "64M");
        Path src = Files.createDirectories(tmp.resolve("evil"));
        Files.writeString(src.resolve("ok.txt"), "fine");
        Files.createSymbolicLink(src.resolve("up"), Path.of("../../../../etc"));
        Files.createSymbolicLink(src.resolve("abs"), Path.of("/etc/passwd"));
        Files.createSymbolicLink(src.resolve("inside"), Path.of("ok.txt"));
        assertThat(Cli.run("cp", "-r", src.toString(), img + ":/").exit()).isZero();
        Path dst = Files.createDirectory(tmp.resolve("dst"));
        Cli.Run r = Cli.run("cp", "-r", img + ":/evil", dst.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("outside the target directory");
        assertThat(Files.exists(dst.resolve("evil/up"), LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(Files.exists(dst.resolve("evil/abs"), LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(Files.readString(dst.resolve("evil/ok.txt"))).isEqualTo("fine");
        assertThat(Files.readSymbolicLink(dst.resolve("evil/inside"))).isEqualTo(Path.of("ok.txt"));
        assertThat(CpCommand.safeName("..")).isFalse();
        assertThat(CpCommand.safeName("a/b")).isFalse();
        assertThat(CpCommand.safeName("ok")).isTrue();
    }

    @Test
    void writingCp_isRefused_whileTheImageIsOpenForWriting() throws IOException {
        Path img = mkfs("a.img", "64M");
        Path f = Files.writeString(tmp.resolve("x.txt"), "x");
        try (OpenImage held = OpenImage.open(img, false)) {
            Cli.Run r = Cli.run("cp", f.toString(), img + ":/x.txt");
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).contains("in use");
            assertThat(held.vfs().isReadOnly()).isFalse();
        }
        assertThat(Cli.run("cp", f.toString(), img + ":/x.txt").exit()).isZero();
    }

    @Test
    void trainAotRunsItsWorkloadsAndLeavesNothingBehind() throws IOException {
        Path work = tmp.resolve("train");
        Cli.Run r = Cli.run("train-aot", work.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        // As root with /dev/fuse (CI), the FUSE workload runs too: it mounts, drives the mount and unmounts.
        boolean fuse = Files.isWritable(Path.of("/dev/fuse")) && "root".equals(System.getProperty("user.name"));
        assertThat(r.out()).contains(fuse ? "library and FUSE workloads done" : "library workload done");
        try (Stream<Path> left = Files.list(work)) {
            assertThat(left).as("scratch image and mount point removed").isEmpty();
        }
        assertThat(Cli.run("--help").out()).as("hidden from help").doesNotContain("train-aot");
    }
}
