package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fuse.FuseIn.InitIn;
import org.iomap4j.fuse.WireHarness.Answer;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.StatFs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The typed replies as the kernel reads them: each is sent through a pipe and its bytes are checked at the offsets
 * of include/uapi/linux/fuse.h (7.38) written here (fuse_out_header, entry_out, attr_out, open_out, write_out,
 * statfs_out, lseek_out, getxattr_out, dirent, direntplus, init_out), including the total length. And INIT
 * negotiation: minor, flags intersection, max_pages/max_write, flags2.
 */
final class FuseOutTest {
    private static final InodeAttr ATTR = new InodeAttr(0x1122334455L, 0100644, 3, 1000, 100, 0x0801, 123_456_789L,
            241, 4096, 11L, 12, 21L, 22, 31L, 32, 77);
    private final WireHarness h;

    FuseOutTest() throws Throwable {
        h = new WireHarness();
    }

    @AfterEach
    void close() {
        h.close();
    }

    private Answer send(java.util.function.Predicate<Reply> r) {
        Reply reply = h.reply();
        assertThat(r.test(reply)).isTrue();
        assertThat(reply.answered()).isTrue();
        return h.answer();
    }

    /** fuse_attr at {@code off}: ino@0 size@8 blocks@16 atime@24 ... mode@60 nlink@64 uid@68 gid@72 blksize@80. */
    private static void assertAttr(ByteBuffer b, int off) {
        assertThat(b.getLong(off)).isEqualTo(0x1122334455L);
        assertThat(b.getLong(off + 8)).isEqualTo(123_456_789L);
        assertThat(b.getLong(off + 16)).isEqualTo(241);
        assertThat(b.getLong(off + 40)).isEqualTo(31); // ctime
        assertThat(b.getInt(off + 52)).isEqualTo(22); // mtimensec
        assertThat(b.getInt(off + 60)).isEqualTo(0100644);
        assertThat(b.getInt(off + 64)).isEqualTo(3);
        assertThat(b.getInt(off + 76)).isEqualTo(0x0801);
        assertThat(b.getInt(off + 80)).isEqualTo(4096);
    }

    @Test
    void entry_negative_entry_created_and_attr() {
        // fuse_entry_out: nodeid@0 generation@8 entry_valid@16 attr_valid@24 entry_valid_nsec@32
        // attr_valid_nsec@36 attr@40; 128 bytes
        Answer a = send(r -> r.entry(9, ATTR, 1_500_000_000L, 2_000_000_001L));
        assertThat(a.len()).isEqualTo(16 + 128);
        assertThat(a.error()).isZero();
        ByteBuffer b = a.body();
        assertThat(b.getLong(0)).isEqualTo(9);
        assertThat(b.getLong(8)).isEqualTo(77);
        assertThat(b.getLong(16)).isEqualTo(1);
        assertThat(b.getLong(24)).isEqualTo(2);
        assertThat(b.getInt(32)).isEqualTo(500_000_000);
        assertThat(b.getInt(36)).isEqualTo(1);
        assertAttr(b, 40);
        Answer neg = send(r -> r.negativeEntry(3_000_000_000L));
        assertThat(neg.len()).isEqualTo(16 + 128);
        assertThat(neg.body().getLong(0)).isZero();
        assertThat(neg.body().getLong(16)).isEqualTo(3);
        assertThat(neg.body().getLong(40)).as("attr zeroed").isZero();
        // CREATE: entry_out then fuse_open_out {fh u64@0, open_flags u32@8, backing_id@12}
        Answer c = send(r -> r.created(9, ATTR, 0, 0, 55, FuseAbi.FOPEN_DIRECT_IO));
        assertThat(c.len()).isEqualTo(16 + 128 + 16);
        assertThat(c.body().getLong(128)).isEqualTo(55);
        assertThat(c.body().getInt(136)).isEqualTo(1);
        // fuse_attr_out {attr_valid u64@0, attr_valid_nsec u32@8, dummy@12, attr@16}: 104 bytes
        Answer at = send(r -> r.attr(ATTR, 4_000_000_007L));
        assertThat(at.len()).isEqualTo(16 + 104);
        assertThat(at.body().getLong(0)).isEqualTo(4);
        assertThat(at.body().getInt(8)).isEqualTo(7);
        assertAttr(at.body(), 16);
    }

