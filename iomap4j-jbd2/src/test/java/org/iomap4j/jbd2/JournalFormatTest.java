package org.iomap4j.jbd2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.junit.jupiter.api.Test;

/** Codec rules against the format documents' numbers, and round trips for every tag layout. */
class JournalFormatTest {

    @Test
    void crc32BeIsTheNonReflectedCrc32() {
        // CRC-32/MPEG-2 (poly 0x04C11DB7, init ~0, no reflection, no final xor) check value of "123456789".
        assertThat(JournalChecksum.crc32Be(~0, "123456789".getBytes(StandardCharsets.US_ASCII)))
                .isEqualTo(0x0376E6E7);
    }

    private static JournalSuperblock sb(int bs, int compat, int incompat) throws Exception {
        byte[] raw = new byte[bs];
        ByteBuffer b = ByteBuffer.wrap(raw);
        b.putInt(0, JournalFormat.MAGIC).putInt(4, JournalFormat.BLOCKTYPE_SUPERBLOCK_V2)
                .putInt(JournalFormat.SB_BLOCKSIZE, bs).putInt(JournalFormat.SB_MAXLEN, 1024)
                .putInt(JournalFormat.SB_FIRST, 1).putInt(JournalFormat.SB_SEQUENCE, 7)
                .putInt(JournalFormat.SB_FEATURE_COMPAT, compat).putInt(JournalFormat.SB_FEATURE_INCOMPAT, incompat);
        for (int i = 0; i < 16; i++) {
            raw[JournalFormat.SB_UUID + i] = (byte) (i * 17 + 3);
        }
        if ((incompat & (JournalFormat.INCOMPAT_CSUM_V2 | JournalFormat.INCOMPAT_CSUM_V3)) != 0) {
            raw[JournalFormat.SB_CHECKSUM_TYPE] = JournalFormat.CHECKSUM_TYPE_CRC32C;
            b.putInt(JournalFormat.SB_CHECKSUM, JournalChecksum.superblock(raw));
        }
        return JournalSuperblock.decode(raw, "test superblock");
    }

    @Test
    void tagSizesFollowJournalTagBytes() throws Exception {
        int v2 = JournalFormat.INCOMPAT_CSUM_V2;
        int v3 = JournalFormat.INCOMPAT_CSUM_V3;
        int b64 = JournalFormat.INCOMPAT_64BIT;
        assertThat(sb(4096, 0, v3 | b64).tagBytes()).isEqualTo(16);
        assertThat(sb(4096, 0, v3).tagBytes()).isEqualTo(16);
        assertThat(sb(4096, 0, v2 | b64).tagBytes()).isEqualTo(14);
        assertThat(sb(4096, 0, v2).tagBytes()).isEqualTo(10);
        assertThat(sb(4096, 0, b64).tagBytes()).isEqualTo(12);
        assertThat(sb(4096, 0, 0).tagBytes()).isEqualTo(8);
    }

    @Test
    void descriptorsAndRevokesRoundTripInEveryLayout() throws Exception {
        Random rnd = new Random(42);
        int[] incompats = {0, JournalFormat.INCOMPAT_64BIT, JournalFormat.INCOMPAT_CSUM_V2,
            JournalFormat.INCOMPAT_CSUM_V2 | JournalFormat.INCOMPAT_64BIT, JournalFormat.INCOMPAT_CSUM_V3,
            JournalFormat.INCOMPAT_CSUM_V3 | JournalFormat.INCOMPAT_64BIT};
        for (int bs : new int[] {1024, 4096}) {
            for (int incompat : incompats) {
                JournalSuperblock sb = sb(bs, 0, incompat);
                JournalChecksum csum = new JournalChecksum(sb.uuid());
                boolean wide = sb.has64bit();
                List<DescriptorBlock.Tag> tags = new ArrayList<>();
                for (int i = 0; i < DescriptorBlock.capacity(sb); i++) {
                    long blk = wide ? rnd.nextLong() >>> 1 : rnd.nextInt() & 0xFFFFFFFFL;
                    int checksum = sb.hasCsumV3() ? rnd.nextInt() : sb.hasCsumV2() ? rnd.nextInt(65536) : 0;
                    tags.add(new DescriptorBlock.Tag(blk, i % 3 == 0 ? JournalFormat.FLAG_ESCAPE : 0, checksum));
                }
                byte[] block = DescriptorBlock.encode(sb, csum, 9, tags);
                List<DescriptorBlock.Tag> back = DescriptorBlock.decode(block, sb);
                assertThat(back).hasSameSizeAs(tags);
                for (int i = 0; i < tags.size(); i++) {
                    assertThat(back.get(i).fsBlock()).isEqualTo(tags.get(i).fsBlock());
                    assertThat(back.get(i).checksum()).isEqualTo(tags.get(i).checksum());
                    assertThat(back.get(i).escaped()).isEqualTo(tags.get(i).escaped());
                }
                assertThat(back.getLast().flags() & JournalFormat.FLAG_LAST_TAG).isNotZero();
                assertThat(back.getFirst().flags() & JournalFormat.FLAG_SAME_UUID).isZero();
                // The UUID follows the first tag.
                byte[] uuidAfterFirst = java.util.Arrays.copyOfRange(block, 12 + sb.tagBytes(),
                        12 + sb.tagBytes() + 16);
                assertThat(uuidAfterFirst).isEqualTo(sb.uuid());
                assertThat(DescriptorBlock.tailVerifies(block, sb, csum)).isTrue();
                if (sb.hasCsumV2or3()) {
                    block[100] ^= 1;
                    assertThat(DescriptorBlock.tailVerifies(block, sb, csum)).isFalse();
                }
                assertThatThrownBy(() -> DescriptorBlock.encode(sb, csum, 9,
                        java.util.Collections.nCopies(DescriptorBlock.capacity(sb) + 1, tags.getFirst())))
                        .isInstanceOf(IllegalArgumentException.class);

                long[] revoked = new long[RevokeBlock.capacity(sb)];
                for (int i = 0; i < revoked.length; i++) {
                    revoked[i] = wide ? rnd.nextLong() >>> 1 : rnd.nextInt() & 0xFFFFFFFFL;
                }
                byte[] rb = RevokeBlock.encode(sb, csum, 9, revoked, 0, revoked.length);
                assertThat(RevokeBlock.decode(rb, sb, "revoke")).containsExactly(revoked);
                assertThat(DescriptorBlock.tailVerifies(rb, sb, csum)).isTrue();
            }
        }
    }

