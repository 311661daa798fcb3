/**
 * iomap4j-core: the data path of a filesystem once it supplies a block mapping.
 *
 * <ul>
 *   <li>{@code org.iomap4j.block}: block devices (file, memory, memory-mapped, queued) with request counters.</li>
 *   <li>{@code org.iomap4j.iomap}: the mapping ({@code Iomap}), the filesystem's {@code IomapOps}, the
 *       {@code IomapIter} at the centre of every operation, and the operation families: buffered read, buffered
 *       write and writeback (fs/iomap/buffered-io.c), direct I/O, DAX, seek, fiemap.</li>
 *   <li>{@code org.iomap4j.pagecache}: folios, address spaces and the cache budget; knows its inode as a
 *       {@code MappingHost} and reaches writeback only through the {@code Writepages} hook (never imports
 *       {@code iomap}).</li>
 *   <li>{@code org.iomap4j.buf}: the metadata buffer cache for blocks that belong to no file.</li>
 *   <li>{@code org.iomap4j.vfs}: the front-end contract {@code Vfs}.</li>
 *   <li>{@code org.iomap4j.internal}: the libc binding (iomap4j's own modules only).</li>
 * </ul>
 *
 * <p>Ranges are half-open {@code [startBytes, endBytes)}; byte quantities are named {@code ...Bytes} or
 * {@code pos...}, block numbers {@code lblk} (logical, in a file) and {@code pblk} (physical, on the device).
 */
package org.iomap4j;
