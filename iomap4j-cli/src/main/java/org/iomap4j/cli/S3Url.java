package org.iomap4j.cli;

import java.nio.file.Path;

/**
 * {@code s3://BUCKET[/PREFIX]}, the first argument of {@code iomapfs mount} for a bucket.
 *
 * @param bucket bucket name (S3 rules: 3..63 characters of a-z, 0-9, '.', '-')
 * @param prefix key prefix shown as the mount's root, without leading or trailing '/' ("" for the whole bucket)
 */
record S3Url(String bucket, String prefix) {

    /**
     * Parses the IMAGE argument as an S3 URL; null if it is not one. picocli hands the argument over as a
     * {@link Path}, which folds "s3://" into "s3:/", so both spellings are accepted.
     *
     * @throws UsageException an s3: argument without a valid bucket name
     */
    static S3Url parse(Path arg) {
        if (arg == null) {
            return null;
        }
        String s = arg.toString();
        if (!s.startsWith("s3:/")) {
            return null;
        }
        String rest = s.substring("s3:".length()).replaceFirst("^/+", "");
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1).replaceAll("^/+|/+$", "");
        if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
            throw new UsageException("'" + s + "': expected s3://BUCKET[/PREFIX] with a bucket name of 3 to 63 "
                    + "characters a-z, 0-9, '.', '-'");
        }
        return new S3Url(bucket, prefix);
    }

    @Override
    public String toString() {
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
    }
}
