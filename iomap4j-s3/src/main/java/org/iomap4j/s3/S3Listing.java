package org.iomap4j.s3;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CommonPrefix;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Directory listings as S3 has them: ListObjectsV2 with delimiter "/" under a prefix, every page followed by its
 * continuation token (S3 returns at most 1,000 keys a page: docs.aws.amazon.com/AmazonS3/latest/API/
 * API_ListObjectsV2.html). A bound on pages keeps a runaway listing finite.
 */
final class S3Listing {
    /** One child of a directory: a common prefix (directory) or an object. */
    record Child(String name, boolean directory, long sizeBytes, String etag) {
    }

    /** At most this many pages (10 million keys) per listing. */
    private static final int MAX_PAGES = 10_000;

    private S3Listing() {
    }

    /**
     * The children of directory prefix {@code dirPrefix} ("" for the bucket root, else ending in "/"), in key
     * order; the directory's own marker object is left out.
     */
    static List<Child> children(S3Client s3, String bucket, String dirPrefix) throws IOException {
        List<Child> out = new ArrayList<>();
        String token = null;
        try {
            for (int page = 0; page < MAX_PAGES; page++) {
                String t = token;
                ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(bucket).prefix(dirPrefix).delimiter("/")
                        .continuationToken(t));
                addPage(r, dirPrefix, out);
                if (!Boolean.TRUE.equals(r.isTruncated()) || r.nextContinuationToken() == null) {
                    return out;
                }
                token = r.nextContinuationToken();
            }
            throw new IOException("listing of '" + dirPrefix + "' exceeds " + MAX_PAGES + " pages");
        } catch (RuntimeException e) {
            throw S3Errors.map("LIST s3://" + bucket + "/" + dirPrefix, e);
        }
    }

    /** Adds one LIST page's common prefixes (directories) and objects (files) below {@code dirPrefix} to {@code out}. */
    private static void addPage(ListObjectsV2Response r, String dirPrefix, List<Child> out) {
        for (CommonPrefix cp : r.commonPrefixes()) {
            String name = cp.prefix().substring(dirPrefix.length(), cp.prefix().length() - 1);
            if (!name.isEmpty()) {
                out.add(new Child(name, true, 0, null));
            }
        }
        for (S3Object o : r.contents()) {
            String name = o.key().substring(dirPrefix.length());
            if (!name.isEmpty()) {
                out.add(new Child(name, false, o.size(), o.eTag()));
            }
        }
    }

    /**
     * The children of {@code dirPrefix} if they fit in one page of up to {@code maxKeys} keys and prefixes, else
     * null (the directory is larger: list it with {@link #children}).
     */
    static List<Child> childrenIfFew(S3Client s3, String bucket, String dirPrefix, int maxKeys) throws IOException {
        try {
            ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(bucket).prefix(dirPrefix).delimiter("/")
                    .maxKeys(maxKeys));
            if (Boolean.TRUE.equals(r.isTruncated())) {
                return null;
            }
            List<Child> out = new ArrayList<>();
            addPage(r, dirPrefix, out);
            return out;
        } catch (RuntimeException e) {
            throw S3Errors.map("LIST s3://" + bucket + "/" + dirPrefix, e);
        }
    }

    /** Up to {@code max} keys under {@code prefix} (no delimiter: the whole subtree). */
    static List<String> keys(S3Client s3, String bucket, String prefix, int max) throws IOException {
        try {
            List<String> out = new ArrayList<>();
            for (S3Object o : s3.listObjectsV2(b -> b.bucket(bucket).prefix(prefix).maxKeys(max)).contents()) {
                out.add(o.key());
            }
            return out;
        } catch (RuntimeException e) {
            throw S3Errors.map("LIST s3://" + bucket + "/" + prefix, e);
        }
    }

    /** Every key under {@code prefix}, paginated (for a directory rename). */
    static List<String> allKeys(S3Client s3, String bucket, String prefix) throws IOException {
        List<String> out = new ArrayList<>();
        String token = null;
        try {
            for (int page = 0; page < MAX_PAGES; page++) {
                String t = token;
                ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(bucket).prefix(prefix).continuationToken(t));
                for (S3Object o : r.contents()) {
                    out.add(o.key());
                }
                if (!Boolean.TRUE.equals(r.isTruncated()) || r.nextContinuationToken() == null) {
                    return out;
                }
                token = r.nextContinuationToken();
            }
            throw new IOException("listing of '" + prefix + "' exceeds " + MAX_PAGES + " pages");
        } catch (RuntimeException e) {
            throw S3Errors.map("LIST s3://" + bucket + "/" + prefix, e);
        }
    }
}
