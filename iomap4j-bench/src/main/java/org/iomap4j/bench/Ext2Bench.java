package org.iomap4j.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.iomap4j.ext.ExtFileSystem;
import org.iomap4j.ext.ExtMountOptions;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;

/**
 * Issue 3 benchmark: the same metadata and data workload on three ext2 implementations, each on its own copy of
 * one freshly made {@code mke2fs -t ext2} image, in one run, printed as rates and ratios (not a test).
 *
 * <ul>
 *   <li>iomap4j: {@link ExtFileSystem} through the {@link Vfs} API in this JVM (library level, no FUSE);</li>
 *   <li>kernel: the Linux ext2 driver on a loop mount, driven through java.nio.file from this JVM;</li>
 *   <li>debugfs: e2fsprogs {@code debugfs -w} command files ({@code write}, {@code stat}, {@code rm},
 *       {@code dump}), one debugfs process per phase.</li>
 * </ul>
 * Phases: create N empty files in one directory, stat them, unlink them (each phase ends with a sync of the
 * filesystem), then write M MiB sequentially in 1 MiB chunks + fsync, then read it back cold (unmount, drop the
 * host caches, mount again). Every image is checked with {@code e2fsck -fn} at the end.
 *
 * <p>Usage (root, e2fsprogs installed): {@code java --enable-native-access=ALL-UNNAMED -cp benchmarks.jar
 * org.iomap4j.bench.Ext2Bench [files=10000] [dataMiB=1024] [workDir=/tmp/iomap4j-extbench]
 * [csv=workDir/ext2bench.csv]}; {@code bench/ext2.sh} wraps it.
 */
public final class Ext2Bench {
    private static final int CHUNK = 1 << 20;

    private final int nrFiles;
    private final long dataMiB;
    private final Path work;
    private final ByteBuffer pattern;
    /** Results: phase → implementation → seconds. */
    private final Map<String, Map<String, Double>> secs = new LinkedHashMap<>();
    /** False during the JIT warm-up pass of iomap4j (its figures are not recorded). */
    private boolean recording = true;

    private Ext2Bench(int nrFiles, long dataMiB, Path work) {
        this.nrFiles = nrFiles;
        this.dataMiB = dataMiB;
        this.work = work;
        byte[] p = new byte[CHUNK];
        new Random(3).nextBytes(p);
        this.pattern = ByteBuffer.allocateDirect(CHUNK).put(p).flip();
    }

    public static void main(String[] args) throws Exception {
        int files = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        long mib = args.length > 1 ? Long.parseLong(args[1]) : 1024;
        Path work = Path.of(args.length > 2 ? args[2] : "/tmp/iomap4j-extbench");
        Path csv = args.length > 3 ? Path.of(args[3]) : work.resolve("ext2bench.csv");
        Files.createDirectories(work);
        new Ext2Bench(files, mib, work).run(csv);
    }

    private void run(Path csv) throws Exception {
        long imageMiB = Math.max(512, dataMiB * 2 + 256);
        Path base = work.resolve("base.img");
        Files.deleteIfExists(base);
        sh("mke2fs", "-q", "-F", "-t", "ext2", "-b", "4096", "-N", String.valueOf(Math.max(65536, nrFiles * 2)),
                base.toString(), imageMiB + "M");
        Path imgIomap = copy(base, "iomap4j.img");
        Path imgKernel = copy(base, "kernel.img");
        Path imgDebugfs = copy(base, "debugfs.img");
        System.out.printf(Locale.ROOT, "ext2 benchmark: %d files in one directory, %d MiB sequential data, image %d MiB"
                + " (mke2fs -t ext2 -b 4096), work dir %s%n", nrFiles, dataMiB, imageMiB, work);
        // Warm the JIT on a scratch copy so iomap4j is not measured in the interpreter (the peers are native).
        Path scratch = copy(base, "warmup.img");
        recording = false;
        runIomap(scratch);
        recording = true;
        Files.delete(scratch);
        runIomap(imgIomap);
        runKernel(imgKernel);
        runDebugfs(imgDebugfs);
        for (Path img : List.of(imgIomap, imgKernel, imgDebugfs)) {
            Proc r = exec(List.of("e2fsck", "-fn", img.toString()));
            System.out.println("e2fsck -fn " + img.getFileName() + ": exit " + r.exit
                    + (r.exit == 0 ? " (clean)" : "\n" + r.out));
        }
        report(csv);
    }

