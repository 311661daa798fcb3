package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rough edges a new user hit (issue 15), each against real behaviour: what the CLI prints for bad command
 * lines, {@code ls IMAGE}, {@code info}'s read-only line, errors that do not repeat themselves, {@code ls -l} of
 * special files (the oracle: the host's own ls of the same files), symbolic link times through {@code cp -r} out
 * (the oracle: lstat), the cp progress bar only on a terminal (a child JVM with a pipe, then under script(1)),
 * build output without ANSI codes off a terminal, and the {@code ./iomapfs} launcher's staleness check (the real
 * script, with a stub Maven and JVM).
 */
class CliRoughEdgesTest {
    @TempDir
    Path tmp;

    private Path mkfs(String name) {
        Path img = tmp.resolve(name);
        Cli.Run r = Cli.run("mkfs", img.toString(), "--size", "32M");
        assertThat(r.exit()).as(r.toString()).isZero();
        return img;
    }

    private static Path repoRoot() {
        Path here = Path.of("").toAbsolutePath();
        return Files.exists(here.resolve("iomapfs")) ? here : here.getParent();
    }

    @Test
    void badCommandLine_isOneLinePlusWhereHelpIs_notTheWholeUsage() {
        Path img = mkfs("a.img");
        for (String[] args : List.of(new String[] {"mkfs", tmp.resolve("b.img").toString(), "--size", "lots"},
                new String[] {"ls", "--frobnicate", img.toString()}, new String[] {"cat"},
                new String[] {"cp", img + ":/"})) {
            Cli.Run r = Cli.run(args);
            assertThat(r.exit()).as(r.toString()).isEqualTo(2);
            List<String> lines = r.err().lines().toList();
            assertThat(lines).as(r.toString()).hasSizeBetween(2, 3);
            assertThat(lines.get(0)).startsWith("iomapfs: ");
            assertThat(lines.get(lines.size() - 1)).isEqualTo("Try 'iomapfs " + args[0] + " --help'.");
            assertThat(r.err()).doesNotContain("Usage:");
        }
    }

    @Test
    void cpHelp_usageLineSaysSrcDstOnce() {
        Cli.Run r = Cli.run("cp", "--help");
        assertThat(r.exit()).isZero();
        String usage = r.out().lines().filter(l -> l.startsWith("Usage:")).findFirst().orElseThrow();
        assertThat(usage).endsWith(" SRC... DST");
        assertThat(r.out()).doesNotContain("DST SRC");
    }

