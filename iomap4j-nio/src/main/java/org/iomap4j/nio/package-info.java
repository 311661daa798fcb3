/**
 * A {@link java.nio.file.spi.FileSystemProvider} (scheme {@code ext}) that opens ext images as
 * {@link java.nio.file.FileSystem}s, driving the filesystem only through the {@link org.iomap4j.vfs.Vfs} contract;
 * the ext-specific part (recognising, creating, mounting and locking an image) is {@code ExtImages}.
 *
 * <pre>{@code
 * try (FileSystem fs = FileSystems.newFileSystem(Path.of("disk.img"))) {
 *     Files.writeString(fs.getPath("/hello.txt"), "written into the image");
 * }
 * }</pre>
 *
 * <p>Public types: {@link org.iomap4j.nio.ExtFileSystemProvider} (found through META-INF/services) and
 * {@link org.iomap4j.nio.ImageInUseException}. Everything else is reached through the java.nio.file API. Feature
 * table, env keys and behaviour: docs/nio.md.
 */
package org.iomap4j.nio;
