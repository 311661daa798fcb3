package org.iomap4j.nio;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The provider through the public java.nio.file API only. Oracles: what the JDK documents for its default provider
 * (exception types), e2fsck -fn after every test that wrote, the kernel's view through a loop mount, and models of
 * file contents.
 */
class ExtFileSystemProviderTest {
    @TempDir
    Path tmp;
    Path image;
    FileSystem fs;

    @BeforeEach
    void create() throws IOException {
        image = tmp.resolve("disk.img");
        fs = HostTools.create(image, 32 << 20);
    }

    @AfterEach
    void closeAndCheck() throws Exception {
        if (fs.isOpen()) {
            fs.close();
        }
        HostTools.Result r = HostTools.fsck(image);
        assertThat(r.exit()).as(r.output()).isZero();
    }

    @Test
    void opensByPathAndByUriAndRefusesASecondOpen() throws Exception {
        Files.writeString(fs.getPath("/hello.txt"), "hi");
        assertThat(fs.provider().getScheme()).isEqualTo("ext");
        URI uri = fs.getPath("/hello.txt").toUri();
        assertThat(Files.readString(Path.of(uri))).isEqualTo("hi");
        assertThatThrownBy(() -> FileSystems.newFileSystem(image)).isInstanceOf(ImageInUseException.class)
                .hasMessageContaining("already open");
        fs.close();
        assertThat(fs.isOpen()).isFalse();
        assertThatThrownBy(() -> Files.readString(fs.getPath("/hello.txt")))
                .isInstanceOf(ClosedFileSystemException.class);
        assertThatThrownBy(() -> Path.of(uri)).isInstanceOf(java.nio.file.FileSystemNotFoundException.class);

        try (FileSystem again = FileSystems.newFileSystem(image)) { // by Path: recognised by the superblock magic
            assertThat(again.provider()).isInstanceOf(ExtFileSystemProvider.class);
            assertThat(Files.readString(again.getPath("/hello.txt"))).isEqualTo("hi");
            assertThat(Files.exists(again.getPath("/lost+found"))).isTrue();
        }
        try (FileSystem ro = FileSystems.newFileSystem(image, Map.of("readOnly", true))) {
            assertThat(ro.isReadOnly()).isTrue();
            assertThat(Files.readString(ro.getPath("/hello.txt"))).isEqualTo("hi");
            assertThatThrownBy(() -> Files.writeString(ro.getPath("/x"), "x"))
                    .isInstanceOf(ReadOnlyFileSystemException.class);
            assertThatThrownBy(() -> Files.delete(ro.getPath("/hello.txt")))
                    .isInstanceOf(ReadOnlyFileSystemException.class);
            assertThatThrownBy(() -> ro.provider().checkAccess(ro.getPath("/hello.txt"), AccessMode.WRITE))
                    .isInstanceOf(AccessDeniedException.class);
        }
        // a default ext4 image made by mke2fs (journaled): read-write, every change through the jbd2 journal
        Path ext4 = tmp.resolve("ext4.img");
        HostTools.Result mk = HostTools.run(List.of("mke2fs", "-q", "-F", "-t", "ext4", ext4.toString(), "16M"));
        assertThat(mk.exit()).as(mk.output()).isZero();
        try (FileSystem j = FileSystems.newFileSystem(ext4)) {
            assertThat(j.isReadOnly()).isFalse();
            Files.writeString(j.getPath("/journaled.txt"), "through the journal");
        }
        assertThat(HostTools.fsck(ext4).exit()).isZero();
        try (FileSystem j = FileSystems.newFileSystem(ext4)) {
            assertThat(Files.readString(j.getPath("/journaled.txt"))).isEqualTo("through the journal");
        }
        // a feature the driver cannot serve at all (encrypt): refused with the reason, the image named
        HostTools.Result enc = HostTools.run(List.of("debugfs", "-w", "-R", "feature encrypt", ext4.toString()));
        assertThat(enc.exit()).as(enc.output()).isZero();
        assertThatThrownBy(() -> FileSystems.newFileSystem(ext4)).isInstanceOf(FileSystemException.class)
                .hasMessageContaining(ext4.toString()).hasMessageContaining("cannot mount ext4 image")
                .hasMessageContaining("encrypt");
                Path notExt = tmp.resolve("plain.bin");
        Files.write(notExt, new byte[8192]);
        assertThatThrownBy(() -> FileSystems.newFileSystem(notExt))
                .isInstanceOf(java.nio.file.ProviderNotFoundException.class);
    }

