package org.iomap4j.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Faults between the S3 filesystem and a real s3proxy: connections cut through {@link FaultProxy} (also in the
 * middle of an upload), the server stopped and restarted, and the mount's process killed with dirty data. Cached
 * reads keep working, uncached ones get EIO, fsync'd writes are kept and uploaded after reconnection, and the
 * model of contents matches the bucket after settling.
 */
class S3FaultTest {
    @TempDir
    static Path tmp;
    static S3Fixture s3;
    static S3ProxyServer server;
    static S3Client oracle;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3Fixture.get();
        server = s3.server();
        oracle = s3.oracle();
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void assertEio(org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
        assertThatThrownBy(call).isInstanceOf(FsException.class)
                .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.EIO));
    }

    @Test
    void cutConnectionsCachedReadsWorkUncachedFailWritesAreUploadedOnReconnection() throws Exception {
        String bucket = s3.newBucket("fault");
        // Larger than a sequential read's readahead (8 granules of 256 KiB past the read), so that its end stays
        // uncached.
        byte[] model = random(1, 8 << 20);
        byte[] original = model.clone();
        oracle.putObject(b -> b.bucket(bucket).key("f"), RequestBody.fromBytes(model));
        try (FaultProxy proxy = new FaultProxy(server.port());
                S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket),
                        proxy.port()))) {
            VfsPaths p = new VfsPaths(fs);
            FileHandle fh = p.open("f");
            assertThat(p.read(fh, 0, 1 << 20)).isEqualTo(Arrays.copyOf(model, 1 << 20));
            fs.dropPageCache(); // what follows comes from the local cache

            proxy.cut();
            assertThat(p.read(fh, 4096, 500_000)).as("local cache, server cut off")
                    .isEqualTo(Arrays.copyOfRange(model, 4096, 504_096));
            assertEio(() -> p.read(fh, 7 << 20, 100));
            byte[] w1 = random(2, 64 << 10);
            p.write(fh, 128 << 10, w1); // cached region
            byte[] w2 = random(3, 8192);
            p.write(fh, 8 << 20, w2); // extends the file: whole blocks, no server read needed
            System.arraycopy(w1, 0, model, 128 << 10, w1.length);
            byte[] m = Arrays.copyOf(model, (8 << 20) + 8192);
            System.arraycopy(w2, 0, m, 8 << 20, w2.length);
            fs.fsync(fh, false); // durable in the dirty log while disconnected
            assertThat(fs.netfs().pendingCount()).isEqualTo(1);
            assertThat(Arrays.equals(s3.object(bucket, "f"), original)).as("the server has the old version").isTrue();
            assertThat(fs.netfs().retryPending()).isFalse();

            proxy.heal();
            assertThat(fs.netfs().retryPending()).isTrue();
            assertThat(s3.object(bucket, "f")).isEqualTo(m);
            fs.release(fh);
        }
    }

    @Test
    void aConnectionCutInTheMiddleOfAnUploadIsRetriedAndTheBucketMatches() throws Exception {
        String bucket = s3.newBucket("fault");
        try (FaultProxy proxy = new FaultProxy(server.port());
                S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket),
                        proxy.port()))) {
            VfsPaths p = new VfsPaths(fs);
            FileHandle fh = p.create("big");
            byte[] m = random(4, 11 << 20);
            p.write(fh, 0, m);
            proxy.cutAfterUpstreamBytes(6 << 20); // inside the second part
            fs.fsync(fh, false);
            assertThat(fs.netfs().pendingCount()).isEqualTo(1);
            proxy.heal();
            assertThat(fs.netfs().retryPending()).isTrue();
            assertThat(s3.object(bucket, "big")).isEqualTo(m);
            // and a random write into it now sends one part and copies the others
            byte[] w = random(5, 4096);
            p.write(fh, 7 << 20, w);
            System.arraycopy(w, 0, m, 7 << 20, w.length);
            fs.fsync(fh, false);
            assertThat(s3.object(bucket, "big")).isEqualTo(m);
            fs.release(fh);
        }
    }

    @Test
    void serverStoppedAndRestartedDuringReadsWritesAndFsync() throws Exception {
        String bucket = s3.newBucket("fault");
        byte[] a = random(6, 4_000_000); // more than the first read and its readahead
        oracle.putObject(b -> b.bucket(bucket).key("a"), RequestBody.fromBytes(a));
        oracle.putObject(b -> b.bucket(bucket).key("d/x"), RequestBody.fromString("x"));
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket),
                server.port()))) {
            VfsPaths p = new VfsPaths(fs);
            FileHandle fh = p.open("a");
            assertThat(p.read(fh, 0, 300_000)).isEqualTo(Arrays.copyOf(a, 300_000));
            server.stop();
            try {
                assertThat(p.read(fh, 0, 300_000)).isEqualTo(Arrays.copyOf(a, 300_000));
                assertEio(() -> p.read(fh, 3_900_000, 10));
                byte[] w = random(7, 4096);
                p.write(fh, 4096, w);
                System.arraycopy(w, 0, a, 4096, w.length);
                fs.fsync(fh, false);
                // Namespace changes while disconnected: creating names the mount knows to be absent (the root's
                // listing, read by the lookup of "a") is kept like data; removing or moving fails with EIO.
                FileHandle nh = p.create("new-while-down");
                p.write(nh, 0, w);
                fs.fsync(nh, false); // durable in the dirty log
                fs.release(nh);
                p.mkdir("dir-while-down");
                FileHandle inDir = p.create("dir-while-down/f");
                fs.release(inDir); // the close keeps it (an empty object) for the upload
                assertEio(() -> fs.unlink(fs.rootIno(), "a"));
                assertEio(() -> fs.rename(fs.rootIno(), "a", fs.rootIno(), "b", 0));
                assertEio(() -> fs.rmdir(fs.rootIno(), "dir-while-down"));
                assertEio(() -> fs.symlink(fs.rootIno(), "link", "a", 0, 0));
                assertEio(() -> p.create("d/unknown")); // "d" cannot be listed: its names cannot be checked
                assertThat(p.list("")).contains("a", "new-while-down", "dir-while-down");
                assertThat(p.read(p.open("new-while-down"), 0, 8192)).isEqualTo(w);
            } finally {
                server.start();
            }
            assertThat(fs.netfs().retryPending()).isTrue();
            assertThat(s3.object(bucket, "a")).isEqualTo(a);
            assertThat(s3.object(bucket, "new-while-down")).isEqualTo(random(7, 4096));
            assertThat(s3.object(bucket, "dir-while-down/f")).isEmpty();
            assertThat(oracle.headObject(b -> b.bucket(bucket).key("dir-while-down/")).metadata())
                    .as("the marker with the directory's metadata").containsKey("mode");
            assertThat(s3.keys(bucket)).contains("a", "d/x", "new-while-down", "dir-while-down/", "dir-while-down/f")
                    .as("nothing the failed changes named").doesNotContain("b", "link", "d/unknown");
            fs.release(fh);
        }
    }

    @Test
    void fsyncdDataOfAKilledMountIsUploadedByTheNextMount() throws Exception {
        String bucket = s3.newBucket("fault");
        Path cache = tmp.resolve("c-" + bucket);
        try (FaultProxy proxy = new FaultProxy(server.port())) {
            String java = ProcessHandle.current().info().command().orElse("java");
            Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    CrashingMount.class.getName(), "http://127.0.0.1:" + proxy.port(), bucket, cache.toString(), "-",
                    "crashed").redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                        StandardCharsets.UTF_8));
                Writer in = new OutputStreamWriter(child.getOutputStream(), StandardCharsets.UTF_8);
                assertThat(out.readLine()).isEqualTo("MOUNTED");
                proxy.cut();
                in.write("go\n");
                in.flush();
                assertThat(out.readLine()).isEqualTo("SYNCED 1");
            } finally {
                child.destroyForcibly();
                assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
            }
        }
        assertThat(s3.object(bucket, "crashed")).as("the killed mount never reached the server (a create sends "
                + "nothing: the object is PUT at the first close/fsync)").isNull();
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", cache, server.port()))) {
            assertThat(fs.netfs().pendingCount()).isZero();
            assertThat(fs.netfs().unresolved()).isEmpty();
        }
        assertThat(s3.object(bucket, "crashed")).isEqualTo(CrashingMount.content());
    }
}
