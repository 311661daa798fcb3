package org.iomap4j.testkit.contract;

import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.block.QueuedBlockDevice;

/** {@link BlockDeviceContract} against {@link QueuedBlockDevice} (queue depth 4) over a memory device. */
class QueuedBlockDeviceContractTest extends BlockDeviceContract {
    @Override
    protected BlockDevice newDevice(long sizeBytes) {
        return new QueuedBlockDevice(new MemoryBlockDevice(sizeBytes, 512), 4);
    }

    @Override
    protected boolean discardReadsZeroes() {
        return true; // documented by the device: discard zeroes the range
    }
}
