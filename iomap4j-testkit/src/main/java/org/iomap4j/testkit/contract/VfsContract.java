package org.iomap4j.testkit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.StatFs;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsFallocate;
import org.iomap4j.vfs.VfsSeek;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The POSIX behaviour the {@link Vfs} contract promises, for any implementation (as Lucene's
 * {@code BaseDirectoryTestCase}): extend it, supply {@link #mount()} (and {@link #remount} if the state survives an
 * unmount), and every case runs against that filesystem. The namespace cases are in {@link VfsNamespaceCases};
 * here: open flags (O_TRUNC, O_APPEND, O_EXCL), read/write/EOF/sparse reads, setattr (size, mode, times),
 * unlinked-but-open files, the reference rules of lookup/forget, statfs, fallocate and SEEK_DATA/SEEK_HOLE when
 * offered, remount, concurrent creators, writers and listers in one directory, and a seeded random sequence of operations checked against a model of names and contents
 * ({@link VfsModelSequence}; the seed is printed).
 *
 * <p>Oracles: contents are checked against bytes the case wrote; freeing is observed through
 * {@link Vfs#statfs()}'s free inode count, which must come back exactly when the last link, reference and handle
 * are gone.
 */
public abstract class VfsContract extends VfsNamespaceCases {

    @Test
    void writesReadBackAndReadsStopAtEof() throws IOException {
        byte[] data = randomBytes(100_000);
        Vfs.Created c = w().create(work, "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        try {
            writeAt(c.handle(), 0, data);
            assertThat(vfs.getattr(c.attr().ino()).sizeBytes()).isEqualTo(data.length);
            assertThat(read(c.handle(), 0, data.length)).isEqualTo(data);
            assertThat(read(c.handle(), 12_345, 1000)).isEqualTo(Arrays.copyOfRange(data, 12_345, 13_345));
            ByteBuffer atEof = ByteBuffer.allocate(10);
            assertThat(vfs.read(c.handle(), data.length, atEof)).as("read at EOF").isZero();
            assertThat(vfs.read(c.handle(), data.length + 5000, atEof)).as("read past EOF").isZero();
            assertThat(read(c.handle(), data.length - 3, 100)).as("read straddling EOF is short")
                    .isEqualTo(Arrays.copyOfRange(data, data.length - 3, data.length));
            byte[] patch = randomBytes(5000);
            writeAt(c.handle(), 4000, patch);
            System.arraycopy(patch, 0, data, 4000, patch.length);
            assertThat(read(c.handle(), 0, data.length)).isEqualTo(data);
            vfs.fsync(c.handle(), false);
            vfs.fsync(c.handle(), true);
        } finally {
            vfs.release(c.handle());
        }
        assertThat(contents(c.attr().ino())).isEqualTo(data);
    }

    @Test
    void sparseFilesReadZeroesInTheirHolesAndUseLessSpace() throws IOException {
        Vfs.Created c = w().create(work, "sparse", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        byte[] head = randomBytes(3000);
        byte[] tail = randomBytes(3000);
        long far = 4L << 20;
        try {
            writeAt(c.handle(), 0, head);
            writeAt(c.handle(), far, tail);
            InodeAttr a = vfs.getattr(c.attr().ino());
            assertThat(a.sizeBytes()).isEqualTo(far + tail.length);
            assertThat(a.blocks512() * 512).as("a 4 MiB hole takes no space").isLessThan(far / 2);
            byte[] hole = read(c.handle(), head.length, 64 * 1024);
            assertThat(hole).containsOnly(0);
            assertThat(read(c.handle(), far - 10, 10)).containsOnly(0);
            assertThat(read(c.handle(), far, tail.length)).isEqualTo(tail);
            assertThat(read(c.handle(), 0, head.length)).isEqualTo(head);
        } finally {
            vfs.release(c.handle());
        }
    }

    @Test
    void openFlagsTruncAppendAndDirectoryRefusal() throws IOException {
        InodeAttr f = file(work, "f", randomBytes(10_000));
        FileHandle app = vfs.open(f.ino(), Vfs.O_WRONLY | Vfs.O_APPEND);
        try {
            writeAt(app, 0, new byte[] {1, 2, 3});
            assertThat(vfs.getattr(f.ino()).sizeBytes()).as("O_APPEND writes at EOF").isEqualTo(10_003);
        } finally {
            vfs.release(app);
        }
        assertThat(Arrays.copyOfRange(contents(f.ino()), 10_000, 10_003)).containsExactly(1, 2, 3);
        FileHandle tr = vfs.open(f.ino(), Vfs.O_RDWR | Vfs.O_TRUNC);
        try {
            assertThat(vfs.getattr(f.ino()).sizeBytes()).as("O_TRUNC").isZero();
            assertThat(vfs.read(tr, 0, ByteBuffer.allocate(10))).isZero();
        } finally {
            vfs.release(tr);
        }
        Vfs.Created c = w().create(work, "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        vfs.release(c.handle());
        long d = mkdir(work, "d");
        assertThat(errno(() -> vfs.open(d, Vfs.O_RDONLY))).isEqualTo(Errno.EISDIR);
        assertThat(errno(() -> vfs.open(d, Vfs.O_RDWR))).isEqualTo(Errno.EISDIR);
    }

    @Test
    void setattrSizeTruncatesAndExtendsWithZeroes() throws IOException {
        byte[] data = randomBytes(20_000);
        InodeAttr f = file(work, "f", data);
        assertThat(w().setattr(f.ino(), SetAttr.size(100)).sizeBytes()).isEqualTo(100);
        assertThat(contents(f.ino())).isEqualTo(Arrays.copyOf(data, 100));
        w().setattr(f.ino(), SetAttr.size(20_000));
        byte[] now = contents(f.ino());
        assertThat(Arrays.copyOf(now, 100)).isEqualTo(Arrays.copyOf(data, 100));
        assertThat(Arrays.copyOfRange(now, 100, now.length)).as("old bytes past a truncate never come back")
                .containsOnly(0);
        w().setattr(f.ino(), SetAttr.size(0));
        assertThat(vfs.getattr(f.ino()).sizeBytes()).isZero();
        long d = mkdir(work, "d");
        assertThat(errno(() -> w().setattr(d, SetAttr.size(0)))).isEqualTo(Errno.EISDIR);
    }

    @Test
    void setattrModeOwnerAndTimes() throws IOException {
        InodeAttr f = file(work, "f", new byte[0]);
        InodeAttr a = w().setattr(f.ino(), SetAttr.mode(FileMode.S_IFDIR | 04711));
        assertThat(a.mode()).as("type bits ignored, permission bits set").isEqualTo(FileMode.S_IFREG | 04711);
        a = w().setattr(f.ino(), SetAttr.owner(1234, 5678));
        assertThat(a.uid()).isEqualTo(1234);
        assertThat(a.gid()).isEqualTo(5678);
        a = w().setattr(f.ino(), SetAttr.times(1_000_000_000L, 1_500_000_000L));
        assertThat(a.atimeSec()).isEqualTo(1_000_000_000L);
        assertThat(a.mtimeSec()).isEqualTo(1_500_000_000L);
        InodeAttr g = vfs.getattr(f.ino());
        assertThat(g.mode()).isEqualTo(FileMode.S_IFREG | 04711);
        assertThat(g.atimeSec()).isEqualTo(1_000_000_000L);
        assertThat(g.mtimeSec()).isEqualTo(1_500_000_000L);
        long d = mkdir(work, "d");
        assertThat(w().setattr(d, SetAttr.mode(0700)).mode()).isEqualTo(FileMode.S_IFDIR | 0700);
    }

    @Test
    void anUnlinkedOpenFileStaysReadableUntilReleasedThenIsFreed() throws IOException {
        long freeBefore = vfs.statfs().freeFiles();
        byte[] data = randomBytes(50_000);
        Vfs.Created c = w().create(work, "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        long ino = c.attr().ino();
        writeAt(c.handle(), 0, data);
        assertThat(vfs.statfs().freeFiles()).isEqualTo(freeBefore - 1);
        ns().unlink(work, "f");
        vfs.forget(ino, 1); // the reference create took
        assertThat(errno(() -> vfs.lookup(work, "f"))).isEqualTo(Errno.ENOENT);
        assertThat(read(c.handle(), 0, data.length)).as("still readable while open").isEqualTo(data);
        writeAt(c.handle(), data.length, new byte[] {1});
        assertThat(vfs.getattr(ino).nlink()).isZero();
        assertThat(vfs.statfs().freeFiles()).as("not freed while open").isEqualTo(freeBefore - 1);
        vfs.release(c.handle());
        assertThat(vfs.statfs().freeFiles()).as("freed at the last release").isEqualTo(freeBefore);
    }

    @Test
    void anUnlinkedInodeIsFreedOnlyWhenItsLastReferenceIsForgotten() throws IOException {
        long freeBefore = vfs.statfs().freeFiles();
        InodeAttr f = file(work, "f", randomBytes(1000)); // one reference (create)
        assertThat(vfs.lookup(work, "f").ino()).isEqualTo(f.ino()); // two
        ns().unlink(work, "f");
        assertThat(vfs.statfs().freeFiles()).isEqualTo(freeBefore - 1);
        vfs.forget(f.ino(), 1);
        assertThat(vfs.statfs().freeFiles()).as("one reference left").isEqualTo(freeBefore - 1);
        assertThat(vfs.getattr(f.ino()).nlink()).isZero();
        vfs.forget(f.ino(), 1);
        assertThat(vfs.statfs().freeFiles()).as("freed at the last forget").isEqualTo(freeBefore);
        // A linked inode whose references are all forgotten is not freed.
        InodeAttr g = file(work, "g", new byte[] {5});
        vfs.forget(g.ino(), 1);
        assertThat(vfs.statfs().freeFiles()).isEqualTo(freeBefore - 1);
        InodeAttr again = vfs.lookup(work, "g");
        assertThat(again.ino()).isEqualTo(g.ino());
        assertThat(contents(again.ino())).containsExactly(5);
        // rmdir frees a directory whose references are gone.
        long d = mkdir(work, "d");
        vfs.forget(d, 1);
        ns().rmdir(work, "d");
        assertThat(vfs.statfs().freeFiles()).isEqualTo(freeBefore - 1);
    }

    @Test
    void statfsIsSaneAndFollowsAllocation() throws IOException {
        StatFs s = vfs.statfs();
        assertThat(s.blockSizeBytes()).isPositive();
        assertThat(Integer.bitCount(s.blockSizeBytes())).isEqualTo(1);
        assertThat(s.freeBlocks()).isBetween(0L, s.blocks());
        assertThat(s.availBlocks()).isBetween(0L, s.freeBlocks());
        assertThat(s.freeFiles()).isBetween(0L, s.files());
        assertThat(s.nameMaxBytes()).isGreaterThanOrEqualTo(255);
        InodeAttr f = file(work, "big", randomBytes(1 << 20));
        vfs.sync();
        StatFs after = vfs.statfs();
        long used = (1 << 20) / s.blockSizeBytes();
        assertThat(s.freeBlocks() - after.freeBlocks()).as("1 MiB written").isGreaterThanOrEqualTo(used);
        ns().unlink(work, "big");
        vfs.forget(f.ino(), 1);
        vfs.sync();
        assertThat(vfs.statfs().freeBlocks()).as("space back after the unlink").isEqualTo(s.freeBlocks());
    }

    @Test
    void remountSeesTheSameTree() throws IOException {
        byte[] data = randomBytes(70_000);
        InodeAttr f = file(work, "f", data);
        long d = mkdir(work, "d");
        ns().link(f.ino(), d, "hard");
        ns().symlink(d, "sym", "../f", 0, 0);
        InodeAttr sparse = file(d, "sparse", new byte[0]);
        w().setattr(sparse.ino(), SetAttr.size(10L << 20));
        w().setattr(f.ino(), SetAttr.mode(0600));
        Map<String, DirEntry> before = list(work);
        long workIno = work;
        remountOrSkip();
        assertThat(list(workIno).keySet()).isEqualTo(before.keySet());
        long f2 = vfs.lookup(workIno, "f").ino();
        assertThat(f2).isEqualTo(f.ino());
        InodeAttr fa = vfs.getattr(f2);
        assertThat(fa.nlink()).isEqualTo(2);
        assertThat(fa.mode()).isEqualTo(FileMode.S_IFREG | 0600);
        assertThat(contents(f2)).isEqualTo(data);
        long d2 = vfs.lookup(workIno, "d").ino();
        assertThat(names(d2)).containsExactly("hard", "sparse", "sym");
        assertThat(vfs.readlink(vfs.lookup(d2, "sym").ino())).isEqualTo("../f");
        assertThat(vfs.getattr(vfs.lookup(d2, "sparse").ino()).sizeBytes()).isEqualTo(10L << 20);
    }

    @Test
    void unlinkedOpenFilesAreGoneAfterRemount() throws IOException {
        long freeBefore = vfs.statfs().freeFiles();
        Vfs.Created c = w().create(work, "orphan", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        writeAt(c.handle(), 0, randomBytes(10_000));
        ns().unlink(work, "orphan");
        remountOrSkip(); // the handle is still open: the unmount must free the orphan
        assertThat(vfs.statfs().freeFiles()).isEqualTo(freeBefore);
    }

    // ------------------------------------------------------------------------------------------ fallocate

    private FileHandle openRw(long ino) throws IOException {
        return vfs.open(ino, Vfs.O_RDWR);
    }

    /**
     * Whether the filesystem under test serves fallocate {@code mode} (e.g. ext2 without extents has no
     * KEEP_SIZE preallocation). Default: every mode. A mode declared unsupported must fail with EOPNOTSUPP.
     *
     * @param mode a fallocate mode
     * @return true if supported (false skips the cases using it)
     */
    protected boolean supportsFallocateMode(int mode) {
        return true;
    }

    /**
     * Runs a fallocate the filesystem declares supported ({@link #supportsFallocateMode}); for a mode it declares
     * unsupported, asserts EOPNOTSUPP and skips the rest of the case.
     */
    private void fallocateOrSkip(FileHandle fh, int mode, long off, long len) throws IOException {
        if (supportsFallocateMode(mode)) {
            cap(VfsFallocate.class).fallocate(fh, mode, off, len);
            return;
        }
        assertThat(errno(() -> cap(VfsFallocate.class).fallocate(fh, mode, off, len)))
                .as("fallocate mode 0x%s declared unsupported", Integer.toHexString(mode)).isEqualTo(Errno.EOPNOTSUPP);
        Assumptions.abort("fallocate mode 0x" + Integer.toHexString(mode) + " not supported (EOPNOTSUPP checked)");
    }

    @Test
    void fallocateModeZeroAllocatesAndExtendsWithZeroes() throws IOException {
        cap(VfsFallocate.class);
        byte[] data = randomBytes(5000);
        InodeAttr f = file(work, "f", data);
        FileHandle fh = openRw(f.ino());
        try {
            long freeBefore = vfs.statfs().freeBlocks();
            fallocateOrSkip(fh, 0, 0, 2 << 20);
            assertThat(vfs.getattr(f.ino()).sizeBytes()).as("mode 0 extends").isEqualTo(2 << 20);
            assertThat(vfs.getattr(f.ino()).blocks512() * 512).isGreaterThanOrEqualTo(2 << 20);
            assertThat(freeBefore - vfs.statfs().freeBlocks()).as("space taken")
                    .isGreaterThanOrEqualTo(((2 << 20) - 8192) / vfs.statfs().blockSizeBytes());
            assertThat(read(fh, 0, data.length)).as("data kept").isEqualTo(data);
            assertThat(read(fh, 5000, (2 << 20) - 5000)).containsOnly(0);
            assertThat(errno(() -> cap(VfsFallocate.class).fallocate(fh, 0, -1, 10))).isEqualTo(Errno.EINVAL);
            assertThat(errno(() -> cap(VfsFallocate.class).fallocate(fh, 0, 0, 0))).isEqualTo(Errno.EINVAL);
        } finally {
            vfs.release(fh);
        }
    }

    @Test
    void fallocateKeepSizePreallocatesWithoutChangingTheSize() throws IOException {
        cap(VfsFallocate.class);
        byte[] data = randomBytes(5000);
        InodeAttr f = file(work, "f", data);
        FileHandle fh = openRw(f.ino());
        try {
            fallocateOrSkip(fh, Vfs.FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
            assertThat(vfs.getattr(f.ino()).sizeBytes()).as("KEEP_SIZE").isEqualTo(5000);
            assertThat(vfs.getattr(f.ino()).blocks512() * 512).isGreaterThanOrEqualTo(1 << 20);
            assertThat(read(fh, 0, 10_000)).isEqualTo(data);
            w().setattr(f.ino(), SetAttr.size(1 << 20));
            assertThat(read(fh, 5000, (1 << 20) - 5000)).as("preallocated space reads as zeroes").containsOnly(0);
        } finally {
            vfs.release(fh);
        }
    }

    @Test
    void punchHoleZeroesTheRangeKeepsTheSizeAndFreesWholeBlocks() throws IOException {
        cap(VfsFallocate.class);
        byte[] data = randomBytes(1 << 20);
        InodeAttr f = file(work, "f", data);
        FileHandle fh = openRw(f.ino());
        try {
            assertThat(errno(() -> cap(VfsFallocate.class).fallocate(fh, Vfs.FALLOC_FL_PUNCH_HOLE, 0, 4096)))
                    .as("PUNCH_HOLE without KEEP_SIZE").isEqualTo(Errno.EOPNOTSUPP);
            long blocksBefore = vfs.getattr(f.ino()).blocks512();
            fallocateOrSkip(fh, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, 1000, 300_000);
            Arrays.fill(data, 1000, 301_000, (byte) 0);
            assertThat(vfs.getattr(f.ino()).sizeBytes()).isEqualTo(data.length);
            assertThat(read(fh, 0, data.length)).isEqualTo(data);
            assertThat(vfs.getattr(f.ino()).blocks512()).as("whole blocks freed").isLessThan(blocksBefore);
        } finally {
            vfs.release(fh);
        }
        assertThat(contents(f.ino())).isEqualTo(data);
    }

    @Test
    void zeroRangeZeroesAndMayExtend() throws IOException {
        cap(VfsFallocate.class);
        byte[] data = randomBytes(100_000);
        InodeAttr f = file(work, "f", data);
        FileHandle fh = openRw(f.ino());
        try {
            fallocateOrSkip(fh, Vfs.FALLOC_FL_ZERO_RANGE, 10, 50_000);
            Arrays.fill(data, 10, 50_010, (byte) 0);
            assertThat(read(fh, 0, data.length)).isEqualTo(data);
            fallocateOrSkip(fh, Vfs.FALLOC_FL_ZERO_RANGE | Vfs.FALLOC_FL_KEEP_SIZE, 90_000, 50_000);
            Arrays.fill(data, 90_000, data.length, (byte) 0);
            assertThat(vfs.getattr(f.ino()).sizeBytes()).isEqualTo(data.length);
            fallocateOrSkip(fh, Vfs.FALLOC_FL_ZERO_RANGE, 95_000, 20_000);
            assertThat(vfs.getattr(f.ino()).sizeBytes()).isEqualTo(115_000);
            byte[] all = read(fh, 0, 115_000);
            assertThat(Arrays.copyOf(all, data.length)).isEqualTo(data);
            assertThat(Arrays.copyOfRange(all, data.length, all.length)).containsOnly(0);
        } finally {
            vfs.release(fh);
        }
    }

    // ------------------------------------------------------------------------------------------ seek

    @Test
    void seekDataAndHoleFindTheDataOfASparseFile() throws IOException {
        VfsSeek seek = cap(VfsSeek.class);
        long mib = 1 << 20;
        Vfs.Created c = w().create(work, "s", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        FileHandle fh = c.handle();
        try {
            writeAt(fh, 0, randomBytes(4096));
            writeAt(fh, 4 * mib, randomBytes(4096));
            long size = 4 * mib + 4096;
            assertThat(seek.seekDataHole(fh, 0, Vfs.SEEK_DATA)).isZero();
            assertThat(seek.seekDataHole(fh, 100, Vfs.SEEK_DATA)).isEqualTo(100);
            long hole = seek.seekDataHole(fh, 0, Vfs.SEEK_HOLE);
            assertThat(hole).as("the hole after the first block").isBetween(4096L, 4 * mib);
            assertThat(seek.seekDataHole(fh, mib, Vfs.SEEK_DATA)).as("the data after the hole").isEqualTo(4 * mib);
            assertThat(seek.seekDataHole(fh, mib, Vfs.SEEK_HOLE)).isEqualTo(mib);
            assertThat(seek.seekDataHole(fh, 4 * mib + 10, Vfs.SEEK_HOLE)).as("EOF is a hole").isEqualTo(size);
            assertThat(errno(() -> seek.seekDataHole(fh, size, Vfs.SEEK_DATA))).isEqualTo(Errno.ENXIO);
            assertThat(errno(() -> seek.seekDataHole(fh, size + 1, Vfs.SEEK_HOLE))).isEqualTo(Errno.ENXIO);
            w().setattr(c.attr().ino(), SetAttr.size(8 * mib));
            assertThat(errno(() -> seek.seekDataHole(fh, 5 * mib, Vfs.SEEK_DATA))).as("only a hole after")
                    .isEqualTo(Errno.ENXIO);
            // Every answer agrees with the contents: bytes skipped by SEEK_DATA read as zeroes.
            for (int k = 0; k < 50; k++) {
                long off = (long) (rnd.nextDouble() * 4 * mib);
                long data = seek.seekDataHole(fh, off, Vfs.SEEK_DATA);
                assertThat(data).isGreaterThanOrEqualTo(off);
                if (data > off) {
                    assertThat(read(fh, off, (int) Math.min(data - off, 1 << 16))).containsOnly(0);
                }
            }
        } finally {
            vfs.release(fh);
        }
    }

    // ------------------------------------------------------------------------------------------ concurrency

    @Test
    void concurrentCreatorsWritersAndListersInOneDirectory() throws Exception {
        w();
        ns();
        int threads = 4;
        int perThread = 40;
        java.util.List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
        java.util.concurrent.ConcurrentHashMap<String, byte[]> written = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads + 1);
        try {
            for (int t = 0; t < threads; t++) {
                int id = t;
                long threadSeed = seed + t;
                done.add(pool.submit(() -> {
                    java.util.Random r = new java.util.Random(threadSeed);
                    for (int i = 0; i < perThread; i++) {
                        String name = "t" + id + "-" + i;
                        byte[] d = new byte[r.nextInt(30_000)];
                        r.nextBytes(d);
                        InodeAttr a = file(work, name, d);
                        written.put(name, d);
                        if (i % 5 == 4) { // remove an earlier one of this thread's files
                            String gone = "t" + id + "-" + (i - 2);
                            ns().unlink(work, gone);
                            written.remove(gone);
                        }
                        vfs.forget(a.ino(), 1);
                    }
                    return null;
                }));
            }
            done.add(pool.submit(() -> {
                for (int k = 0; k < 20; k++) {
                    java.util.Set<String> seen = new java.util.HashSet<>();
                    vfs.readdir(work, 0, e -> {
                        assertThat(seen.add(e.name())).as("'%s' listed twice in one pass", e.name()).isTrue();
                        return true;
                    });
                }
                return null;
            }));
            for (java.util.concurrent.Future<?> f : done) {
                f.get(5, java.util.concurrent.TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(names(work)).isEqualTo(new java.util.TreeSet<>(written.keySet()));
        for (Map.Entry<String, byte[]> e : written.entrySet()) {
            assertThat(contents(vfs.lookup(work, e.getKey()).ino())).as(e.getKey()).isEqualTo(e.getValue());
        }
    }

    // ------------------------------------------------------------------------------------------ random

    @Test
    void aSeededRandomSequenceAgreesWithAModel() throws IOException {
        w();
        ns();
        new VfsModelSequence(this, seed).run(400);
    }
}
