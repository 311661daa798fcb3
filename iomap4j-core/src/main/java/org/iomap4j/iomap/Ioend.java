package org.iomap4j.iomap;


/**
 * A completed or in-flight writeback request: file bytes {@code [fileOffsetBytes, +lengthBytes)} written at
 * device address {@code devAddrBytes} (the kernel's {@code struct iomap_ioend}). One ioend is one device request;
 * runs contiguous in the file and on the device, with the same type and flags, merge into one ioend, never across
 * a BOUNDARY mapping.
 *
 * @param fileOffsetBytes file byte offset of the first byte
 * @param lengthBytes     bytes written (clamped to EOF)
 * @param devAddrBytes    device byte address of the first byte
 * @param type            MAPPED or UNWRITTEN
 * @param flags           the mapping's fs flags
 */
public record Ioend(long fileOffsetBytes, long lengthBytes, long devAddrBytes, IomapType type, int flags) {
}
