package org.iomap4j.testkit.testfs;

/** {@link TestFsIomapOpsContractTest} with TestFs mode DELALLOC. */
class TestFsDelallocIomapOpsContractTest extends TestFsIomapOpsContractTest {
    @Override
    TestFs.Mode mode() {
        return TestFs.Mode.DELALLOC;
    }
}
