/**
 * iomap4j-core: the data path of a filesystem once it supplies a block mapping.
 *
 * <ul>
 *   <li>{@code org.iomap4j.block}: block devices (file, memory, fault-injecting) with request counters.</li>
 *   <li>{@code org.iomap4j.iomap}: the mapping ({@code Iomap}), the filesystem's {@code IomapOps}, and the
 *       {@code IomapIter} at the centre of every operation.</li>
 *   <li>{@code org.iomap4j.pagecache}: folios, address spaces, the cache budget, and the buffered read,
 *       buffered write and writeback operation families.</li>
 *   <li>{@code org.iomap4j.buf}: the metadata buffer cache for blocks that belong to no file.</li>
 * </ul>
 *
 * <p>Ranges are half-open {@code [startBytes, endBytes)}; byte quantities are named {@code ...Bytes} or
 * {@code pos...}, block numbers {@code lblk} (logical, in a file) and {@code pblk} (physical, on the device).
 */
package org.iomap4j;
