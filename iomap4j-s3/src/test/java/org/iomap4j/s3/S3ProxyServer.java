package org.iomap4j.s3;

import java.net.URI;
import java.nio.file.Path;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3 server for tests: s3proxy in this JVM, on loopback, with the jclouds filesystem blob store in a temp
 * directory (objects survive {@link #stop()} and {@link #start()}, like a server restart) and AWS v2/v4 signatures.
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String IDENTITY = "iomap4j-test";
    public static final String CREDENTIAL = "iomap4j-secret";

    private final String identity;
    private final String credential;

    private static S3ProxyServer shared;

    /**
     * The server shared by every test class of this JVM (s3proxy and jclouds take seconds to start), started on
     * first use in a temp directory and stopped at JVM exit. Tests use a bucket of their own.
     */
    public static synchronized S3ProxyServer shared() throws Exception {
        if (shared == null) {
            Path dir = java.nio.file.Files.createTempDirectory("s3-s3proxy-");
            S3ProxyServer s = new S3ProxyServer(dir.resolve("blobs"));
            s.start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    s.close();
                } catch (Exception e) {
                    // exiting anyway
                }
                try (var walk = java.nio.file.Files.walk(dir)) {
                    for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        java.nio.file.Files.deleteIfExists(p);
                    }
                } catch (java.io.IOException e) {
                    // a temp directory: left for the OS
                }
            }));
            shared = s;
        }
        return shared;
    }

    private final BlobStoreContext context;
    private final BlobStore blobStore;
    private S3Proxy proxy;
    private int port;

    S3ProxyServer(Path baseDir) {
        this(baseDir, 0, IDENTITY, CREDENTIAL);
    }

    /** A server over {@code baseDir} that will listen on loopback {@code port} (0: a free one). */
    S3ProxyServer(Path baseDir, int port, String identity, String credential) {
        this.port = port;
        this.identity = identity;
        this.credential = credential;
        Properties props = new Properties();
        props.setProperty("jclouds.filesystem.basedir", baseDir.toString());
        context = ContextBuilder.newBuilder("filesystem").credentials("identity", "credential").overrides(props)
                .build(BlobStoreContext.class);
        blobStore = context.getBlobStore();
    }

    /** Starts listening (on a fresh loopback port the first time, on the same port after a {@link #stop()}). */
    public void start() throws Exception {
        proxy = S3Proxy.builder().blobStore(blobStore)
                .endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, identity, credential)
                .build();
        proxy.start();
        for (int i = 0; i < 500 && !"STARTED".equals(proxy.getState()); i++) {
            Thread.sleep(10);
        }
        port = proxy.getPort();
    }

    /** Stops listening; requests get connection refused until {@link #start()}. */
    public void stop() throws Exception {
        proxy.stop();
    }

    public int port() {
        return port;
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** A plain SDK client straight to the server: the tests' oracle. */
    public S3Client oracle() {
        return S3Client.builder().endpointOverride(endpoint()).region(Region.US_EAST_1).forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(identity, credential)))
                .build();
    }

    @Override
    public void close() throws Exception {
        try {
            proxy.stop();
        } finally {
            context.close();
        }
    }

    /**
     * A standalone server for trying the mount by hand and for {@code bench/s3.sh}:
     * {@code S3ProxyServer PORT DIR [BUCKET...]} serves the objects under DIR on 127.0.0.1:PORT, creates the
     * buckets named, prints one line with the endpoint and runs until killed. Credentials: AWS_ACCESS_KEY_ID and
     * AWS_SECRET_ACCESS_KEY if set, else {@value #IDENTITY} / {@value #CREDENTIAL}. Run by {@code scripts/s3proxy}.
     */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: S3ProxyServer PORT DIR [BUCKET...]");
            System.exit(2);
        }
        String id = System.getenv().getOrDefault("AWS_ACCESS_KEY_ID", IDENTITY);
        String secret = System.getenv().getOrDefault("AWS_SECRET_ACCESS_KEY", CREDENTIAL);
        Path dir = Path.of(args[1]);
        java.nio.file.Files.createDirectories(dir);
        S3ProxyServer s = new S3ProxyServer(dir, Integer.parseInt(args[0]), id, secret);
        s.start();
        try (S3Client c = s.oracle()) {
            for (int i = 2; i < args.length; i++) {
                String b = args[i];
                if (c.listBuckets().buckets().stream().noneMatch(x -> x.name().equals(b))) {
                    c.createBucket(x -> x.bucket(b));
                }
            }
        }
        System.out.println("s3proxy: " + s.endpoint() + " serving " + dir + " (access key " + id + ")");
        System.out.flush();
        Thread.currentThread().join();
    }
}
