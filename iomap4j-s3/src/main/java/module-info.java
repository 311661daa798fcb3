/**
 * An S3 bucket as a filesystem on iomap4j's netfs layer: keys are paths, directories are common prefixes (plus
 * optional marker objects), file data goes through the core's page cache, a persistent local cache and multipart
 * uploads with server-side part copies. Entry point: {@code S3FileSystem.mount(S3MountOptions)}, a {@code Vfs}.
 */
module org.iomap4j.s3 {
    requires transitive org.iomap4j.core;
    requires software.amazon.awssdk.services.s3;
    requires software.amazon.awssdk.auth;
    requires software.amazon.awssdk.regions;
    requires software.amazon.awssdk.core;
    requires software.amazon.awssdk.http.apache;
    requires software.amazon.awssdk.http;
    requires software.amazon.awssdk.utils;
    requires software.amazon.awssdk.awscore;
    requires software.amazon.awssdk.retries.api;
    requires software.amazon.awssdk.retries;

    exports org.iomap4j.s3;
}