    @Test
    void anotherProcessHoldingTheLockIsRefused() throws Exception {
        fs.close();
        // flock(1) takes a BSD lock, not a POSIX one: hold the POSIX lock from another JVM-less process with python
        Process holder = new ProcessBuilder("python3", "-c", "import fcntl,sys,time\n"
                + "f=open(sys.argv[1],'r+b'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); "
                + "time.sleep(30)", image.toString()).start();
        try {
            assertThat(new String(holder.getInputStream().readNBytes(7), UTF_8)).isEqualTo("locked\n");
            assertThatThrownBy(() -> FileSystems.newFileSystem(image)).isInstanceOf(ImageInUseException.class)
                    .hasMessageContaining("another process");
        } finally {
            holder.destroyForcibly().waitFor();
        }
        fs = FileSystems.newFileSystem(image);
    }

    @Test
    void directoriesStreamsGlobsAndWalk() throws Exception {
        Path root = fs.getPath("/");
        Files.createDirectories(fs.getPath("/src/main/java"));
        Files.createDirectories(fs.getPath("/src/test"));
        Set<String> files = Set.of("/src/main/java/A.java", "/src/main/java/B.java", "/src/main/README.md",
                "/src/test/ATest.java", "/top.txt");
        for (String f : files) {
            Files.writeString(fs.getPath(f), f);
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(fs.getPath("/src/main/java"), "*.java")) {
            List<String> names = new ArrayList<>();
            ds.forEach(p -> names.add(p.toString()));
            assertThat(names).containsExactlyInAnyOrder("/src/main/java/A.java", "/src/main/java/B.java");
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(fs.getPath("/src"), Files::isDirectory)) {
            assertThat(ds).extracting(Path::toString).containsExactlyInAnyOrder("/src/main", "/src/test");
        }
        try (Stream<Path> s = Files.walk(root)) {
            Set<String> walked = s.filter(Files::isRegularFile).map(Path::toString).collect(Collectors.toSet());
            assertThat(walked).isEqualTo(files);
        }
        var matcher = fs.getPathMatcher("glob:/src/**/*.java");
        try (Stream<Path> s = Files.find(root, 10, (p, a) -> matcher.matches(p))) {
            assertThat(s.count()).isEqualTo(3);
        }
        assertThatThrownBy(() -> Files.newDirectoryStream(fs.getPath("/top.txt")))
                .isInstanceOf(NotDirectoryException.class);
        assertThatThrownBy(() -> Files.newDirectoryStream(fs.getPath("/nope")))
                .isInstanceOf(NoSuchFileException.class);
        // a directory of many entries is read in several readdir batches
        Path big = Files.createDirectory(fs.getPath("/big"));
        for (int i = 0; i < 1000; i++) {
            Files.createFile(big.resolve("f" + i));
        }
        try (Stream<Path> s = Files.list(big)) {
            assertThat(s.map(p -> p.getFileName().toString()).collect(Collectors.toSet())).hasSize(1000)
                    .contains("f0", "f999");
        }
    }

