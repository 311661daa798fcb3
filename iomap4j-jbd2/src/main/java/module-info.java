/**
 * The jbd2 journal (ext3/ext4's): on-disk format, recovery (scan, revoke, replay; onto the device or into an
 * in-memory overlay) and the log writer of a transaction commit. Depends only on the core's block layer.
 */
module org.iomap4j.jbd2 {
    requires transitive org.iomap4j.core;

    exports org.iomap4j.jbd2;
}