    @Test
    void commitBlockChecksumsAndTime() throws Exception {
        JournalSuperblock sb = sb(4096, 0, JournalFormat.INCOMPAT_CSUM_V3);
        JournalChecksum csum = new JournalChecksum(sb.uuid());
        byte[] c = CommitBlock.encode(sb, csum, 77, 1_700_000_123L, 456, 0);
        CommitBlock cb = CommitBlock.decode(c);
        assertThat(cb.tid()).isEqualTo(77);
        assertThat(cb.commitSec()).isEqualTo(1_700_000_123L);
        assertThat(cb.commitNsec()).isEqualTo(456);
        assertThat(cb.chksumType()).isZero();
        assertThat(CommitBlock.verifies(c, sb, csum)).isTrue();
        c[0x40] ^= 1;
        assertThat(CommitBlock.verifies(c, sb, csum)).isFalse();

        JournalSuperblock v1 = sb(4096, JournalFormat.COMPAT_CHECKSUM, 0);
        CommitBlock cb1 = CommitBlock.decode(CommitBlock.encode(v1, csum, 5, 1, 2, 0xCAFEBABE));
        assertThat(cb1.chksumType()).isEqualTo(JournalFormat.COMMIT_CHKSUM_CRC32);
        assertThat(cb1.chksumSize()).isEqualTo(4);
        assertThat(cb1.chksum0()).isEqualTo(0xCAFEBABE);
    }

    @Test
    void badSuperblocksAreRefusedWithTheirReason() throws Exception {
        JournalSuperblock good = sb(4096, 0, JournalFormat.INCOMPAT_CSUM_V3);
        byte[] raw = good.encode();
        byte[] badCsum = raw.clone();
        badCsum[0x200] ^= 1;
        assertThatThrownBy(() -> JournalSuperblock.decode(badCsum, "jsb"))
                .isInstanceOf(CorruptFilesystemException.class).hasMessageContaining("jsb").hasMessageContaining("checksum");
        byte[] badMagic = raw.clone();
        badMagic[0] = 0;
        assertThatThrownBy(() -> JournalSuperblock.decode(badMagic, "jsb")).hasMessageContaining("magic");
        byte[] badFirst = raw.clone();
        ByteBuffer.wrap(badFirst).putInt(JournalFormat.SB_FIRST, 0);
        assertThatThrownBy(() -> JournalSuperblock.decode(badFirst, "jsb")).hasMessageContaining("s_first");
        byte[] badStart = raw.clone();
        ByteBuffer.wrap(badStart).putInt(JournalFormat.SB_START, 5000);
        assertThatThrownBy(() -> JournalSuperblock.decode(badStart, "jsb")).hasMessageContaining("s_start");
        byte[] badSize = raw.clone();
        ByteBuffer.wrap(badSize).putInt(JournalFormat.SB_BLOCKSIZE, 3000);
        assertThatThrownBy(() -> JournalSuperblock.decode(badSize, "jsb")).hasMessageContaining("s_blocksize");
        JournalSuperblock fc = sb(4096, 0, JournalFormat.INCOMPAT_64BIT);
        fc.featureIncompat |= JournalFormat.INCOMPAT_FAST_COMMIT;
        assertThatThrownBy(() -> JournalSuperblock.decode(fc.encode(), "jsb"))
                .isInstanceOfSatisfying(FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP))
                .hasMessageContaining("fast commit");
        JournalSuperblock both = sb(4096, 0, JournalFormat.INCOMPAT_CSUM_V3);
        both.featureIncompat |= JournalFormat.INCOMPAT_CSUM_V2;
        assertThatThrownBy(() -> JournalSuperblock.decode(both.encode(), "jsb")).hasMessageContaining("v2 and v3");
    }

    @Test
    void journalMapBisectsExtentsAndRefusesHoles() throws Exception {
        JournalMap map = JournalMap.ofExtents(List.of(new JournalMap.Extent(10, 500, 5),
                new JournalMap.Extent(0, 100, 10), new JournalMap.Extent(15, 50, 1)));
        assertThat(map.lengthBlocks()).isEqualTo(16);
        assertThat(map.pblk(0)).isEqualTo(100);
        assertThat(map.pblk(9)).isEqualTo(109);
        assertThat(map.pblk(10)).isEqualTo(500);
        assertThat(map.pblk(14)).isEqualTo(504);
        assertThat(map.pblk(15)).isEqualTo(50);
        assertThatThrownBy(() -> map.pblk(16)).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("journal block 16");
        assertThatThrownBy(() -> JournalMap.ofExtents(List.of(new JournalMap.Extent(0, 1, 4),
                new JournalMap.Extent(5, 9, 1)))).hasMessageContaining("hole at journal block 4");
    }
}
