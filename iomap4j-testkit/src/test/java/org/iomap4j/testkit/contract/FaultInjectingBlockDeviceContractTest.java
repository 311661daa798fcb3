package org.iomap4j.testkit.contract;

import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;

/** {@link BlockDeviceContract} against {@link FaultInjectingBlockDevice} with no fault armed (pass-through). */
class FaultInjectingBlockDeviceContractTest extends BlockDeviceContract {
    @Override
    protected BlockDevice newDevice(long sizeBytes) {
        return new FaultInjectingBlockDevice(new MemoryBlockDevice(sizeBytes, 512));
    }

    @Override
    protected boolean discardReadsZeroes() {
        return true; // documented by the device: discard zeroes the range
    }
}
