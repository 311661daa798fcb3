package org.iomap4j.s3;

import java.time.Duration;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** Builds the SDK client of a mount. */
final class S3Clients {
    private S3Clients() {
    }

    /**
     * A path-style client for {@code o}'s endpoint: short connect timeout and two attempts, so that an unreachable
     * server is noticed in seconds (netfs then works disconnected) rather than after minutes of retries; checksums
     * only where S3 requires them (several S3-compatible servers reject the SDK's default trailing checksums).
     */
    static S3Client create(S3MountOptions o) {
        return create(o, new S3RequestCounts());
    }

    /** As {@link #create(S3MountOptions)}, counting requests into {@code counts}. */
    static S3Client create(S3MountOptions o, S3RequestCounts counts) {
        var b = S3Client.builder()
                .region(Region.of(o.region()))
                .forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(ApacheHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(2))
                        .socketTimeout(Duration.ofSeconds(30))
                        .maxConnections(64))
                .overrideConfiguration(c -> c.retryStrategy(r -> r.maxAttempts(2)).addExecutionInterceptor(counts));
        if (o.endpoint() != null) {
            b.endpointOverride(o.endpoint());
        }
        if (o.accessKeyId() != null) {
            b.credentialsProvider(StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(o.accessKeyId(), o.secretAccessKey())));
        } else {
            b.credentialsProvider(DefaultCredentialsProvider.builder().build());
        }
        return b.build();
    }
}