    @Test
    void lsBareImage_listsTheRoot_andAMissingImageIsNamed() {
        Path img = mkfs("a.img");
        Cli.Run r = Cli.run("ls", "-a", img.toString());
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out().lines().toList()).containsExactly(".", "..", "lost+found");
        assertThat(Cli.run("ls", img + ":/").out()).isEqualTo(Cli.run("ls", img.toString()).out());
        Cli.Run missing = Cli.run("ls", tmp.resolve("nope.img").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).startsWith("iomapfs: " + tmp.resolve("nope.img") + ": no such image file");
    }

    @Test
    void info_printsAReadOnlyReasonOnlyWhenThereIsOne() {
        Path img = mkfs("a.img");
        Cli.Run plain = Cli.run("info", img.toString());
        assertThat(plain.exit()).isZero();
        assertThat(plain.out()).doesNotContainIgnoringCase("read-only");
        // quota is a ro_compat feature this driver does not write: a read-write mount would be read-only.
        assertThat(Ext2Tools.debugfsWrite(img, "feature quota").exitCode()).isZero();
        Cli.Run ro = Cli.run("info", img.toString());
        assertThat(ro.out()).containsPattern("Mounts only read-only: +mounting read-only: feature\\(s\\) \\[quota\\]");
    }

    @Test
    void errors_doNotRepeatThemselves() {
        // The shape of a failed system call (Native.failure): strerror and errno already in the message.
        FsException sys = new FsException(Errno.EACCES, "open /dev/fuse: Permission denied (errno 13)");
        assertThat(Main.describe(sys)).isEqualTo("open /dev/fuse: Permission denied (errno 13)");
        FsException bare = new FsException(Errno.ENOENT, "x.img: gone");
        assertThat(Main.describe(bare)).isEqualTo("x.img: gone (ENOENT: No such file or directory)");
        // A real one: a file named where a directory is needed.
        Path img = mkfs("a.img");
        Cli.Run r = Cli.run("cat", img + ":/lost+found");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().lines().toList()).hasSize(1);
        String line = r.err().strip().toLowerCase(java.util.Locale.ROOT);
        assertThat(line.indexOf("is a directory")).isEqualTo(line.lastIndexOf("is a directory"));
    }

    @Test
    void lsLong_sizeColumn_fifoAndSocketShowSize_devicesShowMajorMinor() throws Exception {
        Path img = mkfs("a.img");
        Path host = Files.createDirectory(tmp.resolve("special"));
        assertThat(Ext2Tools.run("mkfifo", host.resolve("fifo").toString()).exitCode()).isZero();
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(host.resolve("sock")));
            boolean root = "root".equals(System.getProperty("user.name"));
            if (root) {
                assertThat(Ext2Tools.run("mknod", host.resolve("null").toString(), "c", "1", "3").exitCode()).isZero();
            }
            assertThat(Cli.run("cp", "-r", host.toString(), img + ":/").exit()).isZero();
            String hostLs = Ext2Tools.run("ls", "-l", host.toString()).ok().stdout();
            Cli.Run ls = Cli.run("ls", "-l", img + ":/special");
            assertThat(ls.exit()).as(ls.toString()).isZero();
            for (String name : root ? List.of("fifo", "sock", "null") : List.of("fifo", "sock")) {
                // Field 5 of "ls -l" (size, or "major," for devices): the host's ls is the oracle.
                assertThat(sizeColumn(ls.out(), name)).as(name).isEqualTo(sizeColumn(hostLs, name));
            }
            assertThat(sizeColumn(ls.out(), "fifo")).isEqualTo("0");
        }
    }

    private static String sizeColumn(String listing, String name) {
        String line = listing.lines().filter(l -> l.endsWith(" " + name)).findFirst().orElseThrow(
                () -> new AssertionError(name + " not in\n" + listing));
        String[] f = line.trim().split("\\s+");
        return f[4].endsWith(",") ? f[4] + " " + f[5] : f[4];
    }

    @Test
    void cpR_inAndOut_keepsSymlinkMtimes() throws Exception {
        Path img = mkfs("a.img");
        Path host = Files.createDirectories(tmp.resolve("tree"));
        Files.writeString(host.resolve("target"), "t");
        Files.createSymbolicLink(host.resolve("link"), Path.of("target"));
        assertThat(Ext2Tools.run("touch", "-h", "-d", "@1000000000", host.resolve("link").toString()).exitCode())
                .isZero();
        assertThat(Cli.run("cp", "-r", "--no-progress", host.toString(), img + ":/").exit()).isZero();
        assertThat(Ext2Tools.debugfs(img, "stat /tree/link").stdout()).contains("mtime: 0x3b9aca00");
        Path back = Files.createDirectory(tmp.resolve("back"));
        Cli.Run out = Cli.run("cp", "-r", "--no-progress", img + ":/tree", back.toString());
        assertThat(out.exit()).as(out.toString()).isZero();
        FileTime t = (FileTime) Files.getAttribute(back.resolve("tree/link"), "lastModifiedTime",
                LinkOption.NOFOLLOW_LINKS);
        assertThat(t.to(TimeUnit.SECONDS)).isEqualTo(1_000_000_000L);
        assertThat(Files.readSymbolicLink(back.resolve("tree/link"))).isEqualTo(Path.of("target"));
    }

    @Test
    void cpProgressBar_onlyWhenStderrIsATerminal() throws Exception {
        Path img = mkfs("a.img");
        Path big = tmp.resolve("big");
        Files.write(big, new byte[8 << 20]);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "cp", big.toString(), img + ":/");
        OtherUser.Run piped = OtherUser.exec(cmd, Map.of());
        assertThat(piped.exit()).as(piped.toString()).isZero();
        assertThat(piped.err()).as("nothing drawn into a pipe").isEmpty();
        // The same copy under script(1), whose pty makes stderr a terminal: the bar is drawn.
        List<String> cmd2 = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "cp", big.toString(), img + ":/again");
        OtherUser.Run tty = OtherUser.exec(List.of("script", "-qec", String.join(" ", cmd2.stream()
                .map(CliRoughEdgesTest::shellQuote).toList()), "/dev/null"), Map.of());
        assertThat(tty.exit()).as(tty.toString()).isZero();
        assertThat(tty.out()).as(tty.toString()).contains("cp", "%", "MiB");
        Ext2Tools.assertFsckClean(img);
    }

    private static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    @Test
    void buildOutput_hasNoAnsiCodes_withoutATerminal() {
        Path root = repoRoot();
        OtherUser.Run r = OtherUser.exec(List.of(root.resolve("build.sh").toString(), "-pl", "iomap4j-core",
                "validate"), Map.of());
        assertThat(r.exit()).as(r.toString()).isZero();
        assertThat(r.out()).contains("BUILD SUCCESS").doesNotContain("\u001b");
        assertThat(r.err()).doesNotContain("\u001b");
    }

    /**
     * The real {@code ./iomapfs} script, copied with scripts/ into a scratch tree whose JDK and Maven are stubs
     * that log their calls: a newer file below ./mnt or in docs is no reason to rebuild, a newer module source
     * or pom is; {@code umount} never rebuilds.
     */
    @Test
    void launcher_rebuildsOnlyForModuleSourcesAndPoms_neverForUmount() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("repo"));
        Files.copy(repoRoot().resolve("iomapfs"), root.resolve("iomapfs"));
        Files.createDirectories(root.resolve("scripts"));
        Files.copy(repoRoot().resolve("scripts/find-jdk.sh"), root.resolve("scripts/find-jdk.sh"));
        Path log = root.resolve("calls.log");
        Path jdk = Files.createDirectories(tmp.resolve("jdk/bin"));
        Files.writeString(jdk.getParent().resolve("release"), "JAVA_VERSION=\"25\"\n");
        stub(jdk.resolve("java"), "echo \"java $*\" >> " + log);
        stub(jdk.resolve("javac"), "true");
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path jar = root.resolve("iomap4j-cli/target/iomapfs.jar");
        stub(bin.resolve("mvn"), "echo mvn >> " + log + "; mkdir -p " + jar.getParent() + "; touch " + jar);
        Files.createDirectories(root.resolve("iomap4j-core/src/main/java"));
        Files.writeString(root.resolve("pom.xml"), "<project/>");
        Files.writeString(root.resolve("iomap4j-core/pom.xml"), "<project/>");
        Path src = Files.writeString(root.resolve("iomap4j-core/src/main/java/A.java"), "class A {}");
        Map<String, String> env = Map.of("JAVA_HOME", jdk.getParent().toString(), "IOMAPFS_AOT", "0",
                "PATH", bin + ":/usr/bin:/bin");
        List<String> ls = List.of(root.resolve("iomapfs").toString(), "ls", "x.img");
        List<String> umount = List.of(root.resolve("iomapfs").toString(), "umount", "mnt");

        assertThat(OtherUser.exec(ls, env).exit()).isZero();
        assertThat(calls(log)).as("first use builds").containsExactly("mvn", "java -jar " + jar + " ls x.img");
        Files.delete(log);
        long later = Files.getLastModifiedTime(jar).toMillis() + 10_000;
        for (Path p : List.of(root.resolve("mnt/iomap4j-x/src/main/B.java"), root.resolve("docs/notes.md"),
                root.resolve("iomap4j-core/target/classes/A.class"))) {
            Files.createDirectories(p.getParent());
            Files.writeString(p, "newer");
            Files.setLastModifiedTime(p, FileTime.fromMillis(later));
        }
        assertThat(OtherUser.exec(ls, env).exit()).isZero();
        assertThat(calls(log)).as("mnt, docs, target are not sources").containsExactly("java -jar " + jar
                + " ls x.img");
        Files.delete(log);
        Files.setLastModifiedTime(src, FileTime.fromMillis(later));
        assertThat(OtherUser.exec(umount, env).exit()).isZero();
        assertThat(calls(log)).as("umount never rebuilds").containsExactly("java -jar " + jar + " umount mnt");
        Files.delete(log);
        assertThat(OtherUser.exec(ls, env).exit()).isZero();
        assertThat(calls(log)).as("a newer module source rebuilds").containsExactly("mvn", "java -jar " + jar
                + " ls x.img");
    }

    private static void stub(Path p, String body) throws IOException {
        Files.writeString(p, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static List<String> calls(Path log) throws IOException {
        return Files.readAllLines(log).stream()
                .map(l -> l.replaceAll("^java .* -jar ", "java -jar ")).toList();
    }

    @Test
    void readme_setUp_listsTestsBeforeMount_andSaysWhatToExpect() throws IOException {
        String readme = Files.readString(repoRoot().resolve("README.md"));
        int setUp = readme.indexOf("## Set-up");
        int next = readme.indexOf("\n## ", setUp + 1);
        String section = readme.substring(setUp, next);
        assertThat(section.indexOf("./build.sh test")).as("test command listed").isPositive();
        assertThat(section.indexOf("./build.sh test")).as("tests before mount")
                .isLessThan(section.indexOf("./iomapfs mount"));
        assertThat(section).contains("foreground", "fusermount3", "--private", "first");
    }
}
