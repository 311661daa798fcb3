package org.iomap4j.testkit.contract;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.junit.jupiter.api.Assumptions;

/**
 * {@link BlockDeviceContract} against a {@link FileBlockDevice} with direct reads on ({@code enableDirectReads}:
 * aligned reads of 4 KiB and more go through an O_DIRECT descriptor). The image lives under {@code target/} (tmpfs,
 * where {@code @TempDir} usually is, has no O_DIRECT); skips where the host refuses O_DIRECT.
 */
class FileBlockDeviceDirectReadsContractTest extends BlockDeviceContract {
    static Path imageDir() throws IOException {
        return Files.createDirectories(Path.of("target", "contract-images"));
    }

    @Override
    protected BlockDevice newDevice(long sizeBytes) throws IOException {
        Path img = Files.createTempFile(imageDir(), "direct-reads", ".img");
        img.toFile().deleteOnExit();
        FileBlockDevice d = FileBlockDevice.create(img, sizeBytes);
        if (!d.enableDirectReads(4096)) {
            d.close();
            Assumptions.abort("host refuses O_DIRECT for " + img);
        }
        return d;
    }

    @Override
    protected BlockDevice reopenReadOnly(BlockDevice device) throws IOException {
        device.close();
        FileBlockDevice d = FileBlockDevice.open(((FileBlockDevice) device).path(), true);
        d.enableDirectReads(4096);
        return d;
    }

    @Override
    protected boolean discardReadsZeroes() {
        return true; // documented by the device: discard zeroes the range
    }
}
