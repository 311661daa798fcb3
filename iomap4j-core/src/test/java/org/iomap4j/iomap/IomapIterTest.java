package org.iomap4j.iomap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.pagecache.AddressSpace;
import org.junit.jupiter.api.Test;

/** The iterator's rules: end exactly once per begin, no infinite loops, bad mappings fail with EIO. */
class IomapIterTest {

    private static final IomapInode INODE = new IomapInode() {
        @Override
        public long ino() {
            return 7;
        }

        @Override
        public long sizeBytes() {
            return 1 << 20;
        }

        @Override
        public void setSizeBytes(long newSizeBytes) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int blockSizeBytes() {
            return 4096;
        }

        @Override
        public AddressSpace mapping() {
            return null;
        }
    };

    /** Records begins and ends; maps with {@code mapper}. */
    private static final class RecordingOps implements IomapOps {
        final List<String> calls = new ArrayList<>();
        final java.util.function.LongFunction<Iomap> mapper;

        RecordingOps(java.util.function.LongFunction<Iomap> mapper) {
            this.mapper = mapper;
        }

        @Override
        public Iomap iomapBegin(IomapInode inode, long posBytes, long lengthBytes, int opFlags) {
            calls.add("begin " + posBytes + "+" + lengthBytes);
            return mapper.apply(posBytes);
        }

        @Override
        public void iomapEnd(IomapInode inode, long posBytes, long lengthBytes, long writtenBytes, int opFlags,
                Iomap iomap) {
            calls.add("end " + posBytes + "+" + lengthBytes + " written " + writtenBytes);
        }

        long begins() {
            return calls.stream().filter(c -> c.startsWith("begin")).count();
        }

        long ends() {
            return calls.stream().filter(c -> c.startsWith("end")).count();
        }
    }

    private static Iomap hole4k(long pos) {
        return Iomap.hole(pos & ~4095L, 4096, 0);
    }

    @Test
    void walksMappingsAndEndsEachOnceWithBytesProcessed() throws IOException {
        RecordingOps ops = new RecordingOps(IomapIterTest::hole4k);
        long done = IomapIter.run(INODE, 1000, 10000, 0, ops, it -> it.advance(it.length()));
        assertThat(done).isEqualTo(10000);
        assertThat(ops.calls).containsExactly("begin 1000+10000", "end 1000+3096 written 3096",
                "begin 4096+6904", "end 4096+4096 written 4096", "begin 8192+2808", "end 8192+2808 written 2808");
    }

    @Test
    void noProgressAndNotStaleStops() throws IOException {
        RecordingOps ops = new RecordingOps(IomapIterTest::hole4k);
        long done = IomapIter.run(INODE, 0, 100000, 0, ops, it -> { });
        assertThat(done).isZero();
        assertThat(ops.begins()).isEqualTo(1);
        assertThat(ops.ends()).isEqualTo(1);
    }

    @Test
    void staleMappingIsRemappedAtSamePositionButBounded() throws IOException {
        RecordingOps ops = new RecordingOps(IomapIterTest::hole4k);
        int[] n = {0};
        long done = IomapIter.run(INODE, 0, 4096, 0, ops, it -> {
            if (n[0]++ < 3) {
                it.markStale();
            } else {
                it.advance(it.length());
            }
        });
        assertThat(done).isEqualTo(4096);
        assertThat(ops.begins()).isEqualTo(4);
        assertThat(ops.calls).filteredOn(c -> c.startsWith("begin")).containsOnly("begin 0+4096");

        RecordingOps forever = new RecordingOps(IomapIterTest::hole4k);
        assertThatThrownBy(() -> IomapIter.run(INODE, 0, 4096, 0, forever, IomapIter::markStale))
                .isInstanceOf(FsException.class).hasMessageContaining("stale");
        assertThat(forever.begins()).isEqualTo(IomapIter.MAX_STALE_RETRIES + 1);
        assertThat(forever.ends()).isEqualTo(forever.begins());
    }

    @Test
    void mappingNotCoveringPosFailsWithEioAndIsEnded() {
        RecordingOps ops = new RecordingOps(pos -> Iomap.hole(pos + 4096, 4096, 0));
        assertThatThrownBy(() -> IomapIter.run(INODE, 0, 4096, 0, ops, it -> it.advance(it.length())))
                .isInstanceOf(FsException.class).satisfies(e -> assertThat(((FsException) e).errno())
                        .isEqualTo(Errno.EIO)).hasMessageContaining("does not cover");
        assertThat(ops.ends()).isEqualTo(1);
    }

