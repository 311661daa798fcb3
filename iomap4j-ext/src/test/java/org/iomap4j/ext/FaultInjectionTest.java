package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice;
import org.iomap4j.testkit.block.FaultInjectingBlockDevice.Op;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * EIO on the N-th read, write or flush of an ext2 workload, N swept over the whole workload: the error must
 * reach a caller (read, write, fsync, setattr, sync or unmount), never as anything but an IOException; reads never
 * return wrong bytes; files whose fsync succeeded keep their content across a power cut after the fault (checked
 * with e2fsck -fy/-fn and debugfs); and afterwards the filesystem either works or refuses with EIO/EROFS and a
 * message. Also: fsync reports a write-back error once per open handle, and ENOSPC is reported by write(), never
 * by write-back.
 */
class FaultInjectionTest {
    @TempDir
    Path tmp;

    private byte[] baseImage;

    private MemoryBlockDevice freshDevice() throws IOException {
        if (baseImage == null) {
            baseImage = Files.readAllBytes(Ext2Tools.mke2fs(tmp.resolve("base.img"), 4L << 20, "-b", "1024", "-N", "64"));
        }
        MemoryBlockDevice mem = new MemoryBlockDevice(baseImage.length, 512);
        mem.write(0, ByteBuffer.wrap(baseImage));
        return mem;
    }

    private static ExtMountOptions opts() {
        return new ExtMountOptions(false, 1L << 20, 64 << 10, 64L << 10);
    }

    /** What one faulted run saw. */
    static final class Run {
        final List<String> errors = new ArrayList<>();
        final Map<Long, byte[]> durable = new HashMap<>();
        final Set<Long> uncertain = new HashSet<>();
        final Map<Long, byte[]> model = new HashMap<>();
        final List<String> wrong = new ArrayList<>();
    }

    private interface Step {
        void run() throws IOException;
    }

    private static void attempt(Run r, String what, Step s) {
        try {
            s.run();
        } catch (IOException e) {
            assertThat(e.getMessage()).as("error of " + what + " has a message").isNotBlank();
            r.errors.add(what + ": " + e);
        }
    }

