/**
 * A FUSE server speaking the kernel's /dev/fuse protocol through the FFM API, serving any
 * {@link org.iomap4j.vfs.Vfs}. Public entry points: {@link org.iomap4j.fuse.FuseMount} and
 * {@link org.iomap4j.fuse.FuseOptions}; everything else is package-private.
 *
 * <p>Two layers, as in go-fuse.
 * <ul>
 * <li><b>Wire layer</b>: {@code Native} (syscalls), {@code Channel} (one fd and its buffers per reader),
 * {@code FuseServer} (N platform threads, each reading its own cloned /dev/fuse fd and answering each request
 * exactly once on the fd it came from), {@code Request} (the fuse_in_header, bounds-checked payload access),
 * {@code FuseIn} (one typed record per opcode's {@code fuse_*_in} struct, decoded from the payload),
 * {@code Reply} and {@code DirentWriter} (typed replies: entry_out, attr_out, open_out, write_out, statfs_out,
 * lseek_out, getxattr_out, dirent/direntplus, init_out, errors), {@code FuseAbi} (opcodes, flags, struct sizes and
 * encoders), {@code FuseInit} (INIT negotiation: minor, capability flags, max_write/max_pages, time_gran),
 * {@code OpenFlagsAbi} (the kernel's per-architecture open(2) flags to the Vfs contract's bits) and {@code Op}
 * (a row of the opcode table: decoder + handler). Every byte offset of the protocol lives here. FUSE over
 * io_uring is a second transport into the same table: {@code IoUring} (the raw io_uring system calls and rings),
 * {@code FuseUring} (choice, rings, per-CPU queue workers, fallback), {@code FuseUringWorker} (one thread, one ring,
 * one registered entry) and {@code FuseUringChannel} (a {@code Channel} over an entry's buffers, replying with
 * COMMIT_AND_FETCH); see docs/fuse.md.</li>
 * <li><b>Node layer</b>: {@code NodeBridge} (and {@code XattrOps}) map kernel node ids to Vfs inode numbers
 * (nodeid 1 is the root), keep the kernel's lookup counts and the open-file table, and turn each typed input into
 * {@link org.iomap4j.vfs.Vfs} calls and a typed reply. It reads no offset. Optional Vfs capabilities
 * ({@link org.iomap4j.vfs.VfsWrite}, {@link org.iomap4j.vfs.VfsNamespace}, {@link org.iomap4j.vfs.VfsFallocate},
 * {@link org.iomap4j.vfs.VfsSeek}, {@link org.iomap4j.vfs.VfsXattr}) are looked up once; an absent one becomes a
 * table row answering what the kernel expects (EROFS, EPERM, or ENOSYS that the kernel remembers).</li>
 * </ul>
 * {@code FuseWarmup} plays the kernel to warm the JIT: it encodes requests with the same records.
 *
 * <p>Kernel caching: names and attributes are cached by the kernel for the configured timeouts; data is cached
 * in the kernel page cache per open (no FOPEN_KEEP_CACHE, so each open starts cold) and written through to the
 * Vfs on every write (no writeback cache unless asked for). Changes made behind the kernel's back must be
 * announced with {@link org.iomap4j.fuse.FuseMount#invalidateInode} / {@code invalidateEntry}.
 *
 * <p>Locks: the node layer holds no lock while calling the Vfs; FuseMount's {@code fdLock} and FuseUring's monitor
 * (registration tally) are leaf locks.
 * Facts: include/uapi/linux/fuse.h, fs/fuse/{dev,dir,file,inode,xattr}.c, include/uapi/asm-generic/fcntl.h and
 * arch/arm64/include/uapi/asm/fcntl.h, fs/fuse/dev_uring.c, include/uapi/linux/io_uring.h, and
 * ../shared/reference/fuse-protocol.md.
 */
package org.iomap4j.fuse;