    @Test
    void advancePastMappingLengthFailsWithEioAndIsEnded() {
        RecordingOps ops = new RecordingOps(IomapIterTest::hole4k);
        assertThatThrownBy(() -> IomapIter.run(INODE, 0, 8192, 0, ops, it -> it.advance(it.length() + 1)))
                .isInstanceOf(FsException.class).hasMessageContaining("past mapping");
        assertThat(ops.begins()).isEqualTo(1);
        assertThat(ops.ends()).isEqualTo(1);
    }

    @Test
    void bodyExceptionEndsTheMappingExactlyOnceWithPartialProgress() {
        RecordingOps ops = new RecordingOps(IomapIterTest::hole4k);
        assertThatThrownBy(() -> IomapIter.run(INODE, 0, 8192, 0, ops, it -> {
            if (it.pos() == 4096) {
                it.advance(100);
                throw new FsException(Errno.ENOSPC, "full");
            }
            it.advance(it.length());
        })).isInstanceOf(FsException.class).hasMessage("full");
        assertThat(ops.calls).containsExactly("begin 0+8192", "end 0+4096 written 4096", "begin 4096+4096",
                "end 4096+4096 written 100");
    }

    @Test
    void iomapBeginErrorIsNotEnded() {
        IomapOps ops = new IomapOps() {
            @Override
            public Iomap iomapBegin(IomapInode inode, long posBytes, long lengthBytes, int opFlags)
                    throws IOException {
                throw new FsException(Errno.ENOSPC, "no space");
            }

            @Override
            public void iomapEnd(IomapInode inode, long posBytes, long lengthBytes, long writtenBytes, int opFlags,
                    Iomap iomap) {
                throw new AssertionError("end without begin");
            }
        };
        assertThatThrownBy(() -> IomapIter.run(INODE, 0, 10, IomapOpFlags.WRITE, ops, it -> it.advance(1)))
                .isInstanceOf(FsException.class).hasMessage("no space");
    }

    @Test
    void srcmapClampsLengthAndReadMapPrefersIt() throws IOException {
        RecordingOps ops = new RecordingOps(pos -> Iomap.builder(IomapType.DELALLOC, 0, 16384)
                .srcmap(Iomap.hole(0, 4096, 0)).build());
        IomapIter.run(INODE, 0, 16384, IomapOpFlags.WRITE, ops, it -> {
            assertThat(it.length()).as("a HOLE srcmap does not clamp").isEqualTo(16384);
            assertThat(it.readMap()).isSameAs(it.iomap());
            it.advance(it.length());
        });
        Iomap src = Iomap.builder(IomapType.INLINE, 0, 4096).inlineData(new byte[4096]).build();
        RecordingOps ops2 = new RecordingOps(pos -> pos < 4096
                ? Iomap.builder(IomapType.DELALLOC, 0, 16384).srcmap(src).build()
                : Iomap.builder(IomapType.DELALLOC, 4096, 12288).build());
        IomapIter.run(INODE, 0, 16384, IomapOpFlags.WRITE, ops2, it -> {
            if (it.pos() == 0) {
                assertThat(it.length()).as("clamped to the srcmap").isEqualTo(4096);
                assertThat(it.readMap()).isSameAs(src);
            }
            it.advance(it.length());
        });
        assertThat(ops2.calls).containsExactly("begin 0+16384", "end 0+16384 written 4096", "begin 4096+12288",
                "end 4096+12288 written 12288");
    }

    @Test
    void coreFlagsAreKeptApartFromFilesystemFlags() {
        assertThat(IomapFlags.FS_MASK & IomapFlags.CORE_MASK).isZero();
        assertThatThrownBy(() -> Iomap.builder(IomapType.HOLE, 0, 1).flags(IomapFlags.STALE).build())
                .isInstanceOf(IllegalArgumentException.class);
        Iomap m = Iomap.hole(0, 4096, 0);
        m.setCoreFlag(IomapFlags.SIZE_CHANGED);
        assertThat(m.hasFlag(IomapFlags.SIZE_CHANGED)).isTrue();
        assertThatThrownBy(() -> m.setCoreFlag(IomapFlags.NEW)).isInstanceOf(IllegalArgumentException.class);
    }
}
