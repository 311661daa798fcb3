package org.iomap4j.testkit.testfs;

/** {@link TestFsIomapOpsContractTest} with TestFs mode UNWRITTEN. */
class TestFsUnwrittenIomapOpsContractTest extends TestFsIomapOpsContractTest {
    @Override
    TestFs.Mode mode() {
        return TestFs.Mode.UNWRITTEN;
    }
}
