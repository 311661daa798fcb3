/**
 * The ext2/3/4 driver on iomap4j: {@code org.iomap4j.ext} (mount, mkfs, the {@code Vfs} implementation) is the
 * API; the on-disk codecs of {@code org.iomap4j.ext.disk} stay inside the module.
 */
module org.iomap4j.ext {
    requires transitive org.iomap4j.core;
    requires transitive org.iomap4j.jbd2;

    exports org.iomap4j.ext;
}
