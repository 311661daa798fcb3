package org.iomap4j.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The S3 filesystem through its {@link Vfs} against a real s3proxy; the oracles are a model of file contents and
 * the bucket read with a plain SDK client.
 */
class S3FileSystemTest {
    @TempDir
    static Path tmp;
    static S3Fixture s3;
    static S3Client oracle;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3Fixture.get();
        oracle = s3.oracle();
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    @Test
    void randomOperationsMatchTheModelAndTheBucket() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        Random r = new Random(seed);
        String bucket = s3.newBucket("fs-test");
        Map<String, byte[]> model = new TreeMap<>();
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket), s3.port()))) {
            VfsPaths p = new VfsPaths(fs);
            p.mkdir("d1");
            p.mkdir("d1/sub");
            List<String> names = new ArrayList<>(List.of("a", "b", "d1/c", "d1/sub/e", "big"));
            Map<String, FileHandle> open = new HashMap<>();
            for (int op = 0; op < 120; op++) {
                String path = names.get(r.nextInt(names.size()));
                int kind = r.nextInt(12);
                String what = "op " + op + " on " + path + " (seed " + seed + ")";
                if (!model.containsKey(path)) {
                    open.put(path, p.create(path));
                    model.put(path, new byte[0]);
                    continue;
                }
                FileHandle fh = open.computeIfAbsent(path, x -> {
                    try {
                        return p.open(x);
                    } catch (IOException e) {
                        throw new AssertionError(what, e);
                    }
                });
                byte[] m = model.get(path);
                if (kind < 4) {
                    int max = path.equals("big") ? 12 << 20 : 600_000;
                    int pos = r.nextInt(max);
                    byte[] data = random(r, 1 + r.nextInt(r.nextBoolean() ? 5000 : 300_000));
                    p.write(fh, pos, data);
                    if (pos + data.length > m.length) {
                        m = Arrays.copyOf(m, pos + data.length);
                    }
                    System.arraycopy(data, 0, m, pos, data.length);
                    model.put(path, m);
                } else if (kind < 7) {
                    int pos = r.nextInt(m.length + 1);
                    int len = 1 + r.nextInt(400_000);
                    assertThat(p.read(fh, pos, len)).as(what)
                            .isEqualTo(Arrays.copyOfRange(m, pos, Math.min(m.length, pos + len)));
                } else if (kind == 7) {
                    int n = r.nextInt(m.length + 100_000);
                    fs.setattr(fh.ino(), SetAttr.size(n));
                    model.put(path, Arrays.copyOf(m, n));
                } else if (kind == 8) {
                    fs.fsync(fh, false);
                    assertThat(s3.object(bucket, path)).as(what).isEqualTo(m);
                } else if (kind == 9) {
                    fs.release(fh);
                    open.remove(path);
                    assertThat(s3.object(bucket, path)).as("last close uploads: " + what).isEqualTo(m);
                } else if (kind == 10 && !path.equals("big")) {
                    fs.release(fh);
                    open.remove(path);
                    String to = path + "-r" + op;
                    fs.rename(p.parent(path), VfsPaths.name(path), p.parent(to), VfsPaths.name(to), 0);
                    model.remove(path);
                    model.put(to, m);
                    names.set(names.indexOf(path), to);
                    assertThat(s3.object(bucket, path)).as(what).isNull();
                    assertThat(s3.object(bucket, to)).as(what).isEqualTo(m);
                } else {
                    assertThat(p.stat(path).sizeBytes()).as(what).isEqualTo(m.length);
                    String dir = path.contains("/") ? path.substring(0, path.lastIndexOf('/')) : "";
                    TreeSet<String> want = new TreeSet<>();
                    for (String k : model.keySet()) {
                        String kd = k.contains("/") ? k.substring(0, k.lastIndexOf('/')) : "";
                        if (kd.equals(dir)) {
                            want.add(VfsPaths.name(k));
                        }
                    }
                    if (dir.isEmpty()) {
                        want.add("d1");
                    } else if (dir.equals("d1")) {
                        want.add("sub");
                    }
                    assertThat(new TreeSet<>(p.list(dir))).as(what).isEqualTo(want);
                }
            }
            for (FileHandle fh : open.values()) {
                fs.release(fh);
            }
        }
        for (Map.Entry<String, byte[]> e : model.entrySet()) {
            assertThat(s3.object(bucket, e.getKey())).as(e.getKey() + " (seed " + seed + ")").isEqualTo(e.getValue());
        }
        TreeSet<String> want = new TreeSet<>(model.keySet());
        want.add("d1/");
        want.add("d1/sub/");
        assertThat(s3.keys(bucket)).as("seed " + seed).isEqualTo(want);
    }

    @Test
    void attributesLiveInObjectMetadataAndErrorsAreErrnos() throws Exception {
        String bucket = s3.newBucket("fs-test");
        oracle.putObject(b -> b.bucket(bucket).key("pre/x/foreign.txt"), RequestBody.fromString("made elsewhere"));
        Path cache = tmp.resolve("c-" + bucket);
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "pre", cache, s3.port()))) {
            VfsPaths p = new VfsPaths(fs);
            assertThat(p.list("")).containsExactly("x");
            assertThat(p.stat("x").isDirectory()).isTrue();
            FileHandle fh = p.open("x/foreign.txt");
            assertThat(new String(p.read(fh, 0, 100))).isEqualTo("made elsewhere");
            fs.release(fh);
            FileHandle h = p.create("x/mine");
            p.write(h, 0, "data".getBytes());
            fs.setattr(h.ino(), new SetAttr(0600, 1234, 567, null, null, 1_600_000_000L, false, false));
            fs.release(h);
            var head = oracle.headObject(b -> b.bucket(bucket).key("pre/x/mine"));
            assertThat(head.metadata()).containsEntry("mode", Integer.toString(FileMode.S_IFREG | 0600))
                    .containsEntry("uid", "1234").containsEntry("gid", "567").containsEntry("mtime", "1600000000");
            fs.symlink(p.stat("x").ino(), "link", "mine", 0, 0);
            assertThat(fs.readlink(p.stat("x/link").ino())).isEqualTo("mine");
            assertThatThrownBy(() -> p.stat("x/none")).isInstanceOf(FsException.class)
                    .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.ENOENT));
            assertThatThrownBy(() -> fs.rmdir(fs.rootIno(), "x")).isInstanceOf(FsException.class)
                    .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.ENOTEMPTY));
            assertThatThrownBy(() -> fs.link(p.stat("x/mine").ino(), fs.rootIno(), "hard"))
                    .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.EPERM));
        }
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "pre", cache, s3.port()))) {
            var a = new VfsPaths(fs).stat("x/mine");
            assertThat(a.mode()).isEqualTo(FileMode.S_IFREG | 0600);
            assertThat(a.uid()).isEqualTo(1234);
            assertThat(a.mtimeSec()).isEqualTo(1_600_000_000L);
            assertThat(a.sizeBytes()).isEqualTo(4);
        }
    }

    @Test
    void openRevalidatesSoAnotherClientsChangeIsNeverServedStale() throws Exception {
        String bucket = s3.newBucket("fs-test");
        byte[] v1 = random(new Random(1), 1 << 20);
        byte[] v2 = random(new Random(2), 1 << 20);
        oracle.putObject(b -> b.bucket(bucket).key("f"), RequestBody.fromBytes(v1));
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket), s3.port()))) {
            VfsPaths p = new VfsPaths(fs);
            FileHandle fh = p.open("f");
            assertThat(p.read(fh, 0, 1 << 20)).isEqualTo(v1);
            fs.release(fh);
            oracle.putObject(b -> b.bucket(bucket).key("f"), RequestBody.fromBytes(v2));
            fh = p.open("f");
            assertThat(p.read(fh, 0, 1 << 20)).isEqualTo(v2);
            fs.release(fh);
        }
    }

    private static long delta(Map<String, Long> before, Map<String, Long> after, String op) {
        return after.getOrDefault(op, 0L) - before.getOrDefault(op, 0L);
    }

    @Test
    void aCreateAfterANegativeLookupIsOnePutAndAnOpenAfterALookupNeedsNoHead() throws Exception {
        String bucket = s3.newBucket("fs-test");
        // Without the listing cache (TTL 0): the 1 s shortcuts of S3Freshness alone (S3MetadataCacheTest has the cache).
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket), s3.port())
                .withMetadataTtlMillis(0))) {
            VfsPaths p = new VfsPaths(fs);
            long root = fs.rootIno();
            var ns = fs.capability(org.iomap4j.vfs.VfsWrite.class).orElseThrow();
            // What the kernel does for open(O_CREAT): a lookup (absent), then create; write; release.
            assertThatThrownBy(() -> fs.lookup(root, "new")).isInstanceOf(FsException.class);
            Map<String, Long> c0 = fs.requestCounts();
            FileHandle fh = ns.create(root, "new", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0).handle();
            byte[] data = random(new Random(7), 1024);
            p.write(fh, 0, data);
            fs.release(fh);
            Map<String, Long> c1 = fs.requestCounts();
            System.out.println("create+write+release after a lookup: " + c0 + " -> " + c1);
            assertThat(delta(c0, c1, "HeadObject") + delta(c0, c1, "ListObjectsV2")).as("no second lookup")
                    .isZero();
            assertThat(delta(c0, c1, "PutObject")).as("one PUT at the close, with the data").isEqualTo(1);
            assertThat(s3.object(bucket, "new")).isEqualTo(data);

            // created and not written: one PUT (the empty object), at the release
            assertThatThrownBy(() -> fs.lookup(root, "empty")).isInstanceOf(FsException.class);
            Map<String, Long> c1b = fs.requestCounts();
            fh = ns.create(root, "empty", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0).handle();
            fs.release(fh);
            Map<String, Long> c2 = fs.requestCounts();
            assertThat(delta(c1b, c2, "PutObject")).isEqualTo(1);
            assertThat(delta(c1b, c2, "HeadObject")).isZero();
            assertThat(s3.object(bucket, "empty")).isEmpty();

            // an open right after the lookup that HEADed the object: no second HEAD
            long newIno = p.stat("new").ino(); // the lookup HEADs the object
            Map<String, Long> c3a = fs.requestCounts();
            FileHandle rh = fs.open(newIno, Vfs.O_RDONLY);
            Map<String, Long> c3 = fs.requestCounts();
            assertThat(delta(c3a, c3, "HeadObject")).as("no HEAD of its own").isZero();
            assertThat(p.read(rh, 0, 1024)).isEqualTo(data);
            fs.release(rh);
            // attributes older than the freshness window: the open asks the server again (close-to-open)
            long ino = p.stat("new").ino();
            Thread.sleep(S3Freshness.FRESH_NANOS / 1_000_000 + 100);
            byte[] other = random(new Random(8), 2048);
            oracle.putObject(b -> b.bucket(bucket).key("new"), RequestBody.fromBytes(other));
            Map<String, Long> c4 = fs.requestCounts();
            rh = fs.open(ino, Vfs.O_RDONLY);
            assertThat(delta(c4, fs.requestCounts(), "HeadObject")).isEqualTo(1);
            assertThat(p.read(rh, 0, 4096)).isEqualTo(other);
            fs.release(rh);

            // the shortcut never hides a name: no lookup before the create, or a mkdir of this mount since
            oracle.putObject(b -> b.bucket(bucket).key("theirs"), RequestBody.fromBytes(new byte[] {1}));
            assertThatThrownBy(() -> ns.create(root, "theirs", 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0))
                    .isInstanceOf(FsException.class)
                    .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.EEXIST));
            assertThatThrownBy(() -> fs.lookup(root, "d")).isInstanceOf(FsException.class);
            p.mkdir("d");
            assertThatThrownBy(() -> ns.create(root, "d", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0))
                    .isInstanceOf(FsException.class)
                    .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.EISDIR));
            assertThat(s3.object(bucket, "theirs")).containsExactly(1);
        }
    }
}
