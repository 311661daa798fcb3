/**
 * A FUSE server speaking the kernel's /dev/fuse protocol through the FFM API, serving any
 * {@link org.iomap4j.vfs.Vfs}. Public entry points: {@link org.iomap4j.fuse.FuseMount} and
 * {@link org.iomap4j.fuse.FuseOptions}; everything else is package-private.
 *
 * <p>Two layers, as in go-fuse. The wire layer ({@code Native}, {@code FuseAbi}, {@code Request},
 * {@code Reply}, {@code Channel}, {@code Op}, {@code FuseServer}) reads requests on N platform threads, one
 * cloned /dev/fuse fd each, and answers each exactly once on the fd it came from. The node layer
 * ({@code NodeBridge}) maps kernel node ids to Vfs inode numbers (nodeid 1 is the root), keeps the kernel's
 * lookup counts and the open-file table, and turns each opcode into Vfs calls.
 *
 * <p>Kernel caching: names and attributes are cached by the kernel for the configured timeouts; data is cached
 * in the kernel page cache per open (no FOPEN_KEEP_CACHE, so each open starts cold) and written through to the
 * Vfs on every write (no writeback cache unless asked for). Changes made behind the kernel's back must be
 * announced with {@link org.iomap4j.fuse.FuseMount#invalidateInode} / {@code invalidateEntry}.
 *
 * <p>Locks: the node layer holds no lock while calling the Vfs; FuseMount's {@code fdLock} is a leaf lock.
 * Facts: include/uapi/linux/fuse.h, fs/fuse/{dev,dir,file,inode}.c, and ../shared/reference/fuse-protocol.md.
 */
package org.iomap4j.fuse;
