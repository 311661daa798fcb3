package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.StatFs;
import org.junit.jupiter.api.Test;

/**
 * The wire structs' sizes and field offsets against include/uapi/linux/fuse.h (7.38): each encoder writes
 * exactly its struct's bytes (a guard byte pattern around it must survive) with each field at its offset.
 */
final class FuseAbiTest {
    private static final byte GUARD = (byte) 0xA5;
    private static final InodeAttr ATTR = new InodeAttr(0x1122334455L, 0100644, 3, 1000, 100, 0x0801, 123_456_789L,
            241, 4096, 11L, 12, 21L, 22, 31L, 32, 77);

    private static MemorySegment guarded(Arena arena) {
        MemorySegment s = arena.allocate(512);
        s.fill(GUARD);
        return s;
    }

    /** Asserts {@code [off, off + size)} was written and the bytes around it were not. */
    private static void assertExtent(MemorySegment s, long off, long size) {
        assertThat(s.get(ValueLayout.JAVA_BYTE, off - 1)).as("byte before").isEqualTo(GUARD);
        assertThat(s.get(ValueLayout.JAVA_BYTE, off + size)).as("byte after").isEqualTo(GUARD);
    }

    private static int u32(MemorySegment s, long off) {
        return s.get(FuseAbi.U32, off);
    }

    private static long u64(MemorySegment s, long off) {
        return s.get(FuseAbi.U64, off);
    }

