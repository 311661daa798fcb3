package org.iomap4j.s3;

import java.net.URI;
import java.nio.file.Path;
import java.util.Objects;
import org.iomap4j.netfs.NetfsConfig;

/**
 * What {@link S3FileSystem#mount} needs: where the bucket is, how to sign, and the caches.
 *
 * @param endpoint        S3 endpoint URL ({@code https://s3.eu-west-1.amazonaws.com}, a MinIO/Ceph RGW/s3proxy
 *                        URL); null for AWS's regional default
 * @param region          signing region (any value for most non-AWS servers; {@code us-east-1} if null)
 * @param bucket          bucket name
 * @param prefix          key prefix the mount shows as its root ("" for the whole bucket; else ends without "/")
 * @param accessKeyId     static credentials, or null for the SDK's default chain (AWS_ACCESS_KEY_ID and
 *                        AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles)
 * @param secretAccessKey secret of {@code accessKeyId}
 * @param cacheDir        local cache and dirty-log directory
 * @param cacheLimitBytes bound of the local cache's clean data in bytes
 * @param granuleBytes    local cache granule in bytes (default 1 MiB)
 * @param pageCacheBytes  page cache budget in bytes
 * @param partBytes       multipart part size in bytes (at least 5 MiB; default 8 MiB)
 * @param uid             owner of objects without uid metadata
 * @param gid             group of objects without gid metadata
 * @param retryMillis     upload retry interval while the server is unreachable
 * @param metadataTtlMillis how long a directory listing (names, absent names, sizes) and the attributes read with
 *                        it are reused without asking the server again (default {@link #DEFAULT_METADATA_TTL_MILLIS});
 *                        another client's namespace changes show after at most this long; 0 disables the cache.
 *                        An open still revalidates the file's contents (close-to-open, see {@link S3Freshness})
 * @param asyncClose      false (default): close() of a changed file returns once it is uploaded (close-to-open);
 *                        true: close() returns at once and the upload runs in the background, several files at a
 *                        time (as rclone's VFS cache does); fsync, sync and unmount still wait for it, and a failed
 *                        upload is reported by the file's next fsync (errseq) and kept in the dirty log
 */
