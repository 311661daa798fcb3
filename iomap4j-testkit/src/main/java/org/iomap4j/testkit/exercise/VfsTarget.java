package org.iomap4j.testkit.exercise;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.Set;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsFallocate;
import org.iomap4j.vfs.VfsSeek;
import org.iomap4j.vfs.VfsWrite;

/**
 * An {@link ExerciseTarget} on a library filesystem through the {@link Vfs} API (ext2 on a file or memory device,
 * or any other Vfs): one file in the root directory. Exists so the exerciser drives a filesystem exactly as the
 * FUSE front end does, without the kernel in between.
 *
 * <p>The filesystem must offer {@link VfsWrite} (EROFS otherwise). Capabilities: REMOUNT always (close the Vfs,
 * {@link Mounter#mount()} again); DROP_CACHES if a {@link CacheDropper} is given; SEEK_DATA_HOLE if requested and
 * the filesystem offers {@link VfsSeek}; ZERO_RANGE / PUNCH_HOLE / DIRECT_IO if requested and the filesystem
 * accepts a probe at open ({@link VfsFallocate} absent, fallocate EOPNOTSUPP or O_DIRECT EINVAL drops them).
 */
public final class VfsTarget implements ExerciseTarget {

    /** Mounts the filesystem (again). */
    @FunctionalInterface
    public interface Mounter {
        /**
         * Mounts.
         *
         * @return the mounted filesystem
         * @throws IOException if mounting fails
         */
        Vfs mount() throws IOException;
    }

    /** Drops the clean cached data of a mounted filesystem (its page cache). */
    @FunctionalInterface
    public interface CacheDropper {
        /**
         * Drops the clean caches of {@code vfs}.
         *
         * @param vfs the mounted filesystem
         * @throws IOException if writing back fails
         */
        void dropCaches(Vfs vfs) throws IOException;
    }

    private final String name;
    private final Mounter mounter;
    private final CacheDropper dropper;
    private final String fileName;
    private final Set<Capability> wanted;
    private final Set<Capability> caps = EnumSet.noneOf(Capability.class);
    private final int blockSizeBytes;
    private Vfs vfs;
    /** The mounted filesystem's write capability (the same object as {@link #vfs}). */
    private VfsWrite writer;
    private long ino;
    private FileHandle fh;
    private FileHandle directFh;

    /**
     * A target exercising one file of the filesystem {@code mounter} mounts, through its {@link Vfs}.
     *
     * @param name       for messages
     * @param mounter    mounts the filesystem; called by {@link #open()} and each remount
     * @param dropper    drops caches, or null if the filesystem cannot
     * @param fileName   the exercised file's name in the root directory
     * @param wanted     optional operations to probe and use (REMOUNT and DROP_CACHES are decided as above)
     * @param blockSizeBytes direct I/O alignment
     */
    public VfsTarget(String name, Mounter mounter, CacheDropper dropper, String fileName, Set<Capability> wanted,
            int blockSizeBytes) {
        this.name = name;
        this.mounter = mounter;
        this.dropper = dropper;
        this.fileName = fileName;
        this.wanted = wanted.isEmpty() ? EnumSet.noneOf(Capability.class) : EnumSet.copyOf(wanted);
        this.blockSizeBytes = blockSizeBytes;
    }

    @Override
    public String describe() {
        return name;
    }

    @Override
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    @Override
    public Set<Capability> capabilities() {
        return caps;
    }

    /**
     * The mounted filesystem (changes on remount).
     *
     * @return the filesystem
     */
    public Vfs vfs() {
        return vfs;
    }

    @Override
    public void open() throws IOException {
        mountAgain();
        Vfs.Created c = writer.create(vfs.rootIno(), fileName, 0644, Vfs.O_RDWR | Vfs.O_TRUNC, 0, 0);
        ino = c.attr().ino();
        fh = c.handle();
        vfs.forget(ino, 1);
        caps.clear();
        if (wanted.contains(Capability.REMOUNT)) {
            caps.add(Capability.REMOUNT);
        }
        if (dropper != null && wanted.contains(Capability.DROP_CACHES)) {
            caps.add(Capability.DROP_CACHES);
        }
        if (wanted.contains(Capability.SEEK_DATA_HOLE) && vfs.capability(VfsSeek.class).isPresent()) {
            caps.add(Capability.SEEK_DATA_HOLE);
        }
        probeFallocate(Capability.ZERO_RANGE, Vfs.FALLOC_FL_ZERO_RANGE | Vfs.FALLOC_FL_KEEP_SIZE);
        probeFallocate(Capability.PUNCH_HOLE, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE);
        probeFallocate(Capability.PREALLOCATE, Vfs.FALLOC_FL_KEEP_SIZE);
        if (wanted.contains(Capability.DIRECT_IO)) {
            try {
                directFh = vfs.open(ino, Vfs.O_RDWR | Vfs.O_DIRECT);
                caps.add(Capability.DIRECT_IO);
            } catch (FsException e) {
                if (e.errno() != Errno.EINVAL && e.errno() != Errno.EOPNOTSUPP) {
                    throw e;
                }
            }
        }
    }

    private void probeFallocate(Capability cap, int mode) throws IOException {
        VfsFallocate f = vfs.capability(VfsFallocate.class).orElse(null);
        if (!wanted.contains(cap) || f == null) {
            return;
        }
        try {
            f.fallocate(fh, mode, 0, blockSizeBytes);
            caps.add(cap);
        } catch (FsException e) {
            if (e.errno() != Errno.EOPNOTSUPP) {
                throw e;
            }
        }
    }

