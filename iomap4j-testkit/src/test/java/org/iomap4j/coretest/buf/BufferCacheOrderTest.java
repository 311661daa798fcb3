package org.iomap4j.coretest.buf;

import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.testkit.block.TracingBlockDevice;
import org.junit.jupiter.api.Test;

/**
 * Ordered metadata writeback: blocks that were never on disk go first, then the other non-root blocks, then the
 * roots, with a device flush between the phases — whatever their addresses (address order alone would write the
 * low root first and a crash could leave it pointing at an unwritten block).
 */
class BufferCacheOrderTest {
    @Test
    void freshBlocksThenOthersThenRoots_withFlushesBetween() throws Exception {
        int bs = 1024;
        TracingBlockDevice dev = new TracingBlockDevice(new MemoryBlockDevice(1 << 20, 512));
        try (BufferCache cache = new BufferCache(dev, bs, 64 << 10)) {
            long root = 5;     // e.g. an inode-table block (lowest address)
            long existing = 9; // e.g. an indirect block already on disk
            long fresh = 30;   // e.g. a newly allocated indirect block
            for (long pblk : new long[] {root, existing}) {
                try (Buffer b = cache.read(pblk)) {
                    b.lock();
                    b.array()[0] = 1;
                    b.markDirty();
                    b.unlock();
                }
            }
            try (Buffer b = cache.getZeroed(fresh)) {
                b.lock();
                b.array()[0] = 2;
                b.markDirty();
                b.unlock();
            }
            dev.trace().clear();
            cache.syncDirtyOrdered(pblk -> pblk == root);
            List<String> t = dev.trace();
            assertThat(t).containsExactly("WRITE " + fresh * bs + "+" + bs, "FLUSH", "WRITE " + existing * bs + "+" + bs,
                    "FLUSH", "WRITE " + root * bs + "+" + bs);
            assertThat(cache.dirtyCount()).isZero();
        }
    }
}
