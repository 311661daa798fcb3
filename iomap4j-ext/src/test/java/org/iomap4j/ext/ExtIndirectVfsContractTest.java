package org.iomap4j.ext;

/**
 * {@link ExtVfsContractTest} on a plain ext2 image: new files use the indirect block map, which has no unwritten
 * extents, so fallocate KEEP_SIZE must answer EOPNOTSUPP (as the kernel's ext2 does).
 */
class ExtIndirectVfsContractTest extends ExtVfsContractTest {
    @Override
    boolean extents() {
        return false;
    }
}
