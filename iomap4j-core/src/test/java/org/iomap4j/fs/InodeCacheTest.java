package org.iomap4j.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.pagecache.PageCache;
import org.iomap4j.pagecache.PageCacheConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The generic inode cache against a model "disk" (a map of inode number to the value last written): iget caches,
 * pins keep an inode, forget evicts a clean inode and keeps a dirty one pending until it is written, unlinked
 * inodes are freed once by their last user, the unused-inode LRU and the pending-eviction batch stay bounded.
 * What the cache hands out after an eviction is always what was last written to the disk.
 */
class InodeCacheTest {
    private final PageCache pageCache = new PageCache(new PageCacheConfig(8L << 20, 64 << 10, 4L << 20, 0));
    private final Disk disk = new Disk();
    private final InodeCache<MemInode> cache = new InodeCache<>(disk, pageCache, false, "inode-cache-test-flush");

    @AfterEach
    void close() {
        cache.writeback().shutdown();
        pageCache.close();
    }

    /** An in-memory inode whose one field stands for the on-disk inode. */
    static final class MemInode extends Inode {
        volatile long value;

        MemInode(long ino, long value) {
            super(ino);
            this.value = value;
        }

        void markUnlinked() {
            setUnlinked();
        }

        @Override
        protected AddressSpace createMapping() {
            throw new UnsupportedOperationException("no data in this test");
        }

        @Override
        public long sizeBytes() {
            return 0;
        }

        @Override
        public void setSizeBytes(long newSizeBytes) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int blockSizeBytes() {
            return 4096;
        }
    }

    /** The model disk and the filesystem's inode operations over it. */
    final class Disk implements SuperOperations<MemInode> {
        final Map<Long, Long> values = new ConcurrentHashMap<>();
        final AtomicInteger reads = new AtomicInteger();
        final AtomicInteger writes = new AtomicInteger();
        final List<Long> freed = new ArrayList<>();
        final List<Long> evicted = new ArrayList<>();

        @Override
        public MemInode readInode(long ino) {
            reads.incrementAndGet();
            return new MemInode(ino, values.getOrDefault(ino, 0L));
        }

        @Override
        public void writeInode(MemInode inode) {
            writes.incrementAndGet();
            values.put(inode.ino(), inode.value);
        }

        @Override
        public void evictInode(MemInode inode) {
            synchronized (evicted) {
                evicted.add(inode.ino());
            }
        }

        @Override
        public void freeInode(MemInode inode) {
            if (cache.startFreeing(inode)) {
                synchronized (freed) {
                    freed.add(inode.ino());
                }
                values.remove(inode.ino());
                cache.removeFreed(inode);
            }
        }
    }

    @Test
    void igetCachesAndForgetEvictsCleanInode() throws IOException {
        disk.values.put(5L, 50L);
        MemInode a;
        try (Pins pins = cache.pins()) {
            a = cache.iget(pins, 5);
            cache.ref(a);
            assertThat(cache.iget(pins, 5)).isSameAs(a);
        }
        assertThat(a.value).isEqualTo(50);
        assertThat(disk.reads).hasValue(1);
        assertThat(cache.peek(5)).isSameAs(a);

        cache.forget(5, 1);
        assertThat(cache.peek(5)).isNull();
        assertThat(a.isEvicted()).isTrue();
        assertThat(disk.evicted).containsExactly(5L);
        try (Pins pins = cache.pins()) {
            assertThat(cache.iget(pins, 5)).isNotSameAs(a);
        }
        assertThat(disk.reads).hasValue(2);
    }

    @Test
    void dirtyForgottenInodeStaysPendingUntilWrittenThenEvicted() throws IOException {
        MemInode a;
        try (Pins pins = cache.pins()) {
            a = cache.iget(pins, 7);
            cache.ref(a);
            a.value = 70;
            cache.writeback().markInodeDirty(a);
        }
        cache.forget(7, 1);
        assertThat(cache.peek(7)).as("a dirty inode is not evicted").isSameAs(a);
        assertThat(cache.pendingEvictionCount()).isEqualTo(1);
        assertThat(disk.values).doesNotContainKey(7L);

        cache.writeback().writeDirtyInodes();
        assertThat(disk.values).containsEntry(7L, 70L);
        assertThat(cache.peek(7)).as("evicted right after it was written").isNull();
        assertThat(cache.pendingEvictionCount()).isZero();
        try (Pins pins = cache.pins()) {
            assertThat(cache.iget(pins, 7).value).isEqualTo(70);
        }
    }

    @Test
    void pinnedInodeOutlivesItsLastReference() throws IOException {
        MemInode a;
        try (Pins op = cache.pins()) {
            a = cache.iget(op, 9);
            cache.ref(a);
            cache.forget(9, 1);
            assertThat(cache.peek(9)).as("still pinned by the operation").isSameAs(a);
        }
        assertThat(cache.peek(9)).as("the forgotten inode goes when the operation ends").isNull();
    }

    @Test
    void unlinkedInodeIsFreedOnceByItsLastUser() throws IOException {
        disk.values.put(11L, 1L);
        MemInode a;
        Pins first = cache.pins();
        try (Pins second = cache.pins()) {
            a = cache.iget(first, 11);
            cache.open(a);
            assertThat(cache.iget(second, 11)).isSameAs(a);
            a.markUnlinked();
        }
        first.close();
        assertThat(disk.freed).as("an open handle keeps it").isEmpty();
        cache.release(a);
        assertThat(disk.freed).containsExactly(11L);
        assertThat(disk.values).doesNotContainKey(11L);
        assertThat(cache.peek(11)).isNull();
        cache.release(a);
        assertThat(disk.freed).as("freed once").containsExactly(11L);
    }

    @Test
    void unusedLruKeepsTheMostRecentInodes() throws IOException {
        cache.setUnusedInodeLimit(2);
        for (long ino = 20; ino < 25; ino++) {
            try (Pins pins = cache.pins()) {
                cache.iget(pins, ino); // reached by number without a reference
            }
        }
        assertThat(cache.size()).isEqualTo(2);
        assertThat(cache.peek(23)).isNotNull();
        assertThat(cache.peek(24)).isNotNull();
        assertThat(disk.evicted).containsExactly(20L, 21L, 22L);
    }

    @Test
    void pendingEvictionsAreWrittenBackInBoundedBatches() throws IOException {
        cache.setPendingEvictionLimit(4);
        List<MemInode> dirty = new ArrayList<>();
        for (long ino = 30; ino < 40; ino++) {
            try (Pins pins = cache.pins()) {
                MemInode i = cache.iget(pins, ino);
                cache.ref(i);
                i.value = ino * 10;
                cache.writeback().markInodeDirty(i);
                dirty.add(i);
            }
        }
        cache.writeback().stopFlusher(); // forget kicks the flusher: keep this test's batches in this thread
        for (MemInode i : dirty) {
            cache.forget(i.ino(), 1);
        }
        assertThat(cache.pendingEvictionCount()).isEqualTo(10);
        cache.writeback().writebackPendingEvictions();
        assertThat(cache.pendingEvictionCount()).as("down to half the limit").isEqualTo(2);
        for (long ino = 30; ino < 38; ino++) {
            assertThat(disk.values).as("oldest first").containsEntry(ino, ino * 10);
            assertThat(cache.peek(ino)).isNull();
        }
        assertThat(disk.values).doesNotContainKeys(38L, 39L);
        cache.writeback().writeDirtyInodes();
        assertThat(disk.values).containsEntry(38L, 380L).containsEntry(39L, 390L);
        assertThat(cache.size()).isZero();
    }
}
