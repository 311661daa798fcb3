package org.iomap4j.example.simplefs;

import java.nio.file.Files;
import java.nio.file.Path;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.fuse.FuseMount;
import org.iomap4j.fuse.FuseOptions;
import org.iomap4j.pagecache.PageCacheConfig;

/**
 * Mounts a simplefs image through iomap4j's FUSE server (the one {@code ./iomapfs mount} uses for ext):
 * {@code java -cp ... org.iomap4j.example.simplefs.SimpleFsMain IMAGE MOUNTPOINT [--mkfs SIZE_MIB]}. Stays in the
 * foreground until the mount is unmounted ({@code umount MOUNTPOINT} or {@code fusermount3 -u}), then writes
 * everything back and closes the image.
 */
public final class SimpleFsMain {
    private SimpleFsMain() {}

    /**
     * Mounts and serves until unmounted.
     *
     * @param args IMAGE MOUNTPOINT [--mkfs SIZE_MIB]
     * @throws Exception when mkfs, mount or serving fails
     */
    public static void main(String[] args) throws Exception {
        if (args.length != 2 && !(args.length == 4 && args[2].equals("--mkfs"))) {
            System.err.println("usage: SimpleFsMain IMAGE MOUNTPOINT [--mkfs SIZE_MIB]");
            System.exit(2);
        }
        Path image = Path.of(args[0]);
        if (args.length == 4) {
            Files.deleteIfExists(image);
            try (FileBlockDevice dev = FileBlockDevice.create(image, Long.parseLong(args[3]) << 20)) {
                SimpleFs.mkfs(dev, 1024);
            }
        }
        try (SimpleFs fs = SimpleFs.mount(FileBlockDevice.open(image, false), PageCacheConfig.defaults());
                FuseMount mount = FuseMount.mount(fs, Path.of(args[1]), FuseOptions.builder().fsName("simplefs")
                        .build())) {
            System.out.println("simplefs " + image + " mounted at " + mount.mountpoint());
            mount.awaitUnmounted();
        }
    }
}
