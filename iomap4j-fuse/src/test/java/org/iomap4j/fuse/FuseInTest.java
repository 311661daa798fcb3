package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.iomap4j.fuse.WireHarness.le;
import static org.iomap4j.fuse.WireHarness.withNames;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fuse.FuseIn.*;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every typed request record against the byte layout of its struct in include/uapi/linux/fuse.h (7.38): the
 * payloads are laid out here by hand, each field at the offset the header gives (the oracle is this file's
 * offsets, not FuseIn's), and each decoder must read each field from its place; a payload one byte shorter than
 * its struct must be EINVAL.
 */
final class FuseInTest {
    private final WireHarness h;

    FuseInTest() throws Throwable {
        h = new WireHarness();
    }

    @AfterEach
    void close() {
        h.close();
    }

    private Request req(byte[] payload) throws Exception {
        return h.request(1, payload);
    }

    private Request req(ByteBuffer struct) throws Exception {
        return req(struct.array());
    }

    @Test
    void in_header_fields_are_read_from_their_offsets_and_extensions_are_cut_off() throws Exception {
        byte[] payload = new byte[24];
        int len = h.layOut(FuseAbi.LOOKUP, 0x1122334455667788L, 1000, payload);
        h.channel.in.set(FuseAbi.U16, 36, (short) 2); // total_extlen: 2 x 8 bytes of extensions at the end
        Request r = new Request(h.channel.in, len);
        assertThat(r.opcode).isEqualTo(FuseAbi.LOOKUP);
        assertThat(r.nodeid).isEqualTo(0x1122334455667788L);
        assertThat(r.uid).isEqualTo(1000);
        assertThat(r.gid).isEqualTo(1000);
        assertThat(r.pid).isEqualTo(4242);
        assertThat(r.payloadBytes()).isEqualTo(24 - 16);
        assertThatThrownBy(() -> new Request(h.channel.in, len + 1)).isInstanceOf(FsException.class);
    }

    @Test
    void names_forget_and_batch_forget() throws Exception {
        assertThat(NameIn.decode(req(withNames(le(0), "hello")))).isEqualTo(new NameIn("hello"));
        assertThatThrownBy(() -> NameIn.decode(req("abc".getBytes()))).satisfies(e -> errno(e, Errno.EINVAL));
        // fuse_forget_in {nlookup u64@0}
        assertThat(ForgetIn.decode(req(le(8).putLong(0, 5L)))).isEqualTo(new ForgetIn(5));
        // fuse_batch_forget_in {count u32@0, dummy@4} + fuse_forget_one {nodeid u64@0, nlookup u64@8}
        ByteBuffer b = le(8 + 32).putInt(0, 2).putLong(8, 11).putLong(16, 1).putLong(24, 12).putLong(32, 3);
        BatchForgetIn bf = BatchForgetIn.decode(req(b));
        assertThat(bf.nodeids()).containsExactly(11, 12);
        assertThat(bf.nlookups()).containsExactly(1, 3);
        // A count beyond what the payload carries is clamped to the entries present.
        b.putInt(0, 1000);
        assertThat(BatchForgetIn.decode(req(b)).nodeids()).containsExactly(11, 12);
    }

    @Test
    void getattr_and_setattr_with_its_valid_mask() throws Exception {
        // fuse_getattr_in {getattr_flags u32@0, dummy@4, fh u64@8}
        GetattrIn g = GetattrIn.decode(req(le(16).putInt(0, 1).putLong(8, 99)));
        assertThat(g).isEqualTo(new GetattrIn(1, 99));
        assertThat(g.hasFh()).isTrue();
        // fuse_setattr_in: valid@0 padding@4 fh@8 size@16 lock_owner@24 atime@32 mtime@40 ctime@48
        // atimensec@56 mtimensec@60 ctimensec@64 mode@68 unused4@72 uid@76 gid@80 unused5@84 (88 bytes)
        ByteBuffer s = le(88).putInt(0, 0x7ff).putLong(8, 3).putLong(16, 4096).putLong(24, 7).putLong(32, 100)
                .putLong(40, 200).putLong(48, 300).putInt(56, 1).putInt(60, 2).putInt(64, 3).putInt(68, 0100640)
                .putInt(72, -1).putInt(76, 1000).putInt(80, 100).putInt(84, -1);
        SetattrIn in = SetattrIn.decode(req(s));
        assertThat(in).isEqualTo(new SetattrIn(0x7ff, 3, 4096, 7, 100, 200, 300, 1, 2, 3, 0100640, 1000, 100));
        // ATIME_NOW / MTIME_NOW (bits 7, 8) win over the explicit times.
        // 0x7ff includes FATTR_CTIME (bit 10): the writeback-cached kernel's ctime is kept.
        assertThat(in.changes()).isEqualTo(new SetAttr(0100640, 1000, 100, 4096L, null, null, true, true, 0, 0, 300L, 3));
        s.putInt(0, (1 << 3) | (1 << 4));
        // The explicit atime keeps its nanoseconds (atimensec 1); mtime was not asked for.
        assertThat(SetattrIn.decode(req(s)).changes()).isEqualTo(new SetAttr(null, null, null, 4096L, 100L, null,
                false, false, 1, 0, null, 0));
        // Only FATTR_FH | FATTR_LOCKOWNER | FATTR_KILL_SUIDGID: nothing for the Vfs to change.
        s.putInt(0, (1 << 6) | (1 << 9) | (1 << 11));
        assertThat(SetattrIn.decode(req(s)).changes()).isNull();
        // fuse_flush_times: MTIME | CTIME, both explicit.
        s.putInt(0, (1 << 5) | (1 << 10));
        assertThat(SetattrIn.decode(req(s)).changes()).isEqualTo(new SetAttr(null, null, null, null, null, 200L,
                false, false, 0, 2, 300L, 3));
        s.putInt(0, 1 << 3).putLong(16, -1);
        assertThatThrownBy(() -> SetattrIn.decode(req(s)).changes()).satisfies(e -> errno(e, Errno.EINVAL));
    }

    @Test
    void namespace_records() throws Exception {
        assertThat(SymlinkIn.decode(req(withNames(le(0), "link", "../target"))))
                .isEqualTo(new SymlinkIn("link", "../target"));
        // fuse_mknod_in {mode u32@0, rdev@4, umask@8, padding@12} name
        MknodIn m = MknodIn.decode(req(withNames(le(16).putInt(0, 020644).putInt(4, 0xfffffff0).putInt(8, 022),
                "dev")));
        assertThat(m).isEqualTo(new MknodIn(020644, 0xfffffff0, 022, "dev"));
        assertThat(m.rdevUnsigned()).isEqualTo(0xfffffff0L);
        // fuse_mkdir_in {mode u32@0, umask@4} name
        assertThat(MkdirIn.decode(req(withNames(le(8).putInt(0, 0755).putInt(4, 022), "d"))))
                .isEqualTo(new MkdirIn(0755, 022, "d"));
        // fuse_rename_in {newdir u64@0} old new; fuse_rename2_in {newdir u64@0, flags u32@8, padding@12} old new
        assertThat(RenameIn.decode(req(withNames(le(8).putLong(0, 42), "a", "b"))))
                .isEqualTo(new RenameIn(42, 0, "a", "b"));
        assertThat(RenameIn.decode2(req(withNames(le(16).putLong(0, 42).putInt(8, Vfs.RENAME_EXCHANGE), "a", "b"))))
                .isEqualTo(new RenameIn(42, Vfs.RENAME_EXCHANGE, "a", "b"));
        // fuse_link_in {oldnodeid u64@0} newname
        assertThat(LinkIn.decode(req(withNames(le(8).putLong(0, 77), "hard")))).isEqualTo(new LinkIn(77, "hard"));
    }

    @Test
    void open_and_create_translate_flags_to_vfs_bits() throws Exception {
        int x86Direct = 040000 | 02 | 0100000; // O_DIRECT | O_RDWR | O_LARGEFILE on x86-64
        // fuse_open_in {flags u32@0, open_flags u32@4}
        OpenIn o = OpenIn.decode(req(le(8).putInt(0, x86Direct).putInt(4, 1)), OpenFlagsAbi.GENERIC_ABI);
        assertThat(o).isEqualTo(new OpenIn(Vfs.O_DIRECT | Vfs.O_RDWR | Vfs.O_LARGEFILE, x86Direct, 1));
        int armDirect = 0200000 | 02 | 0400000; // O_DIRECT | O_RDWR | O_LARGEFILE on arm64
        assertThat(OpenIn.decode(req(le(8).putInt(0, armDirect)), OpenFlagsAbi.ARM64_ABI).flags())
                .isEqualTo(Vfs.O_DIRECT | Vfs.O_RDWR | Vfs.O_LARGEFILE);
        // fuse_create_in {flags u32@0, mode@4, umask@8, open_flags@12} name
        CreateIn c = CreateIn.decode(req(withNames(le(16).putInt(0, 0301).putInt(4, 0100644).putInt(8, 022)
                .putInt(12, 0), "new")), OpenFlagsAbi.GENERIC_ABI);
        assertThat(c).isEqualTo(new CreateIn(Vfs.O_CREAT | Vfs.O_EXCL | Vfs.O_WRONLY, 0100644, 022, 0, "new"));
    }

    @Test
    void read_and_write_records_write_data_is_a_view_of_the_request() throws Exception {
        // fuse_read_in {fh u64@0, offset u64@8, size u32@16, read_flags@20, lock_owner u64@24, flags@32, pad@36}
        ByteBuffer r = le(40).putLong(0, 5).putLong(8, 1L << 40).putInt(16, 131072).putInt(20, 2).putLong(24, 9)
                .putInt(32, 0100002);
        assertThat(ReadIn.decode(req(r))).isEqualTo(new ReadIn(5, 1L << 40, 131072, 2, 9, 0100002));
        r.putInt(16, -1); // 4 GiB - 1: clamped, never negative
        assertThat(ReadIn.decode(req(r)).sizeBytes()).isEqualTo(Integer.MAX_VALUE);
        // fuse_write_in, same layout, then size bytes of data
        ByteBuffer w = le(40 + 5).putLong(0, 6).putLong(8, 4096).putInt(16, 5).putInt(20, 1).putLong(24, 3)
                .putInt(32, 2);
        w.put(40, "hello".getBytes());
        WriteIn in = WriteIn.decode(req(w));
        assertThat(in.fh()).isEqualTo(6);
        assertThat(in.offsetBytes()).isEqualTo(4096);
        assertThat(in.sizeBytes()).isEqualTo(5);
        assertThat(in.writeFlags()).isEqualTo(WriteIn.FUSE_WRITE_CACHE);
        assertThat(in.lockOwner()).isEqualTo(3);
        assertThat(in.flags()).isEqualTo(2);
        assertThat(in.data().isDirect()).as("a view of the native request buffer, not a copy").isTrue();
        byte[] data = new byte[in.data().remaining()];
        in.data().get(data);
        assertThat(new String(data)).isEqualTo("hello");
        h.channel.in.set(FuseAbi.U32, 40 + 16, 6); // claims more data than it carries
        assertThatThrownBy(() -> WriteIn.decode(new Request(h.channel.in, 40 + 45)))
                .satisfies(e -> errno(e, Errno.EINVAL));
    }

    @Test
    void release_flush_fsync_fallocate_lseek_interrupt_access() throws Exception {
        // fuse_release_in {fh u64@0, flags u32@8, release_flags@12, lock_owner u64@16}
        assertThat(ReleaseIn.decode(req(le(24).putLong(0, 8).putInt(8, 2).putInt(12, 1).putLong(16, 4))))
                .isEqualTo(new ReleaseIn(8, 2, 1, 4));
        // fuse_flush_in {fh u64@0, unused@8, padding@12, lock_owner u64@16}
        assertThat(FlushIn.decode(req(le(24).putLong(0, 8).putLong(16, 4)))).isEqualTo(new FlushIn(8, 4));
        // fuse_fsync_in {fh u64@0, fsync_flags u32@8, padding@12}
        FsyncIn f = FsyncIn.decode(req(le(16).putLong(0, 8).putInt(8, 1)));
        assertThat(f).isEqualTo(new FsyncIn(8, 1));
        assertThat(f.dataOnly()).isTrue();
        // fuse_fallocate_in {fh u64@0, offset u64@8, length u64@16, mode u32@24, padding@28}
        assertThat(FallocateIn.decode(req(le(32).putLong(0, 8).putLong(8, 4096).putLong(16, 8192).putInt(24, 3))))
                .isEqualTo(new FallocateIn(8, 4096, 8192, Vfs.FALLOC_FL_KEEP_SIZE | Vfs.FALLOC_FL_PUNCH_HOLE));
        assertThatThrownBy(() -> FallocateIn.decode(req(le(32).putLong(0, 8).putLong(8, 4096).putLong(16, 0))))
                .satisfies(e -> errno(e, Errno.EINVAL));
        assertThatThrownBy(() -> FallocateIn.decode(req(le(32).putLong(8, Long.MAX_VALUE).putLong(16, 2))))
                .satisfies(e -> errno(e, Errno.EINVAL));
        // fuse_lseek_in {fh u64@0, offset u64@8, whence u32@16, padding@20}
        assertThat(LseekIn.decode(req(le(24).putLong(0, 8).putLong(8, 12345).putInt(16, Vfs.SEEK_HOLE))))
                .isEqualTo(new LseekIn(8, 12345, Vfs.SEEK_HOLE));
        // fuse_interrupt_in {unique u64@0}; fuse_access_in {mask u32@0, padding@4}
        assertThat(InterruptIn.decode(req(le(8).putLong(0, 31337)))).isEqualTo(new InterruptIn(31337));
        assertThat(AccessIn.decode(req(le(8).putInt(0, 6)))).isEqualTo(new AccessIn(6));
    }

    @Test
    void init_reads_flags2_only_with_init_ext() throws Exception {
        // fuse_init_in {major u32@0, minor@4, max_readahead@8, flags@12, flags2@16, unused[11]} (64 bytes)
        ByteBuffer i = le(64).putInt(0, 7).putInt(4, 45).putInt(8, 131072).putInt(12, 0x1234).putInt(16, 0x5);
        assertThat(InitIn.decode(req(i))).isEqualTo(new InitIn(7, 45, 131072, 0x1234));
        i.putInt(12, 0x1234 | (1 << 30)); // FUSE_INIT_EXT
        assertThat(InitIn.decode(req(i))).isEqualTo(new InitIn(7, 45, 131072, (5L << 32) | 0x1234 | (1 << 30)));
        // The pre-7.36 struct (16 bytes) decodes too.
        assertThat(InitIn.decode(req(le(16).putInt(0, 7).putInt(4, 31)))).isEqualTo(new InitIn(7, 31, 0, 0));
    }

    @Test
    void xattr_records() throws Exception {
        // fuse_getxattr_in {size u32@0, padding@4} name (LISTXATTR: no name)
        assertThat(GetxattrIn.decode(req(withNames(le(8).putInt(0, 64), "user.a"))))
                .isEqualTo(new GetxattrIn(64, "user.a"));
        assertThat(GetxattrIn.decodeList(req(le(8).putInt(0, 0)))).isEqualTo(new GetxattrIn(0, null));
        // fuse_setxattr_in without SETXATTR_EXT (FUSE_COMPAT_SETXATTR_IN_SIZE = 8: size u32@0, flags@4), name, value
        byte[] head = withNames(le(8).putInt(0, 3).putInt(4, 1), "user.k");
        byte[] payload = java.util.Arrays.copyOf(head, head.length + 3);
        payload[head.length] = 'v';
        payload[head.length + 1] = 0;
        payload[head.length + 2] = 'w';
        SetxattrIn s = SetxattrIn.decode(req(payload));
        assertThat(s.flags()).isEqualTo(1);
        assertThat(s.name()).isEqualTo("user.k");
        assertThat(s.value()).containsExactly('v', 0, 'w');
    }

    @Test
    void every_struct_one_byte_short_is_einval() throws Exception {
        Map<String, Integer> sizes = new LinkedHashMap<>();
        Map<String, Op.Decoder<?>> decoders = new LinkedHashMap<>();
        sizes.put("forget", 8);
        decoders.put("forget", ForgetIn::decode);
        sizes.put("getattr", 16);
        decoders.put("getattr", GetattrIn::decode);
        sizes.put("setattr", 88);
        decoders.put("setattr", SetattrIn::decode);
        sizes.put("read", 40);
        decoders.put("read", ReadIn::decode);
        sizes.put("write", 40);
        decoders.put("write", WriteIn::decode);
        sizes.put("fsync", 16);
        decoders.put("fsync", FsyncIn::decode);
        sizes.put("fallocate", 32);
        decoders.put("fallocate", FallocateIn::decode);
        sizes.put("lseek", 24);
        decoders.put("lseek", LseekIn::decode);
        sizes.put("interrupt", 8);
        decoders.put("interrupt", InterruptIn::decode);
        sizes.put("access", 8);
        decoders.put("access", AccessIn::decode);
        sizes.put("init", 16);
        decoders.put("init", InitIn::decode);
        sizes.put("release", 8);
        decoders.put("release", ReleaseIn::decode);
        sizes.put("rename2", 16);
        decoders.put("rename2", RenameIn::decode2);
        sizes.put("open", 8);
        decoders.put("open", r -> OpenIn.decode(r, OpenFlagsAbi.GENERIC_ABI));
        sizes.put("create", 16);
        decoders.put("create", r -> CreateIn.decode(r, OpenFlagsAbi.GENERIC_ABI));
        sizes.put("mknod", 16);
        decoders.put("mknod", MknodIn::decode);
        sizes.put("mkdir", 8);
        decoders.put("mkdir", MkdirIn::decode);
        sizes.put("link", 8);
        decoders.put("link", LinkIn::decode);
        sizes.put("rename", 8);
        decoders.put("rename", RenameIn::decode);
        sizes.put("getxattr", 8);
        decoders.put("getxattr", GetxattrIn::decode);
        sizes.put("setxattr", 8);
        decoders.put("setxattr", SetxattrIn::decode);
        sizes.put("batch_forget", 8);
        decoders.put("batch_forget", BatchForgetIn::decode);
        // Records followed by names, and fallocate (length 0 is EINVAL), do not decode from zeros alone.
        java.util.Set<String> notFromZeros = java.util.Set.of("rename2", "create", "mknod", "mkdir", "link",
                "rename", "getxattr", "setxattr", "fallocate");
        for (var e : sizes.entrySet()) {
            // The full struct of zeros decodes; one byte less is EINVAL.
            Op.Decoder<?> d = decoders.get(e.getKey());
            if (!notFromZeros.contains(e.getKey())) {
                d.decode(req(new byte[e.getValue()]));
            }
            assertThatThrownBy(() -> d.decode(req(new byte[e.getValue() - 1]))).as(e.getKey())
                    .satisfies(x -> errno(x, Errno.EINVAL));
        }
    }

    @Test
    void encode_is_the_inverse_of_decode_for_the_records_the_warm_up_sends() throws Exception {
        java.lang.foreign.MemorySegment p = h.channel.in.asSlice(40);
        for (OpenFlagsAbi abi : new OpenFlagsAbi[] {OpenFlagsAbi.GENERIC_ABI, OpenFlagsAbi.ARM64_ABI}) {
            OpenIn o = new OpenIn(Vfs.O_RDWR | Vfs.O_DIRECT, abi.toKernel(Vfs.O_RDWR | Vfs.O_DIRECT), 3);
            assertThat(OpenIn.decode(again(o.encode(p, abi)), abi)).isEqualTo(o);
            CreateIn c = new CreateIn(Vfs.O_WRONLY | Vfs.O_CREAT | Vfs.O_EXCL, 0100600, 022, 0, "c");
            assertThat(CreateIn.decode(again(c.encode(p, abi)), abi)).isEqualTo(c);
        }
        NameIn n = new NameIn("name");
        assertThat(NameIn.decode(again(n.encode(p)))).isEqualTo(n);
        ForgetIn f = new ForgetIn(9);
        assertThat(ForgetIn.decode(again(f.encode(p)))).isEqualTo(f);
        BatchForgetIn b = BatchForgetIn.decode(again(new BatchForgetIn(new long[] {4, 5}, new long[] {1, 2})
                .encode(p)));
        assertThat(b.nodeids()).containsExactly(4, 5);
        assertThat(b.nlookups()).containsExactly(1, 2);
        GetattrIn g = new GetattrIn(1, 8);
        assertThat(GetattrIn.decode(again(g.encode(p)))).isEqualTo(g);
        MkdirIn m = new MkdirIn(0700, 022, "dir");
        assertThat(MkdirIn.decode(again(m.encode(p)))).isEqualTo(m);
        RenameIn r = new RenameIn(12, 0, "a", "b");
        assertThat(RenameIn.decode(again(r.encode(p, false)))).isEqualTo(r);
        RenameIn r2 = new RenameIn(12, Vfs.RENAME_NOREPLACE, "a", "b");
        assertThat(RenameIn.decode2(again(r2.encode(p, true)))).isEqualTo(r2);
        ReadIn rd = new ReadIn(1, 2, 3, 4, 5, 6);
        assertThat(ReadIn.decode(again(rd.encode(p)))).isEqualTo(rd);
        WriteIn w = WriteIn.decode(again(new WriteIn(1, 4096, 3, 0, 7, 0, ByteBuffer.wrap("xyz".getBytes()))
                .encode(p)));
        assertThat(new long[] {w.fh(), w.offsetBytes(), w.sizeBytes(), w.lockOwner()}).containsExactly(1, 4096, 3, 7);
        assertThat(w.data().get(2)).isEqualTo((byte) 'z');
        ReleaseIn rl = new ReleaseIn(1, 2, 3, 4);
        assertThat(ReleaseIn.decode(again(rl.encode(p)))).isEqualTo(rl);
        FlushIn fl = new FlushIn(1, 4);
        assertThat(FlushIn.decode(again(fl.encode(p)))).isEqualTo(fl);
        FsyncIn fs = new FsyncIn(1, 1);
        assertThat(FsyncIn.decode(again(fs.encode(p)))).isEqualTo(fs);
        InitIn in = new InitIn(7, 38, 65536, (1L << 30) | (6L << 32) | 1);
        assertThat(InitIn.decode(again(in.encode(p)))).isEqualTo(in);
    }

    /** The request whose payload was just encoded in place. */
    private Request again(int payloadBytes) throws Exception {
        FuseAbi.putInHeader(h.channel.in, 40 + payloadBytes, 1, 1, 1);
        return new Request(h.channel.in, 40 + payloadBytes);
    }

    private static void errno(Throwable e, Errno expected) {
        assertThat(e).isInstanceOf(FsException.class);
        assertThat(((FsException) e).errno()).isEqualTo(expected);
    }
}
