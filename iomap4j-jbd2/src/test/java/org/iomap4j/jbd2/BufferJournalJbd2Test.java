package org.iomap4j.jbd2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.ForwardingBlockDevice;
import org.iomap4j.block.MemoryBlockDevice;
import org.iomap4j.buf.Buffer;
import org.iomap4j.buf.BufferCache;
import org.iomap4j.buf.BufferJournal;
import org.iomap4j.buf.JournalHandle;
import org.junit.jupiter.api.Test;

/**
 * The core's {@link BufferJournal} writing jbd2's format through {@link Jbd2Log}: a seeded workload of handles
 * (rewrites, frees with revoke, reuse) with commits small enough that the 64-block log fills and is checkpointed
 * many times; the device's writes are recorded, and the image after every prefix of them (a crash after any
 * write; the memory device has no volatile cache) is replayed by {@link JournalRecovery}: it must hold exactly the
 * blocks of one committed transaction, at least the last one whose commit had returned.
 */
class BufferJournalJbd2Test {
    private static final int BS = 1024;
    private static final long DATA = 2000;
    private static final int NDATA = 60;

    static final class Recording extends ForwardingBlockDevice {
        final List<long[]> addrs = new ArrayList<>();
        final List<byte[]> datas = new ArrayList<>();

        Recording(BlockDevice inner) {
            super(inner);
        }

        @Override
        public synchronized void write(long devAddrBytes, ByteBuffer src) throws IOException {
            byte[] d = new byte[src.remaining()];
            src.duplicate().get(d);
            addrs.add(new long[] {devAddrBytes});
            datas.add(d);
            super.write(devAddrBytes, src);
        }
    }

    @Test
    void everyCrashPointReplaysToACommittedTransaction() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        MemoryJournals.Fixture fx = MemoryJournals.create(BS, 4096, 100, 64, rnd);
        byte[] base = fx.snapshot();
        Recording dev = new Recording(fx.device());
        JournalWriter w = JournalWriter.open(dev, fx.map(), BS, JournalWriter.Features.CSUM_V3_64BIT);
        int openWrites = dev.addrs.size();
        Jbd2Log log = new Jbd2Log(w);
        BufferCache cache = new BufferCache(dev, BS, 1 << 20);
        BufferJournal j = BufferJournal.attach(cache, log, null, Duration.ofHours(1));

        byte[][] model = new byte[NDATA][BS];
        Map<Long, byte[][]> modelAt = new HashMap<>();
        Map<Long, Integer> returnedAt = new HashMap<>();
        long firstTid = j.runningTid();
        modelAt.put(firstTid - 1, deepCopy(model));
        for (int round = 0; round < 60; round++) {
            int handles = 1 + rnd.nextInt(3);
            for (int hnd = 0; hnd < handles; hnd++) {
                try (JournalHandle h = j.start(4)) {
                    int n = 1 + rnd.nextInt(4);
                    for (int k = 0; k < n; k++) {
                        int i = rnd.nextInt(NDATA);
                        if (rnd.nextInt(8) == 0) {
                            h.revoke(DATA + i); // freed: its bytes are undefined until it is written again
                            model[i] = null;
                            continue;
                        }
                        try (Buffer b = cache.read(DATA + i)) {
                            b.lock();
                            try {
                                rnd.nextBytes(b.array());
                                if (rnd.nextInt(10) == 0) { // needs escaping in the log
                                    ByteBuffer.wrap(b.array()).putInt(0, JournalFormat.MAGIC);
                                }
                                b.markDirty();
                                model[i] = b.array().clone();
                            } finally {
                                b.unlock();
                            }
                        }
                    }
                }
            }
            long tid = j.runningTid();
            j.commitAll();
            modelAt.put(tid, deepCopy(model));
            returnedAt.put(tid, dev.addrs.size());
        }
        j.close();
        int total = dev.addrs.size();
        System.out.println("workload: " + total + " device writes, commits/checkpoints " + Arrays.toString(j.stats()));
        assertThat(j.stats()[1]).as("the log filled and was checkpointed").isGreaterThan(3);

        int checked = 0;
        for (int k = openWrites; k <= total; k++) {
            MemoryBlockDevice crash = new MemoryBlockDevice(base.length);
            crash.write(0, ByteBuffer.wrap(base));
            for (int x = 0; x < k; x++) {
                crash.write(dev.addrs.get(x)[0], ByteBuffer.wrap(dev.datas.get(x)));
            }
            RecoveryResult r = JournalRecovery.replay(crash, fx.map(), BS);
            long durable = firstTid - 1;
            for (Map.Entry<Long, Integer> e : returnedAt.entrySet()) {
                if (e.getValue() <= k) {
                    durable = Math.max(durable, e.getKey());
                }
            }
            long got = r.needed() ? r.endTid() - 1 + (firstTid - Integer.toUnsignedLong((int) firstTid)) : durable;
            assertThat(got).as("crash after write %d: replayed through %s", k, r).isGreaterThanOrEqualTo(durable);
            byte[][] want = modelAt.get(got);
            assertThat(want).as("crash after write %d: tid %d", k, got).isNotNull();
            for (int i = 0; i < NDATA; i++) {
                if (want[i] == null) {
                    continue;
                }
                ByteBuffer b = ByteBuffer.allocate(BS);
                crash.read((DATA + i) * BS, b);
                assertThat(Arrays.equals(b.array(), want[i])).as("crash after write %d (tid %d, %s): block %d", k,
                        got, r, DATA + i).isTrue();
            }
            checked++;
        }
        System.out.println(checked + " crash points replayed and checked");
    }

    private static byte[][] deepCopy(byte[][] m) {
        byte[][] c = new byte[m.length][];
        for (int i = 0; i < m.length; i++) {
            c[i] = m[i] == null ? null : m[i].clone();
        }
        return c;
    }
}
