/**
 * A {@code java.nio.file} provider (scheme {@code ext}) for ext2/3/4 images over the {@code Vfs} contract:
 * {@code FileSystems.newFileSystem(Path.of("disk.img"))}. Users need only the JDK's API; the package is exported for
 * its documented environment keys and exception types.
 */
module org.iomap4j.nio {
    requires org.iomap4j.core;
    requires org.iomap4j.ext;

    exports org.iomap4j.nio;

    provides java.nio.file.spi.FileSystemProvider with org.iomap4j.nio.ExtFileSystemProvider;
}
