package org.iomap4j.ext.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.junit.jupiter.api.Test;

/**
 * Codec properties that need no image: crc32c seeding against a bit-by-bit reference, crc16 against a bitwise
 * reference and its published check value, timestamp encoding bounds, ACL format errors, and seeded random byte
 * mutations of every block codec, which must decode or throw CorruptFilesystemException and nothing else.
 */
class CodecUnitTest {
    /** Bitwise reflected CRC32C with an explicit register and no final inversion (the kernel's crc32c_le). */
    private static int crc32cReference(int reg, byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) {
            reg ^= b[i] & 0xff;
            for (int k = 0; k < 8; k++) {
                reg = (reg & 1) != 0 ? (reg >>> 1) ^ 0x82F63B78 : reg >>> 1;
            }
        }
        return reg;
    }

    @Test
    void crc32cWithAnySeedEqualsTheBitwiseReference() {
        long seed = System.nanoTime();
        System.out.println("crc32c seed " + seed);
        Random rnd = new Random(seed);
        for (int i = 0; i < 2000; i++) {
            int s = i == 0 ? ~0 : i == 1 ? 0 : rnd.nextInt();
            byte[] data = new byte[rnd.nextInt(300)];
            rnd.nextBytes(data);
            assertThat(Crc32c.of(s, data)).as("seed %08x", s).isEqualTo(crc32cReference(s, data, 0, data.length));
            int split = data.length == 0 ? 0 : rnd.nextInt(data.length);
            int chained = Crc32c.of(Crc32c.of(s, data, 0, split), data, split, data.length - split);
            assertThat(chained).isEqualTo(Crc32c.of(s, data));
        }
        // The standard check value: CRC-32C("123456789") = 0xE3069283 with init and final inversion.
        assertThat(~Crc32c.of(~0, "123456789".getBytes(StandardCharsets.US_ASCII))).isEqualTo(0xE3069283);
    }

    @Test
    void crc16MatchesTheArcCheckValueAndABitwiseReference() {
        // CRC-16/ARC ("123456789", init 0) = 0xBB3D; Linux crc16 is the same polynomial, reflected.
        assertThat(Crc16.update(0, "123456789".getBytes(StandardCharsets.US_ASCII))).isEqualTo(0xBB3D);
        Random rnd = new Random(42);
        for (int i = 0; i < 200; i++) {
            byte[] d = new byte[rnd.nextInt(64)];
            rnd.nextBytes(d);
            int c = 0xffff;
            for (byte x : d) {
                c ^= x & 0xff;
                for (int k = 0; k < 8; k++) {
                    c = (c & 1) != 0 ? (c >>> 1) ^ 0xA001 : c >>> 1;
                }
            }
            assertThat(Crc16.update(0xffff, d)).isEqualTo(c);
        }
    }

    @Test
    void timestampBoundsAndEpochs() {
        // Documentation/filesystems/ext4/inodes.rst: epoch 1 with base 0x80000000 is 2038-01-19T03:14:08Z.
        InodeTimestamp t = InodeTimestamp.decode(0x80000000L, 1);
        assertThat(t.seconds()).isEqualTo(1L << 31);
        assertThat(t.encodeBase(true)).isEqualTo(0x80000000L);
        assertThat(t.encodeExtra()).isEqualTo(1);
        InodeTimestamp max = new InodeTimestamp(InodeTimestamp.MAX_EXTRA_SECONDS, 999_999_999);
        assertThat(InodeTimestamp.decode(max.encodeBase(true), max.encodeExtra())).isEqualTo(max);
        assertThat(new InodeTimestamp(1L << 40, 5).clampTo(true).seconds()).isEqualTo(InodeTimestamp.MAX_EXTRA_SECONDS);
        assertThat(new InodeTimestamp(1L << 31, 5).encodeBase(false)).isEqualTo(0x7fffffffL);
        assertThat(new InodeTimestamp(-(1L << 40), 5).encodeBase(false)).isEqualTo(0x80000000L);
        assertThat(InodeTimestamp.decode(0xffffffffL, 0).seconds()).isEqualTo(-1);
    }

    @Test
    void aclFormatErrorsAreClear() {
        assertThatThrownBy(() -> PosixAcl.decodeDisk(new byte[] {2, 0, 0, 0}, "inode 9")).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("inode 9").hasMessageContaining("version 1");
        byte[] unknownTag = {1, 0, 0, 0, 0x40, 0, 6, 0};
        assertThatThrownBy(() -> PosixAcl.decodeDisk(unknownTag, "inode 9")).hasMessageContaining("unknown tag 64");
        assertThatThrownBy(() -> PosixAcl.decodeXattr(new byte[] {2, 0, 0, 0, 1, 0})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void mutatedBlocksDecodeOrFailWithCorruptFilesystemException() throws Exception {
        long seed = System.nanoTime();
        System.out.println("mutation seed " + seed);
        Random rnd = new Random(seed);
        int bs = 1024;
        List<ExtentLeaf> leaves = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            leaves.add(new ExtentLeaf(i * 10L, 5, 100 + i * 7L, i % 3 == 0));
        }
        byte[] extentBlock = new byte[bs];
        new ExtentNode(0, ExtentNode.maxEntriesInBlock(bs), 0, leaves, List.of()).encodeInto(extentBlock, 0);
        byte[] xattrBlock = XattrCodec.encodeBlock(List.of(XattrEntry.of(XattrCodec.INDEX_USER, "a", new byte[100]),
                XattrEntry.of(XattrCodec.INDEX_TRUSTED, "bbb", new byte[7]),
                XattrEntry.of(XattrCodec.INDEX_POSIX_ACL_ACCESS, "", new byte[28])), bs, 1, false);
        byte[] dxRoot = new byte[bs];
        DirEntryCodec.put(dxRoot, 0, 2, 12, ".".getBytes(StandardCharsets.US_ASCII), 2);
        DirEntryCodec.put(dxRoot, 12, 2, bs - 12, "..".getBytes(StandardCharsets.US_ASCII), 2);
        new DxBlock(true, DxHash.HALF_MD4, 0, DxBlock.limitFor(true, bs, true),
                List.of(new DxBlock.Entry(0, 1), new DxBlock.Entry(0x1000, 2), new DxBlock.Entry(0x9000, 3))).encodeInto(dxRoot);
        byte[] acl = PosixAcl.encodeDisk(List.of(new PosixAcl.Entry(PosixAcl.TAG_USER_OBJ, 6, PosixAcl.UNDEFINED_ID),
                new PosixAcl.Entry(PosixAcl.TAG_USER, 4, 1000), new PosixAcl.Entry(PosixAcl.TAG_MASK, 4, PosixAcl.UNDEFINED_ID)));
        byte[] inode = new byte[256];
        Le.put16(inode, DiskInode.OFF_EXTRA_ISIZE, 32);
        XattrCodec.encodeIbody(inode, 32, List.of(XattrEntry.of(XattrCodec.INDEX_SYSTEM, "data", new byte[20])), false);
        int ok = 0;
        int corrupt = 0;
        for (int i = 0; i < 20000; i++) {
            int which = i % 5;
            byte[] src = switch (which) {
                case 0 -> extentBlock;
                case 1 -> xattrBlock;
                case 2 -> dxRoot;
                case 3 -> acl;
                default -> inode;
            };
            byte[] b = src.clone();
            int n = 1 + rnd.nextInt(8);
            for (int k = 0; k < n; k++) {
                int pos = rnd.nextInt(Math.min(b.length, which == 4 ? b.length : 96));
                b[pos] = (byte) rnd.nextInt(256);
            }
            try {
                switch (which) {
                    case 0 -> ExtentNode.decode(b, 0, bs, 0, 10_000, "block 7");
                    case 1 -> XattrCodec.decodeBlock(b, 7);
                    case 2 -> DxBlock.decode(b, true, true, false, 5, 0);
                    case 3 -> PosixAcl.decodeDisk(b, "inode 5");
                    default -> XattrCodec.decodeIbody(DiskInode.decode(b, 0, 256), 5);
                }
                ok++;
            } catch (CorruptFilesystemException e) {
                assertThat(e.getMessage()).containsAnyOf("block 7", "inode 5", "directory inode 5");
                corrupt++;
            }
        }
        assertThat(ok).isPositive();
        assertThat(corrupt).isPositive();
    }
}
