package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.ext.disk.DiskInode;
import org.iomap4j.ext.disk.DiskSuperblock;
import org.iomap4j.ext.disk.GroupDescriptor;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.StatFs;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ext4 metadata on images made by mkfs.ext4 (oracles: e2fsck -fn, debugfs, dumpe2fs, the kernel's ext4 on a
 * loop mount): the feature verdict at mount, metadata_csum written and verified (superblock, descriptors,
 * bitmaps, inodes) with corruption named, 64-byte descriptors, statfs against the kernel's, timestamps against
 * the kernel's, and the orphan list processed at mount.
 */
class Ext4MetadataTest {
    /** Extent-free ext4 with metadata_csum, flex_bg, huge_file, dir_nlink, extra_isize, 256-byte inodes. */
    static final String CSUM_NO_EXTENT = "^has_journal,^extent,^64bit";

    @TempDir
    Path tmp;

    private static ExtFileSystem mount(Path img) throws IOException {
        return ExtFileSystem.mount(img, ExtMountOptions.defaults());
    }

    private static ExtFileSystem mountRo(Path img) throws IOException {
        return ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true));
    }

    /** An extent-free metadata_csum image populated by mkfs -d with {@code files} of seeded random contents. */
    private Path populated(String name, String features, String bs, Map<String, byte[]> files, long seed)
            throws IOException {
        Path src = Files.createDirectories(tmp.resolve(name + "-src"));
        Random rnd = new Random(seed);
        for (int k = 0; k < 12; k++) {
            byte[] d = new byte[rnd.nextInt(3) == 0 ? rnd.nextInt(300_000) : rnd.nextInt(20_000)];
            rnd.nextBytes(d);
            files.put("/f" + k, d);
            Files.write(src.resolve("f" + k), d);
        }
        return Ext2Tools.mkfsExt4(tmp.resolve(name), 128L << 20, "-b", bs, "-O", features, "-d", src.toString());
    }

    private static void writeAt(Vfs fs, long ino, long pos, byte[] data) throws IOException {
        FileHandle fh = fs.open(ino, Vfs.O_RDWR);
        try {
            ByteBuffer b = ByteBuffer.wrap(data);
            while (b.hasRemaining()) {
                pos += ((ExtFileSystem) fs).write(fh, pos, b);
            }
        } finally {
            fs.release(fh);
        }
    }

    // ---------------------------------------------------------------- feature verdict

    @Test
    void journaledImageMountsReadWriteThroughTheJournal() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("j.img"), 64L << 20, "-O", "^extent,^64bit");
        try (ExtFileSystem fs = mount(img)) {
            assertThat(fs.isReadOnly()).isFalse();
            assertThat(fs.readOnlyReason()).isNull();
            assertThat(fs.lookupPath("/lost+found").isDirectory()).isTrue();
            fs.mkdir(fs.rootIno(), "x", 0755, 0, 0);
            assertThat(fs.lookupPath("/x").isDirectory()).isTrue();
        }
        assertThat(Ext2Tools.debugfs(img, "stat /x").stdout()).contains("Type: directory");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            // statfs counts the journal as overhead, as the kernel does.
            assertStatfsMatchesKernel(fs, img);
        }
        Ext2Tools.assertFsckClean(img);
    }

    @Test
    void needsRecoveryAndEncryptRefuseTheMountNamingThem() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("r.img"), 64L << 20, "-O", CSUM_NO_EXTENT);
        Ext2Tools.debugfsWrite(img, "feature needs_recovery");
        assertThatThrownBy(() -> mount(img).close()).isInstanceOf(FsException.class).hasMessageContaining("needs_recovery");
        Ext2Tools.debugfsWrite(img, "feature -needs_recovery encrypt");
        assertThatThrownBy(() -> mount(img).close()).isInstanceOf(FsException.class).hasMessageContaining("encrypt");
    }

    @Test
    void extentMappedInodesGiveAClearErrorNeverGarbage() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("e.img"), 64L << 20, "-O", "^has_journal");
        try (ExtFileSystem fs = mountRo(img)) {
            assertThat(fs.getattr(fs.rootIno()).isDirectory()).isTrue();
            // The root directory is extent-mapped: either an extent mapping serves it (the names are right) or the
            // error names the inode; never block pointers read out of an extent header.
            try {
                assertThat(fs.lookupPath("/lost+found").isDirectory()).isTrue();
            } catch (FsException e) {
                assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP);
                assertThat(e.getMessage()).contains("inode 2").contains("extent");
            }
        }
    }

    // ---------------------------------------------------------------- metadata_csum, descriptors, bitmaps

    /**
     * Seeded overwrites, appends and truncates of files mkfs.ext4 -d put on a metadata_csum image (no namespace
     * change: directory block checksums are another room's), then e2fsck -fn clean — every bitmap, descriptor,
     * inode and superblock checksum we wrote is right — and debugfs reads the model's bytes.
     */
    @ParameterizedTest(name = "block size {0}, extra features {1}")
    @CsvSource({"1024, ''", "4096, ''", "2048, ',metadata_csum_seed'"})
    void metadataCsumWritesAreFsckClean(String bs, String extra) throws Exception {
        long seed = 31 + bs.length();
        System.out.println("metadata_csum workload seed " + seed + " block size " + bs + extra);
        Map<String, byte[]> model = new HashMap<>();
        Path img = populated("c.img", CSUM_NO_EXTENT + extra, bs, model, seed);
        if (!extra.isEmpty()) {
            // A new uuid: checksums keep the s_checksum_seed they were made with (metadata_csum_seed).
            Ext2Tools.run("tune2fs", "-U", "random", img.toString()).ok();
            DiskSuperblock sb = superblock(img);
            assertThat(sb.csumSeed()).isNotEqualTo(org.iomap4j.ext.disk.Crc32c.of(~0, sb.uuid(), 0, 16));
        }
        Random rnd = new Random(seed);
        List<String> names = model.keySet().stream().sorted().toList();
        try (ExtFileSystem fs = mount(img)) {
            for (int op = 0; op < 300; op++) {
                String p = names.get(rnd.nextInt(names.size()));
                byte[] cur = model.get(p);
                long ino = fs.lookupPath(p).ino();
                if (rnd.nextInt(4) == 0) {
                    int size = rnd.nextBoolean() ? rnd.nextInt(cur.length + 1) : rnd.nextInt(3_000_000);
                    fs.setattr(ino, SetAttr.size(size));
                    model.put(p, Arrays.copyOf(cur, size));
                } else {
                    int off = rnd.nextInt(5) == 0 ? rnd.nextInt(4_000_000) : rnd.nextInt(cur.length + 1);
                    byte[] d = new byte[1 + rnd.nextInt(rnd.nextInt(6) == 0 ? 200_000 : 9000)];
                    rnd.nextBytes(d);
                    writeAt(fs, ino, off, d);
                    byte[] n = Arrays.copyOf(cur, Math.max(cur.length, off + d.length));
                    System.arraycopy(d, 0, n, off, d.length);
                    model.put(p, n);
                }
            }
        }
        Ext2Tools.assertFsckClean(img);
        for (String p : names) {
            assertThat(Ext2Tools.debugfsDump(img, p, tmp)).as("debugfs " + p + " seed " + seed).isEqualTo(model.get(p));
        }
        try (ExtFileSystem fs = mountRo(img)) {
            for (String p : names) {
                assertThat(TreeModel.readAll(fs, fs.lookupPath(p).ino(), model.get(p).length)).isEqualTo(model.get(p));
            }
        }
    }

    /** 64bit: 64-byte descriptors, hi words; a read-write mount and unmount rewrites them with checksums. */
    @Test
    void sixtyFourBitDescriptorsRoundTripFsckClean() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("64.img"), 256L << 20, "-b", "4096", "-O", "^has_journal,64bit");
        DiskSuperblock before = superblock(img);
        assertThat(before.descSizeBytes()).isEqualTo(64);
        try (ExtFileSystem fs = mount(img)) {
            assertThat(fs.isReadOnly()).isFalse();
            assertThat(fs.superblock().freeBlocksCount()).isEqualTo(before.freeBlocksCount());
            assertStatfsMatchesKernel(fs, img);
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(superblock(img).mountCount()).isEqualTo(before.mountCount() + 1);
    }

    @Test
    void corruptSuperblockChecksumIsNamed() throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("s.img"), 64L << 20, "-O", CSUM_NO_EXTENT);
        flip(img, 1024 + 120); // s_volume_name[0]
        assertThatThrownBy(() -> mount(img).close()).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("superblock").hasMessageContaining("checksum");
    }

    /** crc32c (metadata_csum) and crc16 (gdt_csum) descriptor checksums, 32- and 64-byte descriptors. */
    @ParameterizedTest(name = "mkfs.ext4 -O {0}")
    @ValueSource(strings = {CSUM_NO_EXTENT, "^has_journal,^extent,^64bit,^metadata_csum,uninit_bg",
        "^has_journal,64bit"})
    void corruptDescriptorChecksumNamesTheGroup(String features) throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("g.img"), 64L << 20, "-O", features);
        try (ExtFileSystem fs = mount(img)) {
            assertThat(fs.isReadOnly()).isFalse(); // intact, and rewritten with checksums at unmount
        }
        DiskSuperblock sb = superblock(img);
        long gdt = (sb.firstDataBlock() + 1) * sb.blockSizeBytes();
        flip(img, gdt + 3L * sb.descSizeBytes() + 0x10); // group 3's bg_used_dirs_count
        assertThatThrownBy(() -> mount(img).close()).isInstanceOf(CorruptFilesystemException.class)
                .hasMessageContaining("block group 3").hasMessageContaining("checksum");
    }

    @Test
    void corruptInodeChecksumNamesTheInode() throws Exception {
        Map<String, byte[]> model = new HashMap<>();
        Path img = populated("i.img", CSUM_NO_EXTENT, "1024", model, 5);
        long ino;
        try (ExtFileSystem fs = mountRo(img)) {
            ino = fs.lookupPath("/f3").ino();
        }
        flip(img, inodeOffset(img, ino) + 0x10); // i_mtime
        try (ExtFileSystem fs = mountRo(img)) {
            assertThatThrownBy(() -> fs.getattr(ino)).isInstanceOf(CorruptFilesystemException.class)
                    .hasMessageContaining("inode " + ino).hasMessageContaining("checksum");
            assertThat(fs.lookupPath("/f4").sizeBytes()).isEqualTo(model.get("/f4").length);
        }
    }

    @Test
    void corruptBitmapChecksumsNameGroupAndBlock() throws Exception {
        Map<String, byte[]> model = new HashMap<>();
        Path img = populated("b.img", CSUM_NO_EXTENT, "1024", model, 6);
        DiskSuperblock sb = superblock(img);
        GroupDescriptor gd0 = descriptor(img, sb, 0);
        // A bit near the end of every on-disk block bitmap flipped: whichever group the write allocates in is bad.
        int groups = (int) ((sb.blocksCount() - sb.firstDataBlock() + sb.blocksPerGroup() - 1) / sb.blocksPerGroup());
        for (int g = 0; g < groups; g++) {
            GroupDescriptor gd = descriptor(img, sb, g);
            if (!gd.hasFlag(GroupDescriptor.FLAG_BLOCK_UNINIT)) {
                flip(img, gd.blockBitmap() * sb.blockSizeBytes() + sb.blocksPerGroup() / 8 - 2);
            }
        }
        try (ExtFileSystem fs = mount(img)) {
            long ino = fs.lookupPath("/f0").ino();
            assertThatThrownBy(() -> {
                writeAt(fs, ino, 10_000_000, new byte[5000]);
                fs.sync();
            }).hasStackTraceContaining(CorruptFilesystemException.class.getName()).satisfies(e -> {
                String all = java.util.stream.Stream.iterate((Throwable) e, t -> t != null, Throwable::getCause)
                        .map(String::valueOf).reduce("", String::concat);
                assertThat(all).containsPattern("block group \\d+: block bitmap \\(block \\d+\\) checksum");
            });
        }
        Path img2 = populated("b2.img", CSUM_NO_EXTENT, "1024", new HashMap<>(), 6);
        flip(img2, gd0.inodeBitmap() * sb.blockSizeBytes() + sb.inodesPerGroup() / 8 - 1);
        try (ExtFileSystem fs = mount(img2)) {
            assertThatThrownBy(() -> fs.mknod(fs.rootIno(), "n", 0100644, 0, 0, 0))
                    .isInstanceOf(CorruptFilesystemException.class)
                    .hasMessageContaining("block group 0: inode bitmap (block " + gd0.inodeBitmap() + ") checksum");
        }
    }

    /**
     * One file written until ENOSPC: every BLOCK_UNINIT group's bitmap is computed (superblock backups, GDT,
     * reserved GDT, sparse_super2 backups), written and checksummed; e2fsck -fn is clean on the full image and
     * debugfs reads back what was written.
     */
    @ParameterizedTest(name = "mkfs.ext4 -O {0}")
    @ValueSource(strings = {CSUM_NO_EXTENT, "^has_journal,^extent,^64bit,^metadata_csum,uninit_bg",
        "^has_journal,^extent,^64bit,^resize_inode,sparse_super2", "^has_journal,^extent,^64bit,^flex_bg"})
    void fillingTheDiskInitializesEveryGroupFsckClean(String features) throws Exception {
        Path src = Files.createDirectories(tmp.resolve("fill-src"));
        Files.write(src.resolve("big"), new byte[1]);
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("fill.img"), 24L << 20, "-b", "1024", "-O", features, "-d",
                src.toString());
        byte[] chunk = new byte[256 << 10];
        new Random(11).nextBytes(chunk);
        long written = 0;
        try (ExtFileSystem fs = mount(img)) {
            long ino = fs.lookupPath("/big").ino();
            FileHandle fh = fs.open(ino, Vfs.O_RDWR);
            try {
                while (true) {
                    ByteBuffer b = ByteBuffer.wrap(chunk);
                    try {
                        while (b.hasRemaining()) {
                            written += fs.write(fh, written, b);
                        }
                    } catch (FsException e) {
                        assertThat(e.errno()).isEqualTo(Errno.ENOSPC);
                        break;
                    }
                }
            } finally {
                fs.release(fh);
            }
            assertThat(fs.statfs().freeBlocks()).as("the disk is full").isLessThan(64);
        }
        Ext2Tools.assertFsckClean(img);
        byte[] back = Ext2Tools.debugfsDump(img, "/big", tmp);
        assertThat((long) back.length).isEqualTo(written).isGreaterThan(18L << 20);
        for (int off = 0; off < back.length; off += chunk.length) {
            int n = Math.min(chunk.length, back.length - off);
            assertThat(Arrays.equals(back, off, off + n, chunk, 0, n)).as("bytes at " + off).isTrue();
        }
        for (String line : Ext2Tools.run("dumpe2fs", img.toString()).ok().stdout().lines()
                .filter(l -> l.startsWith("Group ")).toList()) {
            assertThat(line).as("no group left uninitialized on a full disk").doesNotContain("BLOCK_UNINIT");
        }
    }

    /**
     * The kernel's ext4 writes a tree on a metadata_csum image (its inode, bitmap, descriptor and directory
     * checksums); iomap4j verifies and reads all of it, rewrites some files, and the kernel reads the result.
     */
    @Test
    void kernelWrittenCsumImageIsVerifiedReadAndRewritten() throws Exception {
        String why = Ext2Tools.loopMountUnavailableReason();
        Assumptions.assumeTrue(why == null, "kernel loop mount unavailable: " + why);
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("k.img"), 64L << 20, "-O", CSUM_NO_EXTENT);
        Random rnd = new Random(17);
        Map<String, TreeModel.Node> kernelTree;
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, false, "ext4")) {
            for (int d = 0; d < 5; d++) {
                Path dir = Files.createDirectories(m.root().resolve("d" + d + "/sub"));
                for (int k = 0; k < 8; k++) {
                    byte[] data = new byte[rnd.nextInt(4) == 0 ? rnd.nextInt(400_000) : rnd.nextInt(5000)];
                    rnd.nextBytes(data);
                    Files.write((k % 2 == 0 ? dir : dir.getParent()).resolve("f" + k), data);
                }
                Files.createSymbolicLink(dir.resolve("l"), Path.of("../f1"));
            }
            kernelTree = Ext2WorkloadTest.kernelTree(m.root());
        }
        Map<String, TreeModel.Node> expected = new java.util.TreeMap<>(kernelTree);
        try (ExtFileSystem fs = mount(img)) {
            assertThat(TreeModel.capture(fs)).isEqualTo(kernelTree);
            for (String p : List.of("/d0/f1", "/d3/sub/f4", "/d4/f7")) {
                byte[] d = new byte[70_000];
                rnd.nextBytes(d);
                long ino = fs.lookupPath(p).ino();
                fs.setattr(ino, SetAttr.size(0));
                writeAt(fs, ino, 0, d);
                TreeModel.Node n = expected.get(p);
                expected.put(p, new TreeModel.Node(n.mode(), n.nlink(), d.length, d, null));
            }
        }
        Ext2Tools.assertFsckClean(img);
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, true, "ext4")) {
            assertThat(Ext2WorkloadTest.kernelTree(m.root())).isEqualTo(expected);
        }
    }

    // ---------------------------------------------------------------- statfs

    @ParameterizedTest(name = "mkfs.ext4 {0}")
    @CsvSource({
        "'-b 4096 -O ^has_journal'",
        "'-b 1024 -O ^has_journal,^flex_bg,^extent,^64bit'",
        "'-b 4096 -O ^has_journal,^extent,^64bit,^resize_inode,sparse_super2'",
        "'-b 2048 -O ^has_journal,^extent,^64bit,^metadata_csum,uninit_bg'"})
    void statfsMatchesTheKernel(String opts) throws Exception {
        Path img = Ext2Tools.mkfsExt4(tmp.resolve("df.img"), 300L << 20, opts.split(" "));
        try (ExtFileSystem fs = mountRo(img)) {
            assertStatfsMatchesKernel(fs, img);
        }
    }

    private void assertStatfsMatchesKernel(ExtFileSystem fs, Path img) throws IOException {
        String why = Ext2Tools.loopMountUnavailableReason();
        Assumptions.assumeTrue(why == null, "kernel loop mount unavailable: " + why);
        StatFs ours = fs.statfs();
        Path copy = Files.copy(img, tmp.resolve("kernel-df-" + System.nanoTime() + ".img"));
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(copy, tmp, true, "ext4")) {
            FileStore st = Files.getFileStore(m.root());
            long bs = ours.blockSizeBytes();
            assertThat(ours.blocks() * bs).as("f_blocks").isEqualTo(st.getTotalSpace());
            assertThat(ours.freeBlocks() * bs).as("f_bfree").isEqualTo(st.getUnallocatedSpace());
            assertThat(ours.availBlocks() * bs).as("f_bavail").isEqualTo(st.getUsableSpace());
        } finally {
            Files.deleteIfExists(copy);
        }
    }

    // ---------------------------------------------------------------- helpers

    static DiskSuperblock superblock(Path img) throws IOException {
        byte[] b = new byte[DiskSuperblock.SIZE];
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
            f.seek(DiskSuperblock.PRIMARY_OFFSET_BYTES);
            f.readFully(b);
        }
        return DiskSuperblock.decode(b, 0);
    }

    static GroupDescriptor descriptor(Path img, DiskSuperblock sb, int g) throws IOException {
        byte[] b = new byte[sb.descSizeBytes()];
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
            f.seek((sb.firstDataBlock() + 1) * sb.blockSizeBytes() + (long) g * sb.descSizeBytes());
            f.readFully(b);
        }
        return GroupDescriptor.decode(b, 0, b.length);
    }

    static long inodeOffset(Path img, long ino) throws IOException {
        DiskSuperblock sb = superblock(img);
        GroupDescriptor gd = descriptor(img, sb, (int) ((ino - 1) / sb.inodesPerGroup()));
        return gd.inodeTable() * sb.blockSizeBytes() + ((ino - 1) % sb.inodesPerGroup()) * sb.inodeSize();
    }

    static DiskInode inode(Path img, long ino) throws IOException {
        DiskSuperblock sb = superblock(img);
        byte[] b = new byte[sb.inodeSize()];
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
            f.seek(inodeOffset(img, ino));
            f.readFully(b);
        }
        return DiskInode.decode(b, 0, b.length);
    }

    static void flip(Path img, long posBytes) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(posBytes);
            int v = f.read();
            f.seek(posBytes);
            f.write(v ^ 0x01);
        }
    }
}
