package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.iomap4j.iomap.Fiemap;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.vfs.InodeAttr;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code iomapfs fiemap IMAGE:/PATH}: where a file's bytes live on the device, in filefrag -v's layout (logical
 * and physical offsets in filesystem blocks, length in blocks, flags), plus byte figures.
 *
 * <p>The extents come from {@link org.iomap4j.ext.ExtFileSystem#fiemap} (the core's FIEMAP over ext2's block
 * map, with FIEMAP_FLAG_SYNC). ext2 answers one mapping per contiguous run that stops at the end of each pointer
 * block; for display, mappings that continue each other logically and physically with the same flags are merged
 * into one line, as the kernel's filefrag shows an indirect-mapped file (the merged line keeps the "merged" flag
 * and the last one "last,eof"). {@code --raw} prints one line per mapping instead.
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
    @picocli.CommandLine.Option(names = "--raw", description = "One line per mapping; do not merge contiguous ones.")
    boolean raw;

    @Override
    public Integer call() throws IOException {
        ImagePath ip = ImagePath.require(target);
        PrintWriter out = spec.commandLine().getOut();
        try (OpenImage img = OpenImage.openForInspection(ip.image(), spec.commandLine().getErr())) {
            InodeAttr a = PathWalker.resolve(img.vfs(), ip.innerPath(), true, ip.toString());
            int bs = img.fs().superblock().blockSizeBytes();
            List<FiemapExtent> extents = img.fs().fiemap(a.ino(), 0, Long.MAX_VALUE, Fiemap.FLAG_SYNC);
            if (!raw) {
                extents = merge(extents);
            }
            out.printf("Filesystem type is: ef53%nFile size of %s is %d (%d blocks of %d bytes)%n", ip.innerPath(),
                    a.sizeBytes(), (a.sizeBytes() + bs - 1) / bs, bs);
            out.println(" ext:     logical_offset:        physical_offset: length:   expected: flags:");
            long expected = -1;
            for (int i = 0; i < extents.size(); i++) {
                FiemapExtent e = extents.get(i);
                long l = e.logicalBytes() / bs;
                long p = e.physicalBytes() / bs;
                long n = (e.lengthBytes() + bs - 1) / bs;
                String exp = (expected >= 0 && expected != p) ? Long.toString(expected) : "";
                out.printf("%4d: %10d..%10d: %10d..%10d: %6d: %11s %s%n", i, l, l + n - 1, p, p + n - 1, n, exp,
                        flags(e, l + n >= (a.sizeBytes() + bs - 1) / bs));
                expected = p + n;
            }
            out.printf("%s: %d extent%s found%n", ip.innerPath(), extents.size(), extents.size() == 1 ? "" : "s");
        }
        out.flush();
        return 0;
    }

    /** Joins extents that continue each other logically and physically with the same flags (LAST aside). */
    static List<FiemapExtent> merge(List<FiemapExtent> in) {
        List<FiemapExtent> out = new java.util.ArrayList<>();
        for (FiemapExtent e : in) {
            if (!out.isEmpty()) {
                FiemapExtent prev = out.getLast();
                int pf = prev.flags() & ~FiemapExtent.LAST;
                int ef = e.flags() & ~FiemapExtent.LAST;
                if (pf == ef && prev.logicalBytes() + prev.lengthBytes() == e.logicalBytes()
                        && prev.physicalBytes() + prev.lengthBytes() == e.physicalBytes()) {
                    out.set(out.size() - 1, new FiemapExtent(prev.logicalBytes(), prev.physicalBytes(),
                            prev.lengthBytes() + e.lengthBytes(), e.flags()));
                    continue;
                }
            }
            out.add(e);
        }
        return out;
    }

    /** filefrag's flag words: "merged", "unwritten", ..., and "last,eof" for the final extent ending at EOF. */
    private static String flags(FiemapExtent e, boolean eof) {
        List<String> f = new java.util.ArrayList<>();
        if ((e.flags() & FiemapExtent.MERGED) != 0) {
            f.add("merged");
        }
        if ((e.flags() & FiemapExtent.UNWRITTEN) != 0) {
            f.add("unwritten");
        }
        if ((e.flags() & FiemapExtent.DELALLOC) != 0) {
            f.add("delalloc");
        }
        if ((e.flags() & FiemapExtent.SHARED) != 0) {
            f.add("shared");
        }
        if ((e.flags() & FiemapExtent.DATA_INLINE) != 0) {
            f.add("inline");
        }
        if ((e.flags() & FiemapExtent.LAST) != 0) {
            f.add("last");
            if (eof) {
                f.add("eof");
            }
        }
        return String.join(",", f);
    }
}
