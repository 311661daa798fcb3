package org.iomap4j.testkit.contract;

import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.MemoryBlockDevice;

/** {@link BlockDeviceContract} against {@link MemoryBlockDevice} (4 KiB logical blocks). */
class MemoryBlockDeviceContractTest extends BlockDeviceContract {
    @Override
    protected BlockDevice newDevice(long sizeBytes) {
        return new MemoryBlockDevice(sizeBytes, 4096);
    }

    @Override
    protected boolean discardReadsZeroes() {
        return true; // documented by the device: discard zeroes the range
    }
}
