package org.iomap4j.testkit.exercise;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.Set;
import org.iomap4j.internal.Libc;

/**
 * An {@link ExerciseTarget} on a file in any directory of the host (an iomapfs FUSE mount, or a kernel ext2 loop
 * mount as the control). Exists so the same model checks the whole stack through the kernel.
 *
 * <p>Reads, writes, truncate and fsync use a {@link FileChannel}; O_DIRECT uses
 * {@link ExtendedOpenOption#DIRECT} with block-aligned buffers; fallocate (zero range, punch hole) and lseek
 * (SEEK_DATA/SEEK_HOLE) call Linux libc through the FFM API on a second descriptor of the same file. Each optional
 * capability is probed at {@link #open()} and dropped if the filesystem refuses it (EOPNOTSUPP/EINVAL).
 * DROP_CACHES closes and reopens the file after an fsync (the kernel's page cache of the file is dropped only if
 * {@code dropKernelCaches} is set, by writing 1 to /proc/sys/vm/drop_caches, which needs root). REMOUNT only with a
 * {@link Remounter}. Linux x86-64/aarch64 only for the FFM parts.
 */
public final class PathTarget implements ExerciseTarget {

    /** Unmounts and mounts the directory's filesystem again (called with the file closed). */
    @FunctionalInterface
    public interface Remounter {
        /**
         * Unmounts and mounts again.
         *
         * @throws IOException if either fails
         */
        void remount() throws IOException;
    }

    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int FALLOC_FL_ZERO_RANGE = 0x10;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    private static final int ENXIO = 6;

    private final Path file;
    private final int blockSizeBytes;
    private final Set<Capability> wanted;
    private final Remounter remounter;
    private final boolean dropKernelCaches;
    private final Set<Capability> caps = EnumSet.noneOf(Capability.class);
    private FileChannel ch;
    private FileChannel directCh;
    private int fd = -1;
    /** A libc descriptor {@link #fd} is in use (reopened after a remount). */
    private boolean usesLibc;

    /**
     * A target exercising {@code file} through the JDK and libc (pread/pwrite, fallocate, lseek, O_DIRECT).
     *
     * @param file             the exercised file (created or truncated by {@link #open()})
     * @param blockSizeBytes   direct I/O alignment
     * @param wanted           optional operations to probe and use
     * @param remounter        null if REMOUNT is not possible
     * @param dropKernelCaches also drop the kernel's page cache (global; root only) on DROP_CACHES
     */
    public PathTarget(Path file, int blockSizeBytes, Set<Capability> wanted, Remounter remounter,
            boolean dropKernelCaches) {
        this.file = file;
        this.blockSizeBytes = blockSizeBytes;
        this.wanted = wanted.isEmpty() ? EnumSet.noneOf(Capability.class) : EnumSet.copyOf(wanted);
        this.remounter = remounter;
        this.dropKernelCaches = dropKernelCaches;
    }

    @Override
    public String describe() {
        return "file " + file;
    }

    @Override
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    @Override
    public Set<Capability> capabilities() {
        return caps;
    }

