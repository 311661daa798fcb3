package org.iomap4j.nio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.iomap4j.block.BlockDevice;
import org.iomap4j.block.FileBlockDevice;
import org.iomap4j.block.MappedBlockDevice;
import org.iomap4j.iomap.Fiemap;
import org.iomap4j.iomap.FiemapExtent;
import org.iomap4j.ext.ExtFileSystem;
import org.iomap4j.ext.ExtFormat;
import org.iomap4j.ext.ExtFormatOptions;
import org.iomap4j.ext.ExtMountOptions;

/**
 * The only ext-specific code of the provider: recognising an ext image, creating one, and mounting one as a
 * {@link org.iomap4j.vfs.Vfs}. Everything else in this package works on the Vfs contract alone.
 *
 * <p>Superblock facts (Documentation/filesystems/ext4/super.rst): the primary superblock is at byte 1024;
 * s_magic (le16 0xEF53) at +0x38, s_feature_compat at +0x5C, s_feature_incompat at +0x60, s_volume_name (16
 * bytes) at +0x78. COMPAT_HAS_JOURNAL is 0x4; INCOMPAT_EXTENTS 0x40, INCOMPAT_64BIT 0x80, INCOMPAT_FLEX_BG 0x200.
 *
 * <p>Locking: a read-write mount holds an exclusive POSIX record lock on the whole image file, a read-only mount
 * a shared one, taken through the device's own channel (closing any other descriptor of the file would drop it).
 * The same lock is what {@code iomapfs mount} and {@code iomapfs cp} take, so a mounted image is never opened for
 * writing twice, in this JVM or another process.
 */
final class ExtImages {
    private ExtImages() {}

    private static final int SB_OFFSET_BYTES = 1024;
    private static final int MAGIC = 0xEF53;

    /** True if {@code image} is a regular file holding an ext2/3/4 superblock magic at byte 1024+0x38. */
    static boolean isExtImage(Path image) throws IOException {
        if (!Files.isRegularFile(image) || Files.size(image) < SB_OFFSET_BYTES + 1024) {
            return false;
        }
        return superblock(image).getShort(0x38) == (short) MAGIC;
    }

