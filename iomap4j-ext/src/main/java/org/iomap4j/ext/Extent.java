package org.iomap4j.ext;

/**
 * One physically contiguous run of a file's data, as fiemap reports it: file bytes
 * {@code [logicalBytes, logicalBytes + lengthBytes)} stored at device bytes starting at {@code physicalBytes}.
 * Holes are not listed.
 *
 * @param logicalBytes  file byte offset of the run (block aligned)
 * @param physicalBytes device byte address of the run
 * @param lengthBytes   length in bytes (whole blocks)
 * @param last          true for the file's final extent (FIEMAP_EXTENT_LAST)
 */
public record Extent(long logicalBytes, long physicalBytes, long lengthBytes, boolean last) {
}
