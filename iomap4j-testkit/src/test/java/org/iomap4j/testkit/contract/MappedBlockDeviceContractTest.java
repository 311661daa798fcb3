package org.iomap4j.testkit.contract;

import java.io.IOException;
import java.nio.file.Path;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.MappedBlockDevice;

/** {@link BlockDeviceContract} against {@link MappedBlockDevice} (read-only reopen included). */
class MappedBlockDeviceContractTest extends BlockDeviceContract {
    private Path image;

    @Override
    protected BlockDevice newDevice(long sizeBytes) throws IOException {
        image = tempDir.resolve("mapped.img");
        FileBlockDevice.create(image, sizeBytes).close();
        return MappedBlockDevice.open(image, false);
    }

    @Override
    protected BlockDevice reopenReadOnly(BlockDevice device) throws IOException {
        device.flush();
        device.close();
        return MappedBlockDevice.open(image, true);
    }

    @Override
    protected boolean discardReadsZeroes() {
        return true; // documented by the device: discard zeroes the range
    }
}
