package org.iomap4j.s3;

import java.io.IOException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.netfs.BackendUnavailableException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * S3 failures as errnos: 404 (NoSuchKey, NoSuchBucket) is ENOENT, 412 (PreconditionFailed: If-Match or
 * x-amz-copy-source-if-match did not hold) is ESTALE, 403 and missing credentials are EACCES, any other service
 * error EIO, and a failure to
 * reach the endpoint (client-side: connection refused or reset, timeout) {@link BackendUnavailableException}.
 * Status codes: docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.
 */
final class S3Errors {
    private S3Errors() {
    }

    static IOException map(String what, Throwable t) {
        Throwable c = t;
        while (c != null && !(c instanceof SdkException) && !(c instanceof IOException) && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof FsException fe) {
            return fe;
        }
        if (c instanceof S3Exception s3) {
            int status = s3.statusCode();
            String msg = what + ": S3 " + status + " " + (s3.awsErrorDetails() != null
                    ? s3.awsErrorDetails().errorCode() : "") + " " + s3.getMessage();
            return switch (status) {
                case 404 -> new FsException(Errno.ENOENT, msg, s3);
                case 412 -> new FsException(Errno.ESTALE, msg, s3);
                case 403 -> new FsException(Errno.EACCES, msg, s3);
                default -> new FsException(Errno.EIO, msg, s3);
            };
        }
        if (c instanceof SdkClientException sce && sce.getMessage() != null
                && sce.getMessage().startsWith("Unable to load credentials")) {
            // The SDK's default chain found nothing: one line saying where credentials come from, not the chain.
            return new FsException(Errno.EACCES, what + ": no AWS credentials found (set AWS_ACCESS_KEY_ID and "
                    + "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials)", sce);
        }
        if (c instanceof SdkClientException sce) {
            return new BackendUnavailableException(what + ": server unreachable: " + sce.getMessage(), sce);
        }
        if (c instanceof IOException io) {
            return new BackendUnavailableException(what + ": " + io, io);
        }
        return new FsException(Errno.EIO, what + ": " + t, t);
    }
}
