package org.iomap4j.testkit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsNamespace;
import org.iomap4j.vfs.VfsWrite;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lifecycle and helpers of {@link VfsContract}: an implementation supplies {@link #mount()} (a fresh, empty,
 * writable filesystem; it may hold entries of its own in the root, such as ext's lost+found) and, if it keeps its
 * state across an unmount, {@link #remount(Vfs)}. Every case works in its own new directory {@link #work} of the
 * root, so entries the filesystem made itself never matter. Capabilities are asked through
 * {@link Vfs#capability(Class)}; a case needing one that is absent is skipped (JUnit assumption).
 */
public abstract class VfsContractSupport {
    /** Scratch space for images. */
    @TempDir
    protected Path tempDir;

    /** The filesystem under test, mounted before each case and closed after it. */
    protected Vfs vfs;
    /** The case's own directory (the root when the filesystem has no {@link VfsNamespace}). */
    protected long work;

    /** Seed of this case's randomness (printed). */
    protected final long seed = System.nanoTime();
    /** Seeded by {@code seed}, which each case prints. */
    protected final Random rnd = new Random(seed);

    /**
     * A new, empty, writable filesystem.
     *
     * @return the mounted filesystem
     * @throws IOException if mounting fails
     */
    protected abstract Vfs mount() throws IOException;

    /**
     * Closes {@code vfs} (an unmount: everything written back) and mounts the same storage again, or returns null
     * if this implementation cannot (the remount cases then skip). Default: null.
     *
     * @param vfs the filesystem to close
     * @return the new mount, or null if the implementation cannot remount
     * @throws IOException if unmounting or mounting fails
     */
    protected Vfs remount(Vfs vfs) throws IOException {
        return null;
    }

    @BeforeEach
    void mountForCase() throws IOException {
        System.out.println(getClass().getSimpleName() + " seed " + seed);
        vfs = mount();
        Optional<VfsNamespace> ns = vfs.capability(VfsNamespace.class);
        work = ns.isPresent() ? ns.get().mkdir(vfs.rootIno(), "contract-" + Long.toHexString(seed), 0755, 0, 0).ino()
                : vfs.rootIno();
    }

    @AfterEach
    void unmountAfterCase() throws IOException {
        if (vfs != null) {
            vfs.close();
            vfs = null;
        }
    }

    /**
     * Remounts {@link #vfs} or skips the case.
     *
     * @throws IOException if remounting fails
     */
    protected void remountOrSkip() throws IOException {
        vfs.sync();
        Vfs again = remount(vfs);
        Assumptions.assumeTrue(again != null, "implementation does not support remount");
        vfs = again;
    }

    /**
     * Remounts {@link #vfs} if the implementation can; false (nothing changed) if it cannot.
     *
     * @return true if remounted
     * @throws IOException if remounting fails
     */
    protected boolean tryRemount() throws IOException {
        vfs.sync();
        Vfs again = remount(vfs);
        if (again == null) {
            return false;
        }
        vfs = again;
        return true;
    }

    /** {@return the filesystem's {@link VfsNamespace} capability (the case fails without it)} */
    protected VfsNamespace ns() {
        return cap(VfsNamespace.class);
    }

    /** {@return the filesystem's {@link VfsWrite} capability (the case fails without it)} */
    protected VfsWrite w() {
        return cap(VfsWrite.class);
    }

    /**
     * {@return the filesystem's capability {@code type} (the case fails without it)}
     *
     * @param <T> the capability interface
     * @param type its class
     */
    protected <T> T cap(Class<T> type) {
        Optional<T> c = vfs.capability(type);
        Assumptions.assumeTrue(c.isPresent(), "capability " + type.getSimpleName() + " absent");
        return c.get();
    }

    /** A call expected to fail. */
    @FunctionalInterface
    protected interface Op {
        /**
         * Makes the call.
         *
         * @throws Exception what it throws
         */
        void run() throws Exception;
    }

    /**
     * The errno {@code op} fails with; an assertion error if it succeeds or throws something else.
     *
     * @param op the call
     * @return its errno
     */
    protected static Errno errno(Op op) {
        try {
            op.run();
        } catch (FsException e) {
            return e.errno();
        } catch (org.opentest4j.TestAbortedException e) {
            throw e; // a capability assumption inside op: skip the case, as outside
        } catch (Exception e) {
            throw new AssertionError("expected an FsException, got " + e, e);
        }
        throw new AssertionError("expected an error, the call succeeded");
    }

    /**
     * Creates {@code name} in {@code dir} holding {@code data} and releases the handle; returns its attributes.
     *
     * @param dir the directory's inode number
     * @param name the entry name
     * @param data the contents
     * @return the new file's attributes
     * @throws IOException if creating or writing fails
     */
    protected InodeAttr file(long dir, String name, byte[] data) throws IOException {
        Vfs.Created c = w().create(dir, name, 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0);
        try {
            if (data.length > 0) {
                assertThat(w().write(c.handle(), 0, ByteBuffer.wrap(data))).isEqualTo(data.length);
            }
        } finally {
            vfs.release(c.handle());
        }
        return vfs.getattr(c.attr().ino());
    }

    /**
     * Creates directory {@code name} in {@code dir} (mode 0755, root's).
     *
     * @param dir the parent's inode number
     * @param name the entry name
     * @return the new directory's inode number
     * @throws IOException if it fails
     */
    protected long mkdir(long dir, String name) throws IOException {
        return ns().mkdir(dir, name, 0755, 0, 0).ino();
    }

    /**
     * Reads up to {@code len} bytes at {@code pos} through {@code fh}, looping over short reads until EOF.
     *
     * @param fh an open handle
     * @param pos file byte offset
     * @param len bytes wanted
     * @return the bytes read (fewer at EOF)
     * @throws IOException if the read fails
     */
    protected byte[] read(FileHandle fh, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            int n = vfs.read(fh, pos + b.position(), b);
            if (n == 0) {
                break;
            }
        }
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }

    /**
     * The whole contents of inode {@code ino}, read through a new read-only handle.
     *
     * @param ino the inode number
     * @return the contents
     * @throws IOException if opening or reading fails
     */
    protected byte[] contents(long ino) throws IOException {
        long size = vfs.getattr(ino).sizeBytes();
        FileHandle fh = vfs.open(ino, Vfs.O_RDONLY);
        try {
            return read(fh, 0, (int) size);
        } finally {
            vfs.release(fh);
        }
    }

    /**
     * Writes all of {@code data} at {@code pos}.
     *
     * @param fh an open, writable handle
     * @param pos file byte offset
     * @param data the bytes
     * @throws IOException if the write fails
     */
    protected void writeAt(FileHandle fh, long pos, byte[] data) throws IOException {
        assertThat(w().write(fh, pos, ByteBuffer.wrap(data))).isEqualTo(data.length);
    }

    /**
     * {@return {@code n} bytes from {@link #rnd}}
     *
     * @param n the length
     */
    protected byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /**
     * Every entry of {@code dir} by name, read in one pass from offset 0 (names must not repeat).
     *
     * @param dir the directory's inode number
     * @return the entries by name
     * @throws IOException if readdir fails
     */
    protected Map<String, DirEntry> list(long dir) throws IOException {
        Map<String, DirEntry> out = new LinkedHashMap<>();
        vfs.readdir(dir, 0, e -> {
            assertThat(out.put(e.name(), e)).as("'%s' listed twice", e.name()).isNull();
            return true;
        });
        return out;
    }

    /**
     * Names of {@code dir} other than "." and "..".
     *
     * @param dir the directory's inode number
     * @return the names
     * @throws IOException if readdir fails
     */
    protected java.util.Set<String> names(long dir) throws IOException {
        java.util.Set<String> s = new java.util.TreeSet<>(list(dir).keySet());
        s.remove(".");
        s.remove("..");
        return s;
    }
}
