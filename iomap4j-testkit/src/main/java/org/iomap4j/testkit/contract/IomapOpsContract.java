package org.iomap4j.testkit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.iomap.BufferedIo;
import org.iomap4j.iomap.Iomap;
import org.iomap4j.iomap.IomapFlags;
import org.iomap4j.iomap.IomapInode;
import org.iomap4j.iomap.IomapOpFlags;
import org.iomap4j.iomap.IomapOps;
import org.iomap4j.iomap.IomapType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a filesystem's mapping ({@link IomapOps}) must guarantee, for any implementation: the iterator contract of
 * docs/architecture.md and the {@code IomapOps}/{@code Iomap} javadoc. A mapping covers the position asked for and
 * is not empty; it is aligned to the block size (unless the filesystem says otherwise); MAPPED and UNWRITTEN carry
 * the filesystem's device and an in-range, aligned address, HOLE and DELALLOC none; a written-back MAPPED range
 * holds the file's bytes on the device (the oracle: a model of the contents); the answer at a position does not
 * depend on the length asked; {@code iomapEnd} is called once per {@code iomapBegin} through the data path; the
 * validity cookie stops holding when the mapping changes; HOLE, UNWRITTEN and DELALLOC read as zeroes through the
 * data path even over stale device contents; a write mapping ended unused leaves no stale data readable.
 *
 * <p>An implementation extends this class and supplies a {@link Fixture}. Random contents are seeded (printed).
 */
public abstract class IomapOpsContract {
    /** Scratch space for images. */
    @TempDir
    protected java.nio.file.Path tempDir;

    /** What the contract drives: a mounted filesystem's mapping plus the file operations it needs around it. */
    protected interface Fixture extends AutoCloseable {
        /**
         * The mapping under test.
         *
         * @return the mapping operations
         */
        IomapOps ops();

        /**
         * The device MAPPED and UNWRITTEN mappings point at.
         *
         * @return the device
         */
        BlockDevice device();

        /**
         * The filesystem block size in bytes.
         *
         * @return the block size in bytes
         */
        int blockSizeBytes();

        /**
         * A new, empty regular file.
         *
         * @return the new file
         * @throws IOException if creation fails
         */
        IomapInode createFile() throws IOException;

        /**
         * Writes through the filesystem's own write path.
         *
         * @param file the file
         * @param posBytes file byte offset
         * @param data the bytes
         * @throws IOException if the write fails
         */
        void write(IomapInode file, long posBytes, byte[] data) throws IOException;

        /**
         * Sets i_size through the filesystem's own path (shrinking frees blocks; growing leaves a hole).
         *
         * @param file the file
         * @param sizeBytes the new i_size in bytes
         * @throws IOException if the truncate fails
         */
        void truncate(IomapInode file, long sizeBytes) throws IOException;

        /**
         * Writes the file's dirty data back and drops its cached folios, so reads go through mappings again.
         *
         * @param file the file
         * @throws IOException if writeback fails
         */
        void writebackAndDrop(IomapInode file) throws IOException;

        /**
         * Removes the file and frees its blocks.
         *
         * @param file the file
         * @throws IOException if freeing fails
         */
        void remove(IomapInode file) throws IOException;

        @Override
        void close() throws IOException;
    }

    /**
     * A new filesystem to drive.
     *
     * @return the fixture; the suite closes it
     * @throws IOException if it cannot be made
     */
    protected abstract Fixture newFixture() throws IOException;

    /**
     * True if every mapping's offset and length must be multiples of the block size (every block-based
     * filesystem). Default: true.
     *
     * @return true if mappings are block aligned
     */
    protected boolean blockAlignedMappings() {
        return true;
    }

    private final long seed = System.nanoTime();
    private final Random rnd = new Random(seed);
    private Fixture fx;
    private int bs;

    @BeforeEach
    void setUpFixture() throws IOException {
        System.out.println(getClass().getSimpleName() + " seed " + seed);
        fx = newFixture();
        bs = fx.blockSizeBytes();
    }

    @AfterEach
    void closeFixture() throws IOException {
        if (fx != null) {
            fx.close();
            fx = null;
            afterFixtureClosed();
        }
    }

