package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iomap4j.fuse.WireHarness.le;
import static org.iomap4j.fuse.WireHarness.withNames;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fuse.WireHarness.Answer;
import org.iomap4j.testkit.vfs.MemoryVfs;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.StatFs;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsWrite;
import org.iomap4j.vfs.VfsXattr;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The node layer against Vfs capabilities: absent ones answer what the kernel expects (EROFS for writes on a
 * filesystem without VfsWrite, EPERM for names without VfsNamespace, ENOSYS for fallocate, lseek and xattrs so the
 * kernel stops asking), present ones are used (xattr size probes and ERANGE; lseek; fallocate). The Vfs is
 * {@link MemoryVfs} seen through wrappers that offer fewer interfaces.
 */
final class NodeCapabilityTest {
    private final WireHarness h;
    private final MemoryVfs mem = new MemoryVfs();

    NodeCapabilityTest() throws Throwable {
        h = new WireHarness();
    }

    @AfterEach
    void close() {
        h.close();
    }

    /** The required core only: a read-only filesystem. */
    private static class CoreOnly implements Vfs {
        final MemoryVfs d;

        CoreOnly(MemoryVfs d) {
            this.d = d;
        }

        public long rootIno() {
            return d.rootIno();
        }

        public boolean isReadOnly() {
            return false; // says nothing: the missing VfsWrite alone must make the front end refuse writes
        }

        public InodeAttr lookup(long dirIno, String name) throws IOException {
            return d.lookup(dirIno, name);
        }

        public InodeAttr getattr(long ino) throws IOException {
            return d.getattr(ino);
        }

        public String readlink(long ino) throws IOException {
            return d.readlink(ino);
        }

        public void readdir(long dirIno, long offset, DirSink sink) throws IOException {
            d.readdir(dirIno, offset, sink);
        }

        public FileHandle open(long ino, int openFlags) throws IOException {
            return d.open(ino, openFlags);
        }

        public int read(FileHandle fh, long posBytes, ByteBuffer dst) throws IOException {
            return d.read(fh, posBytes, dst);
        }

        public void fsync(FileHandle fh, boolean dataOnly) throws IOException {
            d.fsync(fh, dataOnly);
        }

        public void release(FileHandle fh) throws IOException {
            d.release(fh);
        }

        public void forget(long ino, long count) throws IOException {
            d.forget(ino, count);
        }

        public StatFs statfs() throws IOException {
            return d.statfs();
        }

        public void sync() throws IOException {
            d.sync();
        }

        public void close() {
            d.close();
        }
    }

    /** Writes but no namespace operations. */
    private static final class WriteOnly extends CoreOnly implements VfsWrite {
        WriteOnly(MemoryVfs d) {
            super(d);
        }

        public InodeAttr setattr(long ino, SetAttr changes) throws IOException {
            return d.setattr(ino, changes);
        }

        public Created create(long dirIno, String name, int mode, int openFlags, int uid, int gid)
                throws IOException {
            return d.create(dirIno, name, mode, openFlags, uid, gid);
        }

        public int write(FileHandle fh, long posBytes, ByteBuffer src) throws IOException {
            return d.write(fh, posBytes, src);
        }
    }

    /** The core plus extended attributes kept in a map (a model of the VfsXattr contract). */
    private static final class WithXattrs extends CoreOnly implements VfsXattr {
        final Map<String, byte[]> attrs = new TreeMap<>();

        WithXattrs(MemoryVfs d) {
            super(d);
        }

        public byte[] getxattr(long ino, String name) throws IOException {
            byte[] v = attrs.get(ino + "/" + name);
            if (v == null) {
                throw new FsException(Errno.ENODATA, name);
            }
            return v;
        }

        public void setxattr(long ino, String name, byte[] value, int flags) throws IOException {
            boolean exists = attrs.containsKey(ino + "/" + name);
            if ((flags & XATTR_CREATE) != 0 && exists) {
                throw new FsException(Errno.EEXIST, name);
            }
            attrs.put(ino + "/" + name, value);
        }

        public List<String> listxattr(long ino) {
            List<String> names = new ArrayList<>();
            attrs.keySet().stream().filter(k -> k.startsWith(ino + "/"))
                    .forEach(k -> names.add(k.substring(k.indexOf('/') + 1)));
            return names;
        }

        public void removexattr(long ino, String name) throws IOException {
            if (attrs.remove(ino + "/" + name) == null) {
                throw new FsException(Errno.ENODATA, name);
            }
        }
    }

    private FuseServer server(Vfs vfs) {
        return new FuseServer(new NodeBridge(vfs, FuseOptions.defaults()).opTable(), false);
    }

    private int errno(FuseServer s, int opcode, long nodeid, byte[] payload) {
        h.send(s, opcode, nodeid, payload);
        return -h.answer().error();
    }

    private static byte[] open(int flags) {
        return le(8).putInt(0, flags).array();
    }

