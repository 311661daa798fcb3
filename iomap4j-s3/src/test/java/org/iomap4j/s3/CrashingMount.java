package org.iomap4j.s3;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;

/**
 * The child process of {@link S3FaultTest}'s crash test: mounts, says MOUNTED, waits for a line, then writes the
 * file {@code args[4]} with the bytes of {@link #content()} and fsyncs it (the server is cut off by then), says
 * SYNCED and waits to be killed with SIGKILL.
 *
 * <p>Arguments: endpoint, bucket, cache directory, unused, key.
 */
public final class CrashingMount {
    private CrashingMount() {
    }

    /** The bytes the child writes: 3 MiB of a fixed pattern. */
    static byte[] content() {
        byte[] b = new byte[3 << 20];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i * 31 + (i >>> 12));
        }
        return b;
    }

    public static void main(String[] args) throws Exception {
        S3MountOptions o = S3Fixture.options(args[1], "", Path.of(args[2]), URI.create(args[0]).getPort())
                .withRetryMillis(60_000);
        S3FileSystem fs = S3FileSystem.mount(o);
        FileHandle fh = fs.create(fs.rootIno(), args[4], 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0).handle();
        System.out.println("MOUNTED");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        in.readLine();
        ByteBuffer data = ByteBuffer.wrap(content());
        while (data.hasRemaining()) {
            fs.write(fh, data.position(), data);
        }
        fs.fsync(fh, false);
        System.out.println("SYNCED " + fs.netfs().pendingCount());
        System.out.flush();
        in.readLine(); // killed here
    }
}
