package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reads images made by mke2fs (each layout variant of the issue) holding files written by {@code debugfs -w
 * write}: sizes 0, 1, 12 and 13 blocks, a dense file through the indirect range, sparse files with data in the
 * double- and triple-indirect ranges and beyond 4 GiB. Oracle: the source bytes, debugfs's block lists and
 * directory listings.
 */
class Ext2ReadCompatTest {
    @TempDir
    Path tmp;

    private record Src(String name, Path path, long sizeBytes, long[][] dataRanges) {
    }

    private Src sparse(String name, long size, long seed, long... offsets) throws Exception {
        Path p = tmp.resolve(name + ".src");
        Random r = new Random(seed);
        long[][] ranges = new long[offsets.length][];
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
            for (int i = 0; i < offsets.length; i++) {
                int len = (int) Math.min(5000, size - offsets[i]);
                byte[] b = new byte[len];
                r.nextBytes(b);
                f.seek(offsets[i]);
                f.write(b);
                ranges[i] = new long[] {offsets[i], len};
            }
        }
        return new Src(name, p, size, ranges);
    }

    private Src dense(String name, long size, long seed) throws Exception {
        Path p = tmp.resolve(name + ".src");
        byte[] b = new byte[(int) size];
        new Random(seed).nextBytes(b);
        Files.write(p, b);
        return new Src(name, p, size, new long[][] {{0, size}});
    }

    @ParameterizedTest(name = "mke2fs {0}")
    @ValueSource(strings = {"-b 1024", "-b 2048", "-b 4096", "-I 128", "-I 256", "-O ^dir_index", "-O dir_index",
        "-O ^sparse_super,^resize_inode", "-O ^resize_inode", "-r 0"})
    void filesWrittenByDebugfsReadBackIdentically(String variant) throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("r.img"), 128L << 20, variant.split(" "));
        int bs = Integer.parseInt(Ext2Tools.run("dumpe2fs", "-h", img.toString()).ok().stdout()
                .lines().filter(l -> l.startsWith("Block size:")).findFirst().orElseThrow().split("\\s+")[2]);
        long p = bs / 4;
        long dindStart = (12 + p) * bs;
        long tindStart = (12 + p + p * p) * bs;
        List<Src> files = new ArrayList<>();
        files.add(dense("empty", 0, 1));
        files.add(dense("one", 1, 2));
        files.add(dense("twelve", 12L * bs, 3));
        files.add(dense("thirteen", 13L * bs, 4));
        files.add(dense("dense", 300_000, 5));
        files.add(sparse("dind", dindStart + 10L * bs, 6, 0, dindStart + 3L * bs + 17));
        long big = 5L << 30;
        files.add(sparse("tind", Math.max(tindStart + 20L * bs, big), 7, 100, tindStart + 5L * bs,
                Math.max(tindStart + 20L * bs, big) - 3000));
        List<String> cmds = new ArrayList<>();
        cmds.add("mkdir sub");
        for (Src s : files) {
            cmds.add("write " + s.path + " sub/" + s.name);
        }
        Ext2Tools.debugfsScript(img, cmds, tmp);
        Ext2Tools.assertFsckClean(img);

        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            long sub = fs.lookupPath("/sub").ino();
            for (Src s : files) {
                InodeAttr a = fs.lookupPath("/sub/" + s.name);
                assertThat(a.sizeBytes()).as(s.name).isEqualTo(s.sizeBytes);
                // Mapping equals debugfs's block list (data blocks only).
                List<Ext2Tools.BlockRun> expected = Ext2Tools.debugfsDataRuns(img, "/sub/" + s.name);
                List<Ext2Tools.BlockRun> actual = new ArrayList<>();
                for (Extent e : fs.mapExtents(a.ino())) {
                    actual.add(new Ext2Tools.BlockRun(e.logicalBytes() / bs, e.physicalBytes() / bs, e.lengthBytes() / bs));
                }
                assertThat(merge(actual)).as(s.name + " extents").isEqualTo(merge(expected));
                FileHandle fh = fs.open(a.ino(), Vfs.O_RDONLY);
                try {
                    if (s.sizeBytes <= 1 << 20) {
                        ByteBuffer all = ByteBuffer.allocate((int) s.sizeBytes);
                        while (all.hasRemaining() && fs.read(fh, all.position(), all) > 0) {
                            // loop until full
                        }
                        assertThat(all.position()).isEqualTo((int) s.sizeBytes);
                        assertThat(all.array()).as(s.name).isEqualTo(Files.readAllBytes(s.path));
                    } else {
                        checkSparse(fs, fh, s, bs);
                    }
                    ByteBuffer past = ByteBuffer.allocate(10);
                    assertThat(fs.read(fh, s.sizeBytes, past)).isZero();
                } finally {
                    fs.release(fh);
                }
            }
            assertListingEqualsDebugfs(fs, img, "/", fs.rootIno());
            assertListingEqualsDebugfs(fs, img, "/sub", sub);
        }
    }

    /** Data regions byte-identical with the source, a block each side of them and mid-hole reads zero. */
    private void checkSparse(ExtFileSystem fs, FileHandle fh, Src s, int bs) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(s.path.toFile(), "r")) {
            for (long[] r : s.dataRanges) {
                long from = Math.max(0, r[0] - bs);
                long to = Math.min(s.sizeBytes, r[0] + r[1] + bs);
                byte[] want = new byte[(int) (to - from)];
                f.seek(from);
                f.readFully(want);
                ByteBuffer got = ByteBuffer.allocate(want.length);
                while (got.hasRemaining() && fs.read(fh, from + got.position(), got) > 0) {
                    // loop until full
                }
                assertThat(got.array()).as(s.name + " at " + from).isEqualTo(want);
            }
            for (long hole : new long[] {s.sizeBytes / 3, s.sizeBytes / 2 + 12345}) {
                ByteBuffer got = ByteBuffer.allocate(8192);
                fs.read(fh, hole, got);
                byte[] want = new byte[got.position()];
                f.seek(hole);
                f.readFully(want);
                assertThat(java.util.Arrays.copyOf(got.array(), got.position())).isEqualTo(want);
            }
        }
    }

    static List<Ext2Tools.BlockRun> merge(List<Ext2Tools.BlockRun> runs) {
        List<Ext2Tools.BlockRun> out = new ArrayList<>();
        for (Ext2Tools.BlockRun r : runs) {
            if (!out.isEmpty()) {
                Ext2Tools.BlockRun last = out.getLast();
                if (last.lblk() + last.nrBlocks() == r.lblk() && last.pblk() + last.nrBlocks() == r.pblk()) {
                    out.set(out.size() - 1, new Ext2Tools.BlockRun(last.lblk(), last.pblk(), last.nrBlocks() + r.nrBlocks()));
                    continue;
                }
            }
            out.add(r);
        }
        return out;
    }

    static void assertListingEqualsDebugfs(ExtFileSystem fs, Path img, String path, long dirIno) throws Exception {
        List<Ext2Tools.ListEntry> ours = new ArrayList<>();
        List<DirEntry> entries = new ArrayList<>();
        fs.readdir(dirIno, 0, e -> entries.add(e));
        for (DirEntry e : entries) {
            InodeAttr a = fs.getattr(e.ino());
            boolean dev = (a.mode() & 0170000) == 0020000 || (a.mode() & 0170000) == 0060000;
            ours.add(new Ext2Tools.ListEntry(e.ino(), a.mode(), e.name(), dev ? -1 : a.sizeBytes()));
        }
        assertThat(ours).as("listing of " + path).containsExactlyElementsOf(Ext2Tools.debugfsList(img, path));
    }
}