    @Test
    void open_write_statfs_lseek_xattr_size_bytes_empty_and_error() {
        Answer o = send(r -> r.open(0x0102030405060708L, FuseAbi.FOPEN_KEEP_CACHE));
        assertThat(o.len()).isEqualTo(16 + 16);
        assertThat(o.body().getLong(0)).isEqualTo(0x0102030405060708L);
        assertThat(o.body().getInt(8)).isEqualTo(2);
        // fuse_write_out {size u32@0, padding@4}
        Answer w = send(r -> r.written(65536));
        assertThat(w.len()).isEqualTo(16 + 8);
        assertThat(w.body().getInt(0)).isEqualTo(65536);
        // fuse_kstatfs: blocks@0 bfree@8 bavail@16 files@24 ffree@32 bsize@40 namelen@44 frsize@48; 80 bytes
        Answer s = send(r -> r.statfs(new StatFs(4096, 1000, 600, 550, 256, 200, 255)));
        assertThat(s.len()).isEqualTo(16 + 80);
        ByteBuffer b = s.body();
        assertThat(new long[] {b.getLong(0), b.getLong(8), b.getLong(16), b.getLong(24), b.getLong(32)})
                .containsExactly(1000, 600, 550, 256, 200);
        assertThat(new int[] {b.getInt(40), b.getInt(44), b.getInt(48)}).containsExactly(4096, 255, 4096);
        // fuse_lseek_out {offset u64@0}
        Answer l = send(r -> r.lseek(1L << 33));
        assertThat(l.len()).isEqualTo(16 + 8);
        assertThat(l.body().getLong(0)).isEqualTo(1L << 33);
        // fuse_getxattr_out {size u32@0, padding@4}
        Answer x = send(r -> r.xattrSize(17));
        assertThat(x.len()).isEqualTo(16 + 8);
        assertThat(x.body().getInt(0)).isEqualTo(17);
        Answer bytes = send(r -> r.bytes("target".getBytes(StandardCharsets.UTF_8)));
        assertThat(bytes.len()).isEqualTo(16 + 6);
        assertThat(StandardCharsets.UTF_8.decode(bytes.body()).toString()).isEqualTo("target");
        assertThat(send(Reply::empty).len()).isEqualTo(16);
        // fuse_out_header {len u32@0, error i32@4, unique u64@8}: an error is exactly the header
        Answer e = send(r -> r.error(Errno.ENOTEMPTY.code()));
        assertThat(e.len()).isEqualTo(16);
        assertThat(e.error()).isEqualTo(-Errno.ENOTEMPTY.code());
    }

    @Test
    void read_data_goes_straight_into_the_page_aligned_reply_buffer() {
        Reply reply = h.reply();
        ByteBuffer dst = reply.dataBuffer(10_000);
        assertThat(dst.capacity()).isEqualTo(10_000);
        assertThat(reply.body().address() % 4096).isZero();
        dst.put("abc".getBytes(StandardCharsets.UTF_8));
        reply.data(dst.position());
        Answer a = h.answer();
        assertThat(a.len()).isEqualTo(16 + 3);
        assertThat(StandardCharsets.UTF_8.decode(a.body()).toString()).isEqualTo("abc");
        assertThat(h.reply().dataBuffer(Integer.MAX_VALUE).capacity()).as("capped by the buffer")
                .isEqualTo(Channel.BUFFER_BYTES - 16);
    }

