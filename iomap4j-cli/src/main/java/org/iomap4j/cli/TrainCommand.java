package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.iomap4j.ext.ExtFileSystem;
import org.iomap4j.ext.ExtMountOptions;
import org.iomap4j.fuse.FuseMount;
import org.iomap4j.fuse.FuseOptions;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code iomapfs train-aot DIR} (hidden): the training run for the JDK's ahead-of-time cache (JEP 483/514/515).
 * The {@code ./iomapfs} launcher runs it once per build under {@code -XX:AOTCacheOutput}; later runs start with
 * the classes loaded and linked and with method profiles, so that a fresh mount reaches compiled code sooner
 * instead of spending its first seconds interpreting and JIT-compiling on the request path (each
 * {@code iomapfs mount} is a new JVM; fuse2fs, its peer, is native).
 *
 * <p>The workload is the data and metadata paths users hit: in DIR it creates a scratch image, runs a short
 * library workload through the {@link Vfs}, and, when /dev/fuse can be mounted (root), mounts the image in this
 * JVM and drives the real FUSE request path with ordinary file I/O: sequential and random reads and writes with
 * a cache smaller than the file (fills and reclaim), O_DIRECT, fsync, and create/stat/readdir/rename/unlink.
 * Everything happens inside DIR; the image and mount point are removed afterwards.
 */
@Command(name = "train-aot", hidden = true,
        description = "Training workload for the JVM's AOT cache (used by ./iomapfs).")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;
    @Parameters(index = "0", paramLabel = "DIR", description = "Scratch directory (created if absent).")
    Path dir;

    private static final long IMAGE_BYTES = 512L << 20;
    private static final int MiB = 1 << 20;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Files.createDirectories(dir);
        Path img = dir.resolve("train.img");
        Path mnt = dir.resolve("mnt");
        Files.deleteIfExists(img);
        MkfsCommand.create(img, IMAGE_BYTES, 4096, 256, "train");
        try {
            // A cache well below the data written, so that reads fill folios and reclaim runs, as on a real mount.
            ExtMountOptions opts = ExtMountOptions.defaults().withCache(32L * MiB, 2 * MiB);
            try (OpenImage opened = OpenImage.open(img, false, opts)) {
                libraryWorkload(opened.fs());
            }
            if (fuseUsable()) {
                Files.createDirectories(mnt);
                try (OpenImage opened = OpenImage.open(img, false, opts)) {
                    FuseMount mount = FuseMount.mount(opened.vfs(), mnt.toAbsolutePath(),
                            FuseOptions.builder().fsName(img.toAbsolutePath().toString()).subtype("iomapfs").build());
                    try {
                        mountWorkload(mnt);
                    } finally {
                        mount.unmount();
                        mount.awaitUnmounted();
                    }
                }
                out.println("iomapfs train-aot: library and FUSE workloads done");
            } else {
                out.println("iomapfs train-aot: library workload done (no FUSE mount: not root or no /dev/fuse)");
            }
        } finally {
            Files.deleteIfExists(img);
            Files.deleteIfExists(mnt);
        }
        return 0;
    }

    private static boolean fuseUsable() {
        return Files.isReadable(Path.of("/dev/fuse")) && Files.isWritable(Path.of("/dev/fuse"))
                && "root".equals(System.getProperty("user.name"));
    }

    /** Files, directories and data through the Vfs API (what cp, cat and ls use). */
    private static void libraryWorkload(ExtFileSystem vfs) throws IOException {
        long root = vfs.rootIno();
        InodeAttr d = vfs.mkdir(root, "lib", 0755, 0, 0);
        ByteBuffer buf = ByteBuffer.allocateDirect(MiB);
        Random rnd = new Random(1);
        for (int i = 0; i < 200; i++) {
            Vfs.Created c = vfs.create(d.ino(), "f" + i, 0644, Vfs.O_RDWR, 0, 0);
            FileHandle fh = c.handle();
            buf.clear().limit(1 + rnd.nextInt(64 << 10));
            vfs.write(fh, 0, buf);
            buf.clear().limit(4096);
            vfs.read(fh, 0, buf);
            vfs.release(fh);
            vfs.getattr(c.attr().ino());
        }
        vfs.readdir(d.ino(), 0, e -> true);
        for (int i = 0; i < 200; i++) {
            vfs.lookup(d.ino(), "f" + i);
            vfs.unlink(d.ino(), "f" + i);
        }
        vfs.sync();
    }

    /** The request path of a real mount: data jobs like compare-mount's fio jobs, then metadata. */
    private static void mountWorkload(Path mnt) throws IOException {
        Path big = mnt.resolve("seq.dat");
        ByteBuffer mib = ByteBuffer.allocateDirect(2 * MiB).alignedSlice(4096);
        mib.limit(MiB);
        long fileBytes = 96L * MiB;
        for (int round = 0; round < 4; round++) {
            try (FileChannel ch = FileChannel.open(big, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.READ)) {
                for (long p = 0; p < fileBytes; p += MiB) {
                    mib.clear().limit(MiB);
                    ch.write(mib, p);
                }
                ch.force(true);
                for (long p = 0; p < fileBytes; p += MiB) {
                    mib.clear().limit(MiB);
                    ch.read(mib, p);
                }
                Random rnd = new Random(round);
                for (int i = 0; i < 30_000; i++) {
                    mib.clear().limit(4096);
                    ch.read(mib, (rnd.nextLong(fileBytes) >>> 12) << 12);
                }
                for (int i = 0; i < 5_000; i++) {
                    mib.clear().limit(4096);
                    ch.write(mib, (rnd.nextLong(fileBytes) >>> 12) << 12);
                }
                ch.force(false);
            }
            try (FileChannel ch = FileChannel.open(big, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
                for (long p = 0; p < 32L * MiB; p += MiB) {
                    mib.clear().limit(MiB);
                    ch.write(mib, p);
                }
                for (long p = 0; p < 32L * MiB; p += MiB) {
                    mib.clear().limit(MiB);
                    ch.read(mib, p);
                }
            }
            Path meta = Files.createDirectories(mnt.resolve("meta"));
            for (int i = 0; i < 2_000; i++) {
                Files.createFile(meta.resolve("f" + i));
            }
            for (int i = 0; i < 2_000; i++) {
                Files.size(meta.resolve("f" + i));
            }
            try (Stream<Path> s = Files.list(meta)) {
                s.forEach(p -> p.getFileName());
            }
            for (int i = 0; i < 2_000; i += 2) {
                Files.move(meta.resolve("f" + i), meta.resolve("g" + i));
            }
            for (int i = 0; i < 2_000; i++) {
                Files.delete(meta.resolve((i % 2 == 0 ? "g" : "f") + i));
            }
            Files.delete(meta);
            Files.delete(big);
        }
    }
}
