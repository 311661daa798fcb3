package org.iomap4j.testkit.contract;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.junit.jupiter.api.Assumptions;

/**
 * {@link BlockDeviceContract} against a {@link FileBlockDevice} opened O_DIRECT (every request aligned: the
 * byte-granular case skips). Skips where the host refuses O_DIRECT.
 */
class FileBlockDeviceODirectContractTest extends BlockDeviceContract {
    @Override
    protected BlockDevice newDevice(long sizeBytes) throws IOException {
        Path img = Files.createTempFile(FileBlockDeviceDirectReadsContractTest.imageDir(), "odirect", ".img");
        img.toFile().deleteOnExit();
        FileBlockDevice.create(img, sizeBytes).close();
        try {
            return FileBlockDevice.open(img, false, true);
        } catch (IOException | UnsupportedOperationException e) {
            Assumptions.abort("host refuses O_DIRECT for " + img + ": " + e);
            throw e;
        }
    }

    @Override
    protected BlockDevice reopenReadOnly(BlockDevice device) throws IOException {
        device.close();
        return FileBlockDevice.open(((FileBlockDevice) device).path(), true, true);
    }

    @Override
    protected boolean discardReadsZeroes() {
        return true; // documented by the device: discard zeroes the range
    }
}
