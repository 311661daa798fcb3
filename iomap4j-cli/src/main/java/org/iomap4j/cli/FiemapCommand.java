package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.iomap4j.ext2.Extent;
import org.iomap4j.vfs.InodeAttr;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code iomapfs fiemap IMAGE:/PATH}: where a file's bytes live on the device, in filefrag -v's layout (logical
 * and physical offsets in filesystem blocks, length in blocks, flags), plus byte figures.
 */
@Command(name = "fiemap", mixinStandardHelpOptions = true,
        description = "Show a file's extents (logical -> physical), like filefrag -v.")
final class FiemapCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;
    @Spec
    CommandSpec spec;
    @Parameters(paramLabel = "IMAGE:/PATH", description = "The file to map.")
    String target;

    @Override
    public Integer call() throws IOException {
        ImagePath ip = ImagePath.require(target);
        PrintWriter out = spec.commandLine().getOut();
        try (OpenImage img = OpenImage.open(ip.image(), true)) {
            InodeAttr a = PathWalker.resolve(img.vfs(), ip.innerPath(), true, ip.toString());
            int bs = img.fs().superblock().blockSizeBytes();
            List<Extent> extents = img.fs().mapExtents(a.ino());
            out.printf("Filesystem type is: ef53%nFile size of %s is %d (%d blocks of %d bytes)%n", ip.innerPath(),
                    a.sizeBytes(), (a.sizeBytes() + bs - 1) / bs, bs);
            out.println(" ext:     logical_offset:        physical_offset: length:   expected: flags:");
            long expected = -1;
            for (int i = 0; i < extents.size(); i++) {
                Extent e = extents.get(i);
                long l = e.logicalBytes() / bs;
                long p = e.physicalBytes() / bs;
                long n = e.lengthBytes() / bs;
                String exp = (expected >= 0 && expected != p) ? Long.toString(expected) : "";
                out.printf("%4d: %10d..%10d: %10d..%10d: %6d: %11s %s%n", i, l, l + n - 1, p, p + n - 1, n, exp,
                        e.last() ? "last,eof" : "");
                expected = p + n;
            }
            out.printf("%s: %d extent%s found%n", ip.innerPath(), extents.size(), extents.size() == 1 ? "" : "s");
        }
        out.flush();
        return 0;
    }
}
