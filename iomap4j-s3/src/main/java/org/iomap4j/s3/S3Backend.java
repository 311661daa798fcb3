package org.iomap4j.s3;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.netfs.NetfsBackend;
import org.iomap4j.netfs.ObjectVersion;
import org.iomap4j.netfs.RangeData;
import org.iomap4j.netfs.WritePlan;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.MetadataDirective;

/**
 * The netfs backend of an S3 bucket: ranged GETs with If-Match on the cached ETag, and uploads as one PUT for
 * objects up to one part, else a multipart upload in which every part the {@link WritePlan} calls unchanged is an
 * UploadPartCopy from the base version (x-amz-copy-source-if-match: the base ETag, so a base changed by someone else
 * fails with ESTALE instead of mixing versions) and the others are read-modify-write UploadParts. S3 facts:
 * docs.aws.amazon.com/AmazonS3/latest/API/ (GetObject Range and If-Match; UploadPartCopy x-amz-copy-source-range;
 * parts 5 MiB..5 GiB except the last; at most 10,000 parts).
 *
 * <p>Calls run on virtual threads ({@link #executor}); the SDK client is thread-safe. Also offers the namespace
 * calls the filesystem needs (head, put, copy, delete), synchronously, with errors mapped by {@link S3Errors}.
 */
public final class S3Backend implements NetfsBackend {
    /** S3's smallest part except the last. */
    public static final long MIN_PART_BYTES = 5L << 20;
    private static final int MAX_PARTS = 10_000;
    /** Parts of one multipart upload sent at once. */
    static final int PARTS_IN_FLIGHT = 6;

    private final S3Client s3;
    private final String bucket;
    private final long partBytes;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

    /**
     * A backend on one bucket.
     *
     * @param s3        a client for the endpoint (closed by {@link #close()})
     * @param bucket    the bucket
     * @param partBytes multipart part size in bytes, at least {@link #MIN_PART_BYTES}
     */
    public S3Backend(S3Client s3, String bucket, long partBytes) {
        if (partBytes < MIN_PART_BYTES) {
            throw new IllegalArgumentException("S3 parts are at least 5 MiB: " + partBytes);
        }
        this.s3 = s3;
        this.bucket = bucket;
        this.partBytes = partBytes;
    }

    /**
     * The SDK client (closed with this backend).
     *
     * @return the client
     */
    public S3Client client() {
        return s3;
    }

    /**
     * The bucket name.
     *
     * @return the bucket
     */
    public String bucket() {
        return bucket;
    }

    /**
     * An object's version and user metadata, from HeadObject.
     *
     * @param version  ETag and size
     * @param metadata user metadata (x-amz-meta-*)
     */
    public record ObjectInfo(ObjectVersion version, Map<String, String> metadata) {
    }

