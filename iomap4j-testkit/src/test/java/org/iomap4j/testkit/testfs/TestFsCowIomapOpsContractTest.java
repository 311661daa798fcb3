package org.iomap4j.testkit.testfs;

/** {@link TestFsIomapOpsContractTest} with TestFs mode COW. */
class TestFsCowIomapOpsContractTest extends TestFsIomapOpsContractTest {
    @Override
    TestFs.Mode mode() {
        return TestFs.Mode.COW;
    }
}