public record S3MountOptions(URI endpoint, String region, String bucket, String prefix, String accessKeyId,
        String secretAccessKey, Path cacheDir, long cacheLimitBytes, int granuleBytes, long pageCacheBytes,
        long partBytes, int uid, int gid, long retryMillis, long metadataTtlMillis, boolean asyncClose) {

    /** Default {@code metadataTtlMillis}: 30 s (NFS keeps directory attributes 30..60 s by default). */
    public static final long DEFAULT_METADATA_TTL_MILLIS = 30_000;

    /** Checks the bucket and cache directory, normalises the prefix, defaults the region, checks the part size. */
    public S3MountOptions {
        Objects.requireNonNull(bucket, "bucket");
        Objects.requireNonNull(cacheDir, "cacheDir");
        prefix = prefix == null ? "" : prefix.replaceAll("^/+|/+$", "");
        region = region == null ? "us-east-1" : region;
        if (partBytes < S3Backend.MIN_PART_BYTES) {
            throw new IllegalArgumentException("part size below S3's 5 MiB minimum: " + partBytes);
        }
        if (metadataTtlMillis < 0) {
            throw new IllegalArgumentException("negative metadata TTL: " + metadataTtlMillis);
        }
    }

    /**
     * Defaults: 1 GiB local cache, 1 MiB granules, 256 MiB page cache, 8 MiB parts, uid/gid 0, retry every 2 s,
     * listings and attributes reused for 30 s.
     *
     * @param endpoint S3 endpoint URL, or null for AWS's regional default
     * @param bucket   bucket name
     * @param prefix   key prefix shown as the root ("" or null for the whole bucket)
     * @param cacheDir local cache and dirty-log directory
     * @return the options
     */
    public static S3MountOptions of(URI endpoint, String bucket, String prefix, Path cacheDir) {
        return new S3MountOptions(endpoint, null, bucket, prefix, null, null, cacheDir, 1L << 30,
                NetfsConfig.DEFAULT_GRANULE_BYTES, 256L << 20, 8L << 20, 0, 0, 2000, DEFAULT_METADATA_TTL_MILLIS, false);
    }

    /**
     * These options with static credentials.
     *
     * @param accessKey access key id
     * @param secretKey its secret
     * @return the new options
     */
    public S3MountOptions withCredentials(String accessKey, String secretKey) {
        return new S3MountOptions(endpoint, region, bucket, prefix, accessKey, secretKey, cacheDir, cacheLimitBytes,
                granuleBytes, pageCacheBytes, partBytes, uid, gid, retryMillis, metadataTtlMillis, asyncClose);
    }

    /**
     * These options with other cache sizes.
     *
     * @param limitBytes bound of the local cache's clean data in bytes
     * @param granule    local cache granule in bytes
     * @param pageCache  page cache budget in bytes
     * @return the new options
     */
    public S3MountOptions withCache(long limitBytes, int granule, long pageCache) {
        return new S3MountOptions(endpoint, region, bucket, prefix, accessKeyId, secretAccessKey, cacheDir, limitBytes,
                granule, pageCache, partBytes, uid, gid, retryMillis, metadataTtlMillis, asyncClose);
    }

    /**
     * These options with another multipart part size.
     *
     * @param part part size in bytes (at least 5 MiB)
     * @return the new options
     */
    public S3MountOptions withPartBytes(long part) {
        return new S3MountOptions(endpoint, region, bucket, prefix, accessKeyId, secretAccessKey, cacheDir,
                cacheLimitBytes, granuleBytes, pageCacheBytes, part, uid, gid, retryMillis, metadataTtlMillis, asyncClose);
    }

    /**
     * These options with another upload retry interval.
     *
     * @param millis retry interval in milliseconds while the server is unreachable
     * @return the new options
     */
    public S3MountOptions withRetryMillis(long millis) {
        return new S3MountOptions(endpoint, region, bucket, prefix, accessKeyId, secretAccessKey, cacheDir,
                cacheLimitBytes, granuleBytes, pageCacheBytes, partBytes, uid, gid, millis, metadataTtlMillis, asyncClose);
    }

    /** Another signing region (null: us-east-1). */
    public S3MountOptions withRegion(String newRegion) {
        return new S3MountOptions(endpoint, newRegion, bucket, prefix, accessKeyId, secretAccessKey, cacheDir,
                cacheLimitBytes, granuleBytes, pageCacheBytes, partBytes, uid, gid, retryMillis, metadataTtlMillis, asyncClose);
    }

    /** Owner shown for objects without uid/gid metadata (and of the root and implicit directories). */
    public S3MountOptions withOwner(int newUid, int newGid) {
        return new S3MountOptions(endpoint, region, bucket, prefix, accessKeyId, secretAccessKey, cacheDir,
                cacheLimitBytes, granuleBytes, pageCacheBytes, partBytes, newUid, newGid, retryMillis, metadataTtlMillis, asyncClose);
    }

    /**
     * These options with another metadata TTL.
     *
     * @param millis how long listings and the attributes read with them are reused, in milliseconds (0: never)
     * @return the new options
     */
    public S3MountOptions withMetadataTtlMillis(long millis) {
        return new S3MountOptions(endpoint, region, bucket, prefix, accessKeyId, secretAccessKey, cacheDir,
                cacheLimitBytes, granuleBytes, pageCacheBytes, partBytes, uid, gid, retryMillis, millis, asyncClose);
    }

    /**
     * These options with close() uploading in the background ({@code true}) or before it returns.
     *
     * @param async true for background uploads after close
     * @return the new options
     */
    public S3MountOptions withAsyncClose(boolean async) {
        return new S3MountOptions(endpoint, region, bucket, prefix, accessKeyId, secretAccessKey, cacheDir,
                cacheLimitBytes, granuleBytes, pageCacheBytes, partBytes, uid, gid, retryMillis, metadataTtlMillis,
                async);
    }
}
