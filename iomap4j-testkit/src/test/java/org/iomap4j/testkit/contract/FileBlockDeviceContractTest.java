package org.iomap4j.testkit.contract;

import java.io.IOException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;

/** {@link BlockDeviceContract} against a buffered {@link FileBlockDevice} (read-only reopen included). */
class FileBlockDeviceContractTest extends BlockDeviceContract {
    @Override
    protected BlockDevice newDevice(long sizeBytes) throws IOException {
        return FileBlockDevice.create(tempDir.resolve("dev.img"), sizeBytes);
    }

    @Override
    protected BlockDevice reopenReadOnly(BlockDevice device) throws IOException {
        device.close();
        return FileBlockDevice.open(((FileBlockDevice) device).path(), true);
    }

    @Override
    protected boolean discardReadsZeroes() {
        return true; // documented by the device: discard zeroes the range
    }
}