    /** Mounts and keeps the write capability; EROFS for a filesystem without one. */
    private void mountAgain() throws IOException {
        Vfs v = mounter.mount();
        VfsWrite w = v.capability(VfsWrite.class).orElse(null);
        if (w == null) {
            v.close();
            throw new FsException(Errno.EROFS, name + ": the filesystem cannot write (no VfsWrite)");
        }
        vfs = v;
        writer = w;
    }

    private void reopen() throws IOException {
        mountAgain();
        ino = vfs.lookup(vfs.rootIno(), fileName).ino();
        fh = vfs.open(ino, Vfs.O_RDWR);
        vfs.forget(ino, 1);
        if (caps.contains(Capability.DIRECT_IO)) {
            directFh = vfs.open(ino, Vfs.O_RDWR | Vfs.O_DIRECT);
        }
    }

    @Override
    public long sizeBytes() throws IOException {
        return vfs.getattr(ino).sizeBytes();
    }

    @Override
    public int read(long posBytes, ByteBuffer dst) throws IOException {
        return readFully(fh, posBytes, dst);
    }

    private int readFully(FileHandle h, long posBytes, ByteBuffer dst) throws IOException {
        int total = 0;
        while (dst.hasRemaining()) {
            int n = vfs.read(h, posBytes + total, dst);
            if (n <= 0) {
                break;
            }
            total += n;
        }
        return total;
    }

    @Override
    public void write(long posBytes, ByteBuffer src) throws IOException {
        writeFully(fh, posBytes, src);
    }

    private void writeFully(FileHandle h, long posBytes, ByteBuffer src) throws IOException {
        long pos = posBytes;
        while (src.hasRemaining()) {
            int n = writer.write(h, pos, src);
            if (n <= 0) {
                throw new FsException(Errno.EIO, "write at " + pos + " made no progress");
            }
            pos += n;
        }
    }

    @Override
    public void truncate(long sizeBytes) throws IOException {
        writer.setattr(ino, SetAttr.size(sizeBytes));
    }

    @Override
    public void fsync() throws IOException {
        vfs.fsync(fh, false);
    }

    @Override
    public void zeroRange(long posBytes, long lengthBytes, boolean keepSize) throws IOException {
        fallocator().fallocate(fh, Vfs.FALLOC_FL_ZERO_RANGE | (keepSize ? Vfs.FALLOC_FL_KEEP_SIZE : 0), posBytes, lengthBytes);
    }

    @Override
    public void allocate(long posBytes, long lengthBytes, boolean keepSize) throws IOException {
        fallocator().fallocate(fh, keepSize ? Vfs.FALLOC_FL_KEEP_SIZE : 0, posBytes, lengthBytes);
    }

    @Override
    public void punchHole(long posBytes, long lengthBytes) throws IOException {
        fallocator().fallocate(fh, Vfs.FALLOC_FL_PUNCH_HOLE | Vfs.FALLOC_FL_KEEP_SIZE, posBytes, lengthBytes);
    }

    private VfsFallocate fallocator() throws FsException {
        return vfs.capability(VfsFallocate.class)
                .orElseThrow(() -> new FsException(Errno.EOPNOTSUPP, name + ": no fallocate"));
    }

    @Override
    public int directRead(long posBytes, ByteBuffer dst) throws IOException {
        // A short O_DIRECT read ends at EOF; asking again at the unaligned EOF would be EINVAL.
        int total = 0;
        while (dst.hasRemaining()) {
            int n = vfs.read(directFh, posBytes + total, dst);
            if (n <= 0) {
                break;
            }
            total += n;
            if (total % blockSizeBytes != 0) {
                break;
            }
        }
        return total;
    }

    @Override
    public void directWrite(long posBytes, ByteBuffer src) throws IOException {
        writeFully(directFh, posBytes, src);
    }

    @Override
    public long seekData(long posBytes) throws IOException {
        return seek(posBytes, Vfs.SEEK_DATA);
    }

    @Override
    public long seekHole(long posBytes) throws IOException {
        return seek(posBytes, Vfs.SEEK_HOLE);
    }

    private long seek(long posBytes, int whence) throws IOException {
        try {
            VfsSeek seeker = vfs.capability(VfsSeek.class).orElse(null);
            return seeker != null ? seeker.seekDataHole(fh, posBytes, whence)
                    : VfsSeek.wholeFileIsData(vfs.getattr(ino).sizeBytes(), posBytes, whence);
        } catch (FsException e) {
            if (e.errno() == Errno.ENXIO) {
                return -1;
            }
            throw e;
        }
    }

    @Override
    public void dropCaches() throws IOException {
        dropper.dropCaches(vfs);
    }

    @Override
    public void remount() throws IOException {
        closeAll();
        reopen();
    }

    private void closeAll() throws IOException {
        if (vfs == null) {
            return;
        }
        IOException first = null;
        for (FileHandle h : new FileHandle[] {directFh, fh}) {
            if (h != null) {
                try {
                    vfs.release(h);
                } catch (IOException e) {
                    first = first == null ? e : first;
                }
            }
        }
        directFh = null;
        fh = null;
        Vfs v = vfs;
        vfs = null;
        writer = null;
        try {
            v.close();
        } catch (IOException e) {
            if (first == null) {
                first = e;
            } else {
                first.addSuppressed(e);
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public void close() throws IOException {
        closeAll();
    }
}
