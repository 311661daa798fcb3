package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iomap4j.fuse.Shell.sh;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.iomap4j.fuse.testing.TrackedMemoryVfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mounts a {@link TrackedMemoryVfs} through the kernel and drives it with ordinary shell tools and java.nio: the
 * kernel's VFS and coreutils are the oracle for POSIX behaviour; byte contents are compared with a model kept
 * on the host. Needs root and /dev/fuse (fails with a message otherwise). Always unmounts, also on failure.
 */
class FuseMountIntegrationTest {
    private static final long SEED = Long.getLong("iomap4j.seed", 0x10_4a_95L);

    @TempDir
    Path tmp;
    private Path mnt;
    private TrackedMemoryVfs vfs;
    private FuseMount mount;

    @BeforeEach
    void mountMemoryVfs() throws IOException {
        Shell.requireRootAndFuse();
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        vfs = TrackedMemoryVfs.create();
        mount = FuseMount.mount(vfs, mnt, options().fsName("memvfs").threads(4).build());
    }

    /** The mount of the running test (subclasses check how it was served). */
    FuseMount currentMount() {
        return mount;
    }

    /** The options every mount of this test class starts from (subclasses vary them). */
    FuseOptions.Builder options() {
        // Without the writeback cache (iomapfs mount --no-writeback-cache); FuseMountWritebackCacheIntegrationTest
        // runs the suite again with the default, the cache on.
        return FuseOptions.builder().writebackCache(false);
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            mount.unmount();
            assertThat(mount.awaitUnmounted(Duration.ofSeconds(60))).as("server stopped after unmount").isTrue();
            assertThat(mount.isMounted()).isFalse();
        }
    }

    /** Unmounts now (for tests that check the Vfs after the kernel let go). */
    private void unmountNow() throws Exception {
        mount.unmount();
        assertThat(mount.awaitUnmounted(Duration.ofSeconds(60))).isTrue();
    }

    private static byte[] random(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    @Test
    void mkdirP_ls_stat_statfs() throws Exception {
        sh(mnt, "mkdir -p a/b/c && touch a/b/c/f && echo hello > a/b/g");
        assertThat(sh(mnt, "ls a/b").lines().toList()).containsExactly("c", "g");
        assertThat(sh(mnt, "cat a/b/g")).isEqualTo("hello\n");
        assertThat(sh(mnt, "stat -c '%F %s %h' a/b a/b/g a/b/c/f").lines().toList())
                .containsExactly("directory 4096 3", "regular file 6 1", "regular empty file 0 1");
        assertThat(sh(mnt, "findmnt -n -o FSTYPE,SOURCE " + mnt).trim()).isEqualTo("fuse.iomap4j memvfs");
        assertThat(sh(mnt, "df -B4096 --output=size . | tail -1").trim()).isEqualTo(String.valueOf(1 << 20));
    }

    @Test
    void cpR_tree_of_0_to_8MiB_files_then_diffR_du_and_stat_blocks() throws Exception {
        Random rnd = new Random(SEED);
        Path src = Files.createDirectories(tmp.resolve("src/sub/deeper"));
        int[] sizes = {0, 1, 4095, 4096, 4097, 65_536, (1 << 20) + 3, 3 << 20, 8 << 20};
        for (int i = 0; i < sizes.length; i++) {
            Path dir = i % 3 == 0 ? tmp.resolve("src") : i % 3 == 1 ? tmp.resolve("src/sub") : src;
            Files.write(dir.resolve("f" + sizes[i]), random(rnd, sizes[i]));
        }
        sh(tmp, "cp -r src mnt/dst");
        sh(tmp, "diff -r src mnt/dst");
        // st_blocks comes from the Vfs: a fully written 8 MiB file has 8 MiB of blocks.
        assertThat(sh(mnt, "stat -c %b dst/sub/deeper/f" + (8 << 20)).trim()).isEqualTo(String.valueOf((8 << 20) / 512));
        assertThat(sh(mnt, "stat -c %b dst/f0").trim()).isEqualTo("0");
        long duKiB = Long.parseLong(sh(mnt, "du -sk dst | cut -f1").trim());
        long expectKiB = 0;
        for (int size : sizes) {
            expectKiB += (size + 4095L) / 4096 * 4;
        }
        expectKiB += 3 * 4; // three directories of one 4 KiB block each
        assertThat(duKiB).isEqualTo(expectKiB);
    }

    @Test
    void mv_across_directories_and_rename_over_existing_then_rmR() throws Exception {
        sh(mnt, "mkdir -p d1/x d2 && echo one > d1/a && echo two > d2/b && echo three > d1/x/c");
        long inoA = Long.parseLong(sh(mnt, "stat -c %i d1/a").trim());
        long inoB = Long.parseLong(sh(mnt, "stat -c %i d2/b").trim());
        sh(mnt, "mv d1/a d2/a");
        assertThat(sh(mnt, "stat -c %i d2/a").trim()).isEqualTo(String.valueOf(inoA));
        sh(mnt, "mv d2/a d2/b"); // rename over an existing file
        assertThat(sh(mnt, "cat d2/b")).isEqualTo("one\n");
        assertThat(sh(mnt, "stat -c %i d2/b").trim()).isEqualTo(String.valueOf(inoA));
        sh(mnt, "mv d1/x d2/"); // a directory across directories: link counts follow
        assertThat(sh(mnt, "stat -c %h d1 d2").lines().toList()).containsExactly("2", "3");
        assertThat(sh(mnt, "cat d2/x/c")).isEqualTo("three\n");
        assertThat(Shell.run(mnt, "test -e d1/a").exit()).isNotZero();
        Shell.Result noReplace = Shell.run(mnt, "mv -n d2/b d2/x/c; cat d2/x/c");
        assertThat(noReplace.out()).isEqualTo("three\n");
        sh(mnt, "rm -r d2");
        assertThat(sh(mnt, "ls -A").lines().toList()).containsExactly("d1");
        unmountNow();
        assertThat(vfs.exists(inoB)).as("the replaced file is freed").isFalse();
        assertThat(vfs.inodeCount()).isEqualTo(vfs.reachableInodes().size()).isEqualTo(2);
    }

    @Test
    void ln_s_and_hard_links_with_link_counts_and_st_ino() throws Exception {
        sh(mnt, "mkdir d && echo data > d/f && ln -s d/f sl && ln -s /nonexistent dangling");
        assertThat(sh(mnt, "readlink sl")).isEqualTo("d/f\n");
        assertThat(sh(mnt, "cat sl")).isEqualTo("data\n");
        assertThat(sh(mnt, "stat -c %F dangling")).isEqualTo("symbolic link\n");
        sh(mnt, "ln d/f h1 && ln h1 d/h2");
        List<String> stats = sh(mnt, "stat -c '%i %h' d/f h1 d/h2").lines().toList();
        assertThat(new HashSet<>(stats)).hasSize(1);
        String[] inoAndLinks = stats.get(0).split(" ");
        assertThat(inoAndLinks[1]).isEqualTo("3");
        long ino = Long.parseLong(inoAndLinks[0]);
        assertThat(vfs.exists(ino)).as("st_ino is the Vfs inode number").isTrue();
        sh(mnt, "echo more >> h1");
        assertThat(sh(mnt, "cat d/h2")).isEqualTo("data\nmore\n");
        sh(mnt, "rm d/f");
        assertThat(sh(mnt, "stat -c %h h1").trim()).isEqualTo("2");
        Shell.Result linkDir = Shell.run(mnt, "ln d dlink");
        assertThat(linkDir.exit()).isNotZero();
        assertThat(linkDir.err()).contains("hard link not allowed for directory");
    }

    @Test
    void chmod_truncate_both_ways_and_errno_of_common_failures() throws Exception {
        Random rnd = new Random(SEED + 1);
        byte[] data = random(rnd, 20_000);
        Files.write(mnt.resolve("f"), data);
        sh(mnt, "chmod 640 f");
        assertThat(sh(mnt, "stat -c %a f").trim()).isEqualTo("640");
        sh(mnt, "truncate -s 100 f");
        assertThat(Files.readAllBytes(mnt.resolve("f"))).isEqualTo(Arrays.copyOf(data, 100));
        sh(mnt, "truncate -s 10000 f");
        // extending reads back zeros past the old size, not the bytes the shrink cut off
        assertThat(Files.readAllBytes(mnt.resolve("f"))).isEqualTo(Arrays.copyOf(Arrays.copyOf(data, 100), 10_000));
        assertThat(sh(mnt, "stat -c %s f").trim()).isEqualTo("10000");
        sh(mnt, "touch -d '2001-02-03 04:05:06 UTC' f");
        assertThat(sh(mnt, "stat -c %Y f").trim()).isEqualTo("981173106");
        // errno faithful to Linux, as coreutils print it
        assertThat(Shell.run(mnt, "mkdir f").err()).contains("File exists");
        assertThat(Shell.run(mnt, "ls nothere").err()).contains("No such file or directory");
        assertThat(Shell.run(mnt, "ls f/x").err()).contains("Not a directory");
        sh(mnt, "mkdir -p full/x");
        assertThat(Shell.run(mnt, "rmdir full").err()).contains("Directory not empty");
        assertThat(Shell.run(mnt, "touch " + "n".repeat(256)).err()).contains("File name too long");
        assertThat(Shell.run(mnt, "truncate -s " + (TrackedMemoryVfs.MAX_FILE_BYTES + 1) + " f").err())
                .contains("File too large");
    }

    @Test
    void dd_conv_notrunc_overwrites_the_middle() throws Exception {
        Random rnd = new Random(SEED + 2);
        byte[] model = random(rnd, 3 << 20);
        Files.write(mnt.resolve("f"), model);
        byte[] patch = random(rnd, 300_000);
        Files.write(tmp.resolve("patch"), patch);
        sh(tmp, "dd if=patch of=mnt/f bs=1000 seek=1234 conv=notrunc status=none");
        System.arraycopy(patch, 0, model, 1_234_000, patch.length);
        assertThat(Files.readAllBytes(mnt.resolve("f"))).isEqualTo(model);
        assertThat(sh(mnt, "stat -c %s f").trim()).isEqualTo(String.valueOf(3 << 20));
        assertThat(sh(mnt, "cmp f - < /dev/null; true")).isEmpty();
    }

    @Test
    void readdir_of_1000_entries_pages_through_readdirplus() throws Exception {
        sh(mnt, "mkdir big && cd big && for i in $(seq 1 1000); do echo $i > file-with-a-longish-name-$i; done");
        List<String> names = sh(mnt, "ls big").lines().toList();
        assertThat(names).hasSize(1000).doesNotHaveDuplicates();
        assertThat(sh(mnt, "ls -l big | tail -n +2 | wc -l").trim()).isEqualTo("1000");
        Set<String> javaNames = new HashSet<>();
        try (Stream<Path> s = Files.list(mnt.resolve("big"))) {
            s.forEach(p -> javaNames.add(p.getFileName().toString()));
        }
        assertThat(javaNames).containsExactlyInAnyOrderElementsOf(names);
        assertThat(sh(mnt, "cat big/file-with-a-longish-name-777")).isEqualTo("777\n");
        sh(mnt, "rm -r big");
        unmountNow();
        assertThat(vfs.inodeCount()).as("every lookup was forgotten").isEqualTo(1);
    }

    @Test
    void parallel_writers_to_different_files_and_concurrent_readers() throws Exception {
        int writers = 4;
        int fileBytes = 4 << 20;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            List<Future<byte[]>> done = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                long seed = SEED + 100 + w;
                Path f = mnt.resolve("w" + w);
                done.add(pool.submit(() -> {
                    Random rnd = new Random(seed);
                    byte[] model = random(rnd, fileBytes);
                    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                        int pos = 0;
                        while (pos < fileBytes) {
                            int n = Math.min(fileBytes - pos, 1 + rnd.nextInt(300_000));
                            ch.write(ByteBuffer.wrap(model, pos, n), pos);
                            pos += n;
                        }
                    }
                    return model;
                }));
            }
            List<byte[]> models = new ArrayList<>();
            for (Future<byte[]> d : done) {
                models.add(d.get());
            }
            for (int w = 0; w < writers; w++) {
                assertThat(Files.readAllBytes(mnt.resolve("w" + w))).as("file w%d (seed %d)", w, SEED + 100 + w)
                        .isEqualTo(models.get(w));
            }
            // Concurrent readers of one file at random offsets, through their own handles.
            byte[] model = models.get(0);
            List<Future<Void>> reads = new ArrayList<>();
            for (int r = 0; r < 4; r++) {
                long seed = SEED + 200 + r;
                reads.add(pool.submit(() -> {
                    Random rnd = new Random(seed);
                    try (FileChannel ch = FileChannel.open(mnt.resolve("w0"), StandardOpenOption.READ)) {
                        for (int i = 0; i < 200; i++) {
                            int pos = rnd.nextInt(fileBytes);
                            int len = Math.min(fileBytes - pos, 1 + rnd.nextInt(200_000));
                            ByteBuffer buf = ByteBuffer.allocate(len);
                            while (buf.hasRemaining() && ch.read(buf, pos + buf.position()) > 0) {
                                // keep reading
                            }
                            assertThat(buf.array()).as("read [%d, +%d) seed %d", pos, len, seed)
                                    .isEqualTo(Arrays.copyOfRange(model, pos, pos + len));
                        }
                    }
                    return null;
                }));
            }
            for (Future<Void> r : reads) {
                r.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void unlink_while_open_keeps_the_data_until_last_close() throws Exception {
        Random rnd = new Random(SEED + 3);
        byte[] data = random(rnd, 100_000);
        Path f = mnt.resolve("victim");
        Files.write(f, data);
        long ino = Long.parseLong(sh(mnt, "stat -c %i victim").trim());
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            Files.delete(f);
            assertThat(Files.exists(f)).isFalse();
            assertThat(vfs.exists(ino)).as("unlinked but open: still there").isTrue();
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 100_000);
            ByteBuffer buf = ByteBuffer.allocate(100_003);
            while (buf.hasRemaining() && ch.read(buf, buf.position()) > 0) {
                // keep reading
            }
            byte[] expect = Arrays.copyOf(data, 100_003);
            expect[100_000] = 1;
            expect[100_001] = 2;
            expect[100_002] = 3;
            assertThat(buf.array()).isEqualTo(expect);
        }
        unmountNow();
        assertThat(vfs.exists(ino)).as("freed after last close and last forget").isFalse();
        assertThat(mount.bridge().openFileCount()).isZero();
    }

    @Test
    void sparse_file_seek_data_hole_and_fallocate_punch() throws Throwable {
        sh(mnt, "truncate -s 4M sparse && printf x | dd of=sparse bs=1 seek=1048576 conv=notrunc status=none"
                + " && printf y | dd of=sparse bs=1 seek=3145728 conv=notrunc status=none");
        Path f = mnt.resolve("sparse");
        assertThat(sh(mnt, "stat -c '%s %b' sparse").trim()).isEqualTo((4 << 20) + " 16");
        int seekData = org.iomap4j.vfs.Vfs.SEEK_DATA;
        int seekHole = org.iomap4j.vfs.Vfs.SEEK_HOLE;
        // With the writeback cache too: no write handle is open any more (close wrote the kernel's dirty pages
        // back), so the server's answer is exact (NodeBridge.lseek).
        assertThat(Shell.lseek(f, 0, seekData)).isEqualTo(1 << 20);
        assertThat(Shell.lseek(f, 1 << 20, seekHole)).isEqualTo((1 << 20) + 4096);
        assertThat(Shell.lseek(f, (1 << 20) + 4096, seekData)).isEqualTo(3 << 20);
        assertThat(Shell.lseek(f, (3 << 20) + 4096, seekData)).isEqualTo(-6); // ENXIO: no data after
        assertThat(Shell.lseek(f, (3 << 20) + 4096, seekHole)).isEqualTo((3 << 20) + 4096);
        assertThat(Shell.lseek(f, 5 << 20, seekData)).isEqualTo(-6); // ENXIO: past EOF
        sh(mnt, "fallocate -p -o 1048576 -l 4096 sparse");
        assertThat(Shell.lseek(f, 0, seekData)).isEqualTo(3 << 20);
        assertThat(sh(mnt, "stat -c %b sparse; od -An -tx1 -j1048576 -N1 sparse").lines().map(String::trim).toList())
                .containsExactly("8", "00");
        sh(mnt, "fallocate -l 8192 prealloc");
        assertThat(sh(mnt, "stat -c '%s %b' prealloc").trim()).isEqualTo("8192 16");
    }

    @Test
    void direct_io_write_is_seen_by_a_handle_that_cached_the_page() throws Exception {
        byte[] old = new byte[1 << 16];
        Arrays.fill(old, (byte) 'a');
        Path f = mnt.resolve("f");
        Files.write(f, old);
        try (FileChannel cached = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer first = ByteBuffer.allocate(4096);
            cached.read(first, 0);
            assertThat(first.array()[0]).isEqualTo((byte) 'a');
            sh(tmp, "head -c 4096 /dev/zero | tr '\\0' b > patch && dd if=patch of=mnt/f bs=4096 count=1"
                    + " oflag=direct conv=notrunc status=none");
            ByteBuffer again = ByteBuffer.allocate(4096);
            cached.read(again, 0);
            byte[] expect = new byte[4096];
            Arrays.fill(expect, (byte) 'b');
            assertThat(again.array()).as("no stale page after an O_DIRECT write").isEqualTo(expect);
        }
        assertThat(sh(mnt, "head -c 4 f")).isEqualTo("bbbb");
    }

    @Test
    void write_through_one_handle_is_seen_through_another_and_after_truncate() throws Exception {
        Path f = mnt.resolve("f");
        Files.write(f, "0123456789".getBytes());
        try (FileChannel a = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileChannel b = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(10);
            b.read(buf, 0);
            a.write(ByteBuffer.wrap("AB".getBytes()), 3);
            buf.clear();
            b.read(buf, 0);
            assertThat(new String(buf.array(), 0, buf.position())).isEqualTo("012AB56789");
            a.truncate(4);
            buf.clear();
            b.read(buf, 0);
            assertThat(new String(buf.array(), 0, buf.position())).isEqualTo("012A");
        }
    }

    @Test
    void invalidate_inode_and_entry_announce_changes_made_behind_the_kernels_back() throws Exception {
        // Remount with long timeouts so that only the notifications can make the kernel see the changes.
        unmountNow();
        Duration hour = Duration.ofHours(1);
        mount = FuseMount.mount(vfs, mnt, options().entryTimeout(hour).attrTimeout(hour)
                .negativeTimeout(hour).build());
        Path f = mnt.resolve("f");
        Files.write(f, "old!".getBytes());
        long ino = Long.parseLong(sh(mnt, "stat -c %i f").trim());
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(4);
            ch.read(buf, 0);
            var h = vfs.open(ino, org.iomap4j.vfs.Vfs.O_RDWR);
            vfs.write(h, 0, ByteBuffer.wrap("new!".getBytes()));
            vfs.release(h);
            buf.clear();
            ch.read(buf, 0);
            assertThat(new String(buf.array())).as("the kernel serves its cached page").isEqualTo("old!");
            mount.invalidateInode(ino, 0, 0);
            buf.clear();
            ch.read(buf, 0);
            assertThat(new String(buf.array())).isEqualTo("new!");
        }
        assertThat(Shell.run(mnt, "stat ghost").exit()).isNotZero(); // now cached as absent for an hour
        var created = vfs.create(vfs.rootIno(), "ghost", 0644, org.iomap4j.vfs.Vfs.O_RDWR, 0, 0);
        vfs.release(created.handle());
        vfs.forget(created.attr().ino(), 1);
        assertThat(Shell.run(mnt, "stat ghost").exit()).as("negative entry still cached").isNotZero();
        mount.invalidateEntry(vfs.rootIno(), "ghost");
        assertThat(sh(mnt, "stat -c %i ghost").trim()).isEqualTo(String.valueOf(created.attr().ino()));
    }

    @Test
    void read_only_mount_refuses_writes_with_erofs() throws Exception {
        sh(mnt, "echo keep > f");
        unmountNow();
        mount = FuseMount.mount(vfs, mnt, options().readOnly(true).build());
        assertThat(sh(mnt, "cat f")).isEqualTo("keep\n");
        assertThat(Shell.run(mnt, "echo x > g").err()).contains("Read-only file system");
        assertThat(Shell.run(mnt, "rm f").err()).contains("Read-only file system");
        assertThat(sh(mnt, "findmnt -n -o OPTIONS " + mnt)).startsWith("ro,");
    }

    @Test
    void unmount_by_umount8_is_noticed_and_unmount_is_idempotent() throws Exception {
        sh(mnt, "echo x > f");
        sh(tmp, "umount " + mnt);
        assertThat(mount.awaitUnmounted(Duration.ofSeconds(60))).isTrue();
        assertThat(mount.isMounted()).isFalse();
        mount.unmount();
        mount.unmount();
        assertThat(vfs.inodeCount()).isEqualTo(2);
    }

    @Test
    void rename2_exchange_and_noreplace() throws Throwable {
        sh(mnt, "mkdir d && echo A > a && echo B > d/b");
        assertThat(Shell.renameat2(mnt.resolve("a"), mnt.resolve("d/b"), org.iomap4j.vfs.Vfs.RENAME_EXCHANGE)).isZero();
        assertThat(sh(mnt, "cat a d/b")).isEqualTo("B\nA\n");
        assertThat(Shell.renameat2(mnt.resolve("a"), mnt.resolve("d/b"), org.iomap4j.vfs.Vfs.RENAME_NOREPLACE))
                .isEqualTo(-17); // EEXIST
        assertThat(Shell.renameat2(mnt.resolve("a"), mnt.resolve("c"), org.iomap4j.vfs.Vfs.RENAME_NOREPLACE)).isZero();
        assertThat(sh(mnt, "cat c")).isEqualTo("B\n");
    }

    @Test
    void cp_a_and_ls_l_run_silently_without_xattr_support() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/sub"));
        Files.writeString(src.resolve("f"), "x");
        sh(tmp, "chmod 700 src/sub && touch -d '2010-01-01 00:00:00 UTC' src/sub/f && ln -s f src/sub/l");
        Shell.Result cp = Shell.run(tmp, "cp -a src mnt/dst");
        assertThat(cp.exit()).isZero();
        assertThat(cp.err()).isEmpty();
        assertThat(sh(mnt, "stat -c '%a %Y' dst/sub dst/sub/f").lines().toList())
                .containsExactly("700 " + sh(tmp, "stat -c %Y src/sub").trim(), "644 1262304000");
        assertThat(sh(mnt, "readlink dst/sub/l")).isEqualTo("f\n");
        Shell.Result ls = Shell.run(mnt, "ls -lR dst");
        assertThat(ls.exit()).isZero();
        assertThat(ls.err()).isEmpty();
    }
}
