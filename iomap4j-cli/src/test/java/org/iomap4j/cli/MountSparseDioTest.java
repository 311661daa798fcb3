package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Direct I/O, fallocate and SEEK_DATA/SEEK_HOLE through the FUSE mount of {@code iomapfs mount}, driven by the
 * real tools ({@code dd iflag=direct/oflag=direct}, {@code fallocate -p/-z/-l/-n}, python3 {@code os.lseek}),
 * checked against an in-memory model of the file bytes, then {@code e2fsck -fn}, {@code debugfs dump} and
 * {@code iomapfs fiemap} vs {@code debugfs stat} on the unmounted image. (The FIEMAP ioctl does not pass through
 * FUSE, so filefrag on the mount is replaced by {@code iomapfs fiemap}.)
 */
class MountSparseDioTest {
    @TempDir
    Path tmp;

    private static Ext2Tools.Result sh(String script) {
        return Ext2Tools.run("sh", "-c", script);
    }

    @Test
    void ddDirect_fallocate_andSeekThroughTheMount_matchModelAndLeaveACleanImage() throws Exception {
        long seed = new Random().nextLong();
        Random rnd = new Random(seed);
        Path img = tmp.resolve("t.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "64M").exit()).isZero();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        byte[] src = new byte[1 << 20];
        rnd.nextBytes(src);
        Path srcFile = tmp.resolve("src");
        Files.write(srcFile, src);
        byte[] d;
        byte[] sparse;
        try (MountedImage m = MountedImage.start(img, mnt)) {
            String M = mnt.toString();
            // dd with O_DIRECT both ways (FOPEN_DIRECT_IO handles served by DirectIo).
            sh("dd if=" + srcFile + " of=" + M + "/d bs=64k oflag=direct status=none").ok();
            sh("dd if=" + M + "/d of=" + tmp.resolve("back") + " bs=64k iflag=direct status=none").ok();
            assertThat(Files.readAllBytes(tmp.resolve("back"))).as("seed " + seed).isEqualTo(src);
            // An O_DIRECT write into a hole below EOF (ext2: ENOTBLK -> buffered fallback) and past EOF.
            sh("truncate -s 2M " + M + "/s").ok();
            sh("dd if=" + srcFile + " of=" + M + "/s bs=4096 count=4 seek=100 oflag=direct conv=notrunc status=none")
                    .ok();
            sh("dd if=" + srcFile + " of=" + M + "/s bs=4096 count=2 skip=8 seek=600 oflag=direct conv=notrunc "
                    + "status=none").ok();
            sparse = new byte[600 * 4096 + 8192];
            System.arraycopy(src, 0, sparse, 100 * 4096, 4 * 4096);
            System.arraycopy(src, 8 * 4096, sparse, 600 * 4096, 2 * 4096);
            // Misaligned O_DIRECT is EINVAL, as on Linux.
            Ext2Tools.Result bad = sh("dd if=" + srcFile + " of=" + M + "/s bs=100 count=1 seek=3 oflag=direct "
                    + "conv=notrunc status=none");
            assertThat(bad.exitCode()).isNotZero();
            assertThat(bad.stderr()).contains("Invalid argument");
            sh("dd if=" + M + "/s of=" + tmp.resolve("sback") + " bs=8192 iflag=direct status=none").ok();
            assertThat(Files.readAllBytes(tmp.resolve("sback"))).isEqualTo(sparse);
            assertThat(Files.readAllBytes(mnt.resolve("s"))).as("buffered view").isEqualTo(sparse);

            // fallocate: punch (-p), zero (-z), allocate (-l); KEEP_SIZE preallocation (-n) is refused.
            d = src.clone();
            sh("fallocate -p -o 24576 -l 32768 " + M + "/d").ok();
            Arrays.fill(d, 24576, 24576 + 32768, (byte) 0);
            sh("fallocate -p -o 100000 -l 5000 " + M + "/d").ok();
            Arrays.fill(d, 100000, 105000, (byte) 0);
            sh("fallocate -z -o 500000 -l 70000 " + M + "/d").ok();
            Arrays.fill(d, 500000, 570000, (byte) 0);
            sh("fallocate -z -o " + ((1 << 20) - 1000) + " -l 5000 " + M + "/d").ok();
            d = Arrays.copyOf(d, (1 << 20) + 4000);
            Arrays.fill(d, (1 << 20) - 1000, d.length, (byte) 0);
            assertThat(Files.readAllBytes(mnt.resolve("d"))).as("after punch/zero, seed " + seed).isEqualTo(d);
            // O_DIRECT read of a file whose size is not a multiple of 512 (the last read is clipped at EOF).
            sh("dd if=" + M + "/d of=" + tmp.resolve("dback") + " bs=64k iflag=direct status=none").ok();
            assertThat(Files.readAllBytes(tmp.resolve("dback"))).as("O_DIRECT read to an unaligned EOF").isEqualTo(d);
            sh("fallocate -l 3M " + M + "/al").ok();
            assertThat(Files.size(mnt.resolve("al"))).isEqualTo(3L << 20);
            assertThat(Files.readAllBytes(mnt.resolve("al"))).isEqualTo(new byte[3 << 20]);
            Ext2Tools.Result keep = sh("touch " + M + "/keep && fallocate -n -l 1M " + M + "/keep");
            assertThat(keep.exitCode()).as(keep.stderr()).isNotZero();
            // util-linux words EOPNOTSUPP with -n as "keep size mode is unsupported".
            assertThat(keep.stderr()).containsAnyOf("Operation not supported", "keep size mode is unsupported");
            assertThat(Files.size(mnt.resolve("keep"))).isZero();

            // SEEK_DATA / SEEK_HOLE through the mount on the sparse file: data at blocks 100..103 and 600..601.
            String py = "import os\nfd=os.open('" + M + "/s',os.O_RDONLY)\n"
                    + "def sd(p):\n  try: return os.lseek(fd,p,os.SEEK_DATA)\n  except OSError as e: return -e.errno\n"
                    + "def sh(p):\n  try: return os.lseek(fd,p,os.SEEK_HOLE)\n  except OSError as e: return -e.errno\n"
                    + "for p in [0, 409600, 409601, 425984, 2457600, 2465792, 2465791, 9999999]:\n"
                    + "  print(p, sd(p), sh(p))\n";
            Files.writeString(tmp.resolve("seek.py"), py);
            List<String> lines = sh("python3 " + tmp.resolve("seek.py")).ok().stdout().strip().lines().toList();
            assertThat(lines).containsExactly(
                    "0 409600 0",
                    "409600 409600 425984",
                    "409601 409601 425984",
                    "425984 2457600 425984",
                    "2457600 2457600 2465792",
                    "2465792 -6 -6",
                    "2465791 2465791 2465792",
                    "9999999 -6 -6");
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfsDump(img, "/d", tmp)).isEqualTo(d);
        assertThat(Ext2Tools.debugfsDump(img, "/s", tmp)).isEqualTo(sparse);
        // iomapfs fiemap (filefrag -v layout) names exactly debugfs's blocks of the punched file.
        Cli.Run fm = Cli.run("fiemap", img + ":/d");
        assertThat(fm.exit()).as(fm.toString()).isZero();
        List<Long> fromFiemap = new ArrayList<>();
        for (String line : fm.out().lines().toList()) {
            String[] f = line.trim().split("[\\s:.]+");
            if (f.length >= 6 && f[0].matches("\\d+") && line.contains("..")) {
                for (long p = Long.parseLong(f[3]); p <= Long.parseLong(f[4]); p++) {
                    fromFiemap.add(p);
                }
            }
        }
        List<Long> fromDebugfs = new ArrayList<>();
        for (Ext2Tools.BlockRun run : Ext2Tools.debugfsDataRuns(img, "/d")) {
            for (long i = 0; i < run.nrBlocks(); i++) {
                fromDebugfs.add(run.pblk() + i);
            }
        }
        assertThat(fromFiemap).as(fm.out()).containsExactlyElementsOf(fromDebugfs);
        // The last block (past the old EOF, from the size-extending zero range) is a hole: "last" without "eof".
        assertThat(fm.out()).contains("merged,last\n").doesNotContain("eof");
    }

    /**
     * A sequential O_DIRECT stream through the mount (served with read-ahead) reads, chunk by chunk, what another
     * descriptor wrote into the chunk ahead of it just before: never the bytes a read-ahead fetched earlier.
     * python3 does the reads (preadv into an mmap buffer, as O_DIRECT wants aligned memory) and compares them
     * with its own model of the file.
     */
    @Test
    void oDirectStream_seesWritesMadeAheadOfIt_throughAnotherDescriptor() throws Exception {
        Path img = tmp.resolve("ra.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "64M").exit()).isZero();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        String py = """
                import os, mmap, sys
                p = sys.argv[1]
                MIB = 1 << 20
                data = bytearray(os.urandom(8 * MIB))
                with open(p, 'wb') as f:
                    f.write(data)
                buf = mmap.mmap(-1, MIB)
                w = os.open(p, os.O_WRONLY)
                for rnd in range(3):
                    fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
                    for k in range(8):
                        n = os.preadv(fd, [buf], k * MIB)
                        if n != MIB or buf[:n] != data[k * MIB:k * MIB + n]:
                            print('stale or short', rnd, k, n)
                        if rnd > 0 and k + 1 < 8:
                            patch = os.urandom(4096 * rnd)
                            off = (k + 1) * MIB + 12345 * k
                            os.pwrite(w, patch, off)
                            data[off:off + len(patch)] = patch
                    os.close(fd)
                os.close(w)
                with open(p, 'rb') as f:
                    print('final', f.read() == bytes(data))
                """;
        Files.writeString(tmp.resolve("stream.py"), py);
        try (MountedImage m = MountedImage.start(img, mnt)) {
            Ext2Tools.Result r = sh("python3 " + tmp.resolve("stream.py") + " " + mnt.resolve("ra")).ok();
            assertThat(r.stdout().strip()).isEqualTo("final True");
        }
        Ext2Tools.assertFsckClean(img);
    }

    /**
     * The root reserve through the mount: another user (setpriv to uid/gid 65534, the mount has --allow-other)
     * filling a world-writable directory stops with ENOSPC while the reserved blocks are still free; root then
     * writes into them. df's "Avail" (f_bavail) is 0 for everyone at that point, as with the kernel's ext2.
     */
    @Test
    void anotherUserCannotWriteIntoTheRootReserve_rootCan() throws Exception {
        Path img = tmp.resolve("reserve.img");
        assertThat(Cli.run("mkfs", img.toString(), "--size", "16M").exit()).isZero();
        // The other user must be able to reach the mount point (JUnit makes its temporary directory 0700).
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        // Without the writeback cache: with it, a writer whose file was opened while space was plentiful stops with
        // ENOSPC up to the guard's reserve early (WritebackSpaceGuard; MountWritebackEnospcTest covers that mode).
        try (MountedImage m = MountedImage.start(img, mnt, "--allow-other", "--no-writeback-cache")) {
            String M = mnt.toString();
            sh("mkdir " + M + "/pub && chmod 1777 " + M + "/pub").ok();
            Ext2Tools.Result user = sh("setpriv --reuid=65534 --regid=65534 --clear-groups "
                    + "dd if=/dev/zero of=" + M + "/pub/u bs=64k status=none");
            assertThat(user.exitCode()).as(user.toString()).isNotZero();
            assertThat(user.stderr()).contains("No space left on device");
            long userBytes = Files.size(mnt.resolve("pub/u"));
            String df = sh("stat -f -c '%f %a %S' " + M).ok().stdout().strip();
            String[] f = df.split(" ");
            long freeBlocks = Long.parseLong(f[0]);
            assertThat(Long.parseLong(f[1])).as("f_bavail after the user filled it: " + df).isZero();
            assertThat(freeBlocks * Long.parseLong(f[2])).as("the reserve is still free: " + df)
                    .isGreaterThan(512L << 10);
            Ext2Tools.Result root = sh("dd if=/dev/zero of=" + M + "/r bs=64k status=none");
            assertThat(root.stderr()).contains("No space left on device");
            assertThat(Files.size(mnt.resolve("r"))).as("root wrote into the reserve").isGreaterThan(512L << 10);
            assertThat(userBytes).isGreaterThan(8L << 20);
        }
        Ext2Tools.assertFsckClean(img);
    }
}
