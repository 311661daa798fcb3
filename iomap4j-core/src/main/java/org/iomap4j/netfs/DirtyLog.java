package org.iomap4j.netfs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The durable record of data written but not yet on the server: one entry per object with local changes, kept in
 * {@code DIR/dirty}. An entry is two files:
 * <ul>
 *   <li>{@code N.data}: a sparse file holding the written bytes at their object offsets;</li>
 *   <li>{@code N.meta}: a {@link Properties} file with the key, the base version ({@code base.tag},
 *       {@code base.size}), the new size, the valid part of the base, the written ranges ({@code ranges=s-e,...})
 *       and the attributes ({@code attr.NAME}). Written to a temporary name, fsync'd, renamed over the old one,
 *       and the directory fsync'd: after {@link Entry#persist} returns the state survives a crash.</li>
 * </ul>
 * An entry with a {@code .meta} file is owed to the server: at the next mount it is uploaded or, if that cannot
 * be done, reported ({@link Netfs#unresolved()}); it is deleted only after the server has the data. A {@code .data}
 * file without {@code .meta} was never fsync'd and is removed at start. Thread-safe per entry by its owner's lock.
 */
public final class DirtyLog {
    private final Path dir;
    private final AtomicLong nextId = new AtomicLong(1);

    /**
     * What a {@code .meta} file says. Ranges are sorted and disjoint.
     *
     * @param key the object key
     * @param base the server version the changes apply to, or null for an object never uploaded
     * @param sizeBytes the object's local size in bytes
     * @param baseValidBytes bytes of the base still valid (a truncate may have cut it), at most {@code
     *     base.sizeBytes()}
     * @param ranges the changed byte ranges, held in the entry's data file at their object offsets
     * @param attributes the attributes to store with the object
     */
    public record State(String key, ObjectVersion base, long sizeBytes, long baseValidBytes, List<ByteRange> ranges,
            Map<String, String> attributes) {
        /** Copies the lists and maps (the state is immutable). */
        public State {
            ranges = List.copyOf(ranges);
            attributes = Map.copyOf(attributes);
        }
    }

    /**
     * Opens (creating) {@code cacheDir/dirty}; removes data files that were never persisted.
     *
     * @param cacheDir the netfs cache directory; the log lives in its {@code dirty} subdirectory
     * @throws IOException if the directory cannot be created or listed
     */
    public DirtyLog(Path cacheDir) throws IOException {
        this.dir = cacheDir.resolve("dirty");
        Files.createDirectories(dir);
        long max = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                int dot = n.indexOf('.');
                if (dot <= 0) {
                    continue;
                }
                try {
                    max = Math.max(max, Long.parseLong(n.substring(0, dot)));
                } catch (NumberFormatException e) {
                    // a tmp file: removed below
                }
            }
        }
        nextId.set(max + 1);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.startsWith("tmp-")) {
                    Files.deleteIfExists(p);
                } else if (n.endsWith(".data")
                        && !Files.exists(dir.resolve(n.substring(0, n.length() - 5) + ".meta"))) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * A new, empty entry (nothing on disk until data is written).
     *
     * @return the entry
     * @throws IOException not thrown now: nothing touches the disk until {@link Entry#write}
     */
    public Entry create() throws IOException {
        return new Entry(nextId.getAndIncrement(), null);
    }

    /**
     * The entries persisted by an earlier mount, in id order.
     *
     * @throws IOException naming the file if a {@code .meta} file cannot be parsed (it is left in place)
     * @return the recovered entries
     */
    public List<Entry> recover() throws IOException {
        List<Long> ids = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.meta")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                ids.add(Long.parseLong(n.substring(0, n.length() - 5)));
            }
        }
        ids.sort(null);
        List<Entry> out = new ArrayList<>();
        for (long id : ids) {
            out.add(new Entry(id, readMeta(dir.resolve(id + ".meta"))));
        }
        return out;
    }

    private static State readMeta(Path p) throws IOException {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(p)) {
            props.load(in);
        }
        try {
            String key = required(props, "key", p);
            String tag = props.getProperty("base.tag");
            ObjectVersion base = tag == null ? null
                    : new ObjectVersion(tag, Long.parseLong(required(props, "base.size", p)));
            long size = Long.parseLong(required(props, "size", p));
            long baseValid = Long.parseLong(props.getProperty("baseValid", "0"));
            List<ByteRange> ranges = new ArrayList<>();
            String rs = props.getProperty("ranges", "");
            if (!rs.isEmpty()) {
                for (String r : rs.split(",")) {
                    int dash = r.indexOf('-');
                    ranges.add(new ByteRange(Long.parseLong(r.substring(0, dash)), Long.parseLong(r.substring(dash + 1))));
                }
            }
            Map<String, String> attrs = new HashMap<>();
            for (String name : props.stringPropertyNames()) {
                if (name.startsWith("attr.")) {
                    attrs.put(name.substring(5), props.getProperty(name));
                }
            }
            return new State(key, base, size, baseValid, ranges, attrs);
        } catch (RuntimeException e) {
            throw new IOException("dirty log " + p + " is damaged: " + e.getMessage(), e);
        }
    }

    private static String required(Properties props, String name, Path p) throws IOException {
        String v = props.getProperty(name);
        if (v == null) {
            throw new IOException("dirty log " + p + " lacks '" + name + "'");
        }
        return v;
    }

    /** One object's local changes. Callers serialise use of one entry. */
    public final class Entry {
        private final long id;
        private final State recovered;
        private FileChannel data;

        private Entry(long id, State recovered) {
            this.id = id;
            this.recovered = recovered;
        }

        /** {@return the entry's id, which names its {@code .data} and {@code .meta} files} */
        public long id() {
            return id;
        }

        /**
         * The state read from disk for a recovered entry, else null.
         *
         * @return the recovered state, or null
         */
        public State recovered() {
            return recovered;
        }

        private synchronized FileChannel data() throws IOException { // parts are read concurrently
            if (data == null) {
                data = FileChannel.open(dir.resolve(id + ".data"), StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE);
            }
            return data;
        }

        /**
         * Writes {@code src} at object offset {@code posBytes} (not yet durable).
         *
         * @param posBytes object byte offset
         * @param src the bytes, from its position to its limit
         * @throws IOException if the data file write fails (ENOSPC, EIO)
         */
        public void write(long posBytes, ByteBuffer src) throws IOException {
            LocalCache.writeFully(data(), src, posBytes);
        }

        /**
         * Reads {@code dst.remaining()} bytes at object offset {@code posBytes}; bytes never written read as 0.
         *
         * @param posBytes object byte offset
         * @param dst buffer filled from its position
         * @throws IOException if the data file read fails
         */
        public void read(long posBytes, ByteBuffer dst) throws IOException {
            FileChannel ch = data();
            long p = posBytes;
            while (dst.hasRemaining()) {
                int n = ch.read(dst, p);
                if (n < 0) { // past the data file's end: never written
                    while (dst.hasRemaining()) {
                        dst.put((byte) 0);
                    }
                    return;
                }
                p += n;
            }
        }

        /**
         * Makes the data durable and then atomically replaces the entry's state with {@code state}.
         *
         * @param state the state to record
         * @throws IOException if the fsync or the atomic rename fails; the previous state stays
         */
        public void persist(State state) throws IOException {
            data().force(false);
            Properties props = new Properties();
            props.setProperty("key", state.key());
            if (state.base() != null) {
                props.setProperty("base.tag", state.base().tag());
                props.setProperty("base.size", Long.toString(state.base().sizeBytes()));
            }
            props.setProperty("size", Long.toString(state.sizeBytes()));
            props.setProperty("baseValid", Long.toString(state.baseValidBytes()));
            StringBuilder rs = new StringBuilder();
            for (ByteRange r : state.ranges()) {
                if (!rs.isEmpty()) {
                    rs.append(',');
                }
                rs.append(r.startBytes()).append('-').append(r.endBytes());
            }
            props.setProperty("ranges", rs.toString());
            for (Map.Entry<String, String> a : state.attributes().entrySet()) {
                props.setProperty("attr." + a.getKey(), a.getValue());
            }
            Path tmp = dir.resolve("tmp-" + id + ".meta");
            try (OutputStream out = Files.newOutputStream(tmp)) {
                props.store(out, "iomap4j netfs dirty log entry");
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, dir.resolve(id + ".meta"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            }
        }

        /**
         * True if a persisted state exists on disk.
         *
         * @return true if a {@code .meta} file exists
         */
        public boolean persisted() {
            return Files.exists(dir.resolve(id + ".meta"));
        }

        /**
         * Removes the entry: its data is on the server (or the object is gone).
         *
         * @throws IOException if a file cannot be deleted
         */
        public void delete() throws IOException {
            close();
            Files.deleteIfExists(dir.resolve(id + ".meta"));
            Files.deleteIfExists(dir.resolve(id + ".data"));
        }

        /**
         * Closes the data file; the entry stays on disk.
         *
         * @throws IOException if closing fails
         */
        public void close() throws IOException {
            if (data != null) {
                data.close();
                data = null;
            }
        }
    }
}
