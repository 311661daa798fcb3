package org.iomap4j.s3;

/** Paths below the mount root ("" is the root, "a/b" a child of "a"): parent and last name. */
final class S3Paths {
    private S3Paths() {
    }

    /** The parent directory's path ("" for a child of the root). */
    static String parent(String path) {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? "" : path.substring(0, slash);
    }

    /** The last name of {@code path}. */
    static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    /** True if two ETags name the same version (S3 quotes them; some servers do not). */
    static boolean sameTag(String a, String b) {
        return a != null && b != null && unquote(a).equals(unquote(b));
    }

    private static String unquote(String t) {
        return t.length() >= 2 && t.startsWith("\"") && t.endsWith("\"") ? t.substring(1, t.length() - 1) : t;
    }
}
