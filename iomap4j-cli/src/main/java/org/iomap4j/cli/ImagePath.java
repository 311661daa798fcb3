package org.iomap4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A path inside an image, written {@code IMAGE:/PATH} as e2tools (e2cp, e2ls) write it. {@code IMAGE:} alone
 * means the root directory; the listing commands also take a bare {@code IMAGE} for it.
 *
 * @param image     the image file on the host
 * @param innerPath absolute path inside the image, "/"-separated
 */
record ImagePath(Path image, String innerPath) {

    /**
     * Parses {@code arg} as {@code IMAGE:/PATH} if the part before the first {@code ":"} that is followed by
     * "/" or the end names an existing host file; otherwise empty (a host path).
     */
    static Optional<ImagePath> parse(String arg) {
        int from = 0;
        while (true) {
            int colon = arg.indexOf(':', from);
            if (colon <= 0) {
                return Optional.empty();
            }
            String rest = arg.substring(colon + 1);
            if (rest.isEmpty() || rest.startsWith("/")) {
                Path image = Path.of(arg.substring(0, colon));
                if (Files.isRegularFile(image) || (image.startsWith("/dev/") && Files.exists(image))) {
                    return Optional.of(new ImagePath(image, rest.isEmpty() ? "/" : rest));
                }
            }
            from = colon + 1;
        }
    }

    /**
     * Parses an argument that must be an image path, else a usage error saying what is wrong with it: the image
     * file missing, not a file, or no {@code :/PATH} after it.
     */
    static ImagePath require(String arg) {
        return parse(arg).orElseThrow(() -> notAnImagePath(arg));
    }

    /** As {@link #require}, where a bare {@code IMAGE} (an existing file, no {@code :}) means its root directory. */
    static ImagePath requireOrRoot(String arg) {
        Optional<ImagePath> p = parse(arg);
        if (p.isPresent()) {
            return p.get();
        }
        Path bare = Path.of(arg);
        if (Files.isRegularFile(bare) || (bare.startsWith("/dev/") && Files.exists(bare))) {
            return new ImagePath(bare, "/");
        }
        throw notAnImagePath(arg);
    }

    private static UsageException notAnImagePath(String arg) {
        int colon = arg.indexOf(':');
        String image = colon > 0 ? arg.substring(0, colon) : arg;
        Path p = Path.of(image);
        if (!Files.exists(p)) {
            return new UsageException(image + ": no such image file");
        }
        if (!Files.isRegularFile(p)) {
            return new UsageException(image + ": not an image file (expected IMAGE:/PATH)");
        }
        return new UsageException("'" + arg + "' is not IMAGE:/PATH");
    }

    @Override
    public String toString() {
        return image + ":" + innerPath;
    }
}
