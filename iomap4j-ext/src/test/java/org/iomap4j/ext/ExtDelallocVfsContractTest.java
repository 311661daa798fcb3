package org.iomap4j.ext;

/**
 * The Vfs contract on an extent image mounted with delayed allocation: buffered writes reserve at write() and
 * allocate at writeback, st_blocks and statfs count the reservations, punch and truncate give them back.
 */
class ExtDelallocVfsContractTest extends ExtVfsContractTest {
    @Override
    protected ExtMountOptions mountOptions() {
        return ExtMountOptions.defaults().withDelalloc(true);
    }
}