    @Override
    public CompletableFuture<RangeData> read(String key, long posBytes, int lengthBytes, ObjectVersion expect) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return readNow(key, posBytes, lengthBytes, expect);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, executor).exceptionallyCompose(t -> CompletableFuture.failedFuture(unwrap(key, t)));
    }

    private RangeData readNow(String key, long posBytes, int lengthBytes, ObjectVersion expect) throws IOException {
        String what = "GET s3://" + bucket + "/" + key + " bytes " + posBytes + "+" + lengthBytes;
        try {
            ResponseBytes<GetObjectResponse> rb = s3.getObjectAsBytes(b -> {
                b.bucket(bucket).key(key).range("bytes=" + posBytes + "-" + (posBytes + lengthBytes - 1));
                if (expect != null) {
                    b.ifMatch(expect.tag());
                }
            });
            GetObjectResponse r = rb.response();
            long total = totalSize(r.contentRange(), r.contentLength());
            long start = posBytes;
            if (r.contentRange() == null) {
                start = 0; // the server ignored the range and sent everything
            }
            return new RangeData(start, rb.asByteBuffer(), new ObjectVersion(r.eTag(), total));
        } catch (RuntimeException e) {
            throw S3Errors.map(what, e);
        }
    }

    /** Object size from "bytes S-E/TOTAL" (RFC 9110 Content-Range), else the body length. */
    private static long totalSize(String contentRange, Long contentLength) {
        if (contentRange != null) {
            int slash = contentRange.lastIndexOf('/');
            if (slash > 0 && !contentRange.endsWith("*")) {
                return Long.parseLong(contentRange.substring(slash + 1).trim());
            }
        }
        return contentLength == null ? 0 : contentLength;
    }

    @Override
    public CompletableFuture<ObjectVersion> write(WritePlan plan) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return writeNow(plan);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, executor).exceptionallyCompose(t -> CompletableFuture.failedFuture(unwrap(plan.key(), t)));
    }

    private static Throwable unwrap(String key, Throwable t) {
        Throwable c = t;
        while ((c instanceof java.util.concurrent.CompletionException || c instanceof UncheckedIOException)
                && c.getCause() != null) {
            c = c.getCause();
        }
        return c instanceof IOException ? c : S3Errors.map("s3 '" + key + "'", c);
    }

    private ObjectVersion writeNow(WritePlan plan) throws IOException {
        long size = plan.sizeBytes();
        long part = Math.max(partBytes, ceilDiv(size, MAX_PARTS));
        boolean anyCopy = false;
        for (long p = 0; p + part <= size && !anyCopy; p += part) {
            anyCopy = plan.unchanged(p, part);
        }
        if (size <= part || !anyCopy) {
            if (size > Integer.MAX_VALUE - 8 || size > 4 * part) {
                return multipart(plan, part); // too big for one buffer: parts, all uploaded
            }
            return putWhole(plan);
        }
        return multipart(plan, part);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private ObjectVersion putWhole(WritePlan plan) throws IOException {
        ByteBuffer body = ByteBuffer.allocate((int) plan.sizeBytes());
        plan.source().read(0, body);
        body.flip();
        String what = "PUT s3://" + bucket + "/" + plan.key();
        try {
            String etag = s3.putObject(b -> b.bucket(bucket).key(plan.key()).metadata(plan.attributes()),
                    RequestBody.fromByteBuffer(body)).eTag();
            return new ObjectVersion(etag, plan.sizeBytes());
        } catch (RuntimeException e) {
            throw S3Errors.map(what, e);
        }
    }

    private ObjectVersion multipart(WritePlan plan, long part) throws IOException {
        String what = "multipart upload of s3://" + bucket + "/" + plan.key();
        String uploadId;
        try {
            uploadId = s3.createMultipartUpload(b -> b.bucket(bucket).key(plan.key()).metadata(plan.attributes()))
                    .uploadId();
        } catch (RuntimeException e) {
            throw S3Errors.map(what, e);
        }
        boolean done = false;
        // Parts go up concurrently, at most PARTS_IN_FLIGHT at a time (each holds one part's bytes in memory).
        java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(PARTS_IN_FLIGHT);
        List<CompletableFuture<CompletedPart>> pending = new ArrayList<>();
        try {
            int n = 1;
            for (long p = 0; p < plan.sizeBytes() || n == 1; p += part, n++) {
                long len = Math.min(part, plan.sizeBytes() - p);
                int partNo = n;
                long pos = p;
                if (!pending.isEmpty() && pending.stream().anyMatch(CompletableFuture::isCompletedExceptionally)) {
                    break; // a part failed: stop sending (the join below reports it)
                }
                try {
                    inFlight.acquire();
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new FsException(Errno.EINTR, what + " interrupted");
                }
                pending.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return uploadOnePart(plan, uploadId, partNo, pos, len);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    } finally {
                        inFlight.release();
                    }
                }, executor));
            }
            List<CompletedPart> parts = new ArrayList<>();
            for (CompletableFuture<CompletedPart> f : pending) {
                try {
                    parts.add(f.join());
                } catch (java.util.concurrent.CompletionException ce) {
                    for (CompletableFuture<CompletedPart> g : pending) {
                        g.cancel(false);
                    }
                    Throwable c = unwrap(plan.key(), ce);
                    throw c instanceof IOException io ? io : S3Errors.map(what, c);
                }
            }
            String etag = s3.completeMultipartUpload(b -> b.bucket(bucket).key(plan.key()).uploadId(uploadId)
                    .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build())).eTag();
            done = true;
            return new ObjectVersion(etag, plan.sizeBytes());
        } catch (RuntimeException e) {
            throw S3Errors.map(what, e);
        } finally {
            if (!done) {
                for (CompletableFuture<CompletedPart> f : pending) {
                    try {
                        f.join(); // let every started part finish before the abort
                    } catch (RuntimeException ignored) {
                        // reported above
                    }
                }
                try {
                    s3.abortMultipartUpload(b -> b.bucket(bucket).key(plan.key()).uploadId(uploadId));
                } catch (RuntimeException ignored) {
                    // the server is probably unreachable; a bucket lifecycle rule cleans abandoned uploads
                }
            }
        }
    }

    /** One part: UploadPartCopy from the base when the plan leaves it unchanged, else UploadPart of its bytes. */
    private CompletedPart uploadOnePart(WritePlan plan, String uploadId, int partNo, long pos, long len)
            throws IOException {
        try {
            String etag;
            if (len > 0 && plan.unchanged(pos, len)) {
                etag = s3.uploadPartCopy(b -> b.sourceBucket(bucket).sourceKey(plan.key())
                        .copySourceIfMatch(plan.base().tag())
                        .copySourceRange("bytes=" + pos + "-" + (pos + len - 1))
                        .destinationBucket(bucket).destinationKey(plan.key()).uploadId(uploadId)
                        .partNumber(partNo)).copyPartResult().eTag();
            } else {
                ByteBuffer body = ByteBuffer.allocate((int) len);
                plan.source().read(pos, body);
                body.flip();
                etag = s3.uploadPart(b -> b.bucket(bucket).key(plan.key()).uploadId(uploadId).partNumber(partNo),
                        RequestBody.fromByteBuffer(body)).eTag();
            }
            return CompletedPart.builder().partNumber(partNo).eTag(etag).build();
        } catch (RuntimeException e) {
            throw S3Errors.map("part " + partNo + " of s3://" + bucket + "/" + plan.key(), e);
        }
    }

    /**
     * HeadObject: the object's version and metadata, or null if there is no such key.
     *
     * @param key the object key
     * @return version and metadata, or null
     * @throws IOException mapped S3 errors (EACCES, EIO...) other than a missing key
     */
    public ObjectInfo head(String key) throws IOException {
        try {
            HeadObjectResponse r = s3.headObject(b -> b.bucket(bucket).key(key));
            return new ObjectInfo(new ObjectVersion(r.eTag(), r.contentLength()), new HashMap<>(r.metadata()));
        } catch (RuntimeException e) {
            IOException io = S3Errors.map("HEAD s3://" + bucket + "/" + key, e);
            if (io instanceof FsException fe && fe.errno() == Errno.ENOENT) {
                return null;
            }
            throw io;
        }
    }

    /**
     * PUT of a small object (an empty file, a directory marker, a symlink).
     *
     * @param key      the object key
     * @param data     the whole object
     * @param metadata user metadata
     * @return the stored version
     * @throws IOException mapped S3 errors
     */
    public ObjectVersion put(String key, byte[] data, Map<String, String> metadata) throws IOException {
        try {
            String etag = s3.putObject(b -> b.bucket(bucket).key(key).metadata(metadata), RequestBody.fromBytes(data))
                    .eTag();
            return new ObjectVersion(etag, data.length);
        } catch (RuntimeException e) {
            throw S3Errors.map("PUT s3://" + bucket + "/" + key, e);
        }
    }

    /**
     * Server-side copy {@code from} -> {@code to} (CopyObject, objects up to 5 GiB), with {@code metadata} replacing
     * the source's when not null.
     *
     * @param from     source key
     * @param to       destination key
     * @param metadata replacement user metadata, or null to keep the source's
     * @return the destination's version
     * @throws IOException mapped S3 errors; EIO if the copy left no object
     */
    public ObjectVersion copy(String from, String to, Map<String, String> metadata) throws IOException {
        try {
            s3.copyObject(b -> {
                b.sourceBucket(bucket).sourceKey(from).destinationBucket(bucket).destinationKey(to);
                if (metadata != null) {
                    b.metadataDirective(MetadataDirective.REPLACE).metadata(metadata);
                }
            });
            ObjectInfo info = head(to);
            if (info == null) {
                throw new FsException(Errno.EIO, "copy of '" + from + "' to '" + to + "' left no object");
            }
            return info.version();
        } catch (RuntimeException e) {
            throw S3Errors.map("COPY s3://" + bucket + "/" + from + " to " + to, e);
        }
    }

    /**
     * DeleteObject (a missing key is not an error: S3 deletes are idempotent).
     *
     * @param key the object key
     * @throws IOException mapped S3 errors
     */
    public void delete(String key) throws IOException {
        try {
            s3.deleteObject(b -> b.bucket(bucket).key(key));
        } catch (RuntimeException e) {
            throw S3Errors.map("DELETE s3://" + bucket + "/" + key, e);
        }
    }

    @Override
    public void close() {
        executor.shutdown();
        s3.close();
    }
}
