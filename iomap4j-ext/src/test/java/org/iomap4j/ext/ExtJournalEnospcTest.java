package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A full journaled filesystem, a file deleted, the same space written again at once: the deleted file's blocks are
 * free in the running transaction but may not be reused before it commits ({@link PendingFrees}). They must not be
 * promised to a delayed-allocation reservation (whose writeback would then find no block: ENOSPC in writeback,
 * at fsync), and write(2) must not fail for them either: as the kernel's ext4_should_retry_alloc, the write that
 * finds only such blocks commits the transaction and retries. Checked with delalloc on and off: every write
 * succeeds, fsync succeeds, the bytes read back after a remount, {@code e2fsck -fn} is clean.
 */
class ExtJournalEnospcTest {
    @org.junit.jupiter.api.io.TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void spaceFreedByAnUncommittedUnlinkIsWritableAgainAtOnce(boolean delalloc) throws Exception {
        Assumptions.assumeTrue(Ext2Tools.run("mke2fs", "-V").exitCode() == 0, "mke2fs not installed");
        Path image = Ext2Tools.sparseImage(tmp.resolve("j.img"), 32L << 20);
        Ext2Tools.run("mkfs.ext4", "-q", "-F", "-m", "0", image.toString()).ok();
        byte[] chunk = new byte[64 << 10];
        long filled;
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults().withDelalloc(delalloc))) {
            assertThat(fs.journal.active()).isTrue();
            // Fill the filesystem with "a" until ENOSPC at write(), then make it durable.
            Vfs.Created a = fs.create(fs.rootIno(), "a", 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
            filled = fill(fs, a.handle(), chunk, (byte) 'a', Long.MAX_VALUE);
            fs.fsync(a.handle(), false);
            fs.release(a.handle());
            fs.forget(a.attr().ino(), 1);
            assertThat(filled).as("bytes written before ENOSPC").isGreaterThan(8L << 20);
            // Delete it: its blocks are pending until the running transaction commits (no fsync, no sync here).
            fs.unlink(fs.rootIno(), "a");
            // (The 5 s commit thread could have committed in between; then there is nothing to check.)
            Assumptions.assumeTrue(fs.journal.pendingFreeBlocks() > 0, "the commit thread committed the unlink");
            // Write most of that space again at once: every write(2) must succeed.
            Vfs.Created b = fs.create(fs.rootIno(), "b", 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
            long want = filled - (2L << 20);
            long wrote = fill(fs, b.handle(), chunk, (byte) 'b', want);
            assertThat(wrote).as("bytes of b written").isEqualTo(want);
            fs.fsync(b.handle(), false); // delalloc writeback finds the blocks its reservations promised
            fs.release(b.handle());
            fs.forget(b.attr().ino(), 1);
        }
        Ext2Tools.assertFsckClean(image);
        try (ExtFileSystem fs = ExtFileSystem.mount(image, ExtMountOptions.defaults().withReadOnly(true))) {
            assertThat(fs.lookup(fs.rootIno(), "b").sizeBytes()).isEqualTo(filled - (2L << 20));
            FileHandle h = fs.open(fs.lookup(fs.rootIno(), "b").ino(), Vfs.O_RDONLY);
            ByteBuffer dst = ByteBuffer.allocate(chunk.length);
            byte[] expect = new byte[chunk.length];
            Arrays.fill(expect, (byte) 'b');
            for (long pos = 0; pos < filled - (2L << 20); pos += chunk.length) {
                dst.clear();
                int n = fs.read(h, pos, dst);
                assertThat(Arrays.copyOf(dst.array(), n)).as("b at " + pos).isEqualTo(Arrays.copyOf(expect, n));
            }
            fs.release(h);
        }
    }

    /** Writes {@code fillByte} chunks until {@code limitBytes} or ENOSPC at write(); returns the bytes written. */
    private static long fill(ExtFileSystem fs, FileHandle h, byte[] chunk, byte fillByte, long limitBytes)
            throws Exception {
        Arrays.fill(chunk, fillByte);
        long pos = 0;
        while (pos < limitBytes) {
            ByteBuffer src = ByteBuffer.wrap(chunk, 0, (int) Math.min(chunk.length, limitBytes - pos));
            try {
                while (src.hasRemaining()) {
                    pos += fs.write(h, pos, src);
                }
            } catch (FsException e) {
                assertThat(e.errno()).as(e.getMessage()).isEqualTo(Errno.ENOSPC);
                if (limitBytes != Long.MAX_VALUE) {
                    throw e;
                }
                return pos;
            }
        }
        return pos;
    }
}
