package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * POSIX permission semantics for callers other than root (issue #15 item 3), with the kernel's ext4 on a loop
 * mount of the same image as the oracle.
 *
 * <p>The cases live in {@code posix-permissions/perm_cases.py} (sticky directories; SGID inheritance; set-id bits
 * cleared on write, truncate and chown; chmod/chown rules; search permission on path components; open modes;
 * read-only directories; utimensat; link, rename and remove rules; special files; ctime on every change). Each
 * case is set up by root in a directory per acting uid, then run by that uid in a child process: root, uid 1001
 * (primary group 1001, supplementary group 3000) and uid 1002 (group 1002), through {@code setpriv}. The test runs
 * them on a kernel loop mount and on {@code iomapfs mount} of a copy of one image and requires the same errno for
 * every operation and the same resulting state (type, mode, owner, group, link count, size, and whether ctime
 * changed) for every entry, with and without the FUSE writeback cache (known differences of the kernel's FUSE
 * client are listed, and must occur). It prints the conformance counts per uid.
 */
class PermissionConformanceTest {
    private static final String PYTHON = "/usr/bin/python3";
    private static final List<Integer> ACTORS = List.of(0, 1001, 1002);

    @TempDir
    Path tmp;

    /** What one mount gave: result lines per actor and state lines (path -> fields) before and after the runs. */
    record Outcome(Map<Integer, List<String>> results, Map<String, String> before, Map<String, String> after) {}

    /**
     * Differences that come from the kernel's FUSE client, not from iomapfs, with the writeback cache on
     * ({@code --writeback-cache}): the kernel then owns ctime and mtime of regular files and moves them on truncate only when the
     * size changes (fs/fuse/dir.c fuse_do_setattr, trust_local_cmtime), where ext4 moves them on every truncate.
     * Each must still occur (so a fix in the kernel shows up here); without the writeback cache none may.
     */
    private static final List<String> WRITEBACK_CACHE_KERNEL_DIFFERENCES = List.of(
            "ctime of truncate_clears_setid/0/own: changed on kernel true, on iomapfs false",
            "ctime of truncate_clears_setid/1001/own: changed on kernel true, on iomapfs false",
            "ctime of truncate_clears_setid/1002/own: changed on kernel true, on iomapfs false");

    @ParameterizedTest(name = "{0}, writeback cache {1}")
    @CsvSource({"ext2, true", "ext2, false", "ext4, false"})
    void rootAndTwoUids_getTheKernelsErrnoAndState_onEveryCase(String type, boolean writebackCache) throws Exception {
        MountedImage.requireFuse();
        String noLoop = Ext2Tools.loopMountUnavailableReason();
        assumeTrue(noLoop == null, () -> "skipped: kernel oracle unavailable: " + noLoop);
        assumeTrue(Files.isExecutable(Path.of(PYTHON)), "skipped: " + PYTHON + " (Debian python3) is missing");
        OtherUser.openUp(tmp);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path script = tmp.resolve("perm_cases.py");
        try (InputStream in = getClass().getResourceAsStream("/posix-permissions/perm_cases.py")) {
            Files.copy(in, script);
        }
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rw-r--r--"));

        Path fuseImg = tmp.resolve("fuse.img");
        if (type.equals("ext4")) {
            Ext2Tools.mkfsExt4(fuseImg, 64L << 20, "-O", "^has_journal");
        } else {
            Cli.Run mkfs = Cli.run("mkfs", fuseImg.toString(), "--size", "64M");
            assertThat(mkfs.exit()).as(mkfs.toString()).isZero();
        }
        Path kernelImg = Files.copy(fuseImg, tmp.resolve("kernel.img"), StandardCopyOption.COPY_ATTRIBUTES);

        Outcome kernel;
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(kernelImg, tmp, false, type)) {
            Files.setPosixFilePermissions(m.root(), PosixFilePermissions.fromString("rwxr-xr-x"));
            kernel = runCases(script, m.root());
        }
        Outcome fuse;
        Path fmnt = Files.createDirectory(tmp.resolve("fmnt"));
        String[] opts = {"--warmup-ms", "0", writebackCache ? "--writeback-cache" : "--no-writeback-cache"};
        try (MountedImage m = MountedImage.start(fuseImg, fmnt, opts)) {
            fuse = runCases(script, fmnt);
            assertThat(Cli.run("umount", fmnt.toString()).exit()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
        }
        Ext2Tools.assertFsckClean(fuseImg);

        List<String> mismatches = new ArrayList<>();
        Map<Integer, int[]> counts = new TreeMap<>(); // actor -> {checks, matching}
        for (int actor : ACTORS) {
            List<String> k = kernel.results().get(actor);
            List<String> f = fuse.results().get(actor);
            assertThat(f).as("operations run for uid " + actor).hasSameSizeAs(k);
            for (int i = 0; i < k.size(); i++) {
                tally(counts, actor, k.get(i).equals(f.get(i)), mismatches,
                        "uid " + actor + " op: kernel [" + k.get(i) + "] iomapfs [" + f.get(i) + "]");
            }
        }
        assertThat(fuse.after().keySet()).as("entries after the runs").isEqualTo(kernel.after().keySet());
        for (var e : kernel.after().entrySet()) {
            String path = e.getKey();
            int actor = actorOf(path);
            String[] kf = e.getValue().split("\t");
            String[] ff = fuse.after().get(path).split("\t");
            tally(counts, actor, String.join(" ", List.of(kf).subList(0, 6)).equals(String.join(" ", List.of(ff).subList(0, 6))),
                    mismatches, "state " + path + ": kernel [" + String.join(" ", List.of(kf).subList(0, 6))
                            + "] iomapfs [" + String.join(" ", List.of(ff).subList(0, 6)) + "]");
            boolean kChanged = ctimeChanged(kernel, path);
            boolean fChanged = ctimeChanged(fuse, path);
            tally(counts, actor, kChanged == fChanged, mismatches,
                    "ctime of " + path + ": changed on kernel " + kChanged + ", on iomapfs " + fChanged);
        }
        counts.forEach((actor, c) -> System.out.printf("posix permission conformance (%s, writeback cache %s), uid %d:"
                + " %d of %d checks match the kernel's ext4%n", type, writebackCache, actor, c[1], c[0]));
        assertThat(mismatches).as("differences from the kernel's ext4 (oracle)")
                .isEqualTo(writebackCache ? WRITEBACK_CACHE_KERNEL_DIFFERENCES : List.of());
    }

    private static void tally(Map<Integer, int[]> counts, int actor, boolean match, List<String> mismatches,
            String what) {
        int[] c = counts.computeIfAbsent(actor, a -> new int[2]);
        c[0]++;
        if (match) {
            c[1]++;
        } else {
            mismatches.add(what);
        }
    }

    /** The acting uid of a state path "case/UID/...". */
    private static int actorOf(String path) {
        String[] parts = path.split("/");
        return parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
    }

    /** Entries that existed before and after: did ctime move? New entries count as changed. */
    private static boolean ctimeChanged(Outcome o, String path) {
        String before = o.before().get(path);
        return before == null || !before.split("\t")[6].equals(o.after().get(path).split("\t")[6]);
    }

    /**
     * setup and state as root, then each actor once the wall clock has entered the next second (timestamps of
     * 128-byte inodes have one-second granularity: a change made in the setup's second could not move ctime).
     */
    private static Outcome runCases(Path script, Path root) throws IOException, InterruptedException {
        List<String> setupArgs = new ArrayList<>(List.of("setup", root.toString()));
        ACTORS.forEach(a -> setupArgs.add(Integer.toString(a)));
        python(List.of(), script, setupArgs);
        Map<String, String> before = state(script, root);
        long setupSecond = java.time.Instant.now().getEpochSecond();
        while (java.time.Instant.now().getEpochSecond() <= setupSecond) {
            Thread.sleep(10);
        }
        Map<Integer, List<String>> results = new LinkedHashMap<>();
        for (int actor : ACTORS) {
            List<String> as = switch (actor) {
                case 0 -> List.of();
                case 1001 -> List.of("setpriv", "--reuid=1001", "--regid=1001", "--groups=3000", "--");
                default -> List.of("setpriv", "--reuid=" + actor, "--regid=" + actor, "--clear-groups", "--");
            };
            results.put(actor, python(as, script, List.of("run", root.toString(), Integer.toString(actor))));
        }
        return new Outcome(results, before, state(script, root));
    }

    private static Map<String, String> state(Path script, Path root) throws IOException, InterruptedException {
        Map<String, String> out = new TreeMap<>();
        for (String line : python(List.of(), script, List.of("state", root.toString()))) {
            int tab = line.indexOf('\t');
            out.put(line.substring(0, tab), line.substring(tab + 1));
        }
        return out;
    }

    private static List<String> python(List<String> prefix, Path script, List<String> args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(PYTHON);
        cmd.add(script.toString());
        cmd.addAll(args);
        OtherUser.Run r = OtherUser.exec(cmd, Map.of());
        assertThat(r.exit()).as(String.join(" ", cmd) + "\n" + r).isZero();
        return r.out().lines().toList();
    }
}