    /**
     * Runs after each case's fixture was closed (an implementation's own checks, e.g. fsck). Default: nothing.
     *
     * @throws IOException to fail the case (e.g. fsck found damage)
     */
    protected void afterFixtureClosed() throws IOException {
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** A file of {@code blocks} blocks with data in some and holes in the others; returns its contents. */
    private byte[] sparseFile(IomapInode f, int blocks) throws IOException {
        byte[] model = new byte[blocks * bs];
        for (int run = 0; run < 6; run++) {
            int first = rnd.nextInt(blocks - 1);
            int n = 1 + rnd.nextInt(Math.min(20, blocks - first));
            byte[] d = randomBytes(n * bs - rnd.nextInt(bs / 2));
            int off = first * bs + rnd.nextInt(bs / 4);
            if (off + d.length > model.length) {
                d = Arrays.copyOf(d, model.length - off);
            }
            fx.write(f, off, d);
            System.arraycopy(d, 0, model, off, d.length);
        }
        fx.truncate(f, model.length);
        fx.writebackAndDrop(f);
        return model;
    }

    /** Checks the invariants every single mapping must satisfy for a request at {@code pos}. */
    private void checkShape(Iomap m, long pos) throws IOException {
        assertThat(m).as("a mapping at %d", pos).isNotNull();
        assertThat(m.covers(pos)).as("%s covers %d", m, pos).isTrue();
        assertThat(m.lengthBytes()).isPositive();
        if (blockAlignedMappings()) {
            assertThat(m.offsetBytes() % bs).as("%s starts on a block", m).isZero();
            assertThat(m.lengthBytes() % bs).as("%s is whole blocks", m).isZero();
        }
        assertThat(m.flags() & IomapFlags.CORE_MASK).as("no core-only flags from the filesystem").isZero();
        switch (m.type()) {
            case MAPPED, UNWRITTEN -> {
                assertThat(m.device()).as("%s is on the filesystem's device", m).isSameAs(fx.device());
                assertThat(m.addrBytes()).isNotNegative();
                assertThat(m.addrBytes() + m.lengthBytes()).as("%s lies on the device", m)
                        .isLessThanOrEqualTo(fx.device().sizeBytes());
                if (blockAlignedMappings()) {
                    assertThat(m.addrBytes() % bs).as("%s address on a block", m).isZero();
                }
            }
            case HOLE, DELALLOC -> assertThat(m.addrBytes()).isEqualTo(Iomap.NULL_ADDR);
            case INLINE -> assertThat(m.inlineData()).hasSizeGreaterThanOrEqualTo((int) m.lengthBytes());
        }
    }

    private Iomap begin(IomapInode f, long pos, long len, int opFlags) throws IOException {
        Iomap m = fx.ops().iomapBegin(f, pos, len, opFlags);
        checkShape(m, pos);
        return m;
    }

    private void end(IomapInode f, long pos, long len, long written, int opFlags, Iomap m) throws IOException {
        fx.ops().iomapEnd(f, pos, Math.min(len, m.endBytes() - pos), written, opFlags, m);
    }

    @Test
    void readMappingsTileTheFileAndMappedRangesHoldItsBytesOnTheDevice() throws IOException {
        IomapInode f = fx.createFile();
        byte[] model = sparseFile(f, 200);
        java.util.List<java.util.List<String>> walks = new java.util.ArrayList<>();
        for (int opFlags : new int[] {0, IomapOpFlags.REPORT, 0}) {
            java.util.List<String> walk = new java.util.ArrayList<>();
            walks.add(walk);
            long pos = 0;
            int mappings = 0;
            while (pos < model.length) {
                Iomap m = begin(f, pos, model.length - pos, opFlags);
                long n = Math.min(m.endBytes(), model.length) - pos;
                if (m.type() == IomapType.MAPPED && !m.hasFlag(IomapFlags.NEW)) {
                    ByteBuffer onDisk = ByteBuffer.allocate((int) n);
                    fx.device().read(m.addrOf(pos), onDisk);
                    assertThat(onDisk.array()).as("device bytes of %s (seed %d)", m, seed)
                            .isEqualTo(Arrays.copyOfRange(model, (int) pos, (int) (pos + n)));
                } else if (m.type() != IomapType.INLINE) {
                    assertThat(Arrays.copyOfRange(model, (int) pos, (int) (pos + n)))
                            .as("%s over written data after writeback (seed %d)", m, seed).containsOnly(0);
                }
                end(f, pos, model.length - pos, 0, opFlags, m);
                walk.add(m.type() + " " + m.offsetBytes() + "+" + m.lengthBytes() + " @" + m.addrBytes());
                pos += n;
                assertThat(++mappings).as("mappings make progress").isLessThanOrEqualTo(model.length / bs);
            }
        }
        assertThat(walks.get(1)).as("REPORT maps as a read does").isEqualTo(walks.get(0));
        assertThat(walks.get(2)).as("reading mappings changes nothing").isEqualTo(walks.get(0));
    }

    @Test
    void aWriteOverWrittenBlocksOverwritesInPlaceUnlessShared() throws IOException {
        IomapInode f = fx.createFile();
        byte[] data = randomBytes(40 * bs);
        fx.write(f, 0, data);
        fx.writebackAndDrop(f);
        for (int k = 0; k < 20; k++) {
            long pos = (long) rnd.nextInt(40) * bs;
            Iomap read = begin(f, pos, 40L * bs - pos, 0);
            end(f, pos, 40L * bs - pos, 0, 0, read);
            assertThat(read.type()).as("written-back data at %d", pos).isEqualTo(IomapType.MAPPED);
            Iomap w = begin(f, pos, bs, IomapOpFlags.WRITE);
            try {
                assertThat(w.type()).as("a write gets writable storage").isIn(IomapType.MAPPED, IomapType.UNWRITTEN,
                        IomapType.DELALLOC);
                if (!w.hasFlag(IomapFlags.SHARED)) {
                    assertThat(w.addrOf(pos)).as("%s overwrites %s in place", w, read).isEqualTo(read.addrOf(pos));
                    assertThat(w.hasFlag(IomapFlags.NEW)).as("existing data is not NEW").isFalse();
                } else {
                    assertThat(w.srcmap()).as("a shared write reads the old data through its srcmap").isNotNull();
                    assertThat(w.srcmap().addrOf(pos)).isEqualTo(read.addrOf(pos));
                }
            } finally {
                end(f, pos, bs, 0, IomapOpFlags.WRITE, w);
            }
        }
        fx.writebackAndDrop(f);
        assertThat(readThroughDataPath(f, 0, data.length)).as("nothing changed (seed %d)", seed).isEqualTo(data);
    }

    @Test
    void theAnswerAtAPositionDoesNotDependOnTheLengthAsked() throws IOException {
        IomapInode f = fx.createFile();
        byte[] model = sparseFile(f, 120);
        for (int k = 0; k < 100; k++) {
            long pos = rnd.nextInt(model.length);
            Iomap small = begin(f, pos, 1, 0);
            end(f, pos, 1, 0, 0, small);
            Iomap large = begin(f, pos, model.length - pos, 0);
            end(f, pos, model.length - pos, 0, 0, large);
            assertThat(large.type()).as("type at %d: %s vs %s", pos, small, large).isEqualTo(small.type());
            if (small.type() == IomapType.MAPPED || small.type() == IomapType.UNWRITTEN) {
                assertThat(large.addrOf(pos)).as("address of %d", pos).isEqualTo(small.addrOf(pos));
            }
        }
    }

    /** Wraps the ops under test: checks that every iomapEnd ends an outstanding iomapBegin, once. */
    private static final class CountingOps implements IomapOps {
        final IomapOps inner;
        final Set<Iomap> open = Collections.newSetFromMap(new IdentityHashMap<>());
        final AtomicInteger begins = new AtomicInteger();
        final AtomicInteger ends = new AtomicInteger();

        CountingOps(IomapOps inner) {
            this.inner = inner;
        }

        @Override
        public Iomap iomapBegin(IomapInode inode, long posBytes, long lengthBytes, int opFlags) throws IOException {
            Iomap m = inner.iomapBegin(inode, posBytes, lengthBytes, opFlags);
            synchronized (open) {
                assertThat(open.add(m)).as("a mapping object begun twice").isTrue();
            }
            begins.incrementAndGet();
            return m;
        }

        @Override
        public void iomapEnd(IomapInode inode, long posBytes, long lengthBytes, long writtenBytes, int opFlags,
                Iomap iomap) throws IOException {
            synchronized (open) {
                assertThat(open.remove(iomap)).as("iomapEnd of %s that is not outstanding", iomap).isTrue();
            }
            assertThat(writtenBytes).isBetween(0L, lengthBytes);
            ends.incrementAndGet();
            inner.iomapEnd(inode, posBytes, lengthBytes, writtenBytes, opFlags, iomap);
        }

        @Override
        public boolean iomapValid(IomapInode inode, Iomap iomap) {
            return inner.iomapValid(inode, iomap);
        }
    }

    @Test
    void iomapEndIsCalledOncePerBeginThroughTheDataPath() throws IOException {
        IomapInode f = fx.createFile();
        byte[] model = sparseFile(f, 64);
        CountingOps ops = new CountingOps(fx.ops());
        byte[] w = randomBytes(10 * bs + 123);
        long pos = 3L * bs + 77;
        assertThat(BufferedIo.write(f, pos, ByteBuffer.wrap(w), ops)).isEqualTo(w.length);
        System.arraycopy(w, 0, model, (int) pos, w.length);
        BufferedIo.zeroRange(f, 40L * bs + 5, 3L * bs, ops);
        Arrays.fill(model, 40 * bs + 5, 43 * bs + 5, (byte) 0);
        fx.writebackAndDrop(f);
        ByteBuffer all = ByteBuffer.allocate(model.length);
        while (all.hasRemaining()) {
            int n = BufferedIo.read(f, all.position(), all, ops);
            assertThat(n).as("read progress").isPositive();
        }
        assertThat(all.array()).as("contents through the data path (seed %d)", seed).isEqualTo(model);
        assertThat(ops.begins.get()).isPositive();
        assertThat(ops.ends.get()).as("one iomapEnd per iomapBegin").isEqualTo(ops.begins.get());
        assertThat(ops.open).as("no mapping left open").isEmpty();
    }

    @Test
    void theValidityCookieStopsHoldingWhenTheMappingChanges() throws IOException {
        IomapInode f = fx.createFile();
        fx.write(f, 0, randomBytes(4 * bs));
        fx.truncate(f, 64L * bs);
        fx.writebackAndDrop(f);
        Iomap hole = begin(f, 20L * bs, bs, 0);
        end(f, 20L * bs, bs, 0, 0, hole);
        assertThat(hole.type()).isEqualTo(IomapType.HOLE);
        assertThat(fx.ops().iomapValid(f, hole)).as("nothing changed yet").isTrue();
        fx.write(f, 20L * bs, randomBytes(bs));
        fx.writebackAndDrop(f);
        assertThat(fx.ops().iomapValid(f, hole)).as("the hole was filled").isFalse();
        Iomap data = begin(f, 20L * bs, bs, 0);
        end(f, 20L * bs, bs, 0, 0, data);
        assertThat(data.type()).isNotEqualTo(IomapType.HOLE);
        assertThat(fx.ops().iomapValid(f, data)).isTrue();
        fx.truncate(f, 2L * bs);
        assertThat(fx.ops().iomapValid(f, data)).as("the block was freed by a truncate").isFalse();
    }

    /** Fills free space with 0xA5 through a scratch file that is then removed. */
    private void scribbleFreeSpace(int blocks) throws IOException {
        IomapInode g = fx.createFile();
        byte[] junk = new byte[blocks * bs];
        Arrays.fill(junk, (byte) 0xA5);
        fx.write(g, 0, junk);
        fx.writebackAndDrop(g);
        fx.remove(g);
    }

    private byte[] readThroughDataPath(IomapInode f, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            if (BufferedIo.read(f, pos + b.position(), b, fx.ops()) == 0) {
                break;
            }
        }
        return Arrays.copyOf(b.array(), b.position());
    }

