package org.iomap4j.s3;

import java.net.URI;
import java.nio.file.Path;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The one S3 test fixture: the JVM-wide s3proxy ({@link S3ProxyServer#shared()}), a plain SDK client to it (the
 * tests' oracle for what is in the bucket), fresh buckets, and the mount options tests use (small caches, the
 * 5 MiB minimum part, fast retries). Shared by this module's tests and, through the test jar, the CLI's mount
 * tests.
 */
public final class S3Fixture {
    private static final AtomicInteger BUCKETS = new AtomicInteger();
    private static S3Fixture instance;

    private final S3ProxyServer server;
    private final S3Client oracle;

    private S3Fixture(S3ProxyServer server) {
        this.server = server;
        this.oracle = server.oracle();
    }

    /** The fixture of this JVM (the server starts on first use and stops at exit). */
    public static synchronized S3Fixture get() throws Exception {
        if (instance == null) {
            instance = new S3Fixture(S3ProxyServer.shared());
        }
        return instance;
    }

    public S3ProxyServer server() {
        return server;
    }

    /** The oracle: a plain SDK client straight to the server (not through any mount). */
    public S3Client oracle() {
        return oracle;
    }

    public int port() {
        return server.port();
    }

    public URI endpoint() {
        return server.endpoint();
    }

    /** Creates an empty bucket named {@code tag-N} (unique in this JVM) and returns its name. */
    public String newBucket(String tag) {
        String b = tag + "-" + BUCKETS.incrementAndGet();
        oracle.createBucket(x -> x.bucket(b));
        return b;
    }

    /** The object's bytes as the server has them, or null if there is no such key. */
    public byte[] object(String bucket, String key) {
        try {
            return oracle.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray();
        } catch (NoSuchKeyException e) {
            return null;
        }
    }

    /** Every key of the bucket (all pages). */
    public TreeSet<String> keys(String bucket) {
        TreeSet<String> out = new TreeSet<>();
        for (S3Object o : oracle.listObjectsV2Paginator(b -> b.bucket(bucket)).contents()) {
            out.add(o.key());
        }
        return out;
    }

    /**
     * Mount options of the tests: the server at loopback {@code port} (the server's own, or a {@link FaultProxy}
     * in front of it), the test credentials, a 64 MiB local cache of 256 KiB granules, a 64 MiB page cache, 5 MiB
     * parts and 200 ms upload retries.
     */
    public static S3MountOptions options(String bucket, String prefix, Path cache, int port) {
        return S3MountOptions.of(URI.create("http://127.0.0.1:" + port), bucket, prefix, cache)
                .withCredentials(S3ProxyServer.IDENTITY, S3ProxyServer.CREDENTIAL)
                .withCache(64L << 20, 256 << 10, 64L << 20).withPartBytes(S3Backend.MIN_PART_BYTES)
                .withRetryMillis(200);
    }
}
