package org.iomap4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A path inside an image, written {@code IMAGE:/PATH} as e2tools (e2cp, e2ls) write it. {@code IMAGE:} alone
 * means the root directory.
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

    /** Parses an argument that must be an image path, else a usage error naming it. */
    static ImagePath require(String arg) {
        return parse(arg).orElseThrow(() -> new UsageException(
                "'" + arg + "' is not IMAGE:/PATH (or the image file does not exist)"));
    }

    @Override
    public String toString() {
        return image + ":" + innerPath;
    }
}
