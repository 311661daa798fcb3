package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.ext.ExtFormat;
import org.iomap4j.ext.ExtFormatOptions;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.ext.Superblock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code iomapfs mkfs IMAGE --size 1G}: creates a sparse image file holding a fresh ext2 (the Java mkfs). */
@Command(name = "mkfs", mixinStandardHelpOptions = true,
        description = "Create an ext2 image file (sparse), e2fsck-clean and mountable by the kernel.")
final class MkfsCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;
    @Spec
    CommandSpec spec;
    @Parameters(paramLabel = "IMAGE", description = "The image file to create.")
    Path image;
    @Option(names = "--size", required = true, converter = SizeConverter.class,
            description = "Image size, e.g. 64M, 1G.")
    long sizeBytes;
    @Option(names = "--block-size", defaultValue = "4096", description = "1024, 2048 or 4096 (default ${DEFAULT-VALUE}).")
    int blockSize;
    @Option(names = "--inode-size", defaultValue = "256", description = "128 or 256 (default ${DEFAULT-VALUE}).")
    int inodeSize;
    @Option(names = "--label", description = "Volume label (at most 16 bytes).")
    String label;
    @Option(names = "--force", description = "Overwrite an existing file.")
    boolean force;
    @Option(names = "--root-owner", paramLabel = "UID:GID", description = "Owner of the root directory (default "
            + "0:0, as mke2fs -E root_owner), e.g. your own ids, so that you may write in it when you mount the "
            + "image without root.")
    String rootOwner;

    @Override
    public Integer call() throws IOException {
        if (Files.exists(image) && !force) {
            throw new FsException(Errno.EEXIST, image + ": exists (use --force to overwrite)");
        }
        int[] owner = parseOwner(rootOwner);
        Superblock sb = create(image, sizeBytes, blockSize, inodeSize, label);
        if (owner != null) {
            setRootOwner(image, owner[0], owner[1]);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf("%s: ext2, %d blocks of %d bytes, %d inodes, %d block groups%n", image, sb.blocksCount(),
                sb.blockSizeBytes(), sb.inodesCount(), sb.groupCount());
        out.flush();
        return 0;
    }

    private static int[] parseOwner(String spec) {
        if (spec == null) {
            return null;
        }
        String[] f = spec.split(":", -1);
        try {
            if (f.length == 2) {
                int uid = Integer.parseInt(f[0]);
                int gid = Integer.parseInt(f[1]);
                if (uid >= 0 && gid >= 0) {
                    return new int[] {uid, gid};
                }
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UsageException("--root-owner must be UID:GID (numbers), not '" + spec + "'");
    }

    /**
     * Gives the root directory of a fresh image to {@code uid:gid} (mke2fs' {@code -E root_owner}), through the
     * driver so that the image stays e2fsck-clean.
     */
    static void setRootOwner(Path image, int uid, int gid) throws IOException {
        try (OpenImage img = OpenImage.open(image, false)) {
            img.fs().setattr(img.fs().rootIno(), new SetAttr(null, uid, gid, null, null, null, false, false));
            img.vfs().sync();
        }
    }

    /** The effective uid and gid of this process: the owner of /proc/self. */
    static int[] callerIds() throws IOException {
        Path self = Path.of("/proc/self");
        return new int[] {(Integer) Files.getAttribute(self, "unix:uid"), (Integer) Files.getAttribute(self, "unix:gid")};
    }

    /** Creates the sparse image and formats it. */
    static Superblock create(Path image, long sizeBytes, int blockSize, int inodeSize, String label) throws IOException {
        ExtFormatOptions opts;
        try {
            opts = ExtFormatOptions.defaults().withBlockSize(blockSize).withInodeSize(inodeSize);
            if (label != null) {
                opts = opts.withLabel(label);
            }
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        if (sizeBytes < (64L << 10) || sizeBytes % 512 != 0) {
            throw new UsageException("--size must be at least 64K and a multiple of 512 bytes");
        }
        boolean ok = false;
        try (FileBlockDevice dev = FileBlockDevice.create(image, sizeBytes)) {
            Superblock sb = ExtFormat.format(dev, opts);
            dev.flush();
            ok = true;
            return sb;
        } finally {
            if (!ok) {
                Files.deleteIfExists(image);
            }
        }
    }
}
