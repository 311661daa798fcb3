package org.iomap4j.ext;

/** {@link ExtVfsContractTest} on a 4 KiB-block image (one block per page, large folios over whole blocks). */
class ExtVfs4kContractTest extends ExtVfsContractTest {
    @Override
    int blockSizeBytes() {
        return 4096;
    }
}