    /** The workload: four files written, some fsync'd, read back, truncated, one unlinked, sync. */
    private Run workload(ExtFileSystem fs, long seed) {
        Run r = new Run();
        Random rnd = new Random(seed);
        long root = fs.rootIno();
        long[] inos = new long[4];
        for (int f = 0; f < 4; f++) {
            int ff = f;
            attempt(r, "create f" + f, () -> {
                Vfs.Created c = fs.create(root, "f" + ff, 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                inos[ff] = c.attr().ino();
                fs.release(c.handle());
                fs.forget(inos[ff], 1);
                r.model.put(inos[ff], new byte[0]);
            });
        }
        for (int round = 0; round < 3; round++) {
            for (int f = 0; f < 4; f++) {
                long ino = inos[f];
                if (ino == 0) {
                    continue;
                }
                int pos = rnd.nextInt(40 << 10);
                byte[] data = new byte[1 + rnd.nextInt(12 << 10)];
                rnd.nextBytes(data);
                attempt(r, "write f" + f, () -> {
                    FileHandle h = fs.open(ino, Vfs.O_RDWR);
                    try {
                        r.uncertain.add(ino);
                        r.durable.remove(ino);
                        fs.write(h, pos, ByteBuffer.wrap(data));
                        byte[] old = r.model.get(ino);
                        byte[] now = Arrays.copyOf(old, Math.max(old.length, pos + data.length));
                        System.arraycopy(data, 0, now, pos, data.length);
                        r.model.put(ino, now);
                        r.uncertain.remove(ino);
                        if ((ino + pos) % 2 == 0) {
                            fs.fsync(h, false);
                            r.durable.put(ino, now.clone());
                        }
                    } finally {
                        fs.release(h);
                    }
                });
                attempt(r, "read f" + f, () -> {
                    FileHandle h = fs.open(ino, Vfs.O_RDONLY);
                    try {
                        byte[] expect = r.model.get(ino);
                        ByteBuffer dst = ByteBuffer.allocate(expect.length + 100);
                        int n = 0;
                        while (true) {
                            int k = fs.read(h, n, dst);
                            if (k <= 0) {
                                break;
                            }
                            n += k;
                        }
                        if (!r.uncertain.contains(ino) && !Arrays.equals(Arrays.copyOf(dst.array(), n), expect)) {
                            r.wrong.add("read of inode " + ino + " returned " + n + " bytes not matching the "
                                    + expect.length + " written");
                        }
                    } finally {
                        fs.release(h);
                    }
                });
            }
            long t = inos[round];
            if (t != 0) {
                int size = rnd.nextInt(20 << 10);
                attempt(r, "truncate", () -> {
                    r.uncertain.add(t);
                    r.durable.remove(t);
                    fs.setattr(t, SetAttr.size(size));
                    r.model.put(t, Arrays.copyOf(r.model.get(t), size));
                    r.uncertain.remove(t);
                });
            }
        }
        if (inos[3] != 0) {
            attempt(r, "unlink f3", () -> {
                r.durable.remove(inos[3]);
                fs.unlink(root, "f3");
                r.model.remove(inos[3]);
            });
        }
        attempt(r, "sync", fs::sync);
        return r;
    }

    @ParameterizedTest
    @EnumSource(Op.class)
    void eioOnTheNthRequest_sweptOverTheWorkload(Op op) throws Exception {
        long seed = 0x1f83d9abL;
        // A clean run counts the requests of this kind.
        long total;
        try (MemoryBlockDevice mem = freshDevice()) {
            FaultInjectingBlockDevice fid = new FaultInjectingBlockDevice(mem);
            try (ExtFileSystem fs = ExtFileSystem.mount(fid, opts())) {
                fid.stats().reset();
                Run clean = workload(fs, seed);
                assertThat(clean.errors).isEmpty();
            }
            total = switch (op) {
                case READ -> fid.stats().readRequests();
                case WRITE -> fid.stats().writeRequests();
                case FLUSH -> fid.stats().flushes();
            };
        }
        assertThat(total).as("requests of kind " + op).isPositive();
        long step = Math.max(1, total / 25);
        int injected = 0;
        int surfaced = 0;
        List<String> problems = new ArrayList<>();
        for (long n = 1; n <= total; n += step) {
            String ctx = op + " #" + n + " of " + total + " (seed " + seed + ")";
            MemoryBlockDevice mem = freshDevice();
            FaultInjectingBlockDevice fid = new FaultInjectingBlockDevice(mem);
            ExtFileSystem fs = ExtFileSystem.mount(fid, opts());
            fid.stats().reset();
            FaultInjectingBlockDevice.Fault fault = fid.failNth(op, n, false);
            Run r = workload(fs, seed);
            Run after = new Run();
            attempt(after, "unmount", fs::close);
            r.errors.addAll(after.errors);
            if (fault.hits() == 0) {
                continue; // the faulted run issued fewer requests (an earlier failure changed the path)
            }
            injected++;
            if (!r.errors.isEmpty()) {
                surfaced++;
            } else if (op != Op.READ) {
                problems.add(ctx + ": injected " + op + " failure reached no caller");
            }
            // a READ failure may go unreported only if it hit readahead and every read was still right
            problems.addAll(r.wrong.stream().map(w -> ctx + ": " + w).toList());
            // Power cut after the fault: fsync'd files keep their bytes once e2fsck repaired the image.
            byte[] crashed;
            try (MemoryBlockDevice c = fid.powerCut(new Random(n), 0.0)) {
                crashed = c.toByteArray();
            }
            Path img = tmp.resolve("fault.img");
            Files.write(img, crashed);
            Ext2Tools.Result fix = Ext2Tools.run("e2fsck", "-fy", img.toString());
            if (fix.exitCode() > 3 || Ext2Tools.e2fsck(img).exitCode() != 0) {
                problems.add(ctx + ": e2fsck could not repair the image:\n" + fix.stdout());
                continue;
            }
            for (Map.Entry<Long, byte[]> e : r.durable.entrySet()) {
                if (r.model.containsKey(e.getKey())) {
                    byte[] actual = Ext2Tools.debugfsDump(img, "<" + e.getKey() + ">", tmp);
                    if (!Arrays.equals(actual, e.getValue())) {
                        problems.add(ctx + ": fsync'd inode " + e.getKey() + " lost its content (" + actual.length
                                + " bytes, promised " + e.getValue().length + ")\nerrors seen: " + r.errors);
                    }
                }
            }
            // Usable afterwards (mount the image the device holds, fault disarmed) or refusing clearly.
            fault.disarm();
            try (ExtFileSystem again = ExtFileSystem.mount(fid, opts())) {
                Vfs.Created c = again.create(again.rootIno(), "after", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                again.write(c.handle(), 0, ByteBuffer.wrap("still usable".getBytes()));
                again.fsync(c.handle(), false);
                ByteBuffer back = ByteBuffer.allocate(64);
                int k = again.read(c.handle(), 0, back);
                if (!new String(back.array(), 0, k).equals("still usable")) {
                    problems.add(ctx + ": after the fault, a new file reads back wrong");
                }
                again.release(c.handle());
            } catch (FsException e) {
                if ((e.errno() != Errno.EIO && e.errno() != Errno.EROFS && e.errno() != Errno.EUCLEAN)
                        || e.getMessage().isBlank()) {
                    problems.add(ctx + ": after the fault the filesystem fails unclearly: " + e);
                }
            }
        }
        System.out.println("fault injection " + op + ": " + injected + " faults injected over " + total
                + " requests, " + surfaced + " reached a caller, " + problems.size() + " problems");
        assertThat(problems).isEmpty();
        assertThat(injected).isGreaterThan(0);
    }

    @Test
    void writebackError_isReportedOncePerOpenHandle() throws Exception {
        try (MemoryBlockDevice mem = freshDevice()) {
            FaultInjectingBlockDevice fid = new FaultInjectingBlockDevice(mem);
            try (ExtFileSystem fs = ExtFileSystem.mount(fid, opts())) {
                Vfs.Created c = fs.create(fs.rootIno(), "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                FileHandle h1 = c.handle();
                FileHandle h2 = fs.open(c.attr().ino(), Vfs.O_RDWR);
                fs.write(h1, 0, ByteBuffer.wrap(new byte[8192]));
                fid.failNth(Op.WRITE, 1, false);
                assertThatThrownBy(() -> fs.fsync(h1, true)).isInstanceOf(IOException.class);
                fs.fsync(h1, true); // reported once: the second fsync of the same handle succeeds
                assertThatThrownBy(() -> fs.fsync(h2, true)).as("the other handle sees the error once too")
                        .isInstanceOf(IOException.class);
                fs.fsync(h2, true);
                FileHandle h3 = fs.open(c.attr().ino(), Vfs.O_RDWR);
                fs.fsync(h3, true); // opened after the error: nothing to report
                fs.release(h1);
                fs.release(h2);
                fs.release(h3);
            }
        }
    }

    @Test
    void enospc_isReportedByWrite_neverByWriteback() throws Exception {
        try (MemoryBlockDevice mem = freshDevice()) {
            try (ExtFileSystem fs = ExtFileSystem.mount(mem, opts())) {
                Vfs.Created c = fs.create(fs.rootIno(), "big", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
                byte[] chunk = new byte[64 << 10];
                Arrays.fill(chunk, (byte) 0x5a);
                long pos = 0;
                FsException enospc = null;
                for (int i = 0; i < 1000 && enospc == null; i++) {
                    try {
                        ByteBuffer src = ByteBuffer.wrap(chunk);
                        int n = fs.write(c.handle(), pos, src);
                        pos += n;
                    } catch (FsException e) {
                        enospc = e;
                    }
                }
                assertThat(enospc).as("a 4 MiB filesystem fills up").isNotNull();
                assertThat(enospc.errno()).isEqualTo(Errno.ENOSPC);
                fs.fsync(c.handle(), false); // write-back of everything accepted must not fail
                long size = fs.getattr(c.attr().ino()).sizeBytes();
                assertThat(size).isEqualTo(pos);
                fs.release(c.handle());
            }
            Path img = tmp.resolve("full.img");
            Files.write(img, mem.toByteArray());
            Ext2Tools.assertFsckClean(img);
        }
    }
}