    @Test
    void fuse_attr_is_88_bytes_with_fields_at_their_offsets() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = guarded(arena);
            FuseAbi.putAttr(s, 8, ATTR);
            assertThat(FuseAbi.ATTR_SIZE).isEqualTo(88);
            assertExtent(s, 8, 88);
            assertThat(u64(s, 8)).isEqualTo(0x1122334455L); // ino
            assertThat(u64(s, 16)).isEqualTo(123_456_789L); // size
            assertThat(u64(s, 24)).isEqualTo(241); // blocks
            assertThat(u64(s, 32)).isEqualTo(11); // atime
            assertThat(u64(s, 40)).isEqualTo(21); // mtime
            assertThat(u64(s, 48)).isEqualTo(31); // ctime
            assertThat(u32(s, 56)).isEqualTo(12); // atimensec
            assertThat(u32(s, 60)).isEqualTo(22);
            assertThat(u32(s, 64)).isEqualTo(32);
            assertThat(u32(s, 68)).isEqualTo(0100644); // mode
            assertThat(u32(s, 72)).isEqualTo(3); // nlink
            assertThat(u32(s, 76)).isEqualTo(1000); // uid
            assertThat(u32(s, 80)).isEqualTo(100); // gid
            assertThat(u32(s, 84)).isEqualTo(0x0801); // rdev
            assertThat(u32(s, 88)).isEqualTo(4096); // blksize
            assertThat(u32(s, 92)).isZero(); // flags
        }
    }

    @Test
    void entry_out_is_128_bytes_with_timeouts_split_in_seconds_and_nanoseconds() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = guarded(arena);
            FuseAbi.putEntryOut(s, 8, 42, ATTR, 1_500_000_000L, 2_000_000_007L);
            assertThat(FuseAbi.ENTRY_OUT_SIZE).isEqualTo(128);
            assertExtent(s, 8, 128);
            assertThat(u64(s, 8)).isEqualTo(42); // nodeid
            assertThat(u64(s, 16)).isEqualTo(77); // generation
            assertThat(u64(s, 24)).isEqualTo(1); // entry_valid
            assertThat(u64(s, 32)).isEqualTo(2); // attr_valid
            assertThat(u32(s, 40)).isEqualTo(500_000_000); // entry_valid_nsec
            assertThat(u32(s, 44)).isEqualTo(7); // attr_valid_nsec
            assertThat(u64(s, 48)).isEqualTo(ATTR.ino()); // attr.ino at 40
            FuseAbi.putEntryOut(s, 8, 0, null, 1_000_000_000L, 0);
            assertThat(s.asSlice(48, 88).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0);
        }
    }

    @Test
    void attr_out_104_open_out_16_kstatfs_80_out_header_16() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = guarded(arena);
            FuseAbi.putAttrOut(s, 8, ATTR, 3_000_000_001L);
            assertExtent(s, 8, 104);
            assertThat(FuseAbi.ATTR_OUT_SIZE).isEqualTo(104);
            assertThat(u64(s, 8)).isEqualTo(3);
            assertThat(u32(s, 16)).isEqualTo(1);
            assertThat(u64(s, 24)).isEqualTo(ATTR.ino()); // attr at 16

            s.fill(GUARD);
            FuseAbi.putOpenOut(s, 8, 0xabcdefL, FuseAbi.FOPEN_DIRECT_IO);
            assertExtent(s, 8, 16);
            assertThat(u64(s, 8)).isEqualTo(0xabcdefL);
            assertThat(u32(s, 16)).isEqualTo(1);

            s.fill(GUARD);
            FuseAbi.putKstatfs(s, 8, new StatFs(4096, 1000, 900, 800, 500, 400, 255));
            assertExtent(s, 8, 80);
            assertThat(new long[] {u64(s, 8), u64(s, 16), u64(s, 24), u64(s, 32), u64(s, 40)})
                    .containsExactly(1000, 900, 800, 500, 400);
            assertThat(new int[] {u32(s, 48), u32(s, 52), u32(s, 56)}).containsExactly(4096, 255, 4096);

            s.fill(GUARD);
            FuseAbi.putOutHeader(s.asSlice(8), 16, -2, 0x77L);
            assertExtent(s, 8, 16);
            assertThat(new long[] {u32(s, 8), u32(s, 12), u64(s, 16)}).containsExactly(16, -2, 0x77);
        }
    }

    @Test
    void dirent_is_24_bytes_plus_name_padded_to_8_and_direntplus_adds_entry_out() {
        assertThat(FuseAbi.direntSize(1)).isEqualTo(32);
        assertThat(FuseAbi.direntSize(8)).isEqualTo(32);
        assertThat(FuseAbi.direntSize(9)).isEqualTo(40);
        assertThat(FuseAbi.direntSize(255)).isEqualTo(280);
        assertThat(FuseAbi.direntPlusSize(1)).isEqualTo(128 + 32);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = guarded(arena);
            byte[] name = "abcdefghi".getBytes(StandardCharsets.UTF_8);
            int size = FuseAbi.putDirent(s, 8, 12, 99, 8, name);
            assertThat(size).isEqualTo(40);
            assertExtent(s, 8, 40);
            assertThat(u64(s, 8)).isEqualTo(12); // ino
            assertThat(u64(s, 16)).isEqualTo(99); // off
            assertThat(u32(s, 24)).isEqualTo(9); // namelen
            assertThat(u32(s, 28)).isEqualTo(8); // type
            assertThat(s.asSlice(32, 9).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(name);
            assertThat(s.asSlice(41, 7).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0); // padding zeroed
        }
    }

    @Test
    void in_header_is_40_bytes_and_the_payload_follows_it() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(64);
            s.set(FuseAbi.U32, 0, 48);
            s.set(FuseAbi.U32, 4, FuseAbi.LOOKUP);
            s.set(FuseAbi.U64, 8, 0x1234L);
            s.set(FuseAbi.U64, 16, 5);
            s.set(FuseAbi.U32, 24, 1000);
            s.set(FuseAbi.U32, 28, 100);
            s.set(FuseAbi.U32, 32, 4242);
            s.asSlice(40, 8).copyFrom(MemorySegment.ofArray("name\0xyz".getBytes(StandardCharsets.US_ASCII)));
            Request r = new Request(s, 48);
            assertThat(new long[] {r.opcode, r.unique, r.nodeid, r.uid, r.gid, r.pid})
                    .containsExactly(FuseAbi.LOOKUP, 0x1234, 5, 1000, 100, 4242);
            assertThat(r.payloadBytes()).isEqualTo(8);
            assertThat(r.name(0)).isEqualTo("name");
            assertThat(r.nameEnd(0)).isEqualTo(4);
        }
    }
}
