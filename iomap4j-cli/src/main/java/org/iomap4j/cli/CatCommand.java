package org.iomap4j.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.Callable;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code iomapfs cat IMAGE:/PATH}: writes a file inside an image to standard output, byte for byte. */
@Command(name = "cat", mixinStandardHelpOptions = true, description = "Print a file inside an image.")
final class CatCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;
    @Parameters(paramLabel = "IMAGE:/PATH", description = "The file to print.")
    String target;

    /** Where the bytes go: standard output, set by {@link Main#commandLine}. */
    OutputStream sink;

    @Override
    public Integer call() throws IOException {
        ImagePath ip = ImagePath.require(target);
        try (OpenImage img = OpenImage.openForInspection(ip.image(), spec.commandLine().getErr())) {
            Vfs vfs = img.vfs();
            InodeAttr a = PathWalker.resolve(vfs, ip.innerPath(), true, ip.toString());
            if (a.isDirectory()) {
                throw new FsException(Errno.EISDIR, ip + ": is a directory");
            }
            copyOut(vfs, a, sink, ip.toString());
            sink.flush();
        }
        return 0;
    }

    /** Streams a whole file to {@code out} in 1 MiB reads. */
    static long copyOut(Vfs vfs, InodeAttr a, OutputStream out, String what) throws IOException {
        FileHandle fh = vfs.open(a.ino(), Vfs.O_RDONLY);
        long pos = 0;
        try {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            while (true) {
                buf.clear();
                int n = vfs.read(fh, pos, buf);
                if (n <= 0) {
                    break;
                }
                out.write(buf.array(), 0, n);
                pos += n;
            }
        } finally {
            vfs.release(fh);
        }
        return pos;
    }
}
