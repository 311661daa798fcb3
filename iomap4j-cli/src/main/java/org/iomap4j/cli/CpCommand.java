package org.iomap4j.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.ExtFileSystem;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code iomapfs cp [-r] SRC... DST}: copies host files into an image ({@code DST} is {@code IMAGE:/PATH}) or
 * files out of an image ({@code SRC}s are {@code IMAGE:/PATH}), preserving modes and times (of symbolic links too),
 * with a progress bar on copies over a few MiB when standard error is a terminal. Existing targets are not overwritten. Copying out never writes outside the target
 * directory: entry names with "/" or "..", and symlinks that point outside it, are refused.
 */
@Command(name = "cp", mixinStandardHelpOptions = true,
        description = "Copy host files into an image, or files out of an image (IMAGE:/PATH on one side).")
final class CpCommand implements Callable<Integer> {
    /** Copies larger than this show a progress bar. */
    static final long PROGRESS_MIN_BYTES = 4L << 20;
    private static final int CHUNK_BYTES = 1 << 20;

    @Mixin
    CommonOptions common;
    @Spec
    CommandSpec spec;
    @Option(names = {"-r", "-R", "--recursive"}, description = "Copy directories recursively.")
    boolean recursive;
    @Option(names = "--no-progress", description = "Never show a progress bar (it is shown only when standard "
            + "error is a terminal).")
    boolean noProgress;
    @Parameters(arity = "2..*", paramLabel = "SRC... DST", hideParamSyntax = true,
            description = "Sources, then the destination.")
    List<String> args;

    private int failures;
    private ProgressBar progress;
    private PrintWriter err;

    @Override
    public Integer call() throws IOException {
        err = spec.commandLine().getErr();
        List<String> srcs = args.subList(0, args.size() - 1);
        String dstArg = args.get(args.size() - 1);
        var dstImage = ImagePath.parse(dstArg);
        List<ImagePath> imageSrcs = new ArrayList<>();
        for (String s : srcs) {
            ImagePath.parse(s).ifPresent(imageSrcs::add);
        }
        if (dstImage.isPresent()) {
            if (!imageSrcs.isEmpty()) {
                throw new UsageException("copying from an image into an image is not supported; copy out, then in");
            }
            copyIn(srcs.stream().map(Path::of).toList(), dstImage.get());
        } else {
            if (imageSrcs.size() != srcs.size()) {
                throw new UsageException("one side must be IMAGE:/PATH (the image file must exist)");
            }
            Path img = imageSrcs.get(0).image();
            if (imageSrcs.stream().anyMatch(p -> !p.image().equals(img))) {
                throw new UsageException("all sources must be in the same image");
            }
            copyOut(imageSrcs, Path.of(dstArg));
        }
        return failures == 0 ? 0 : 1;
    }

    private void fail(String what, Throwable e) {
        failures++;
        err.println("iomapfs: cp: " + what + ": " + Main.describe(e));
    }

    private void startProgress(long totalBytes) {
        if (!noProgress && totalBytes > PROGRESS_MIN_BYTES && Terminal.stderrIsTerminal()) {
            progress = new ProgressBarBuilder().setTaskName("cp").setInitialMax(totalBytes)
                    .setStyle(ProgressBarStyle.ASCII).setUnit("MiB", 1 << 20).setUpdateIntervalMillis(250)
                    .showSpeed().build();
        }
    }

    private void stepProgress(long bytes) {
        if (progress != null) {
            progress.stepBy(bytes);
        }
    }

    private void endProgress() {
        if (progress != null) {
            progress.close();
            progress = null;
        }
    }

    // ---------------------------------------------------------------- host -> image

    private void copyIn(List<Path> srcs, ImagePath dst) throws IOException {
        long total = 0;
        for (Path s : srcs) {
            if (!Files.exists(s, LinkOption.NOFOLLOW_LINKS)) {
                throw new FsException(Errno.ENOENT, s + ": no such file or directory");
            }
            if (Files.isDirectory(s, LinkOption.NOFOLLOW_LINKS) && !recursive) {
                throw new UsageException("-r not specified; omitting directory '" + s + "'");
            }
            total += hostBytes(s);
        }
        try (OpenImage img = OpenImage.open(dst.image(), false)) {
            ExtFileSystem vfs = img.fs();
            InodeAttr target = null;
            try {
                target = PathWalker.resolve(vfs, dst.innerPath(), true, dst.toString());
            } catch (FsException e) {
                if (e.errno() != Errno.ENOENT) {
                    throw e;
                }
            }
            boolean intoDir = target != null && target.isDirectory();
            if (!intoDir && srcs.size() > 1) {
                throw new FsException(Errno.ENOTDIR, dst + ": target is not a directory");
            }
            startProgress(total);
            try {
                for (Path s : srcs) {
                    PathWalker.Parent where;
                    if (intoDir) {
                        where = new PathWalker.Parent(target, s.toAbsolutePath().normalize().getFileName().toString());
                    } else {
                        where = PathWalker.parent(vfs, dst.innerPath());
                    }
                    copyInOne(vfs, s, where.dir().ino(), where.name(), dst.toString());
                }
            } finally {
                endProgress();
            }
            img.vfs().sync();
        }
    }

