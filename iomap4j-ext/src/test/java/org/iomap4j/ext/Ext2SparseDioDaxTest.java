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
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.ForwardingBlockDevice;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ext2's direct I/O, DAX, SEEK_DATA/SEEK_HOLE, FIEMAP and fallocate, checked against independent oracles: an
 * in-memory byte model, e2fsck -fn, debugfs ("blocks", "stat", "dump") and the kernel's own ext2 on a loop mount
 * (filefrag -v and lseek through python3).
 */
class Ext2SparseDioDaxTest {
    @TempDir
    Path tmp;

    private static final int O_RDWR_DIRECT = Vfs.O_RDWR | Vfs.O_DIRECT;

    private static FileHandle create(ExtFileSystem fs, String name) throws IOException {
        return fs.create(fs.rootIno(), name, 0644, Vfs.O_RDWR, 0, 0).handle();
    }

    private static byte[] pattern(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        for (int i = 0; i < n; i++) {
            if (b[i] == 0) {
                b[i] = 1; // every written byte is non-zero: a zero that was written is never mistaken for one
            }
        }
        return b;
    }

    private static ByteBuffer aligned(int n) {
        return ByteBuffer.allocateDirect(((n + 4095) & -4096) + 4096).alignedSlice(4096).limit(n);
    }

    private static byte[] readAll(ExtFileSystem fs, FileHandle h, long size) throws IOException {
        byte[] out = new byte[(int) size];
        ByteBuffer dst = ByteBuffer.wrap(out);
        while (dst.hasRemaining()) {
            int n = fs.read(h, dst.position(), dst);
            if (n <= 0) {
                break;
            }
        }
        assertThat(dst.position()).as("bytes read up to EOF").isEqualTo((int) size);
        return out;
    }

    // ------------------------------------------------------------------------------------------------ punch

