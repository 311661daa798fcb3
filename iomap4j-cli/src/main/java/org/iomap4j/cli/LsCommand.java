package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code iomapfs ls [-l] [-R] [-a] IMAGE:/PATH}: lists a directory inside an image, like ls(1). */
@Command(name = "ls", mixinStandardHelpOptions = true, description = "List a directory (or file) inside an image.")
final class LsCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;
    @Spec
    CommandSpec spec;
    @Option(names = "-l", description = "Long listing: mode, links, owner, group, size, mtime.")
    boolean longFormat;
    @Option(names = "-R", description = "List subdirectories recursively.")
    boolean recursive;
    @Option(names = "-a", description = "Show entries starting with '.' (including . and ..).")
    boolean all;
    @Parameters(paramLabel = "IMAGE:/PATH", description = "What to list (a bare IMAGE: its root directory).")
    String target;

    @Override
    public Integer call() throws IOException {
        ImagePath ip = ImagePath.requireOrRoot(target);
        PrintWriter out = spec.commandLine().getOut();
        try (OpenImage img = OpenImage.openForInspection(ip.image(), spec.commandLine().getErr())) {
            Vfs vfs = img.vfs();
            InodeAttr a = PathWalker.resolve(vfs, ip.innerPath(), true, ip.toString());
            if (!a.isDirectory()) {
                printEntry(vfs, out, a, ip.innerPath());
                return 0;
            }
            list(vfs, out, a, ip.innerPath(), recursive, 0);
        }
        out.flush();
        return 0;
    }

    private void list(Vfs vfs, PrintWriter out, InodeAttr dir, String path, boolean header, int depth)
            throws IOException {
        if (depth > 4096) {
            throw new IOException(path + ": directory tree deeper than 4096 levels (a loop?)");
        }
        if (header) {
            out.println(path + ":");
        }
        List<DirEntry> entries = readAll(vfs, dir.ino());
        List<InodeAttr> subdirs = new ArrayList<>();
        List<String> subnames = new ArrayList<>();
        for (DirEntry e : entries) {
            boolean dot = e.name().startsWith(".");
            if (dot && !all) {
                continue;
            }
            InodeAttr ea = longFormat || recursive ? vfs.getattr(e.ino()) : null;
            if (longFormat) {
                printEntry(vfs, out, ea, e.name());
            } else {
                out.println(e.name());
            }
            if (recursive && ea.isDirectory() && !e.name().equals(".") && !e.name().equals("..")) {
                subdirs.add(ea);
                subnames.add(e.name());
            }
        }
        for (int i = 0; i < subdirs.size(); i++) {
            out.println();
            list(vfs, out, subdirs.get(i), (path.endsWith("/") ? path : path + "/") + subnames.get(i), true,
                    depth + 1);
        }
    }

    private void printEntry(Vfs vfs, PrintWriter out, InodeAttr a, String name) throws IOException {
        if (!longFormat) {
            out.println(name);
            return;
        }
        String suffix = FileMode.isSymlink(a.mode()) ? " -> " + vfs.readlink(a.ino()) : "";
        out.println(Format.longListing(a) + " " + name + suffix);
    }

    /** Every entry of a directory, sorted by name as ls sorts (bytewise in the C locale). */
    static List<DirEntry> readAll(Vfs vfs, long dirIno) throws IOException {
        List<DirEntry> entries = new ArrayList<>();
        vfs.readdir(dirIno, 0, e -> {
            entries.add(e);
            return true;
        });
        entries.sort(Comparator.comparing(DirEntry::name));
        return entries;
    }
}