    private static long hostBytes(Path p) throws IOException {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (Stream<Path> s = Files.walk(p)) {
                return s.filter(q -> Files.isRegularFile(q, LinkOption.NOFOLLOW_LINKS)).mapToLong(q -> {
                    try {
                        return Files.size(q);
                    } catch (IOException e) {
                        return 0;
                    }
                }).sum();
            }
        }
        return Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? Files.size(p) : 0;
    }

    private void copyInOne(ExtFileSystem vfs, Path src, long dirIno, String name, String dstLabel) {
        String what = src.toString();
        try {
            try {
                vfs.lookup(dirIno, name);
                throw new FsException(Errno.EEXIST, dstLabel + "/" + name + ": target exists (not overwritten)");
            } catch (FsException e) {
                if (e.errno() != Errno.ENOENT) {
                    throw e;
                }
            }
            Map<String, Object> attrs = Files.readAttributes(src, "unix:mode,uid,gid,rdev,lastAccessTime,lastModifiedTime",
                    LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) attrs.get("mode");
            int uid = (Integer) attrs.get("uid");
            int gid = (Integer) attrs.get("gid");
            InodeAttr created;
            if (Files.isSymbolicLink(src)) {
                created = vfs.symlink(dirIno, name, Files.readSymbolicLink(src).toString(), uid, gid);
            } else if (Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
                created = vfs.mkdir(dirIno, name, mode & FileMode.PERM_MASK, uid, gid);
                List<Path> children;
                try (Stream<Path> s = Files.list(src)) {
                    children = s.sorted().toList();
                }
                for (Path c : children) {
                    copyInOne(vfs, c, created.ino(), c.getFileName().toString(), dstLabel + "/" + name);
                }
            } else if (Files.isRegularFile(src, LinkOption.NOFOLLOW_LINKS)) {
                Vfs.Created c = vfs.create(dirIno, name, mode & FileMode.PERM_MASK, Vfs.O_WRONLY | Vfs.O_EXCL,
                        uid, gid);
                created = c.attr();
                FileHandle fh = c.handle();
                try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ)) {
                    ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES);
                    long pos = 0;
                    while (true) {
                        buf.clear();
                        int n = in.read(buf, pos);
                        if (n < 0) {
                            break;
                        }
                        buf.flip();
                        while (buf.hasRemaining()) {
                            int w = vfs.write(fh, pos, buf);
                            pos += w;
                            stepProgress(w);
                        }
                    }
                } finally {
                    vfs.release(fh);
                }
            } else {
                long rdev = ((Number) attrs.get("rdev")).longValue();
                created = vfs.mknod(dirIno, name, mode, rdev, uid, gid);
            }
            long atime = ((FileTime) attrs.get("lastAccessTime")).to(TimeUnit.SECONDS);
            long mtime = ((FileTime) attrs.get("lastModifiedTime")).to(TimeUnit.SECONDS);
            Integer perm = Files.isSymbolicLink(src) ? null : mode & FileMode.PERM_MASK;
            vfs.setattr(created.ino(), new SetAttr(perm, null, null, null, atime, mtime, false, false));
        } catch (IOException | RuntimeException e) {
            fail(what, e);
        }
    }

    // ---------------------------------------------------------------- image -> host

    private void copyOut(List<ImagePath> srcs, Path dst) throws IOException {
        try (OpenImage img = OpenImage.open(srcs.get(0).image(), true)) {
            Vfs vfs = img.vfs();
            boolean intoDir = Files.isDirectory(dst, LinkOption.NOFOLLOW_LINKS);
            if (!intoDir && srcs.size() > 1) {
                throw new FsException(Errno.ENOTDIR, dst + ": target is not a directory");
            }
            if (Files.isSymbolicLink(dst)) {
                throw new FsException(Errno.EPERM, dst + ": target is a symbolic link (refusing to follow it)");
            }
            List<InodeAttr> attrs = new ArrayList<>();
            long total = 0;
            for (ImagePath s : srcs) {
                InodeAttr a = PathWalker.resolve(vfs, s.innerPath(), true, s.toString());
                if (a.isDirectory() && !recursive) {
                    throw new UsageException("-r not specified; omitting directory '" + s + "'");
                }
                attrs.add(a);
                total += imageBytes(vfs, a, 0);
            }
            startProgress(total);
            try {
                for (int i = 0; i < srcs.size(); i++) {
                    ImagePath s = srcs.get(i);
                    Path root = intoDir ? dst : dst.toAbsolutePath().getParent();
                    String name = intoDir ? lastName(s.innerPath()) : dst.getFileName().toString();
                    if (name.isEmpty()) {
                        name = "root";
                    }
                    copyOutOne(vfs, attrs.get(i), root.toAbsolutePath().normalize(), root.toAbsolutePath().normalize(),
                            name, s.toString(), 0);
                }
            } finally {
                endProgress();
            }
        }
    }

    private static String lastName(String innerPath) {
        String p = innerPath;
        while (p.endsWith("/") && p.length() > 1) {
            p = p.substring(0, p.length() - 1);
        }
        return p.substring(p.lastIndexOf('/') + 1);
    }

    private long imageBytes(Vfs vfs, InodeAttr a, int depth) throws IOException {
        if (a.isRegular()) {
            return a.sizeBytes();
        }
        if (!a.isDirectory() || depth > 4096) {
            return 0;
        }
        long sum = 0;
        for (DirEntry e : LsCommand.readAll(vfs, a.ino())) {
            if (!e.name().equals(".") && !e.name().equals("..") && safeName(e.name())) {
                sum += imageBytes(vfs, vfs.getattr(e.ino()), depth + 1);
            }
        }
        return sum;
    }

    /** An entry name that cannot address anything outside its directory. */
    static boolean safeName(String name) {
        return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0
                && name.indexOf('\0') < 0;
    }

    private void copyOutOne(Vfs vfs, InodeAttr a, Path destRoot, Path dir, String name, String what, int depth) {
        try {
            if (!safeName(name)) {
                throw new FsException(Errno.EPERM, what + ": entry name '" + name + "' would escape the target directory");
            }
            if (depth > 4096) {
                throw new FsException(Errno.ELOOP, what + ": directory tree deeper than 4096 levels");
            }
            Path out = dir.resolve(name);
            if (!out.normalize().startsWith(destRoot)) {
                throw new FsException(Errno.EPERM, what + ": would write outside " + destRoot);
            }
            if (Files.exists(out, LinkOption.NOFOLLOW_LINKS) && !(a.isDirectory()
                    && Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS))) {
                throw new FileAlreadyExistsException(out + ": target exists (not overwritten)");
            }
            if (a.isDirectory()) {
                if (!Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(out);
                }
                for (DirEntry e : LsCommand.readAll(vfs, a.ino())) {
                    if (e.name().equals(".") || e.name().equals("..")) {
                        continue;
                    }
                    copyOutOne(vfs, vfs.getattr(e.ino()), destRoot, out, e.name(), what + "/" + e.name(), depth + 1);
                }
            } else if (a.isSymlink()) {
                String target = vfs.readlink(a.ino());
                Path resolved = out.getParent().resolve(target).normalize();
                if (Path.of(target).isAbsolute() || !resolved.startsWith(destRoot)) {
                    throw new FsException(Errno.EPERM, what + ": symbolic link to '" + target
                            + "' points outside the target directory (not copied)");
                }
                Files.createSymbolicLink(out, Path.of(target));
                // No permissions on a Linux symlink; its times are set below without following it (lutimes).
            } else if (a.isRegular()) {
                try (OutputStream os = Files.newOutputStream(out, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    copyFileOut(vfs, a, os);
                }
            } else {
                throw new FsException(Errno.EOPNOTSUPP, what + ": special files are not copied out");
            }
            if (!a.isSymlink()) {
                Files.setPosixFilePermissions(out, permissions(a.mode()));
            }
            Files.getFileAttributeView(out, java.nio.file.attribute.BasicFileAttributeView.class,
                    LinkOption.NOFOLLOW_LINKS).setTimes(FileTime.from(a.mtimeSec(), TimeUnit.SECONDS),
                    FileTime.from(a.atimeSec(), TimeUnit.SECONDS), null);
        } catch (IOException | RuntimeException e) {
            fail(what, e);
        }
    }

    private void copyFileOut(Vfs vfs, InodeAttr a, OutputStream os) throws IOException {
        FileHandle fh = vfs.open(a.ino(), Vfs.O_RDONLY);
        try {
            ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES);
            long pos = 0;
            while (true) {
                buf.clear();
                int n = vfs.read(fh, pos, buf);
                if (n <= 0) {
                    break;
                }
                os.write(buf.array(), 0, n);
                pos += n;
                stepProgress(n);
            }
        } finally {
            vfs.release(fh);
        }
    }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_EXECUTE};
        for (int i = 0; i < 9; i++) {
            if ((mode & (1 << (8 - i))) != 0) {
                s.add(order[i]);
            }
        }
        return s;
    }
}