    @ParameterizedTest(name = "block size {0}")
    @ValueSource(ints = {1024, 4096})
    void punchAcrossTheDirectIndirectBoundaryReadsZerosAfterRemountAndFsckIsClean(int bs) throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("p.img"), 32L << 20, "-b", Integer.toString(bs));
        byte[] data = pattern(new Random(7), 128 << 10);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            FileHandle h = create(fs, "f");
            fs.write(h, 0, ByteBuffer.wrap(data));
            fs.fsync(h, false);
            fs.fallocate(h, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, 0x6000, 0x8000);
            // Still cached: the punched range reads zeros at once.
            byte[] cached = readAll(fs, h, data.length);
            Arrays.fill(data, 0x6000, 0xE000, (byte) 0);
            assertThat(cached).isEqualTo(data);
            fs.release(h);
        }
        Ext2Tools.assertFsckClean(img);
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            FileHandle h = fs.open(fs.lookupPath("/f").ino(), Vfs.O_RDONLY);
            assertThat(readAll(fs, h, data.length)).as("after remount (caches dropped)").isEqualTo(data);
            fs.release(h);
        }
        assertThat(Ext2Tools.debugfsDump(img, "/f", tmp)).isEqualTo(data);
        long[] blocks = Ext2Tools.debugfsBlocks(img, "/f");
        int nr = (128 << 10) / bs;
        int punched = 0x8000 / bs;
        // debugfs "blocks" lists the indirect block too: it still maps the blocks after the punched range.
        assertThat(blocks).as("debugfs blocks (data + 1 IND) after the punch").hasSize(nr - punched + 1);
        for (Ext2Tools.BlockRun run : Ext2Tools.debugfsDataRuns(img, "/f")) {
            long first = 0x6000 / bs;
            long end = 0xE000 / bs;
            assertThat(run.lblk() + run.nrBlocks() <= first || run.lblk() >= end).as("run " + run).isTrue();
        }
    }

    @Test
    void unsupportedFallocateModesAreEopnotsuppAndMode0AllocatesZeroedBlocksInsideISize() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("a.img"), 16L << 20, "-b", "1024");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            FileHandle h = create(fs, "f");
            fs.write(h, 0, ByteBuffer.wrap(new byte[] {9, 9, 9}));
            assertThatThrownBy(() -> fs.fallocate(h, Vfs.FALLOC_FL_KEEP_SIZE, 0, 1 << 20))
                    .isInstanceOfSatisfying(FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP));
            assertThatThrownBy(() -> fs.fallocate(h, Vfs.FALLOC_FL_PUNCH_HOLE, 0, 1024))
                    .isInstanceOfSatisfying(FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP));
            assertThatThrownBy(() -> fs.fallocate(h, 0x08 /* COLLAPSE_RANGE */, 0, 1024))
                    .isInstanceOfSatisfying(FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP));
            fs.fallocate(h, 0, 0, 300 << 10);
            assertThat(fs.getattr(h.ino()).sizeBytes()).isEqualTo(300 << 10);
            byte[] expect = new byte[300 << 10];
            expect[0] = expect[1] = expect[2] = 9;
            assertThat(readAll(fs, h, expect.length)).isEqualTo(expect);
            fs.release(h);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDataRuns(img, "/f").stream().mapToLong(Ext2Tools.BlockRun::nrBlocks).sum())
                .as("every data block allocated").isEqualTo(300);
    }

    // ------------------------------------------------------------------------------------------------ workload

    /**
     * A seeded random mix of buffered and direct (aligned) reads and writes, punch, zero-range, allocate and
     * truncate on one file, compared with a byte model after every read, then after remount, by debugfs dump and
     * e2fsck.
     */
    @Test
    void randomMixOfBufferedDirectPunchZeroAllocateMatchesModelAndFsck() throws Exception {
        long seed = Long.getLong("iomap4j.seed", System.nanoTime());
        Random r = new Random(seed);
        Path img = Ext2Tools.mke2fs(tmp.resolve("w.img"), 64L << 20, "-b", "1024");
        int max = 3 << 20;
        byte[] model = new byte[max];
        long size = 0;
        String op = "";
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withCache(8L << 20, 64 << 10))) {
            FileHandle buf = create(fs, "f");
            FileHandle dio = fs.open(buf.ino(), O_RDWR_DIRECT);
            for (int step = 0; step < 400; step++) {
                int kind = r.nextInt(9);
                long off;
                int len;
                if (kind == 1 || kind == 2) {
                    off = 512L * r.nextInt(max / 512 - 64);
                    len = 512 * (1 + r.nextInt(r.nextBoolean() ? 8 : 64));
                } else {
                    off = r.nextInt(max - 70_000);
                    len = 1 + r.nextInt(r.nextBoolean() ? 3000 : 65_536);
                }
                op = "step " + step + " kind " + kind + " off " + off + " len " + len + " size " + size;
                switch (kind) {
                    case 0 -> { // buffered write
                        byte[] p = pattern(r, len);
                        fs.write(buf, off, ByteBuffer.wrap(p));
                        System.arraycopy(p, 0, model, (int) off, len);
                        size = Math.max(size, off + len);
                    }
                    case 1 -> { // direct write, aligned memory or a heap buffer (bounced)
                        byte[] p = pattern(r, len);
                        ByteBuffer b = r.nextBoolean() ? aligned(len).put(p).flip() : ByteBuffer.wrap(p);
                        assertThat(fs.write(dio, off, b)).as(op).isEqualTo(len);
                        System.arraycopy(p, 0, model, (int) off, len);
                        size = Math.max(size, off + len);
                    }
                    case 2 -> { // direct read
                        ByteBuffer b = r.nextBoolean() ? aligned(len) : ByteBuffer.allocate(len);
                        int n = fs.read(dio, off, b);
                        int expectN = (int) Math.max(0, Math.min(len, size - off));
                        assertThat(n).as(op).isEqualTo(expectN);
                        byte[] got = new byte[n];
                        b.flip().get(got);
                        assertThat(got).as(op).isEqualTo(Arrays.copyOfRange(model, (int) off, (int) off + n));
                    }
                    case 3 -> { // punch
                        fs.fallocate(buf, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, off, len);
                        long e = Math.min(off + len, size);
                        if (off < e) {
                            Arrays.fill(model, (int) off, (int) e, (byte) 0);
                        }
                    }
                    case 4 -> { // zero range, with or without KEEP_SIZE
                        boolean keep = r.nextBoolean();
                        fs.fallocate(buf, Vfs.FALLOC_FL_ZERO_RANGE | (keep ? Vfs.FALLOC_FL_KEEP_SIZE : 0), off, len);
                        long e = keep ? Math.min(off + len, size) : off + len;
                        if (off < e) {
                            Arrays.fill(model, (int) off, (int) e, (byte) 0);
                        }
                        size = keep ? size : Math.max(size, off + len);
                    }
                    case 5 -> { // allocate (mode 0)
                        fs.fallocate(buf, 0, off, len);
                        size = Math.max(size, off + len);
                    }
                    case 6 -> { // truncate
                        long ns = r.nextInt(max);
                        op += " truncate to " + ns;
                        fs.setattr(buf.ino(), SetAttr.size(ns));
                        if (ns < size) {
                            Arrays.fill(model, (int) ns, (int) size, (byte) 0);
                        }
                        size = ns;
                    }
                    default -> { // buffered read
                        byte[] got = new byte[len];
                        ByteBuffer b = ByteBuffer.wrap(got);
                        int n = fs.read(buf, off, b);
                        assertThat(n).as(op).isEqualTo((int) Math.max(0, Math.min(len, size - off)));
                        assertThat(Arrays.copyOf(got, n)).as(op)
                                .isEqualTo(Arrays.copyOfRange(model, (int) off, (int) off + n));
                    }
                }
                assertThat(fs.getattr(buf.ino()).sizeBytes()).as(op).isEqualTo(size);
            }
            fs.release(dio);
            fs.release(buf);
        } catch (Throwable t) {
            throw new AssertionError("seed " + seed + " (-Diomap4j.seed=" + seed + "), last op: " + op, t);
        }
        byte[] expect = Arrays.copyOf(model, (int) size);
        try {
            Ext2Tools.assertFsckClean(img);
            assertThat(Ext2Tools.debugfsDump(img, "/f", tmp)).isEqualTo(expect);
        } catch (Throwable t) {
            throw new AssertionError("seed " + seed + " (-Diomap4j.seed=" + seed + ")", t);
        }
    }

    // ------------------------------------------------------------------------------------------------ stale data

    /** Fills most free blocks with 0xAA, then frees them: a stale-data leak would show 0xAA bytes. */
    private static void dirtyFreeSpace(ExtFileSystem fs, long bytes) throws IOException {
        FileHandle g = create(fs, "garbage");
        byte[] aa = new byte[1 << 20];
        Arrays.fill(aa, (byte) 0xAA);
        for (long p = 0; p < bytes; p += aa.length) {
            fs.write(g, p, ByteBuffer.wrap(aa));
        }
        fs.fsync(g, false);
        fs.release(g);
        fs.unlink(fs.rootIno(), "garbage");
        fs.sync();
    }

    /**
     * Direct writes into holes below EOF (ENOTBLK → buffered fallback), extending sub-block direct writes into
     * new blocks past EOF, and direct plus buffered readers: over 10,000 operations every byte never written reads
     * as zero (the free space held 0xAA), also after remount; e2fsck clean.
     */
    @Test
    void directIoAtUnalignedBufferAddressesWorksOnABufferedImageAndIsEinvalOnAnODirectOne() throws Exception {
        // FUSE payloads sit at header offsets (16 bytes into a reply, 80 into a WRITE): on a buffered image the
        // memory address needs no alignment (statx dio_mem_align 1), only position and length do.
        Path img = Ext2Tools.mke2fs(tmp.resolve("u.img"), 32L << 20, "-b", "4096");
        byte[] data = pattern(new Random(11), 256 << 10);
        ByteBuffer raw = ByteBuffer.allocateDirect(data.length + 8192);
        ByteBuffer unaligned = raw.alignedSlice(4096).position(80).slice().limit(data.length);
        java.util.Set<Long> deviceAddresses = java.util.concurrent.ConcurrentHashMap.newKeySet();
        try (BlockDevice file = FileBlockDevice.open(img, false);
                BlockDevice dev = new ForwardingBlockDevice(file) {
                    @Override
                    public java.util.concurrent.CompletableFuture<Void> submit(org.iomap4j.block.Bio bio) {
                        for (ByteBuffer b : bio.buffers()) {
                            if (b.isDirect()) {
                                deviceAddresses.add(java.lang.foreign.MemorySegment.ofBuffer(b).address());
                            }
                        }
                        return super.submit(bio);
                    }
                };
                ExtFileSystem fs = ExtFileSystem.mount(dev, ExtMountOptions.defaults())) {
            FileHandle h = fs.create(fs.rootIno(), "d", 0644, O_RDWR_DIRECT, 0, 0).handle();
            unaligned.put(0, data);
            long writeAddress = java.lang.foreign.MemorySegment.ofBuffer(unaligned).address();
            assertThat(fs.write(h, 0, unaligned)).isEqualTo(data.length);
            ByteBuffer back = raw.alignedSlice(4096).position(16).slice().limit(data.length);
            back.put(0, new byte[data.length]);
            long readAddress = java.lang.foreign.MemorySegment.ofBuffer(back).address();
            assertThat(fs.read(h, 0, back)).isEqualTo(data.length);
            assertThat(deviceAddresses).as("the caller's memory went to the device as it is (no bounce buffer)")
                    .contains(writeAddress, readAddress);
            byte[] got = new byte[data.length];
            back.get(0, got);
            assertThat(got).isEqualTo(data);
            assertThatThrownBy(() -> fs.read(h, 512 + 1, ByteBuffer.allocateDirect(4096)))
                    .isInstanceOf(FsException.class).hasMessageContaining("not aligned");
            fs.release(h);
        }
        Ext2Tools.assertFsckClean(img);
        // A device that needs aligned memory (as an O_DIRECT one does): the same unaligned buffer is bounced
        // through an aligned one, so FUSE keeps working there too; an unaligned address never reaches the device.
        try (BlockDevice file = FileBlockDevice.open(img, false);
                BlockDevice dev = new ForwardingBlockDevice(file) {
                    @Override
                    public boolean requiresAlignment() {
                        return true;
                    }

                    @Override
                    public java.util.concurrent.CompletableFuture<Void> submit(org.iomap4j.block.Bio bio) {
                        for (ByteBuffer b : bio.buffers()) {
                            if (java.lang.foreign.MemorySegment.ofBuffer(b).address() % 512 != 0) {
                                throw new AssertionError("unaligned memory reached an aligned-only device");
                            }
                        }
                        return super.submit(bio);
                    }
                };
                ExtFileSystem fs = ExtFileSystem.mount(dev, ExtMountOptions.defaults())) {
            FileHandle h = fs.open(fs.lookup(fs.rootIno(), "d").ino(), O_RDWR_DIRECT);
            ByteBuffer back = raw.alignedSlice(4096).position(16).slice().limit(data.length);
            back.put(0, new byte[data.length]);
            assertThat(fs.read(h, 0, back)).isEqualTo(data.length);
            byte[] got = new byte[data.length];
            back.get(0, got);
            assertThat(got).isEqualTo(data);
            fs.release(h);
        }
    }

    @Test
    void directWritesIntoHolesNeverExposeStaleBlocks() throws Exception {
        long seed = Long.getLong("iomap4j.seed", System.nanoTime());
        Random r = new Random(seed);
        Path img = Ext2Tools.mke2fs(tmp.resolve("s.img"), 24L << 20, "-b", "4096");
        int fileBytes = 4 << 20;
        byte[] model = new byte[fileBytes + (1 << 20)];
        long size;
        long stale = 0;
        String op = "";
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withCache(8L << 20, 64 << 10))) {
            dirtyFreeSpace(fs, 16L << 20);
            FileHandle buf = create(fs, "sparse");
            FileHandle dio = fs.open(buf.ino(), O_RDWR_DIRECT);
            fs.setattr(buf.ino(), SetAttr.size(fileBytes));
            size = fileBytes;
            for (int i = 0; i < 10_000; i++) {
                int kind = r.nextInt(10);
                long off = 512L * r.nextInt(fileBytes / 512 - 16);
                int len = 512 * (1 + r.nextInt(4)); // sub-block (4 KiB blocks) and unaligned to blocks
                op = "op " + i + " kind " + kind + " off " + off + " len " + len;
                if (kind == 0) { // direct write into the file (often a hole below EOF)
                    byte[] p = pattern(r, len);
                    fs.write(dio, off, ByteBuffer.wrap(p));
                    System.arraycopy(p, 0, model, (int) off, len);
                } else if (kind == 1) { // buffered write
                    byte[] p = pattern(r, len);
                    fs.write(buf, off, ByteBuffer.wrap(p));
                    System.arraycopy(p, 0, model, (int) off, len);
                } else if (kind == 2 && size < model.length - 8192) { // extending sub-block direct write past EOF
                    long p0 = ((size + 511) & -512) + 512L * r.nextInt(4);
                    byte[] p = pattern(r, 512);
                    fs.write(dio, p0, ByteBuffer.wrap(p));
                    System.arraycopy(p, 0, model, (int) p0, 512);
                    size = p0 + 512;
                } else { // direct or buffered read of a window: compare with the model
                    boolean direct = kind % 2 == 0;
                    ByteBuffer b = direct ? aligned(8192) : ByteBuffer.allocate(8192);
                    int n = fs.read(direct ? dio : buf, off, b);
                    for (int k = 0; k < n; k++) {
                        if (b.get(k) != model[(int) off + k]) {
                            stale++;
                        }
                    }
                }
            }
            assertThat(fs.getattr(buf.ino()).sizeBytes()).isEqualTo(size);
            fs.release(dio);
            fs.release(buf);
        } catch (Throwable t) {
            throw new AssertionError("seed " + seed + ", last op: " + op, t);
        }
        assertThat(stale).as("bytes differing from the model (seed " + seed + ")").isZero();
        Ext2Tools.assertFsckClean(img);
        byte[] onDisk = Ext2Tools.debugfsDump(img, "/sparse", tmp);
        assertThat(onDisk).as("seed " + seed).isEqualTo(Arrays.copyOf(model, (int) size));
    }

    /**
     * Concurrent: a direct writer and a buffered writer fill a sparse file (holes below EOF, so direct writes
     * fall back) while a direct and a buffered reader check that every non-zero byte they see lies in a 512-byte
     * sector some writer announced before writing: a stale 0xAA block would show up in an unannounced sector.
     * 10,000 operations in all; the seed is printed on failure.
     */
    @Test
    void concurrentDirectAndBufferedWritersAndReaders_seeNoStaleBytes() throws Exception {
        long seed = Long.getLong("iomap4j.seed", System.nanoTime());
        Path img = Ext2Tools.mke2fs(tmp.resolve("c.img"), 24L << 20, "-b", "1024");
        int fileBytes = 2 << 20;
        java.util.concurrent.atomic.AtomicIntegerArray announced =
                new java.util.concurrent.atomic.AtomicIntegerArray(fileBytes / 512);
        java.util.concurrent.atomic.AtomicLong stale = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.ConcurrentLinkedQueue<String> firstStale = new java.util.concurrent.ConcurrentLinkedQueue<>();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withCache(8L << 20, 64 << 10))) {
            dirtyFreeSpace(fs, 16L << 20);
            FileHandle buf = create(fs, "c");
            FileHandle dio = fs.open(buf.ino(), O_RDWR_DIRECT);
            fs.setattr(buf.ino(), SetAttr.size(fileBytes));
            List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int role = t;
                Random r = new Random(seed + t);
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < 2500; i++) {
                            long off = 512L * r.nextInt(fileBytes / 512 - 16);
                            int len = 512 * (1 + r.nextInt(8));
                            if (role < 2) {
                                for (long sct = off / 512; sct < (off + len) / 512; sct++) {
                                    announced.set((int) sct, 1);
                                }
                                byte[] p = pattern(r, len);
                                fs.write(role == 0 ? dio : buf, off, role == 0 ? aligned(len).put(p).flip()
                                        : ByteBuffer.wrap(p));
                            } else {
                                ByteBuffer b = role == 2 ? aligned(len) : ByteBuffer.allocate(len);
                                int n = fs.read(role == 2 ? dio : buf, off, b);
                                for (int k = 0; k < n; k++) {
                                    if (b.get(k) != 0 && announced.get((int) ((off + k) / 512)) == 0) {
                                        if (stale.getAndIncrement() == 0) {
                                            firstStale.add("reader " + role + " op " + i + " at " + (off + k)
                                                    + " byte " + b.get(k));
                                        }
                                    }
                                }
                            }
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }));
            }
            for (Thread th : threads) {
                th.join();
            }
            assertThat(errors).as("seed " + seed).isEmpty();
            fs.release(dio);
            fs.release(buf);
        }
        assertThat(stale.get()).as("stale bytes (seed " + seed + ") " + firstStale).isZero();
        Ext2Tools.assertFsckClean(img);
    }

    // ------------------------------------------------------------------------------------------------ seek, fiemap

    private static Map<Long, Long> blockMapOf(List<Ext2Tools.BlockRun> runs) {
        Map<Long, Long> m = new HashMap<>();
        for (Ext2Tools.BlockRun run : runs) {
            for (long k = 0; k < run.nrBlocks(); k++) {
                m.put(run.lblk() + k, run.pblk() + k);
            }
        }
        return m;
    }

    /**
     * A sparse file with data in direct, indirect and double-indirect blocks: fiemap equals debugfs "stat" and the
     * kernel's filefrag -v block for block; SEEK_DATA/SEEK_HOLE equal a computation from debugfs's block list and
     * the kernel's lseek on a loop mount; bmap agrees.
     */
    @Test
    void seekAndFiemapMatchDebugfsAndTheKernel() throws Exception {
        int bs = 1024;
        Path img = Ext2Tools.mke2fs(tmp.resolve("k.img"), 32L << 20, "-b", "1024");
        long[] dataLblks = {0, 1, 2, 5, 11, 12, 13, 40, 267, 268, 269, 600, 601, 602, 603, 2000};
        long size = 2100L * bs + 100;
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            FileHandle h = create(fs, "s");
            Random r = new Random(3);
            for (long l : dataLblks) {
                fs.write(h, l * bs + r.nextInt(100), ByteBuffer.wrap(pattern(r, 200)));
            }
            fs.setattr(h.ino(), SetAttr.size(size));
            fs.fallocate(h, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, 601L * bs, 2L * bs);
            fs.release(h);
        }
        Ext2Tools.assertFsckClean(img);
        Map<Long, Long> debugfsMap = blockMapOf(Ext2Tools.debugfsDataRuns(img, "/s"));
        assertThat(debugfsMap.keySet()).containsExactlyInAnyOrder(0L, 1L, 2L, 5L, 11L, 12L, 13L, 40L, 267L, 268L,
                269L, 600L, 603L, 2000L);
        // Offsets to probe: every block start, plus a mid-block offset in each.
        List<Long> probes = new ArrayList<>();
        for (long l = 0; l * bs < size; l++) {
            probes.add(l * bs);
            probes.add(l * bs + 333);
        }
        probes.removeIf(p -> p >= size);
        probes.add(size - 1);
        Map<Long, Long> ourData = new HashMap<>();
        Map<Long, Long> ourHole = new HashMap<>();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            long ino = fs.lookupPath("/s").ino();
            Map<Long, Long> fiemapMap = new HashMap<>();
            List<FiemapExtent> ext = fs.fiemap(ino, 0, Long.MAX_VALUE, 0);
            for (FiemapExtent e : ext) {
                for (long k = 0; k < e.lengthBytes() / bs; k++) {
                    fiemapMap.put(e.logicalBytes() / bs + k, e.physicalBytes() / bs + k);
                }
            }
            assertThat(fiemapMap).as("fiemap vs debugfs stat").isEqualTo(debugfsMap);
            assertThat(ext.getLast().flags() & FiemapExtent.LAST).isNotZero();
            assertThat(ext.subList(0, ext.size() - 1)).allMatch(e -> (e.flags() & FiemapExtent.LAST) == 0);
            for (long l = 0; l < 2100; l++) {
                assertThat(fs.bmap(ino, l)).as("bmap " + l).isEqualTo(debugfsMap.getOrDefault(l, 0L));
            }
            FileHandle h = fs.open(ino, Vfs.O_RDONLY);
            for (long p : probes) {
                long lblk = p / bs;
                long expectData = -1;
                for (long l = lblk; l * bs < size; l++) {
                    if (debugfsMap.containsKey(l)) {
                        expectData = Math.max(p, l * bs);
                        break;
                    }
                }
                long expectHole = size;
                for (long l = lblk; l * bs < size; l++) {
                    if (!debugfsMap.containsKey(l)) {
                        expectHole = Math.max(p, l * bs);
                        break;
                    }
                }
                ourHole.put(p, fs.seekDataHole(h, p, Vfs.SEEK_HOLE));
                assertThat(ourHole.get(p)).as("SEEK_HOLE from " + p).isEqualTo(expectHole);
                if (expectData < 0) {
                    assertThatThrownBy(() -> fs.seekDataHole(h, p, Vfs.SEEK_DATA)).isInstanceOfSatisfying(
                            FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENXIO));
                    ourData.put(p, -6L);
                } else {
                    ourData.put(p, fs.seekDataHole(h, p, Vfs.SEEK_DATA));
                    assertThat(ourData.get(p)).as("SEEK_DATA from " + p).isEqualTo(expectData);
                }
            }
            assertThatThrownBy(() -> fs.seekDataHole(h, size, Vfs.SEEK_HOLE)).isInstanceOfSatisfying(
                    FsException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENXIO));
            fs.release(h);
        }
        String why = Ext2Tools.loopMountUnavailableReason();
        if (why != null) {
            throw new AssertionError("the kernel comparison needs a loop mount: " + why);
        }
        try (Ext2Tools.LoopMount lm = Ext2Tools.LoopMount.mount(img, tmp, true)) {
            Path f = lm.root().resolve("s");
            StringBuilder py = new StringBuilder("import os\nfd=os.open('" + f + "',os.O_RDONLY)\n");
            py.append("for p in [").append(String.join(",", probes.stream().map(String::valueOf).toList()))
                    .append("]:\n");
            py.append("  try: d=os.lseek(fd,p,os.SEEK_DATA)\n  except OSError as e: d=-e.errno\n");
            py.append("  print(p, d, os.lseek(fd,p,os.SEEK_HOLE))\n");
            Path script = tmp.resolve("seek.py");
            Files.writeString(script, py);
            String out = Ext2Tools.run("python3", script.toString()).ok().stdout();
            for (String line : out.strip().split("\n")) {
                String[] v = line.trim().split(" ");
                long p = Long.parseLong(v[0]);
                assertThat(ourData.get(p)).as("SEEK_DATA from " + p + " vs the kernel").isEqualTo(Long.parseLong(v[1]));
                assertThat(ourHole.get(p)).as("SEEK_HOLE from " + p + " vs the kernel").isEqualTo(Long.parseLong(v[2]));
            }
            String ff = Ext2Tools.run("filefrag", "-v", "-b1024", f.toString()).ok().stdout();
            Map<Long, Long> kernelMap = new HashMap<>();
            var m = java.util.regex.Pattern.compile("^\\s*\\d+:\\s*(\\d+)\\.\\.\\s*(\\d+):\\s*(\\d+)\\.\\.\\s*(\\d+):",
                    java.util.regex.Pattern.MULTILINE).matcher(ff);
            while (m.find()) {
                long l0 = Long.parseLong(m.group(1));
                long l1 = Long.parseLong(m.group(2));
                long p0 = Long.parseLong(m.group(3));
                for (long k = 0; k <= l1 - l0; k++) {
                    kernelMap.put(l0 + k, p0 + k);
                }
            }
            assertThat(kernelMap).as("kernel filefrag -v vs debugfs:\n" + ff).isEqualTo(debugfsMap);
        }
    }

    // ------------------------------------------------------------------------------------------------ DAX

    @Test
    void daxReadWriteTruncatePunchBypassThePageCacheAndLeaveACleanImage() throws Exception {
        long seed = Long.getLong("iomap4j.seed", System.nanoTime());
        Random r = new Random(seed);
        Path img = Ext2Tools.mke2fs(tmp.resolve("d.img"), 32L << 20, "-b", "4096");
        byte[] model = new byte[2 << 20];
        long size = 0;
        String op = "";
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withDax(true))) {
            dirtyFreeSpace(fs, 12L << 20);
            fs.mkdir(fs.rootIno(), "dir", 0755, 0, 0);
            FileHandle h = create(fs, "f");
            for (int step = 0; step < 500; step++) {
                int kind = r.nextInt(6);
                long off = r.nextInt(model.length - 70_000);
                int len = 1 + r.nextInt(65_536);
                op = "seed " + seed + " step " + step + " kind " + kind + " off " + off + " len " + len;
                switch (kind) {
                    case 0, 1 -> {
                        byte[] p = pattern(r, len);
                        assertThat(fs.write(h, off, ByteBuffer.wrap(p))).as(op).isEqualTo(len);
                        System.arraycopy(p, 0, model, (int) off, len);
                        size = Math.max(size, off + len);
                    }
                    case 2 -> {
                        fs.fallocate(h, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, off, len);
                        long e = Math.min(off + len, size);
                        if (off < e) {
                            Arrays.fill(model, (int) off, (int) e, (byte) 0);
                        }
                    }
                    case 3 -> {
                        long ns = r.nextInt(model.length);
                        fs.setattr(h.ino(), SetAttr.size(ns));
                        if (ns < size) {
                            Arrays.fill(model, (int) ns, (int) size, (byte) 0);
                        }
                        size = ns;
                    }
                    default -> {
                        byte[] got = new byte[len];
                        int n = fs.read(h, off, ByteBuffer.wrap(got));
                        assertThat(n).as(op).isEqualTo((int) Math.max(0, Math.min(len, size - off)));
                        assertThat(Arrays.copyOf(got, n)).as(op)
                                .isEqualTo(Arrays.copyOfRange(model, (int) off, (int) off + n));
                    }
                }
            }
            ExtInode inode = fs.iget(h.ino());
            assertThat(inode.mapping().cachedBytes()).as("DAX file data never enters the page cache").isZero();
            fs.fsync(h, false);
            fs.release(h);
        } catch (Throwable t) {
            throw new AssertionError(op, t);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDump(img, "/f", tmp)).as("seed " + seed)
                .isEqualTo(Arrays.copyOf(model, (int) size));
    }
}
