package org.iomap4j.vfs;

/**
 * One readdir entry.
 *
 * @param name       the entry name (bytes decoded as UTF-8)
 * @param ino        inode number
 * @param dtype      {@link FileMode} DT_* code
 * @param nextOffset the readdir offset to continue after this entry (opaque, stable across concurrent changes)
 */
public record DirEntry(String name, long ino, int dtype, long nextOffset) {
}
