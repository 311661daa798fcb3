/**
 * Test tools for iomap4j and the filesystems built on it: the fsx-style exerciser (library and mounted-path
 * targets), fault-injecting, tracing and recording block devices, the reference filesystem TestFs, the in-memory
 * {@code Vfs} (MemoryVfs), and abstract JUnit 5 contract suites for block devices, {@code Vfs} implementations and
 * {@code IomapOps} that any implementation runs by extending them with a factory.
 */
module org.iomap4j.testkit {
    requires transitive org.iomap4j.core;
    requires static org.junit.jupiter.api; // the contract suites: present whenever tests run them
    requires static org.assertj.core;
    requires jdk.unsupported; // com.sun.nio.file.ExtendedOpenOption.DIRECT (PathTarget's O_DIRECT descriptor)

    exports org.iomap4j.testkit.block;
    exports org.iomap4j.testkit.exercise;
    exports org.iomap4j.testkit.testfs;
    exports org.iomap4j.testkit.vfs;
    exports org.iomap4j.testkit.contract;
    exports org.iomap4j.testkit.tools;
    // JUnit invokes the suites' package-private @Test, @BeforeEach and @AfterEach methods reflectively.
    opens org.iomap4j.testkit.contract to org.junit.platform.commons;
}