    @Test
    void errorsFollowTheJdkContract() throws Exception {
        Path d = Files.createDirectory(fs.getPath("/d"));
        Files.writeString(d.resolve("f"), "x");
        assertThatThrownBy(() -> Files.createDirectory(d)).isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> Files.delete(d)).isInstanceOf(DirectoryNotEmptyException.class);
        assertThatThrownBy(() -> Files.delete(fs.getPath("/nope"))).isInstanceOf(NoSuchFileException.class)
                .hasMessage("/nope");
        assertThat(Files.deleteIfExists(fs.getPath("/nope"))).isFalse();
        assertThat(Files.deleteIfExists(fs.getPath("/nope/deeper"))).isFalse();
        assertThatThrownBy(() -> Files.createFile(d.resolve("f"))).isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> Files.createFile(fs.getPath("/d/f/g"))).isInstanceOf(FileSystemException.class);
        assertThatThrownBy(() -> Files.readString(fs.getPath("/missing/x"))).isInstanceOf(NoSuchFileException.class);
        assertThatThrownBy(() -> Files.newByteChannel(d, StandardOpenOption.WRITE))
                .isInstanceOf(FileSystemException.class).hasMessageContaining("Is a directory");
        assertThatThrownBy(() -> Files.readSymbolicLink(d.resolve("f"))).isInstanceOf(NotLinkException.class);
        assertThatThrownBy(() -> Files.createLink(fs.getPath("/dl"), d)).isInstanceOf(AccessDeniedException.class);
        // ext has xattrs, so the user view exists; a missing attribute is ENODATA, as on the JDK's Linux provider
        assertThatThrownBy(() -> Files.getAttribute(d, "user:foo")).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("No data available");
        assertThatThrownBy(() -> Files.getAttribute(d, "basic:nope")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Files.createDirectory(fs.getPath("/" + "n".repeat(256))))
                .isInstanceOf(FileSystemException.class).hasMessageContaining("File name too long");
        Files.createSymbolicLink(fs.getPath("/loop1"), fs.getPath("/loop2"));
        Files.createSymbolicLink(fs.getPath("/loop2"), fs.getPath("/loop1"));
        assertThatThrownBy(() -> Files.readString(fs.getPath("/loop1"))).isInstanceOf(FileSystemException.class);
        assertThatThrownBy(() -> Files.newByteChannel(fs.getPath("/x"), StandardOpenOption.READ,
                StandardOpenOption.APPEND)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void symlinksHardLinksAndRealPaths() throws Exception {
        Files.createDirectories(fs.getPath("/a/b"));
        Files.writeString(fs.getPath("/a/b/file"), "content");
        Files.createSymbolicLink(fs.getPath("/lnk"), fs.getPath("a/b"));          // relative target
        Files.createSymbolicLink(fs.getPath("/abs"), fs.getPath("/a/b/file"));    // absolute target
        Files.createSymbolicLink(fs.getPath("/dangling"), fs.getPath("/nowhere"));
        assertThat(Files.readString(fs.getPath("/lnk/file"))).isEqualTo("content");
        assertThat(Files.readString(fs.getPath("/abs"))).isEqualTo("content");
        assertThat(Files.readSymbolicLink(fs.getPath("/lnk"))).hasToString("a/b");
        assertThat(Files.isSymbolicLink(fs.getPath("/lnk"))).isTrue();
        assertThat(Files.isDirectory(fs.getPath("/lnk"))).isTrue();
        assertThat(Files.isDirectory(fs.getPath("/lnk"), LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(Files.exists(fs.getPath("/dangling"))).isFalse();
        assertThat(Files.exists(fs.getPath("/dangling"), LinkOption.NOFOLLOW_LINKS)).isTrue();
        // ".." after a symlink goes to the parent of its target (POSIX), not lexically back to "/"
        assertThat(fs.getPath("/lnk/..").toRealPath()).hasToString("/a");
        assertThat(fs.getPath("/lnk/file").toRealPath()).hasToString("/a/b/file");
        assertThat(fs.getPath("/lnk").toRealPath(LinkOption.NOFOLLOW_LINKS)).hasToString("/lnk");
        assertThat(Files.isSameFile(fs.getPath("/abs"), fs.getPath("/a/b/file"))).isTrue();

        Files.createLink(fs.getPath("/hard"), fs.getPath("/a/b/file"));
        assertThat(Files.getAttribute(fs.getPath("/hard"), "unix:nlink")).isEqualTo(2);
        assertThat(Files.getAttribute(fs.getPath("/hard"), "unix:ino"))
                .isEqualTo(Files.getAttribute(fs.getPath("/a/b/file"), "unix:ino"));
        assertThat(Files.readAttributes(fs.getPath("/hard"), PosixFileAttributes.class).fileKey())
                .isEqualTo(Files.readAttributes(fs.getPath("/a/b/file"), PosixFileAttributes.class).fileKey());
        Files.delete(fs.getPath("/a/b/file"));
        assertThat(Files.readString(fs.getPath("/hard"))).isEqualTo("content");
        assertThat(Files.getAttribute(fs.getPath("/hard"), "unix:nlink")).isEqualTo(1);
        // writing through a dangling link creates its target, as open(O_CREAT) does; NOFOLLOW_LINKS refuses
        Files.writeString(fs.getPath("/dangling"), "made through the link");
        assertThat(Files.readString(fs.getPath("/nowhere"))).isEqualTo("made through the link");
        Files.createSymbolicLink(fs.getPath("/a/rel-dangling"), fs.getPath("b/new"));
        Files.writeString(fs.getPath("/a/rel-dangling"), "relative");
        assertThat(Files.readString(fs.getPath("/a/b/new"))).isEqualTo("relative");
        assertThatThrownBy(() -> Files.newByteChannel(fs.getPath("/abs"), StandardOpenOption.READ,
                LinkOption.NOFOLLOW_LINKS)).isInstanceOf(FileSystemException.class);
                Files.delete(fs.getPath("/lnk")); // removes the link, not the directory
        assertThat(Files.isDirectory(fs.getPath("/a/b"))).isTrue();
    }

    @Test
    void copyAndMove() throws Exception {
        Path src = fs.getPath("/src.bin");
        byte[] data = new byte[3 << 20];
        new Random(7).nextBytes(data);
        Files.write(src, data);
        Files.setPosixFilePermissions(src, PosixFilePermissions.fromString("rwxr-x---"));
        Files.setLastModifiedTime(src, FileTime.fromMillis(1_000_000_000_000L));
        Path dst = fs.getPath("/dst.bin");
        Files.copy(src, dst);
        assertThat(Files.readAllBytes(dst)).isEqualTo(data);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dst))).isEqualTo("rw-r--r--");
        assertThatThrownBy(() -> Files.copy(src, dst)).isInstanceOf(FileAlreadyExistsException.class);
        Files.writeString(dst, "short");
        Files.copy(src, dst, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
        assertThat(Files.readAllBytes(dst)).isEqualTo(data);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dst))).isEqualTo("rwxr-x---");
        assertThat(Files.getLastModifiedTime(dst)).isEqualTo(FileTime.fromMillis(1_000_000_000_000L));
        assertThatThrownBy(() -> Files.copy(src, dst, StandardCopyOption.ATOMIC_MOVE))
                .isInstanceOf(UnsupportedOperationException.class);

        Files.createDirectories(fs.getPath("/dir/sub"));
        Path moved = fs.getPath("/dir/sub/moved.bin");
        long ino = (Long) Files.getAttribute(dst, "unix:ino");
        Files.move(dst, moved, StandardCopyOption.ATOMIC_MOVE);
        assertThat(Files.exists(dst)).isFalse();
        assertThat((Long) Files.getAttribute(moved, "unix:ino")).isEqualTo(ino); // a rename, not a copy
        Files.writeString(fs.getPath("/other"), "o");
        assertThatThrownBy(() -> Files.move(fs.getPath("/other"), moved)).isInstanceOf(FileAlreadyExistsException.class);
        Files.move(fs.getPath("/other"), moved, StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.readString(moved)).isEqualTo("o");
        Files.move(fs.getPath("/dir"), fs.getPath("/dir2"));
        assertThat(Files.readString(fs.getPath("/dir2/sub/moved.bin"))).isEqualTo("o");
        Files.createDirectory(fs.getPath("/full"));
        Files.createFile(fs.getPath("/full/x"));
        assertThatThrownBy(() -> Files.move(fs.getPath("/dir2"), fs.getPath("/full"),
                StandardCopyOption.REPLACE_EXISTING)).isInstanceOf(DirectoryNotEmptyException.class);

        // across two images: copy + delete; ATOMIC_MOVE refused
        try (FileSystem other = HostTools.create(tmp.resolve("other.img"), 16 << 20)) {
            Path there = other.getPath("/copied.bin");
            Files.copy(src, there, StandardCopyOption.COPY_ATTRIBUTES);
            assertThat(Files.readAllBytes(there)).isEqualTo(data);
            assertThatThrownBy(() -> Files.move(src, other.getPath("/m"), StandardCopyOption.ATOMIC_MOVE))
                    .isInstanceOf(java.nio.file.AtomicMoveNotSupportedException.class);
            Files.move(src, other.getPath("/m"));
            assertThat(Files.exists(src)).isFalse();
            assertThat(Files.readAllBytes(other.getPath("/m"))).isEqualTo(data);
            // and to/from the default file system (the JDK's generic foreign copy)
            Path host = tmp.resolve("host.bin");
            Files.copy(there, host);
            assertThat(Files.readAllBytes(host)).isEqualTo(data);
        }
        assertThat(HostTools.fsck(tmp.resolve("other.img")).exit()).isZero();
    }

    @Test
    void fileChannelAgainstAModel() throws Exception {
        Path f = fs.getPath("/chan.bin");
        long seed = Long.getLong("iomap4j.seed", System.nanoTime());
        System.out.println("fileChannelAgainstAModel seed " + seed + " (replay: -Diomap4j.seed=" + seed + ")");
        Random rnd = new Random(seed);
        byte[] model = new byte[0];
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            for (int op = 0; op < 400; op++) {
                int kind = rnd.nextInt(6);
                int pos = rnd.nextInt(300_000);
                int len = 1 + rnd.nextInt(20_000);
                if (kind <= 1) {
                    byte[] b = new byte[len];
                    rnd.nextBytes(b);
                    assertThat(ch.write(ByteBuffer.wrap(b), pos)).isEqualTo(len);
                    if (pos + len > model.length) {
                        model = java.util.Arrays.copyOf(model, pos + len);
                    }
                    System.arraycopy(b, 0, model, pos, len);
                } else if (kind == 2) {
                    ByteBuffer[] bufs = {ByteBuffer.allocate(len / 2 + 1), ByteBuffer.allocateDirect(len)};
                    ch.position(pos);
                    long n = ch.read(bufs);
                    int expect = Math.max(0, Math.min(model.length - pos, bufs[0].capacity() + bufs[1].capacity()));
                    assertThat(n).isEqualTo(expect == 0 ? -1 : expect);
                    byte[] got = new byte[Math.max(0, (int) n)];
                    ByteBuffer all = ByteBuffer.wrap(got);
                    for (ByteBuffer b : bufs) {
                        b.flip();
                        all.put(b);
                    }
                    if (n > 0) {
                        assertThat(got).isEqualTo(java.util.Arrays.copyOfRange(model, pos, pos + got.length));
                    }
                    assertThat(ch.position()).isEqualTo(pos + Math.max(0, n));
                } else if (kind == 3) {
                    int size = rnd.nextInt(Math.max(1, model.length + 1));
                    ch.truncate(size);
                    if (size < model.length) {
                        model = java.util.Arrays.copyOf(model, size);
                    }
                } else if (kind == 4) {
                    ByteBuffer[] srcs = {ByteBuffer.wrap(new byte[] {1, 2, 3}), ByteBuffer.wrap(new byte[len])};
                    rnd.nextBytes(srcs[1].array());
                    ch.position(pos);
                    assertThat(ch.write(srcs)).isEqualTo(3 + len);
                    if (pos + 3 + len > model.length) {
                        model = java.util.Arrays.copyOf(model, pos + 3 + len);
                    }
                    System.arraycopy(new byte[] {1, 2, 3}, 0, model, pos, 3);
                    System.arraycopy(srcs[1].array(), 0, model, pos + 3, len);
                } else {
                    ch.force(rnd.nextBoolean());
                }
                assertThat(ch.size()).isEqualTo(model.length);
            }
        }
        assertThat(Files.readAllBytes(f)).isEqualTo(model);
        // transferTo / transferFrom against the host file system
        Path host = tmp.resolve("t.bin");
        try (FileChannel in = FileChannel.open(f); FileChannel out = FileChannel.open(host,
                StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            assertThat(in.transferTo(0, Long.MAX_VALUE, out)).isEqualTo(model.length);
        }
        assertThat(Files.readAllBytes(host)).isEqualTo(model);
        Path back = fs.getPath("/back.bin");
        try (FileChannel in = FileChannel.open(host); FileChannel out = FileChannel.open(back,
                StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            assertThat(out.transferFrom(in, 0, Long.MAX_VALUE)).isEqualTo(model.length);
        }
        assertThat(Files.readAllBytes(back)).isEqualTo(model);
        // append, read-only channels, map
        try (SeekableByteChannel ch = Files.newByteChannel(back, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.wrap("tail".getBytes(UTF_8)));
        }
        assertThat(Files.size(back)).isEqualTo(model.length + 4);
        try (FileChannel ro = FileChannel.open(back)) {
            assertThatThrownBy(() -> ro.write(ByteBuffer.allocate(1))).isInstanceOf(NonWritableChannelException.class);
            assertThatThrownBy(() -> ro.map(FileChannel.MapMode.READ_ONLY, 0, 10))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("DAX");
        }
        try (var out = Files.newOutputStream(fs.getPath("/del"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.DELETE_ON_CLOSE)) {
            out.write(1);
            assertThat(Files.exists(fs.getPath("/del"))).isTrue();
        }
        assertThat(Files.exists(fs.getPath("/del"))).isFalse();
    }

    @Test
    void locksHaveInProcessSemantics() throws Exception {
        Path f = Files.writeString(fs.getPath("/locked"), "0123456789");
        try (FileChannel a = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileChannel b = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            FileLock l = a.lock(0, 5, false);
            assertThat(l.isValid()).isTrue();
            assertThat(l.acquiredBy()).isSameAs(a);
            assertThatThrownBy(() -> b.tryLock(3, 4, true)).isInstanceOf(OverlappingFileLockException.class);
            assertThatThrownBy(() -> a.lock(4, 1, false)).isInstanceOf(OverlappingFileLockException.class);
            FileLock l2 = b.tryLock(5, 5, true);
            assertThat(l2).isNotNull();
            l.release();
            assertThat(l.isValid()).isFalse();
            assertThat(b.tryLock(0, 5, false)).isNotNull();
            a.close();
            assertThat(b.tryLock(100, 1, false)).isNotNull();
        }
        try (FileChannel ro = FileChannel.open(f)) {
            assertThatThrownBy(() -> ro.lock()).isInstanceOf(NonWritableChannelException.class);
            FileLock shared = ro.lock(0, Long.MAX_VALUE, true);
            ro.close();
            assertThat(shared.isValid()).isFalse();
        }
        try (FileChannel c = FileChannel.open(f, StandardOpenOption.WRITE)) {
            assertThat(c.tryLock()).isNotNull(); // the closed channel's lock is gone
        }
    }

    @Test
    void asynchronousChannel() throws Exception {
        Path f = fs.getPath("/async");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(f, Set.of(StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.READ), pool)) {
            List<Future<Integer>> writes = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                byte[] b = new byte[4096];
                java.util.Arrays.fill(b, (byte) i);
                writes.add(ch.write(ByteBuffer.wrap(b), i * 4096L));
            }
            for (Future<Integer> w : writes) {
                assertThat(w.get(30, TimeUnit.SECONDS)).isEqualTo(4096);
            }
            ByteBuffer dst = ByteBuffer.allocate(4096);
            assertThat(ch.read(dst, 7 * 4096L).get(30, TimeUnit.SECONDS)).isEqualTo(4096);
            assertThat(dst.array()).containsOnly((byte) 7);
            var done = new java.util.concurrent.CompletableFuture<Integer>();
            ch.read(ByteBuffer.allocate(10), 1 << 20, null, new java.nio.channels.CompletionHandler<Integer, Void>() {
                @Override
                public void completed(Integer result, Void attachment) {
                    done.complete(result);
                }

                @Override
                public void failed(Throwable exc, Void attachment) {
                    done.completeExceptionally(exc);
                }
            });
            assertThat(done.get(30, TimeUnit.SECONDS)).isEqualTo(-1);
            FileLock l = ch.lock().get(30, TimeUnit.SECONDS);
            assertThat(l.acquiredBy()).isSameAs(ch);
            assertThat(ch.size()).isEqualTo(16 * 4096);
            ch.force(true);
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void attributesAndViews() throws Exception {
        Path f = Files.createFile(fs.getPath("/f"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Path d = Files.createDirectory(fs.getPath("/d"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
        assertThat(Files.getAttribute(f, "unix:mode")).isEqualTo(0100600);
        assertThat(Files.getAttribute(d, "unix:mode")).isEqualTo(040755);
        assertThat(Files.getAttribute(d, "unix:nlink")).isEqualTo(2);
        Map<String, Object> unix = Files.readAttributes(f, "unix:*");
        assertThat(unix).containsKeys("ino", "mode", "nlink", "uid", "gid", "dev", "rdev", "ctime", "size",
                "permissions", "owner", "group", "lastModifiedTime", "fileKey");
        assertThat(Files.readAttributes(f, "size,isRegularFile")).containsEntry("size", 0L)
                .containsEntry("isRegularFile", true);
        Files.setAttribute(f, "unix:mode", 0640);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-r-----");
        Files.setAttribute(f, "unix:uid", 1234);
        Files.setAttribute(f, "unix:gid", 4321);
        assertThat(Files.getAttribute(f, "unix:uid")).isEqualTo(1234);
        PosixFileAttributes pa = Files.readAttributes(f, PosixFileAttributes.class);
        var lookup = fs.getUserPrincipalLookupService();
        assertThat(pa.owner()).isEqualTo(lookup.lookupPrincipalByName("1234"));
        assertThat(pa.group()).isEqualTo(lookup.lookupPrincipalByGroupName("4321"));
        Files.setOwner(f, lookup.lookupPrincipalByName("0"));
        assertThat(Files.getOwner(f)).isEqualTo(lookup.lookupPrincipalByName("root"));
        Files.getFileAttributeView(f, PosixFileAttributeView.class).setGroup(lookup.lookupPrincipalByGroupName("7"));
        assertThat(Files.getAttribute(f, "unix:gid")).isEqualTo(7);
        BasicFileAttributeView bv = Files.getFileAttributeView(f, BasicFileAttributeView.class);
        bv.setTimes(FileTime.fromMillis(2_000_000_000_000L), FileTime.fromMillis(1_500_000_000_000L), null);
        assertThat(bv.readAttributes().lastModifiedTime()).isEqualTo(FileTime.fromMillis(2_000_000_000_000L));
        assertThat(bv.readAttributes().lastAccessTime()).isEqualTo(FileTime.fromMillis(1_500_000_000_000L));
        assertThat(Files.getFileAttributeView(f, UserDefinedFileAttributeView.class)).isNotNull();
        assertThat(fs.supportedFileAttributeViews()).containsExactlyInAnyOrder("basic", "posix", "unix", "owner",
                "user");
        FileStore store = Files.getFileStore(f);
        assertThat(store.type()).isEqualTo("ext2");
        assertThat(store.supportsFileAttributeView("posix")).isTrue();
        assertThat(store.supportsFileAttributeView("user")).isTrue(); // ext stores xattrs
        assertThat(store.getTotalSpace()).isBetween(28L << 20, 32L << 20);
        long before = store.getUnallocatedSpace();
        Files.write(fs.getPath("/fill"), new byte[4 << 20]);
        try (FileChannel ch = fs.provider().newFileChannel(fs.getPath("/fill"), Set.of(StandardOpenOption.WRITE))) {
            ch.force(true);
        }
        assertThat(before - store.getUnallocatedSpace()).isBetween(4L << 20, (4L << 20) + (64 << 10));
        assertThat(store.getUsableSpace()).isLessThan(store.getUnallocatedSpace()); // the 5 % root reserve
        assertThat(Files.isHidden(fs.getPath("/.hidden"))).isTrue();
        fs.provider().checkAccess(f, AccessMode.READ, AccessMode.WRITE);
        assertThatThrownBy(() -> fs.provider().checkAccess(f, AccessMode.EXECUTE))
                .isInstanceOf(AccessDeniedException.class);
        // another caller: the mode bits decide (f is 0640, owner 0, group 7)
        Files.setAttribute(f, "unix:mode", 0640);
        ScopedValue.where(org.iomap4j.vfs.Caller.CURRENT, new org.iomap4j.vfs.Caller(1000, 7)).call(() -> {
            fs.provider().checkAccess(f, AccessMode.READ);
            assertThatThrownBy(() -> fs.provider().checkAccess(f, AccessMode.WRITE))
                    .isInstanceOf(AccessDeniedException.class);
            Path mine = Files.createFile(fs.getPath("/mine"));
            assertThat(Files.getAttribute(mine, "unix:uid")).isEqualTo(1000);
            assertThat(Files.getAttribute(mine, "unix:gid")).isEqualTo(7);
            return null;
        });
        ScopedValue.where(org.iomap4j.vfs.Caller.CURRENT, new org.iomap4j.vfs.Caller(1000, 1000)).call(() -> {
            assertThatThrownBy(() -> fs.provider().checkAccess(f, AccessMode.READ))
                    .isInstanceOf(AccessDeniedException.class);
            return null;
        });
    }

    @Test
    void fullImageIsNoSpaceLeftOnDevice() throws Exception {
        byte[] chunk = new byte[1 << 20];
        Path f = fs.getPath("/fill");
        try (var out = Files.newOutputStream(f)) {
            assertThatThrownBy(() -> {
                for (int i = 0; i < 64; i++) {
                    out.write(chunk);
                }
            }).isInstanceOf(FileSystemException.class).hasMessageContaining("No space left on device");
        }
        Files.delete(f);
        assertThat(Files.getFileStore(fs.getPath("/")).getUnallocatedSpace()).isGreaterThan(28L << 20);
    }

    @Test
    void secureDirectoryStreamWorksRelativeToItsDirectory() throws Exception {
        Files.createDirectories(fs.getPath("/w/inner"));
        Files.writeString(fs.getPath("/w/a"), "a");
        Files.writeString(fs.getPath("/w/inner/b"), "b");
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(fs.getPath("/w"))) {
            assertThat(ds).isInstanceOf(SecureDirectoryStream.class);
            SecureDirectoryStream<Path> sds = (SecureDirectoryStream<Path>) ds;
            Files.move(fs.getPath("/w"), fs.getPath("/renamed")); // the stream follows the inode, not the name
            try (SeekableByteChannel ch = sds.newByteChannel(fs.getPath("a"), Set.of(StandardOpenOption.READ))) {
                ByteBuffer b = ByteBuffer.allocate(8);
                ch.read(b);
                assertThat(new String(b.array(), 0, b.position(), UTF_8)).isEqualTo("a");
            }
            try (SecureDirectoryStream<Path> inner = sds.newDirectoryStream(fs.getPath("inner"))) {
                inner.deleteFile(fs.getPath("b"));
                sds.move(fs.getPath("a"), inner, fs.getPath("a2"));
                assertThat(inner.getFileAttributeView(fs.getPath("a2"), BasicFileAttributeView.class)
                        .readAttributes().size()).isEqualTo(1);
            }
            sds.deleteFile(fs.getPath("inner/a2"));
            sds.deleteDirectory(fs.getPath("inner"));
            assertThat(sds.getFileAttributeView(PosixFileAttributeView.class).readAttributes().isDirectory()).isTrue();
        }
        try (Stream<Path> s = Files.list(fs.getPath("/renamed"))) {
            assertThat(s.count()).isZero();
        }
    }

    @Test
    void watchServiceSeesCreateModifyDelete() throws Exception {
        Path dir = Files.createDirectory(fs.getPath("/watched"));
        try (WatchService ws = fs.newWatchService()) {
            WatchKey key = dir.register(ws, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                    StandardWatchEventKinds.ENTRY_DELETE);
            Files.writeString(dir.resolve("x"), "1");
            assertThat(events(ws, key, 1)).containsExactly("ENTRY_CREATE x");
            Files.writeString(dir.resolve("x"), "longer");
            assertThat(events(ws, key, 1)).containsExactly("ENTRY_MODIFY x");
            Files.delete(dir.resolve("x"));
            assertThat(events(ws, key, 1)).containsExactly("ENTRY_DELETE x");
        }
    }

    private static List<String> events(WatchService ws, WatchKey expected, int n) throws InterruptedException {
        List<String> out = new ArrayList<>();
        while (out.size() < n) {
            WatchKey k = ws.poll(30, TimeUnit.SECONDS);
            assertThat(k).as("no event within 30 s").isSameAs(expected);
            for (WatchEvent<?> e : k.pollEvents()) {
                out.add(e.kind().name() + " " + e.context());
            }
            k.reset();
        }
        return out;
    }

    @Test
    void concurrentWritersAndReaders() throws Exception {
        int threads = 4;
        int filesPerThread = 50;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> fut = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                fut.add(pool.submit(() -> {
                    Path d = Files.createDirectories(fs.getPath("/t" + tt));
                    for (int i = 0; i < filesPerThread; i++) {
                        byte[] b = ("thread " + tt + " file " + i + " ").repeat(100 + i).getBytes(UTF_8);
                        Files.write(d.resolve("f" + i), b);
                        assertThat(Files.readAllBytes(d.resolve("f" + i))).isEqualTo(b);
                        if (i % 3 == 0) {
                            Files.move(d.resolve("f" + i), d.resolve("g" + i));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fut) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdown();
        }
        Set<String> names = new HashSet<>();
        try (Stream<Path> s = Files.walk(fs.getPath("/"))) {
            s.filter(Files::isRegularFile).forEach(p -> names.add(p.toString()));
        }
        assertThat(names).hasSize(threads * filesPerThread);
        fs.close();
        // the kernel sees the same tree and bytes
        String why = HostTools.loopMountUnavailable();
        if (why != null) {
            System.out.println(why);
            return;
        }
        try (HostTools.LoopMount m = new HostTools.LoopMount(image, tmp.resolve("nio-mnt"))) {
            for (int t = 0; t < threads; t++) {
                for (int i = 0; i < filesPerThread; i++) {
                    Path p = m.dir.resolve("t" + t).resolve((i % 3 == 0 ? "g" : "f") + i);
                    assertThat(Files.readString(p)).isEqualTo(("thread " + t + " file " + i + " ").repeat(100 + i));
                }
            }
        }
    }

    @Test
    void oneChannelSharedByThreads() throws Exception {
        Path f = fs.getPath("/shared");
        int threads = 4;
        int blocks = 64;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> fut = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int tt = t;
                    fut.add(pool.submit(() -> {
                        for (int b = tt; b < blocks; b += threads) {
                            byte[] data = new byte[5000]; // not block-aligned: neighbours share blocks
                            java.util.Arrays.fill(data, (byte) b);
                            ch.write(ByteBuffer.wrap(data), b * 5000L);
                            ByteBuffer back = ByteBuffer.allocate(5000);
                            ch.read(back, b * 5000L);
                            assertThat(back.array()).isEqualTo(data);
                        }
                        return null;
                    }));
                }
                for (Future<?> x : fut) {
                    x.get(60, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdown();
            }
            assertThat(ch.size()).isEqualTo(blocks * 5000L);
        }
        byte[] all = Files.readAllBytes(f);
        for (int b = 0; b < blocks; b++) {
            for (int i = 0; i < 5000; i++) {
                assertThat(all[b * 5000 + i]).as("block %d byte %d", b, i).isEqualTo((byte) b);
            }
        }
    }

    @Test
    void closeRacingWithOperations() throws Exception {
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(threads);
        java.util.concurrent.atomic.AtomicInteger progress = new java.util.concurrent.atomic.AtomicInteger();
        List<Future<Integer>> fut = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int tt = t;
            fut.add(pool.submit(() -> {
                int done = 0;
                try (FileChannel ch = FileChannel.open(fs.getPath("/race" + tt), StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE, StandardOpenOption.READ)) {
                    started.countDown();
                    for (int i = 0; ; i++) {
                        ch.write(ByteBuffer.wrap(new byte[1000]), i * 1000L);
                        Files.writeString(fs.getPath("/race" + tt + "-" + (i % 20)), "x".repeat(i % 5000));
                        try (Stream<Path> s = Files.list(fs.getPath("/"))) {
                            s.count();
                        }
                        done++;
                        progress.incrementAndGet();
                    }
                } catch (ClosedFileSystemException | java.nio.channels.ClosedChannelException e) {
                    return done; // the only ways an operation may fail once close() began
                }
            }));
        }
        started.await(30, TimeUnit.SECONDS);
        while (progress.get() < 4 * threads) {
            Thread.onSpinWait(); // close while the writers are mid-flight (bounded by the futures' timeout below)
            if (fut.stream().anyMatch(Future::isDone)) {
                break;
            }
        }
        fs.close();
        try {
            int total = 0;
            for (Future<Integer> f : fut) {
                total += f.get(60, TimeUnit.SECONDS);
            }
            assertThat(total).isGreaterThanOrEqualTo(4 * threads);
        } finally {
            pool.shutdownNow();
        }
        // @AfterEach: e2fsck -fn clean after the racing close
    }

    @Test
    void closeWritesEverythingBack() throws Exception {
        SeekableByteChannel temp = Files.newByteChannel(fs.getPath("/temp"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, StandardOpenOption.DELETE_ON_CLOSE);
        temp.write(ByteBuffer.wrap(new byte[100_000]));
        try (var out = Channels.newOutputStream(FileChannel.open(fs.getPath("/open-at-close"),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE))) {
            out.write("written, never synced".getBytes(UTF_8));
            fs.close(); // closes the channel too
            assertThatThrownBy(() -> out.write(1)).isInstanceOf(java.nio.channels.ClosedChannelException.class);
        }
        HostTools.Result r = HostTools.run(List.of("debugfs", "-R", "cat /open-at-close", image.toString()));
        assertThat(r.output()).contains("written, never synced");
        assertThat(temp.isOpen()).isFalse();
        try (FileSystem again = FileSystems.newFileSystem(image, Map.of("readOnly", true))) {
            assertThat(Files.exists(again.getPath("/temp"))).isFalse(); // deleted when the file system closed it
        }
    }
}
