package org.iomap4j.testkit.testfs;

/** {@link TestFsIomapOpsContractTest} with TestFs mode NEW. */
class TestFsNewIomapOpsContractTest extends TestFsIomapOpsContractTest {
    @Override
    TestFs.Mode mode() {
        return TestFs.Mode.NEW;
    }
}
