package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code iomapfs stat IMAGE:/PATH}: inode details in stat(1)'s layout (symlinks not followed). */
@Command(name = "stat", mixinStandardHelpOptions = true, description = "Show an inode inside an image, like stat(1).")
final class StatCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;
    @Spec
    CommandSpec spec;
    @Parameters(paramLabel = "IMAGE:/PATH", description = "The file to describe (a bare IMAGE: its root directory).")
    String target;

    @Override
    public Integer call() throws IOException {
        ImagePath ip = ImagePath.requireOrRoot(target);
        PrintWriter out = spec.commandLine().getOut();
        try (OpenImage img = OpenImage.openForInspection(ip.image(), spec.commandLine().getErr())) {
            Vfs vfs = img.vfs();
            InodeAttr a = PathWalker.resolve(vfs, ip.innerPath(), false, ip.toString());
            String name = ip.innerPath();
            if (FileMode.isSymlink(a.mode())) {
                name += " -> " + vfs.readlink(a.ino());
            }
            out.println("  File: " + name);
            out.printf("  Size: %-15d Blocks: %-10d IO Block: %-6d %s%n", a.sizeBytes(), a.blocks512(),
                    a.blockSizeBytes(), Format.typeName(a.mode()));
            out.printf("Device: %s  Inode: %-11d Links: %d%n", ip.image().getFileName(), a.ino(), a.nlink());
            out.printf("Access: (%04o/%s)  Uid: (%5d)   Gid: (%5d)%n", a.mode() & FileMode.PERM_MASK,
                    Format.modeString(a.mode()), a.uid(), a.gid());
            out.println("Access: " + Format.statTime(a.atimeSec(), a.atimeNsec()));
            out.println("Modify: " + Format.statTime(a.mtimeSec(), a.mtimeNsec()));
            out.println("Change: " + Format.statTime(a.ctimeSec(), a.ctimeNsec()));
        }
        out.flush();
        return 0;
    }
}