    @Test
    void every_opcode_we_serve_has_a_row_whatever_the_capabilities() {
        int[] served = {FuseAbi.INIT, FuseAbi.DESTROY, FuseAbi.LOOKUP, FuseAbi.FORGET, FuseAbi.BATCH_FORGET,
            FuseAbi.GETATTR, FuseAbi.SETATTR, FuseAbi.STATX, FuseAbi.READLINK, FuseAbi.SYMLINK, FuseAbi.MKNOD,
            FuseAbi.MKDIR, FuseAbi.UNLINK, FuseAbi.RMDIR, FuseAbi.RENAME, FuseAbi.RENAME2, FuseAbi.LINK, FuseAbi.OPEN,
            FuseAbi.CREATE, FuseAbi.READ, FuseAbi.WRITE, FuseAbi.FLUSH, FuseAbi.FSYNC, FuseAbi.RELEASE,
            FuseAbi.OPENDIR, FuseAbi.READDIR, FuseAbi.READDIRPLUS, FuseAbi.RELEASEDIR, FuseAbi.FSYNCDIR,
            FuseAbi.SYNCFS, FuseAbi.STATFS, FuseAbi.ACCESS, FuseAbi.FALLOCATE, FuseAbi.LSEEK, FuseAbi.INTERRUPT,
            FuseAbi.GETXATTR, FuseAbi.LISTXATTR, FuseAbi.SETXATTR, FuseAbi.REMOVEXATTR};
        for (Vfs vfs : new Vfs[] {mem, new CoreOnly(mem), new WriteOnly(mem), new WithXattrs(mem)}) {
            Op<?>[] t = new NodeBridge(vfs, FuseOptions.defaults()).opTable();
            for (int opcode : served) {
                assertThat(t[opcode]).as("opcode %d with %s", opcode, vfs.getClass().getSimpleName()).isNotNull();
                assertThat(t[opcode].opcode()).isEqualTo(opcode);
            }
            long rows = java.util.Arrays.stream(t).filter(java.util.Objects::nonNull).count();
            assertThat(rows).isEqualTo(served.length);
        }
    }

    @Test
    void without_vfs_write_writes_and_write_opens_are_erofs_reads_still_work() throws Exception {
        InodeAttr f = mem.mknod(mem.rootIno(), "f", 0100644, 0, 0, 0);
        FileHandle w = mem.open(f.ino(), Vfs.O_RDWR);
        mem.write(w, 0, ByteBuffer.wrap("data".getBytes()));
        mem.release(w);
        FuseServer s = server(new CoreOnly(mem));
        int erofs = Errno.EROFS.code();
        assertThat(errno(s, FuseAbi.OPEN, f.ino(), open(Vfs.O_RDWR))).isEqualTo(erofs);
        assertThat(errno(s, FuseAbi.OPEN, f.ino(), open(Vfs.O_WRONLY))).isEqualTo(erofs);
        assertThat(errno(s, FuseAbi.OPEN, f.ino(), open(Vfs.O_RDONLY | Vfs.O_TRUNC))).isEqualTo(erofs);
        assertThat(errno(s, FuseAbi.CREATE, 1, withNames(le(16).putInt(0, 0101).putInt(4, 0100644), "n")))
                .isEqualTo(erofs);
        assertThat(errno(s, FuseAbi.WRITE, f.ino(), le(41).putInt(16, 1).array())).isEqualTo(erofs);
        assertThat(errno(s, FuseAbi.MKDIR, 1, withNames(le(8).putInt(0, 0755), "d"))).isEqualTo(erofs);
        assertThat(errno(s, FuseAbi.UNLINK, 1, withNames(le(0), "f"))).isEqualTo(erofs);
        assertThat(errno(s, FuseAbi.SETATTR, f.ino(), le(88).putInt(0, 1 << 3).array())).isEqualTo(erofs);
        assertThat(errno(s, FuseAbi.ACCESS, f.ino(), le(8).putInt(0, 2).array())).isEqualTo(erofs);
        // A SETATTR that changes nothing (FATTR_FH only) is a getattr.
        h.send(s, FuseAbi.SETATTR, f.ino(), le(88).putInt(0, 1 << 6).array());
        Answer attr = h.answer();
        assertThat(attr.error()).isZero();
        assertThat(attr.body().getLong(16 + 8)).as("size").isEqualTo(4);
        // Reads go on.
        h.send(s, FuseAbi.OPEN, f.ino(), open(Vfs.O_RDONLY));
        long fh = h.answer().body().getLong(0);
        h.send(s, FuseAbi.READ, f.ino(), le(40).putLong(0, fh).putInt(16, 100).array());
        assertThat(StandardCharsets.UTF_8.decode(h.answer().body()).toString()).isEqualTo("data");
    }