    @Test
    void holesUnwrittenAndDelallocReadAsZeroesOverStaleDeviceContents() throws IOException {
        scribbleFreeSpace(256);
        IomapInode f = fx.createFile();
        fx.truncate(f, 128L * bs);
        assertThat(readThroughDataPath(f, 0, 128 * bs)).as("a file that is one hole").containsOnly(0);
        // Reserve storage the way a write does and commit it unwritten-to: only UNWRITTEN and DELALLOC
        // promise zeroes (MAPPED|NEW tells the caller to write or zero it).
        long pos = 16L * bs;
        Iomap m = begin(f, pos, 32L * bs, IomapOpFlags.WRITE);
        long len = Math.min(m.endBytes(), 48L * bs) - pos;
        end(f, pos, 32L * bs, len, IomapOpFlags.WRITE, m);
        if (m.type() == IomapType.UNWRITTEN || m.type() == IomapType.DELALLOC) {
            assertThat(readThroughDataPath(f, pos, (int) len)).as("%s reads as zeroes", m).containsOnly(0);
            Iomap again = begin(f, pos, len, 0);
            end(f, pos, len, 0, 0, again);
            assertThat(again.type()).as("the reservation is still unwritten").isIn(IomapType.UNWRITTEN,
                    IomapType.DELALLOC);
        }
        assertThat(readThroughDataPath(f, 64L * bs, 64 * bs)).as("the rest is still a hole").containsOnly(0);
    }

    /**
     * Protected so that an implementation with a known bug here can override it with {@code @Disabled}.
     *
     * @throws IOException if the filesystem under test fails
     */
    @Test
    protected void aWriteMappingEndedUnusedLeavesNoStaleDataReadable() throws IOException {
        scribbleFreeSpace(256);
        IomapInode f = fx.createFile();
        fx.truncate(f, 128L * bs);
        long pos = 8L * bs;
        Iomap m = begin(f, pos, 16L * bs, IomapOpFlags.WRITE);
        assertThat(m.type()).as("a write gets storage it may write").isNotEqualTo(IomapType.HOLE);
        end(f, pos, 16L * bs, 0, IomapOpFlags.WRITE, m); // the operation wrote nothing
        assertThat(readThroughDataPath(f, 0, 128 * bs)).as("after an unused %s (seed %d)", m, seed)
                .containsOnly(0);
    }
}
