package org.iomap4j.jbd2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import org.iomap4j.block.MemoryBlockDevice;

/**
 * A journal in memory for tests that need no tools: a device of {@code deviceBlocks} blocks whose journal occupies
 * {@code [journalPblk, journalPblk + journalBlocks)}, formatted with a clean v2 superblock laid out as
 * Documentation/filesystems/ext4/journal.rst describes (the same fields mke2fs writes: s_first 1, s_sequence 1).
 */
final class MemoryJournals {
    private MemoryJournals() {}

    record Fixture(MemoryBlockDevice device, JournalMap map, int blockSizeBytes) {
        byte[] snapshot() {
            return device.toByteArray();
        }

        MemoryBlockDevice copy() throws IOException {
            byte[] all = device.toByteArray();
            MemoryBlockDevice d = new MemoryBlockDevice(all.length);
            d.write(0, ByteBuffer.wrap(all));
            return d;
        }
    }

    static Fixture create(int bs, long deviceBlocks, long journalPblk, long journalBlocks, Random rnd)
            throws IOException {
        MemoryBlockDevice dev = new MemoryBlockDevice(deviceBlocks * bs);
        byte[] sb = new byte[bs];
        ByteBuffer b = ByteBuffer.wrap(sb);
        b.putInt(0, JournalFormat.MAGIC).putInt(4, JournalFormat.BLOCKTYPE_SUPERBLOCK_V2);
        b.putInt(JournalFormat.SB_BLOCKSIZE, bs).putInt(JournalFormat.SB_MAXLEN, (int) journalBlocks);
        b.putInt(JournalFormat.SB_FIRST, 1).putInt(JournalFormat.SB_SEQUENCE, 1).putInt(JournalFormat.SB_START, 0);
        byte[] uuid = new byte[16];
        rnd.nextBytes(uuid);
        b.put(JournalFormat.SB_UUID, uuid);
        b.putInt(JournalFormat.SB_NR_USERS, 1);
        dev.write(journalPblk * bs, ByteBuffer.wrap(sb));
        return new Fixture(dev, JournalMap.contiguous(journalPblk, journalBlocks), bs);
    }
}
