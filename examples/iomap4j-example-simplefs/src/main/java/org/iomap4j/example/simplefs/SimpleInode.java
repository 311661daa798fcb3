package org.iomap4j.example.simplefs;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.pagecache.AddressSpace;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;

/**
 * A simplefs file. On disk a 512-byte slot of the inode table (little-endian): {@code 0 u32 mode} (0 = free),
 * {@code 4 u32 uid}, {@code 8 u32 gid}, {@code 16 u64 size}, {@code 24/32/40 u64 atime/mtime/ctime} (seconds),
 * {@code 48 u32[16] map blocks}, {@code 112 u16 name length}, {@code 114 name} (UTF-8, 1..255 bytes). Map block
 * {@code k} holds 1024 u32 physical block numbers of logical blocks {@code [1024k, 1024k + 1024)}; 0 is a hole.
 * {@link #map}, {@link #mapBlk}, {@link #seq} and {@link #blocks} are guarded by this object's monitor.
 */
final class SimpleInode extends GenericVfs.FileInode {
    static final int SLOT_BYTES = 512, MAP_BLOCKS = 16, PER_MAP = SimpleFs.BLOCK / 4;

    private final SimpleFs fs;
    final String name;
    private volatile long size;
    /** Logical block to physical block, 0 = hole. */
    final int[] map = new int[MAP_BLOCKS * PER_MAP];
    /** The blocks holding {@link #map} on disk, 0 = none (all holes). */
    final int[] mapBlk = new int[MAP_BLOCKS];
    /** The validity cookie: bumped on every change of {@link #map}. */
    volatile long seq;
    /** Data and map blocks in use. */
    int blocks;

    SimpleInode(SimpleFs fs, long ino, String name, int mode) {
        super(ino);
        this.fs = fs;
        this.name = name;
        this.mode = mode;
    }

    @Override
    protected AddressSpace createMapping() {
        return fs.cache().createMapping(this, fs.mapping);
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public void setSizeBytes(long newSizeBytes) {
        size = newSizeBytes;
        fs.icache().writeback().markInodeDirty(this);
    }

    @Override
    public int blockSizeBytes() {
        return SimpleFs.BLOCK;
    }

    @Override
    public synchronized InodeAttr attr() {
        return new InodeAttr(ino(), mode, 1, uid, gid, 0, size, blocks * (SimpleFs.BLOCK / 512L), SimpleFs.BLOCK,
                atime, 0, mtime, 0, ctime, 0, 0);
    }

    /** Decodes slot {@code b} of inode {@code ino}: null for a free slot; map blocks are read by the caller. */
    static SimpleInode decode(SimpleFs fs, long ino, ByteBuffer b) throws CorruptFilesystemException {
        int nameLen = Short.toUnsignedInt(b.getShort(112));
        long size = b.getLong(16);
        if (b.getInt(0) == 0) {
            return null;
        } else if (!FileMode.isRegular(b.getInt(0)) || nameLen == 0 || nameLen > 255 || size < 0
                || size > SimpleFs.MAX_BYTES) {
            throw new CorruptFilesystemException("simplefs inode " + ino + ": bad mode, name length or size " + size);
        }
        SimpleInode i = new SimpleInode(fs, ino, new String(b.array(), 114, nameLen, StandardCharsets.UTF_8),
                b.getInt(0));
        i.uid = b.getInt(4);
        i.gid = b.getInt(8);
        i.size = size;
        i.atime = b.getLong(24);
        i.mtime = b.getLong(32);
        i.ctime = b.getLong(40);
        b.position(48).asIntBuffer().get(i.mapBlk);
        return i;
    }

    /** Encodes this inode into slot {@code b}; caller holds the monitor. */
    void encode(ByteBuffer b) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        b.putInt(0, mode).putInt(4, uid).putInt(8, gid).putLong(16, size).putLong(24, atime).putLong(32, mtime)
                .putLong(40, ctime).putShort(112, (short) n.length).put(114, n);
        b.position(48).asIntBuffer().put(mapBlk);
    }
}