    @Test
    void optional_operations_absent_are_enosys_so_the_kernel_stops_asking() {
        FuseServer s = server(new WriteOnly(mem));
        int enosys = Errno.ENOSYS.code();
        assertThat(errno(s, FuseAbi.FALLOCATE, 1, le(32).putLong(16, 1).array())).isEqualTo(enosys);
        assertThat(errno(s, FuseAbi.LSEEK, 1, le(24).putInt(16, Vfs.SEEK_DATA).array())).isEqualTo(enosys);
        assertThat(errno(s, FuseAbi.GETXATTR, 1, withNames(le(8), "user.a"))).isEqualTo(enosys);
        assertThat(errno(s, FuseAbi.LISTXATTR, 1, le(8).array())).isEqualTo(enosys);
        assertThat(errno(s, FuseAbi.SETXATTR, 1, withNames(le(8), "user.a"))).isEqualTo(enosys);
        assertThat(errno(s, FuseAbi.REMOVEXATTR, 1, withNames(le(0), "user.a"))).isEqualTo(enosys);
        // Writes without names: namespace operations are EPERM (no such inode operation), CREATE works.
        int eperm = Errno.EPERM.code();
        assertThat(errno(s, FuseAbi.MKDIR, 1, withNames(le(8).putInt(0, 0755), "d"))).isEqualTo(eperm);
        assertThat(errno(s, FuseAbi.RENAME, 1, withNames(le(8).putLong(0, 1), "a", "b"))).isEqualTo(eperm);
        assertThat(errno(s, FuseAbi.SYMLINK, 1, withNames(le(0), "l", "t"))).isEqualTo(eperm);
        h.send(s, FuseAbi.CREATE, 1, withNames(le(16).putInt(0, 0101).putInt(4, 0100644), "n"));
        assertThat(h.answer().error()).isZero();
    }

    @Test
    void lseek_and_fallocate_reach_the_vfs_when_offered() throws Exception {
        FuseServer s = server(mem);
        h.send(s, FuseAbi.CREATE, 1, withNames(le(16).putInt(0, 0102).putInt(4, 0100644), "sparse"));
        long fh = h.answer().body().getLong(128);
        // Write 4 KiB at 64 KiB: [0, 64 KiB) is a hole.
        ByteBuffer w = le(40 + 4096).putLong(0, fh).putLong(8, 65536).putInt(16, 4096);
        h.send(s, FuseAbi.WRITE, 0, w.array());
        assertThat(h.answer().body().getInt(0)).isEqualTo(4096);
        h.send(s, FuseAbi.LSEEK, 0, le(24).putLong(0, fh).putLong(8, 0).putInt(16, Vfs.SEEK_DATA).array());
        assertThat(h.answer().body().getLong(0)).isEqualTo(65536);
        // Punch it: now no data after 0 (ENXIO).
        h.send(s, FuseAbi.FALLOCATE, 0, le(32).putLong(0, fh).putLong(8, 65536).putLong(16, 4096)
                .putInt(24, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE).array());
        assertThat(h.answer().error()).isZero();
        assertThat(errno(s, FuseAbi.LSEEK, 0, le(24).putLong(0, fh).putInt(16, Vfs.SEEK_DATA).array()))
                .isEqualTo(Errno.ENXIO.code());
    }

    @Test
    void xattrs_follow_the_size_probe_protocol() {
        WithXattrs vfs = new WithXattrs(mem);
        FuseServer s = server(vfs);
        // SETXATTR: fuse_setxattr_in {size, flags} name\0 value
        byte[] head = withNames(le(8).putInt(0, 5), "user.color");
        byte[] set = java.util.Arrays.copyOf(head, head.length + 5);
        System.arraycopy("green".getBytes(), 0, set, head.length, 5);
        h.send(s, FuseAbi.SETXATTR, 1, set);
        assertThat(h.answer().error()).isZero();
        assertThat(vfs.attrs).containsKey(mem.rootIno() + "/user.color");
        h.send(s, FuseAbi.GETXATTR, 1, withNames(le(8).putInt(0, 0), "user.color"));
        Answer probe = h.answer();
        assertThat(probe.len()).isEqualTo(16 + 8);
        assertThat(probe.body().getInt(0)).isEqualTo(5);
        assertThat(errno(s, FuseAbi.GETXATTR, 1, withNames(le(8).putInt(0, 4), "user.color")))
                .isEqualTo(Errno.ERANGE.code());
        h.send(s, FuseAbi.GETXATTR, 1, withNames(le(8).putInt(0, 64), "user.color"));
        assertThat(StandardCharsets.UTF_8.decode(h.answer().body()).toString()).isEqualTo("green");
        h.send(s, FuseAbi.LISTXATTR, 1, le(8).putInt(0, 64).array());
        assertThat(StandardCharsets.UTF_8.decode(h.answer().body()).toString()).isEqualTo("user.color\0");
        h.send(s, FuseAbi.REMOVEXATTR, 1, withNames(le(0), "user.color"));
        assertThat(h.answer().error()).isZero();
        assertThat(errno(s, FuseAbi.GETXATTR, 1, withNames(le(8).putInt(0, 0), "user.color")))
                .isEqualTo(Errno.ENODATA.code());
        h.send(s, FuseAbi.LISTXATTR, 1, le(8).putInt(0, 0).array());
        assertThat(h.answer().body().getInt(0)).isZero();
    }
}
