/**
 * The jbd2 journal of ext3/ext4: on-disk format, recovery, and the log writer of transaction commits. Depends on the
 * core only ({@link org.iomap4j.block.BlockDevice}, {@link org.iomap4j.FsException}); the ext driver supplies the
 * journal's location as a {@link org.iomap4j.jbd2.JournalMap}. See the module's README for shapes and units.
 *
 * <p>Format sources: the kernel's Documentation/filesystems/ext4/journal.rst, include/linux/jbd2.h,
 * fs/jbd2/recovery.c, commit.c, journal.c; e2fsprogs e2fsck/recovery.c and e2fsck/journal.c.
 */
package org.iomap4j.jbd2;