    @Test
    void dirents_and_direntplus_are_packed_to_8_bytes_up_to_the_size_asked() {
        // fuse_dirent {ino u64@0, off u64@8, namelen u32@16, type u32@20, name@24} padded to 8
        Reply reply = h.reply();
        DirentWriter d = reply.dirents(24 + 8 + 24 + 16);
        assertThat(d.fits(1, false)).isTrue();
        d.add(2, 1, 4, ".".getBytes());
        d.add(12, 2, 8, "file-name".getBytes()); // 24 + 9 -> 40
        assertThat(d.usedBytes()).isEqualTo(32 + 40);
        assertThat(d.fits(1, false)).as("size asked is used up").isFalse();
        assertThatThrownBy(() -> d.add(1, 1, 1, "x".getBytes())).isInstanceOf(IllegalStateException.class);
        d.send();
        Answer a = h.answer();
        assertThat(a.len()).isEqualTo(16 + 72);
        ByteBuffer b = a.body();
        assertThat(new long[] {b.getLong(0), b.getLong(8), b.getInt(16), b.getInt(20), b.get(24), b.get(25)})
                .containsExactly(2, 1, 1, 4, '.', 0);
        assertThat(new long[] {b.getLong(32), b.getLong(40), b.getInt(48), b.getInt(52)}).containsExactly(12, 2, 9, 8);
        assertThat(new String(new byte[] {b.get(56), b.get(64)})).isEqualTo("fe");
        assertThat(b.get(65)).as("padding zeroed").isZero();
        // fuse_direntplus: entry_out (128) then the dirent
        Reply plus = h.reply();
        DirentWriter p = plus.dirents(4096);
        p.addPlus(9, ATTR, 1_000_000_000L, 1_000_000_000L, 0x1122334455L, 5, 8, "f".getBytes());
        p.addPlus(0, null, 0, 0, 2, 6, 4, "..".getBytes());
        p.send();
        Answer pa = h.answer();
        assertThat(pa.len()).isEqualTo(16 + 2 * (128 + 32));
        ByteBuffer pb = pa.body();
        assertThat(pb.getLong(0)).isEqualTo(9);
        assertAttr(pb, 40);
        assertThat(new long[] {pb.getLong(128), pb.getLong(136), pb.getInt(144)}).containsExactly(0x1122334455L, 5, 1);
        assertThat(pb.getLong(160)).as("no entry for ..").isZero();
        assertThat(pb.getLong(160 + 128 + 8)).isEqualTo(6);
    }

    @Test
    void init_negotiation_and_init_out_layout() throws Exception {
        FuseInit init = new FuseInit(false, 256);
        long offered = FuseAbi.FUSE_ASYNC_READ | FuseAbi.FUSE_MAX_PAGES | FuseAbi.FUSE_WRITEBACK_CACHE
                | FuseAbi.FUSE_DO_READDIRPLUS | FuseAbi.FUSE_INIT_EXT | (1L << 33);
        FuseInit.InitOut out = init.negotiate(new InitIn(7, 45, 131072, offered));
        assertThat(out.minor()).isEqualTo(FuseAbi.MINOR_VERSION);
        assertThat(out.flags()).as("wanted ∧ offered; no writeback cache unless asked; nothing above bit 31")
                .isEqualTo(FuseAbi.FUSE_ASYNC_READ | FuseAbi.FUSE_MAX_PAGES | FuseAbi.FUSE_DO_READDIRPLUS);
        assertThat(out.maxPages()).isEqualTo(256);
        assertThat(out.maxWriteBytes()).isEqualTo(1 << 20);
        assertThat(out.maxReadaheadBytes()).isEqualTo(131072);
        assertThat(out.timeGranNanos()).isEqualTo(1);
        assertThat(new FuseInit(true, 64).negotiate(new InitIn(7, 31, 4096, offered)))
                .satisfies(o -> assertThat(o.minor()).isEqualTo(31))
                .satisfies(o -> assertThat(o.flags() & FuseAbi.FUSE_WRITEBACK_CACHE).isNotZero())
                .satisfies(o -> assertThat(o.maxWriteBytes()).as("max_pages_limit 64").isEqualTo(64 * 4096));
        long withMmap = offered | FuseAbi.FUSE_DIRECT_IO_ALLOW_MMAP;
        assertThat(new FuseInit(true, 256).negotiate(new InitIn(7, 45, 0, withMmap)).flags()
                & (FuseAbi.FUSE_DIRECT_IO_ALLOW_MMAP | FuseAbi.FUSE_INIT_EXT))
                .as("with the writeback cache: low-space direct opens may still be mmap'd shared (flags2, INIT_EXT)")
                .isEqualTo(FuseAbi.FUSE_DIRECT_IO_ALLOW_MMAP | FuseAbi.FUSE_INIT_EXT);
        assertThat(init.negotiate(new InitIn(7, 45, 0, withMmap)).flags() & FuseAbi.FUSE_DIRECT_IO_ALLOW_MMAP)
                .as("without it, not asked").isZero();
        assertThat(init.negotiate(new InitIn(7, 45, 0, FuseAbi.FUSE_ASYNC_READ)).maxWriteBytes())
                .as("without MAX_PAGES the kernel caps requests at 32 pages").isEqualTo(32 * 4096);
        for (InitIn bad : new InitIn[] {new InitIn(8, 0, 0, 0), new InitIn(7, 30, 0, 0)}) {
            assertThatThrownBy(() -> init.negotiate(bad)).isInstanceOf(FsException.class);
        }
        // fuse_init_out: major@0 minor@4 max_readahead@8 flags@12 max_background u16@16 congestion_threshold
        // u16@18 max_write@20 time_gran@24 max_pages u16@28 map_alignment u16@30 flags2@32 unused[7]; 64 bytes
        FuseInit.InitOut wide = new FuseInit.InitOut(7, 38, 65536, (3L << 32) | FuseAbi.FUSE_INIT_EXT | 1, 64, 48,
                1 << 20, 1, 256);
        Answer a = send(r -> r.init(wide));
        assertThat(a.len()).isEqualTo(16 + 64);
        ByteBuffer b = a.body();
        assertThat(new long[] {b.getInt(0), b.getInt(4), b.getInt(8), b.getInt(12), b.getShort(16), b.getShort(18),
                b.getInt(20), b.getInt(24), b.getShort(28), b.getShort(30), b.getInt(32), b.getInt(36)})
                .containsExactly(7, 38, 65536, FuseAbi.FUSE_INIT_EXT | 1, 64, 48, 1 << 20, 1, 256, 0, 3, 0);
    }

