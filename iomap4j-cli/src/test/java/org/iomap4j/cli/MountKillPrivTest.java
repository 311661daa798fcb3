package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * FUSE_HANDLE_KILLPRIV_V2 through a real {@code iomapfs mount}, with and without the writeback cache: the server strips
 * setuid/setgid when the kernel asks (a write or truncate by a user without CAP_FSETID, an O_TRUNC open, a chown),
 * following setattr_should_drop_suidgid: S_ISUID always, S_ISGID with group execute or for a caller outside the
 * file's group. The oracle is the kernel's own
 * ext2 on a loop device running the same commands; the modes on the iomapfs image are also read back with debugfs
 * after unmount, so a mode the kernel only cached cannot pass.
 */
class MountKillPrivTest {
    /** Files set up by root: name, content, mode. */
    private static final String SETUP = """
            printf a > w6777 && chmod 6777 w6777
            printf a > w2767 && chmod 2767 w2767
            printf a > wroot && chmod 4777 wroot
            printf abc > t4777 && chmod 4777 t4777
            printf abc > o6777 && chmod 6777 o6777
            printf a > c6755 && chmod 6755 c6755
            printf a > c2764 && chmod 2764 c2764
            printf a > plain && chmod 0777 plain
            """;
    /** What the unprivileged user (nobody) does. */
    private static final String AS_NOBODY = """
            printf b >> w6777 && printf b >> w2767 && truncate -s 1 t4777 && : > o6777 && printf b >> plain
            """;
    /** What root does afterwards (CAP_FSETID: a write keeps the bits; chown drops them anyway). */
    private static final String AS_ROOT = """
            printf b >> wroot && chown 1:1 c6755 c2764
            """;

    @ParameterizedTest
    @ValueSource(strings = {"--writeback-cache", "--no-writeback-cache"})
    void suidAndSgidAreKilledAsByTheKernelsExt2(String cacheOption) throws Exception {
        assumeThat(OtherUser.canSwitch()).as("needs root to run commands as nobody").isTrue();
        String loopReason = Ext2Tools.loopMountUnavailableReason();
        assumeThat(loopReason).as("kernel ext2 on loop: " + loopReason).isNull();
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "killpriv");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try {
            Map<String, Integer> kernel;
            Path kimg = Ext2Tools.mke2fs(dir.resolve("k.img"), 16 << 20);
            try (Ext2Tools.LoopMount lm = Ext2Tools.LoopMount.mount(kimg, dir, false)) {
                Files.setPosixFilePermissions(lm.root(), PosixFilePermissions.fromString("rwxr-xr-x"));
                kernel = runScenario(lm.root());
            }
            assertThat(kernel).as("the oracle itself: kernel ext2").containsEntry("w6777", 0777)
                    .containsEntry("w2767", 0767).containsEntry("c2764", 02764).containsEntry("wroot", 04777).containsEntry("t4777", 0777)
                    .containsEntry("o6777", 0777).containsEntry("c6755", 0755).containsEntry("plain", 0777);

            Path img = dir.resolve("i.img");
            assertThat(Cli.run("mkfs", img.toString(), "--size", "16M").exit()).isZero();
            Path mnt = Files.createDirectory(dir.resolve("mnt"));
            Map<String, Integer> seen;
            try (MountedImage m = MountedImage.start(img, mnt, "--warmup-ms", "0", cacheOption)) {
                seen = runScenario(mnt);
                assertThat(Cli.run("umount", mnt.toString()).exit()).isZero();
                assertThat(m.awaitExit()).isZero();
            }
            assertThat(seen).as("modes through the iomapfs mount vs kernel ext2").isEqualTo(kernel);
            Map<String, Integer> onDisk = Ext2Tools.debugfsList(img, "/").stream()
                    .filter(e -> kernel.containsKey(e.name()))
                    .collect(Collectors.toMap(Ext2Tools.ListEntry::name, e -> e.mode() & 07777, (a, b) -> a,
                            TreeMap::new));
            assertThat(onDisk).as("modes in the iomapfs image after unmount (debugfs)").isEqualTo(kernel);
            Ext2Tools.assertFsckClean(img);
        } finally {
            try (var paths = Files.walk(dir)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Runs setup (root), the unprivileged steps (nobody) and root's steps in {@code root}; returns name → mode. */
    private static Map<String, Integer> runScenario(Path root) throws Exception {
        sh(List.of(), root, SETUP);
        sh(OtherUser.asUser(), root, AS_NOBODY);
        sh(List.of(), root, AS_ROOT);
        String out = sh(List.of(), root, "sync && stat -c '%n %a' w6777 w2767 wroot t4777 o6777 c6755 c2764 plain");
        Map<String, Integer> modes = new TreeMap<>();
        for (String line : out.strip().split("\n")) {
            String[] f = line.split(" ");
            modes.put(f[0], Integer.parseInt(f[1], 8));
        }
        return modes;
    }

    private static String sh(List<String> prefix, Path cwd, String script) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(prefix);
        cmd.addAll(List.of("sh", "-ec", script));
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", cmd) + " in " + cwd + ":\n" + out).isZero();
        return out;
    }
}