    // ---- iomap4j ---------------------------------------------------------------------------------------------

    private void runIomap(Path img) throws IOException {
        ExtMountOptions opts = ExtMountOptions.defaults();
        long dirIno;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, opts)) {
            InodeAttr d = fs.mkdir(fs.rootIno(), "d", 0755, 0, 0);
            dirIno = d.ino();
            fs.forget(dirIno, 1);
            long t = System.nanoTime();
            for (int i = 0; i < nrFiles; i++) {
                Vfs.Created c = fs.create(dirIno, name(i), FileMode.S_IFREG | 0644, Vfs.O_CREAT | Vfs.O_WRONLY, 0, 0);
                fs.release(c.handle());
                fs.forget(c.attr().ino(), 1);
            }
            fs.sync();
            record("create", "iomap4j", t);
            t = System.nanoTime();
            long sum = 0;
            for (int i = 0; i < nrFiles; i++) {
                InodeAttr a = fs.lookup(dirIno, name(i));
                sum += fs.getattr(a.ino()).sizeBytes();
                fs.forget(a.ino(), 1);
            }
            record("stat", "iomap4j", t);
            check(sum == 0, "iomap4j stat: non-empty files");
            t = System.nanoTime();
            for (int i = 0; i < nrFiles; i++) {
                fs.unlink(dirIno, name(i));
            }
            fs.sync();
            record("unlink", "iomap4j", t);

            t = System.nanoTime();
            Vfs.Created c = fs.create(fs.rootIno(), "big", FileMode.S_IFREG | 0644, Vfs.O_CREAT | Vfs.O_WRONLY, 0, 0);
            FileHandle h = c.handle();
            for (long pos = 0; pos < dataMiB * CHUNK; pos += CHUNK) {
                fs.write(h, pos, pattern.duplicate());
            }
            fs.fsync(h, false);
            record("seq write 1M + fsync", "iomap4j", t);
            fs.release(h);
            fs.forget(c.attr().ino(), 1);
        }
        dropHostCaches();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, opts)) {
            long t = System.nanoTime();
            InodeAttr a = fs.lookup(fs.rootIno(), "big");
            FileHandle h = fs.open(a.ino(), Vfs.O_RDONLY);
            ByteBuffer dst = ByteBuffer.allocateDirect(CHUNK);
            long total = 0;
            while (true) {
                dst.clear();
                int n = fs.read(h, total, dst);
                if (n <= 0) {
                    break;
                }
                total += n;
            }
            record("seq read 1M (cold)", "iomap4j", t);
            check(total == dataMiB * CHUNK, "iomap4j read " + total + " bytes");
            fs.release(h);
            fs.forget(a.ino(), 1);
        }
    }

    // ---- kernel ext2 on a loop mount ---------------------------------------------------------------------------

    private void runKernel(Path img) throws Exception {
        Path mnt = work.resolve("mnt-kernel");
        Files.createDirectories(mnt);
        sh("mount", "-t", "ext2", "-o", "loop", img.toString(), mnt.toString());
        try {
            Path d = Files.createDirectory(mnt.resolve("d"));
            long t = System.nanoTime();
            for (int i = 0; i < nrFiles; i++) {
                Files.newByteChannel(d.resolve(name(i)), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
                        .close();
            }
            sh("sync", "-f", mnt.toString());
            record("create", "kernel", t);
            t = System.nanoTime();
            long sum = 0;
            for (int i = 0; i < nrFiles; i++) {
                sum += Files.readAttributes(d.resolve(name(i)), BasicFileAttributes.class).size();
            }
            record("stat", "kernel", t);
            check(sum == 0, "kernel stat: non-empty files");
            t = System.nanoTime();
            for (int i = 0; i < nrFiles; i++) {
                Files.delete(d.resolve(name(i)));
            }
            sh("sync", "-f", mnt.toString());
            record("unlink", "kernel", t);

            t = System.nanoTime();
            try (FileChannel ch = FileChannel.open(mnt.resolve("big"), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                for (long pos = 0; pos < dataMiB * CHUNK; pos += CHUNK) {
                    ByteBuffer b = pattern.duplicate();
                    while (b.hasRemaining()) {
                        ch.write(b, pos + b.position());
                    }
                }
                ch.force(true);
            }
            record("seq write 1M + fsync", "kernel", t);
            sh("umount", mnt.toString());
            dropHostCaches();
            sh("mount", "-t", "ext2", "-o", "loop", img.toString(), mnt.toString());
            t = System.nanoTime();
            long total = 0;
            try (FileChannel ch = FileChannel.open(mnt.resolve("big"), StandardOpenOption.READ)) {
                ByteBuffer dst = ByteBuffer.allocateDirect(CHUNK);
                while (true) {
                    dst.clear();
                    int n = ch.read(dst, total);
                    if (n <= 0) {
                        break;
                    }
                    total += n;
                }
            }
            record("seq read 1M (cold)", "kernel", t);
            check(total == dataMiB * CHUNK, "kernel read " + total + " bytes");
        } finally {
            exec(List.of("umount", mnt.toString()));
        }
    }

    // ---- debugfs -w ------------------------------------------------------------------------------------------

    private void runDebugfs(Path img) throws Exception {
        Path empty = work.resolve("empty.src");
        Files.write(empty, new byte[0]);
        debugfsScript(img, "mkdir d\n");
        StringBuilder create = new StringBuilder("cd d\n");
        StringBuilder stat = new StringBuilder("cd d\n");
        StringBuilder rm = new StringBuilder("cd d\n");
        for (int i = 0; i < nrFiles; i++) {
            create.append("write ").append(empty).append(' ').append(name(i)).append('\n');
            stat.append("stat ").append(name(i)).append('\n');
            rm.append("rm ").append(name(i)).append('\n');
        }
        long t = System.nanoTime();
        debugfsScript(img, create.toString());
        record("create", "debugfs", t);
        t = System.nanoTime();
        String statOut = debugfsScript(img, stat.toString());
        record("stat", "debugfs", t);
        int found = statOut.split("Inode: ", -1).length - 1;
        check(found == nrFiles, "debugfs stat found " + found + " of " + nrFiles + " files");
        t = System.nanoTime();
        debugfsScript(img, rm.toString());
        record("unlink", "debugfs", t);

        Path src = work.resolve("data.src");
        try (FileChannel ch = FileChannel.open(src, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long pos = 0; pos < dataMiB * CHUNK; pos += CHUNK) {
                ByteBuffer b = pattern.duplicate();
                while (b.hasRemaining()) {
                    ch.write(b, pos + b.position());
                }
            }
        }
        // debugfs reads its source through the host page cache (warm); it writes the image with buffered
        // writes and closes it (ext2fs_close flushes), then fsync-equivalent via sync -f on the image's dir.
        t = System.nanoTime();
        debugfsScript(img, "write " + src + " big\n");
        sh("sync", "-f", img.toString());
        record("seq write 1M + fsync", "debugfs", t);
        Files.delete(src);
        Path out = work.resolve("data.out");
        Files.deleteIfExists(out);
        dropHostCaches();
        t = System.nanoTime();
        debugfsScript(img, "dump big " + out + "\n");
        record("seq read 1M (cold)", "debugfs", t);
        long got = Files.size(out);
        Files.delete(out);
        check(got == dataMiB * CHUNK, "debugfs dumped " + got + " bytes");
    }

    private String debugfsScript(Path img, String commands) throws Exception {
        Path cmd = work.resolve("debugfs.cmd");
        Files.writeString(cmd, commands);
        Proc r = exec(List.of("debugfs", "-w", "-f", cmd.toString(), img.toString()));
        if (r.exit != 0) {
            throw new IOException("debugfs failed (" + r.exit + "): " + tail(r.out));
        }
        if (r.out.contains("debugfs: ") && (r.out.contains("File exists") || r.out.contains("not found")
                || r.out.contains("No free space"))) {
            throw new IOException("debugfs reported an error: " + tail(r.out));
        }
        Files.delete(cmd);
        return r.out;
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static String name(int i) {
        return "f" + i;
    }

    private void record(String phase, String impl, long startNanos) {
        double s = (System.nanoTime() - startNanos) / 1e9;
        if (!recording) {
            return;
        }
        secs.computeIfAbsent(phase, k -> new LinkedHashMap<>()).put(impl, s);
        System.out.printf(Locale.ROOT, "  %-8s %-22s %9.3f s%n", impl, phase, s);
    }

    private double rate(String phase, double s) {
        return phase.startsWith("seq") ? dataMiB / s : nrFiles / s;
    }

    private void report(Path csv) throws IOException {
        String[] impls = {"iomap4j", "kernel", "debugfs"};
        System.out.println();
        System.out.printf(Locale.ROOT, "== ext2: iomap4j (library, Vfs API) vs kernel ext2 (loop mount) vs debugfs -w"
                + " — %d files, %d MiB; rates: files/s or MiB/s, higher is better%n", nrFiles, dataMiB);
        System.out.printf(Locale.ROOT, "%-22s %12s %12s %12s %14s %15s%n", "phase", "iomap4j", "kernel", "debugfs",
                "iomap4j/kernel", "iomap4j/debugfs");
        List<String> lines = new ArrayList<>();
        lines.add("phase,unit,iomap4j,kernel,debugfs");
        for (var e : secs.entrySet()) {
            String phase = e.getKey();
            double[] r = new double[impls.length];
            for (int i = 0; i < impls.length; i++) {
                Double s = e.getValue().get(impls[i]);
                r[i] = s == null ? Double.NaN : rate(phase, s);
            }
            System.out.printf(Locale.ROOT, "%-22s %12.1f %12.1f %12.1f %13.2fx %14.2fx%n", phase, r[0], r[1], r[2],
                    r[0] / r[1], r[0] / r[2]);
            lines.add(String.format(Locale.ROOT, "%s,%s,%.2f,%.2f,%.2f", phase,
                    phase.startsWith("seq") ? "MiB/s" : "files/s", r[0], r[1], r[2]));
        }
        Files.write(csv, lines, StandardCharsets.UTF_8);
        System.out.println("CSV: " + csv);
    }

    private Path copy(Path base, String name) throws IOException {
        Path p = work.resolve(name);
        Files.copy(base, p, StandardCopyOption.REPLACE_EXISTING);
        return p;
    }

    private static void dropHostCaches() throws IOException {
        sh("sync");
        Path drop = Path.of("/proc/sys/vm/drop_caches");
        if (!Files.isWritable(drop)) {
            throw new IOException("cannot drop the host page cache (need root): cold reads would be warm");
        }
        Files.writeString(drop, "3");
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("benchmark sanity check failed: " + what);
        }
    }

    private record Proc(int exit, String out) {
    }

    private static Proc exec(List<String> cmd) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("DEBUGFS_PAGER", "__none__");
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] all = p.getInputStream().readAllBytes();
            String out = new String(all, StandardCharsets.UTF_8);
            return new Proc(p.waitFor(), out);
        } catch (IOException e) {
            throw new UncheckedIOException(cmd.getFirst() + " could not run (is it installed?)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + cmd, e);
        }
    }

    private static void sh(String... cmd) throws IOException {
        Proc r = exec(List.of(cmd));
        if (r.exit != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (" + r.exit + "): " + tail(r.out));
        }
    }

    private static String tail(String s) {
        return s.length() <= 2000 ? s : "..." + s.substring(s.length() - 2000);
    }
}