    @Override
    public void open() throws IOException {
        ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        caps.clear();
        if (wanted.contains(Capability.DROP_CACHES)) {
            caps.add(Capability.DROP_CACHES);
        }
        if (remounter != null && wanted.contains(Capability.REMOUNT)) {
            caps.add(Capability.REMOUNT);
        }
        if (wanted.contains(Capability.DIRECT_IO)) {
            try {
                directCh = openDirect();
                caps.add(Capability.DIRECT_IO);
            } catch (IOException | UnsupportedOperationException e) {
                directCh = null; // the filesystem refuses O_DIRECT: the capability stays off
            }
        }
        if (wanted.contains(Capability.ZERO_RANGE) || wanted.contains(Capability.PUNCH_HOLE)
                || wanted.contains(Capability.SEEK_DATA_HOLE) || wanted.contains(Capability.PREALLOCATE)) {
            usesLibc = true;
            fd = Libc.open(file, Libc.O_RDWR);
            probe(Capability.ZERO_RANGE, () -> Libc.fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, blockSizeBytes));
            probe(Capability.PUNCH_HOLE, () -> Libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, blockSizeBytes));
            probe(Capability.SEEK_DATA_HOLE, () -> Libc.lseek(fd, 0, SEEK_HOLE));
            probe(Capability.PREALLOCATE, () -> Libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, blockSizeBytes));
        }
    }

    private interface Probe {
        void run() throws IOException;
    }

    private void probe(Capability cap, Probe p) throws IOException {
        if (!wanted.contains(cap)) {
            return;
        }
        try {
            p.run();
            caps.add(cap);
        } catch (Libc.ErrnoException e) {
            if (e.errno() != 95 && e.errno() != 22 && e.errno() != ENXIO) { // EOPNOTSUPP, EINVAL, ENXIO on empty file
                throw e;
            }
            if (e.errno() == ENXIO) {
                caps.add(cap);
            }
        }
    }

    private FileChannel openDirect() throws IOException {
        return FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
    }

    @Override
    public long sizeBytes() throws IOException {
        return ch.size();
    }

    @Override
    public int read(long posBytes, ByteBuffer dst) throws IOException {
        int total = 0;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, posBytes + total);
            if (n <= 0) {
                break;
            }
            total += n;
        }
        return total;
    }

    @Override
    public void write(long posBytes, ByteBuffer src) throws IOException {
        long pos = posBytes;
        while (src.hasRemaining()) {
            pos += ch.write(src, pos);
        }
    }

    @Override
    public void truncate(long sizeBytes) throws IOException {
        if (sizeBytes < ch.size()) {
            ch.truncate(sizeBytes);
        } else if (sizeBytes > ch.size()) {
            Libc.ftruncate(fdOrOpen(), sizeBytes);
        }
    }

    private int fdOrOpen() throws IOException {
        if (fd < 0) {
            usesLibc = true;
            fd = Libc.open(file, Libc.O_RDWR);
        }
        return fd;
    }

    @Override
    public void fsync() throws IOException {
        ch.force(true);
    }

    @Override
    public void zeroRange(long posBytes, long lengthBytes, boolean keepSize) throws IOException {
        Libc.fallocate(fd, FALLOC_FL_ZERO_RANGE | (keepSize ? FALLOC_FL_KEEP_SIZE : 0), posBytes, lengthBytes);
    }

    @Override
    public void allocate(long posBytes, long lengthBytes, boolean keepSize) throws IOException {
        Libc.fallocate(fd, keepSize ? FALLOC_FL_KEEP_SIZE : 0, posBytes, lengthBytes);
    }

    @Override
    public void punchHole(long posBytes, long lengthBytes) throws IOException {
        Libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, posBytes, lengthBytes);
    }

    /** A direct buffer of {@code bytes} at a block-aligned address (alignedSlice also rounds the end down). */
    private ByteBuffer alignedBuffer(int bytes) {
        int rounded = (bytes + blockSizeBytes - 1) / blockSizeBytes * blockSizeBytes;
        return ByteBuffer.allocateDirect(rounded + blockSizeBytes).alignedSlice(blockSizeBytes);
    }

    @Override
    public int directRead(long posBytes, ByteBuffer dst) throws IOException {
        ByteBuffer aligned = alignedBuffer(dst.remaining());
        aligned.limit(dst.remaining());
        int total = 0;
        while (aligned.hasRemaining()) {
            int n = directCh.read(aligned, posBytes + total);
            if (n <= 0) {
                break;
            }
            total += n;
            if (total % blockSizeBytes != 0) {
                break; // short at EOF: asking again at the unaligned EOF would be EINVAL
            }
        }
        aligned.flip();
        dst.put(aligned);
        return total;
    }

    @Override
    public void directWrite(long posBytes, ByteBuffer src) throws IOException {
        ByteBuffer aligned = alignedBuffer(src.remaining());
        aligned.limit(src.remaining());
        aligned.put(src).flip();
        long pos = posBytes;
        while (aligned.hasRemaining()) {
            pos += directCh.write(aligned, pos);
        }
    }

    @Override
    public long seekData(long posBytes) throws IOException {
        return seek(posBytes, SEEK_DATA);
    }

    @Override
    public long seekHole(long posBytes) throws IOException {
        return seek(posBytes, SEEK_HOLE);
    }

    private long seek(long posBytes, int whence) throws IOException {
        try {
            return Libc.lseek(fd, posBytes, whence);
        } catch (Libc.ErrnoException e) {
            if (e.errno() == ENXIO) {
                return -1;
            }
            throw e;
        }
    }

    @Override
    public void dropCaches() throws IOException {
        ch.force(true);
        closeChannels();
        if (dropKernelCaches) {
            Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "1");
        }
        reopen();
    }

    @Override
    public void remount() throws IOException {
        ch.force(true);
        closeChannels();
        remounter.remount();
        reopen();
    }

    private void reopen() throws IOException {
        ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        if (caps.contains(Capability.DIRECT_IO)) {
            directCh = openDirect();
        }
        if (usesLibc) {
            fd = Libc.open(file, Libc.O_RDWR);
        }
    }

    private void closeChannels() throws IOException {
        IOException first = null;
        for (FileChannel c : new FileChannel[] {directCh, ch}) {
            if (c != null) {
                try {
                    c.close();
                } catch (IOException e) {
                    first = first == null ? e : first;
                }
            }
        }
        directCh = null;
        ch = null;
        if (fd >= 0) {
            int f = fd;
            fd = -1;
            try {
                Libc.close(f);
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public void close() throws IOException {
        closeChannels();
    }
}
