package org.iomap4j.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletionException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.netfs.BackendUnavailableException;
import org.iomap4j.netfs.ByteRange;
import org.iomap4j.netfs.ObjectVersion;
import org.iomap4j.netfs.RangeData;
import org.iomap4j.netfs.WritePlan;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/** {@link S3Backend} against a real s3proxy; the oracle is a plain SDK client. */
class S3BackendTest {
    @TempDir
    static Path tmp;
    static S3ProxyServer server;
    static S3Client oracle;
    static S3Backend backend;
    static final String BUCKET = "backend-test";

    @BeforeAll
    static void start() throws Exception {
        server = S3ProxyServer.shared();
        oracle = server.oracle();
        oracle.createBucket(b -> b.bucket(BUCKET));
        S3MountOptions o = S3MountOptions.of(server.endpoint(), BUCKET, "", tmp.resolve("cache"))
                .withCredentials(S3ProxyServer.IDENTITY, S3ProxyServer.CREDENTIAL).withPartBytes(S3Backend.MIN_PART_BYTES);
        backend = new S3Backend(S3Clients.create(o), BUCKET, o.partBytes());
    }

    @AfterAll
    static void stop() throws Exception {
        backend.close();
        oracle.close();
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] get(String key) {
        return oracle.getObjectAsBytes(b -> b.bucket(BUCKET).key(key)).asByteArray();
    }

    private static ObjectVersion putOracle(String key, byte[] data) {
        String etag = oracle.putObject(b -> b.bucket(BUCKET).key(key), RequestBody.fromBytes(data)).eTag();
        return new ObjectVersion(etag, data.length);
    }

    @Test
    void rangedReadsAreExactAndCheckTheVersion() throws Exception {
        byte[] data = random(1, 100_000);
        ObjectVersion v = putOracle("r/obj", data);
        RangeData rd = backend.read("r/obj", 12_345, 6789, v).join();
        assertThat(rd.version()).isEqualTo(v);
        assertThat(rd.posBytes()).isEqualTo(12_345);
        byte[] got = new byte[rd.data().remaining()];
        rd.data().get(got);
        assertThat(got).isEqualTo(Arrays.copyOfRange(data, 12_345, 12_345 + 6789));
        RangeData tail = backend.read("r/obj", 99_990, 100, null).join();
        assertThat(tail.data().remaining()).isEqualTo(10);

        putOracle("r/obj", random(2, 100_000));
        assertThatThrownBy(() -> backend.read("r/obj", 0, 10, v).join()).isInstanceOf(CompletionException.class)
                .cause().isInstanceOf(FsException.class)
                .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.ESTALE));
        assertThatThrownBy(() -> backend.read("r/none", 0, 10, null).join()).cause()
                .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.ENOENT));
        assertThat(backend.head("r/none")).isNull();
    }

    @Test
    void aLargeObjectIsRewrittenWithPartCopiesForUnchangedParts() throws Exception {
        int part = (int) S3Backend.MIN_PART_BYTES;
        byte[] data = random(3, 3 * part + 12_345);
        ObjectVersion v = putOracle("m/big", data);
        byte[] next = data.clone();
        byte[] patch = random(4, 1000);
        System.arraycopy(patch, 0, next, part + 77, patch.length);
        List<Long> sourceReads = new ArrayList<>();
        WritePlan plan = new WritePlan("m/big", v, next.length, v.sizeBytes(),
                List.of(new ByteRange(part + 77, part + 77 + patch.length)), Map.of("mode", "33188"),
                (pos, dst) -> {
                    sourceReads.add(pos);
                    dst.put(ByteBuffer.wrap(next, (int) pos, dst.remaining()));
                });
        ObjectVersion nv = backend.write(plan).join();
        assertThat(get("m/big")).isEqualTo(next);
        assertThat(nv.sizeBytes()).isEqualTo(next.length);
        assertThat(backend.head("m/big").version().tag()).isEqualTo(nv.tag());
        assertThat(backend.head("m/big").metadata()).containsEntry("mode", "33188");
        assertThat(sourceReads).as("only the changed part is sent; the others are copied on the server")
                .containsExactly((long) part);

        putOracle("m/big", data); // someone else replaced the base: part copies must refuse it
        WritePlan stale = new WritePlan("m/big", nv, next.length, nv.sizeBytes(), List.of(new ByteRange(0, 10)),
                Map.of(), (pos, dst) -> dst.put(ByteBuffer.wrap(next, (int) pos, dst.remaining())));
        assertThatThrownBy(() -> backend.write(stale).join()).cause()
                .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.ESTALE));
        assertThat(get("m/big")).as("unchanged by the refused upload").isEqualTo(data);
    }

    @Test
    void anUnreachableServerIsReportedAsUnavailable() throws Exception {
        S3MountOptions o = S3MountOptions.of(java.net.URI.create("http://127.0.0.1:1"), BUCKET, "", tmp)
                .withCredentials("a", "b");
        try (S3Backend dead = new S3Backend(S3Clients.create(o), BUCKET, o.partBytes())) {
            assertThatThrownBy(() -> dead.read("x", 0, 1, null).join()).cause()
                    .isInstanceOf(BackendUnavailableException.class);
        }
    }
}
