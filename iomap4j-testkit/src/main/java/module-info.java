/**
 * Test tools for iomap4j and the filesystems built on it: the fsx-style exerciser (library and mounted-path
 * targets), fault-injecting, tracing and recording block devices, and the reference filesystem TestFs.
 */
module org.iomap4j.testkit {
    requires transitive org.iomap4j.core;
    requires jdk.unsupported; // com.sun.nio.file.ExtendedOpenOption.DIRECT (PathTarget's O_DIRECT descriptor)

    exports org.iomap4j.testkit.block;
    exports org.iomap4j.testkit.exercise;
    exports org.iomap4j.testkit.testfs;
}
