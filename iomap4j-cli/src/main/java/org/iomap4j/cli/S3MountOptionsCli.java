package org.iomap4j.cli;

import java.net.URI;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * The options of {@code iomapfs mount s3://BUCKET[/PREFIX] MOUNTPOINT} (ignored for an ext image). Credentials are
 * never options: the AWS SDK's default provider chain finds them ({@code AWS_ACCESS_KEY_ID}/
 * {@code AWS_SECRET_ACCESS_KEY}, {@code AWS_PROFILE} and {@code ~/.aws/credentials}, instance roles).
 */
final class S3MountOptionsCli {
    @Option(names = "--endpoint", paramLabel = "URL", description = "s3:// only: the S3 endpoint (MinIO, Ceph RGW, "
            + "s3proxy: http://host:port; default: AWS's regional endpoint). Buckets are addressed path-style.")
    URI endpoint;
    @Option(names = "--region", paramLabel = "REGION", description = "s3:// only: the signing region (default: "
            + "$AWS_REGION, else us-east-1; most non-AWS servers accept any).")
    String region;
    @Option(names = "--cache-dir", paramLabel = "DIR", description = "s3:// only: the local cache and dirty log "
            + "(default: $XDG_CACHE_HOME or ~/.cache, then iomapfs/s3/HOST/BUCKET[/PREFIX]). Data fsync'd while the "
            + "server was unreachable waits here and is uploaded by the next mount of the same directory.")
    Path cacheDir;
    @Option(names = "--disk-cache-size", defaultValue = "1G", converter = SizeConverter.class, paramLabel = "SIZE",
            description = "s3:// only: bound of the local disk cache's clean data (default ${DEFAULT-VALUE}).")
    long diskCacheBytes;
    @Option(names = "--granule", defaultValue = "1M", converter = SizeConverter.class, paramLabel = "SIZE",
            description = "s3:// only: local cache granule, the unit of server reads, 64K..64M (default "
                    + "${DEFAULT-VALUE}).")
    long granuleBytes;
    @Option(names = "--part-size", defaultValue = "8M", converter = SizeConverter.class, paramLabel = "SIZE",
            description = "s3:// only: multipart upload part, at least 5M (default ${DEFAULT-VALUE}); a random write "
                    + "sends the parts it touches and copies the others on the server.")
    long partBytes;
    @Option(names = "--metadata-ttl", defaultValue = "30", paramLabel = "SECONDS",
            description = "s3:// only: how long a directory listing (names, absent names, sizes) and the attributes "
                    + "read with it are reused before the server is asked again (default ${DEFAULT-VALUE}; 0: ask "
                    + "every time). Another client's creates, deletes and renames show after at most this long; an "
                    + "open still checks the file's version (close-to-open).")
    long metadataTtlSeconds;
    @Option(names = "--async-close", description = "s3:// only: close() returns at once and the file is uploaded in "
            + "the background, 8 files at a time (as rclone's VFS cache does); fsync, sync and unmount still wait for "
            + "the uploads. Default: close() returns once the file is on the server (close-to-open).")
    boolean asyncClose;

    /** The region to sign with: the option, else {@code AWS_REGION} / {@code AWS_DEFAULT_REGION}, else null. */
    String regionOrEnv() {
        if (region != null) {
            return region;
        }
        String r = System.getenv("AWS_REGION");
        return r != null && !r.isBlank() ? r : System.getenv("AWS_DEFAULT_REGION");
    }

    /** The cache directory: the option, else one per endpoint host, bucket and prefix under the user's cache. */
    Path cacheDirFor(S3Url url) {
        if (cacheDir != null) {
            return cacheDir;
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        String host = endpoint == null ? "aws-" + (regionOrEnv() == null ? "us-east-1" : regionOrEnv())
                : (endpoint.getHost() + (endpoint.getPort() > 0 ? "_" + endpoint.getPort() : ""));
        Path dir = base.resolve("iomapfs").resolve("s3").resolve(host.toLowerCase(Locale.ROOT)).resolve(url.bucket());
        return url.prefix().isEmpty() ? dir : dir.resolve(url.prefix());
    }
}