    private static ByteBuffer superblock(Path image) throws IOException {
        ByteBuffer sb = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            while (sb.hasRemaining() && ch.read(sb, SB_OFFSET_BYTES + sb.position()) > 0) {
                // reading the whole superblock
            }
        }
        return sb;
    }

    /** "ext4" if the image uses extents, 64bit or flex_bg; "ext3" if it has a journal; else "ext2". */
    static String type(ByteBuffer sb) {
        int compat = sb.getInt(0x5C);
        int incompat = sb.getInt(0x60);
        if ((incompat & (0x40 | 0x80 | 0x200)) != 0) {
            return "ext4";
        }
        return (compat & 0x4) != 0 ? "ext3" : "ext2";
    }

    /**
     * Creates a new image file of {@code sizeBytes} (sparse) and formats it as ext2.
     *
     * @param blockSizeBytes 1024, 2048 or 4096
     * @throws java.nio.file.FileAlreadyExistsException if the file exists and is not empty
     */
    static void create(Path image, long sizeBytes, int blockSizeBytes) throws IOException {
        if (Files.exists(image) && Files.size(image) > 0) {
            throw new java.nio.file.FileAlreadyExistsException(image.toString(), null, "image exists and is not empty");
        }
        try (FileBlockDevice dev = FileBlockDevice.create(image, sizeBytes)) {
            ExtFormat.format(dev, ExtFormatOptions.defaults().withBlockSize(blockSizeBytes));
            dev.flush();
        }
    }

    /**
     * Mounts {@code image} with the options of {@code env} ({@link EnvOptions}), locking it first.
     *
     * @throws ImageInUseException if the image is locked (mounted by this JVM or by another process)
     */
    static MountedVfs mount(Path image, EnvOptions env) throws IOException {
        ByteBuffer sb = superblock(image);
        String type = type(sb);
        String label = label(sb);
        ExtMountOptions opts = ExtMountOptions.defaults().withReadOnly(env.readOnly()).withDax(env.dax())
                .withNoatime(env.noatime());
        if (env.cacheBytes() > 0) {
            opts = opts.withCache(env.cacheBytes(), opts.maxFolioBytes());
        }
        if (env.directReadMinBytes() >= 0) {
            opts = opts.withDirectReadMin(env.directReadMinBytes());
        }
        BlockDevice dev;
        FileChannel channel;
        if (opts.dax()) {
            MappedBlockDevice m = MappedBlockDevice.open(image, env.readOnly());
            dev = m;
            channel = m.channel();
        } else {
            FileBlockDevice f = FileBlockDevice.open(image, env.readOnly());
            if (opts.directReadMinBytes() > 0) {
                f.enableDirectReads(opts.directReadMinBytes());
            }
            dev = f;
            channel = f.channel();
        }
        FileLock lock = null;
        try {
            lock = lock(channel, image, env.readOnly());
            ExtFileSystem fs;
            try {
                fs = ExtFileSystem.mount(dev, opts);
            } catch (org.iomap4j.FsException e) {
                // unsupported features, a damaged superblock or group descriptor: name the image
                FileSystemException x = new FileSystemException(image.toString(), null,
                        "cannot mount " + type + " image: " + e.errno().description() + " (" + e.getMessage() + ")");
                x.initCause(e);
                throw x;
            }
            FileLock held = lock;
            BlockDevice device = dev;
            ExtFileSystem mountedFs = fs;
            MountedVfs.DaxMap dax = device instanceof MappedBlockDevice mapped
                    ? (ino, off, size, writable) -> daxSegment(mountedFs, mapped, ino, off, size, writable) : null;
            MountedVfs m = new MountedVfs(fs, type, label, fs.isReadOnly(), () -> {
                try {
                    if (held.isValid()) {
                        held.release();
                    }
                } finally {
                    device.close();
                }
            }, dax);
            lock = null;
            dev = null;
            return m;
        } finally {
            if (lock != null) {
                lock.release();
            }
            if (dev != null) {
                dev.close();
            }
        }
    }

    /**
     * {@link MountedVfs.DaxMap} of a dax mount: the file's extents over the range (fiemap, after writing back
     * anything dirty) must be MAPPED blocks that follow each other on disk, starting at a block boundary; the slice
     * of the image's mapping at their address is returned. The blocks stay the file's only while the caller does not
     * truncate or punch the range (as with DAX in the kernel without layout leases).
     */
    private static MemorySegment daxSegment(ExtFileSystem fs, MappedBlockDevice dev, long ino, long offsetBytes,
            long sizeBytes, boolean writable) throws IOException {
        int bs = fs.statfs().blockSizeBytes();
        if (offsetBytes % bs != 0) {
            throw new UnsupportedOperationException("map offset " + offsetBytes + " of inode " + ino
                    + " is not a multiple of the block size " + bs + " (DAX maps whole blocks)");
        }
        MemorySegment image = writable ? dev.segment() : dev.segment().asReadOnly();
        if (sizeBytes == 0) {
            return image.asSlice(0, 0);
        }
        long end = offsetBytes + sizeBytes;
        long phys = -1;
        long next = offsetBytes; // the next file byte that must follow on disk
        int bad = FiemapExtent.UNWRITTEN | FiemapExtent.DELALLOC | FiemapExtent.DATA_INLINE | FiemapExtent.UNKNOWN
                | FiemapExtent.NOT_ALIGNED | FiemapExtent.SHARED;
        for (FiemapExtent e : fs.fiemap(ino, offsetBytes, sizeBytes, Fiemap.FLAG_SYNC)) {
            long eEnd = e.logicalBytes() + e.lengthBytes();
            if (eEnd <= next) {
                continue;
            }
            if (e.logicalBytes() > next || (e.flags() & bad) != 0
                    || (phys >= 0 && e.physicalBytes() + (next - e.logicalBytes()) != phys + (next - offsetBytes))) {
                break;
            }
            if (phys < 0) {
                phys = e.physicalBytes() + (offsetBytes - e.logicalBytes());
            }
            next = eEnd;
            if (next >= end) {
                return image.asSlice(phys, sizeBytes);
            }
        }
        throw new UnsupportedOperationException("bytes " + offsetBytes + "+" + sizeBytes + " of inode " + ino
                + " are not one contiguous run of written blocks on disk (a hole, unwritten or fragmented there): "
                + "FileChannel.map cannot map them; read and write through the channel");
    }

    private static String label(ByteBuffer sb) {
        byte[] raw = new byte[16];
        sb.get(0x78, raw);
        int n = 0;
        while (n < raw.length && raw[n] != 0) {
            n++;
        }
        return new String(raw, 0, n, StandardCharsets.UTF_8);
    }

    private static FileLock lock(FileChannel channel, Path image, boolean shared) throws IOException {
        FileLock l;
        try {
            l = channel.tryLock(0, Long.MAX_VALUE, shared);
        } catch (OverlappingFileLockException e) {
            throw new ImageInUseException(image.toString(), "image is already open in this JVM");
        }
        if (l == null) {
            throw new ImageInUseException(image.toString(),
                    "image is locked by another process (mounted by iomapfs, or open for writing)");
        }
        return l;
    }
}
