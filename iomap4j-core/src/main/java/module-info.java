/**
 * iomap4j's core: block devices, the iomap iterator and its operations (buffered, direct, DAX, seek, fiemap,
 * writeback), the page cache, the metadata buffer cache, the generic VFS layer and the front-end contract.
 *
 * <p>Package graph (who imports whom; no cycles): {@code vfs} and {@code block} depend only on {@code org.iomap4j};
 * {@code buf} and {@code pagecache} on {@code block}; {@code iomap} on {@code block} and {@code pagecache};
 * {@code fs} on all of them. {@code internal} (the libc binding) is for iomap4j's own modules only. Native access
 * is needed for the libc calls: {@code --enable-native-access=org.iomap4j.core} (or {@code ALL-UNNAMED} on the
 * class path).
 */
@SuppressWarnings("module") // the qualified exports name modules built after this one
module org.iomap4j.core {
    requires jdk.unsupported; // com.sun.nio.file.ExtendedOpenOption.DIRECT (FileBlockDevice's O_DIRECT reads)

    exports org.iomap4j;
    exports org.iomap4j.block;
    exports org.iomap4j.buf;
    exports org.iomap4j.fs;
    exports org.iomap4j.iomap;
    exports org.iomap4j.netfs;
    exports org.iomap4j.pagecache;
    exports org.iomap4j.vfs;
    exports org.iomap4j.internal to org.iomap4j.testkit, org.iomap4j.fuse;
}
