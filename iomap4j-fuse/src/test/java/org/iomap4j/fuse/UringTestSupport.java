package org.iomap4j.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns FUSE over io_uring on for the tests that need it: the fuse module's {@code enable_uring} parameter is N by
 * default; root may write Y into it (as .ci/run does). Tests call {@link #enable()} and skip, with its reason, when
 * it returns one.
 */
final class UringTestSupport {
    private UringTestSupport() {}

    /** Null when FUSE over io_uring is enabled (after writing Y if needed), else why it cannot be. */
    static String enable() {
        Path param = Path.of(FuseUringAbi.ENABLE_URING_PARAM);
        if (!Files.exists(param)) {
            return "FUSE over io_uring not in this kernel (" + param + " missing; needs Linux 6.14+, CONFIG_FUSE_IO_URING)";
        }
        if (FuseUring.kernelSupport() != null) {
            try {
                Files.writeString(param, "Y");
            } catch (IOException e) {
                return "cannot enable FUSE over io_uring (" + param + " is N and not writable: " + e + ")";
            }
        }
        return FuseUring.kernelSupport();
    }
}