    @Test
    void init_through_the_table_records_the_outcome_for_the_mount() {
        FuseInit init = new FuseInit(false, 256);
        FuseServer s = new FuseServer(table(init.op()), false);
        h.send(s, FuseAbi.INIT, 0, WireHarness.le(64).putInt(0, 7).putInt(4, 40)
                .putInt(12, FuseAbi.FUSE_MAX_PAGES).array());
        Answer a = h.answer();
        assertThat(a.error()).isZero();
        assertThat(init.done().getCount()).isZero();
        assertThat(init.failure()).isNull();
        assertThat(init.negotiatedFlags()).isEqualTo(FuseAbi.FUSE_MAX_PAGES);
        assertThat(init.maxWriteBytes()).isEqualTo(1 << 20);
        FuseInit old = new FuseInit(false, 256);
        h.send(new FuseServer(table(old.op()), false), FuseAbi.INIT, 0, WireHarness.le(16).putInt(0, 7)
                .putInt(4, 20).array());
        assertThat(h.answer().error()).isEqualTo(-71); // EPROTO
        assertThat(old.failure().errno()).isEqualTo(Errno.ENODEV);
        assertThat(old.done().getCount()).isZero();
    }

    @Test
    void notifications_have_unique_0_and_the_code_in_error() {
        java.lang.foreign.MemorySegment m = h.arena.allocate(64);
        // fuse_notify_inval_inode_out {ino u64@0, off i64@8, len i64@16} after the 16-byte header
        int len = FuseAbi.putNotifyInvalInode(m, 5, 4096, -1);
        ByteBuffer b = m.asByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(new long[] {len, b.getInt(0), b.getInt(4), b.getLong(8), b.getLong(16), b.getLong(24),
                b.getLong(32)}).containsExactly(40, 40, 2, 0, 5, 4096, -1);
        // fuse_notify_inval_entry_out {parent u64@0, namelen u32@8, flags u32@12} name\0
        len = FuseAbi.putNotifyInvalEntry(m, 7, "ab".getBytes());
        b = m.asByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(new long[] {len, b.getInt(0), b.getInt(4), b.getLong(8), b.getLong(16), b.getInt(24), b.getInt(28),
                b.get(32), b.get(33), b.get(34)}).containsExactly(35, 35, 3, 0, 7, 2, 0, 'a', 'b', 0);
    }

    private static Op<?>[] table(Op<?> op) {
        Op<?>[] t = new Op<?>[FuseAbi.MAX_OPCODE];
        t[op.opcode()] = op;
        return t;
    }
}
