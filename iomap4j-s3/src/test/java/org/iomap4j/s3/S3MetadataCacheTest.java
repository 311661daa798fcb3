package org.iomap4j.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
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
 * The directory listing cache, negative lookups and deferred creates against a real s3proxy: the S3 requests per
 * small-file operation (counted by the mount's SDK interceptor, printed for docs/netfs.md), and what a second
 * client's changes look like to a mount (seen once the listing is older than the metadata TTL; contents
 * revalidated at open).
 */
class S3MetadataCacheTest {
    @TempDir
    static Path tmp;
    static S3Fixture s3;
    static S3Client oracle;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3Fixture.get();
        oracle = s3.oracle();
    }

    private static Map<String, Long> delta(Map<String, Long> before, Map<String, Long> after) {
        Map<String, Long> d = new TreeMap<>();
        after.forEach((k, v) -> {
            long n = v - before.getOrDefault(k, 0L);
            if (n != 0) {
                d.put(k, n);
            }
        });
        return d;
    }

    private static long total(Map<String, Long> d) {
        return d.values().stream().mapToLong(Long::longValue).sum();
    }

    private static byte[] content(int i) {
        byte[] b = new byte[1024];
        new Random(i).nextBytes(b);
        return b;
    }

    @Test
    void smallFilesCostOneRequestToCreateNoneToStatAfterAListingAndTwoToRead() throws Exception {
        String bucket = s3.newBucket("mdcache");
        int n = 40;
        Path cache = tmp.resolve("c-" + bucket);
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", cache, s3.port()))) {
            VfsPaths p = new VfsPaths(fs);
            p.mkdir("small");
            long dir = p.stat("small").ino();
            Map<String, Long> c0 = fs.requestCounts();
            for (int i = 0; i < n; i++) {
                // what the kernel does for open(O_CREAT|O_WRONLY) + write + close: lookup, create, write, flush,
                // release
                String name = "f" + i;
                assertThatThrownBy(() -> fs.lookup(dir, name)).isInstanceOf(FsException.class)
                        .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.ENOENT));
                FileHandle fh = fs.create(dir, name, 0640, Vfs.O_WRONLY | Vfs.O_CREAT, 1000, 1000).handle();
                new VfsPaths(fs).write(fh, 0, content(i));
                fs.flush(fh);
                fs.release(fh);
            }
            Map<String, Long> create = delta(c0, fs.requestCounts());
            System.out.println("requests for " + n + " creates (lookup+create+write+close) in a new directory: "
                    + create);
            assertThat(create).as("one PUT per file, no lookup on the server").isEqualTo(Map.of("PutObject",
                    (long) n));
            for (int i = 0; i < n; i++) {
                assertThat(s3.object(bucket, "small/f" + i)).isEqualTo(content(i));
            }
        }
        // a fresh mount on an empty local cache (as another machine would be)
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c2-" + bucket),
                s3.port()))) {
            VfsPaths p = new VfsPaths(fs);
            long dir = p.stat("small").ino();
            Map<String, Long> c0 = fs.requestCounts();
            java.util.List<String> names = new java.util.ArrayList<>();
            fs.readdir(dir, 0, e -> names.add(e.name()));
            assertThat(names).hasSize(n + 2);
            Map<String, Long> c1 = fs.requestCounts();
            for (int i = 0; i < n; i++) {
                var a = fs.lookup(dir, "f" + i);
                assertThat(a.sizeBytes()).isEqualTo(1024);
                assertThat(a.mode()).as("mode from the object's metadata").isEqualTo(FileMode.S_IFREG | 0640);
                assertThat(a.uid()).isEqualTo(1000);
            }
            assertThatThrownBy(() -> fs.lookup(dir, "absent")).isInstanceOf(FsException.class);
            Map<String, Long> c2 = fs.requestCounts();
            for (int i = 0; i < n; i++) {
                long ino = fs.lookup(dir, "f" + i).ino();
                FileHandle fh = fs.open(ino, Vfs.O_RDONLY);
                assertThat(p.read(fh, 0, 4096)).isEqualTo(content(i));
                fs.release(fh);
            }
            Map<String, Long> c3 = fs.requestCounts();
            Map<String, Long> list = delta(c0, c1);
            Map<String, Long> stat = delta(c1, c2);
            Map<String, Long> read = delta(c2, c3);
            System.out.println("requests, fresh mount, " + n + " files: list " + list + ", then lookup of each + one"
                    + " absent name " + stat + ", then lookup+open+read+close of each " + read);
            assertThat(list.get("ListObjectsV2")).isEqualTo(1);
            // The listing starts a HEAD of every file (attributes) in the background; the lookups use them.
            assertThat(list.getOrDefault("HeadObject", 0L) + stat.getOrDefault("HeadObject", 0L)).isEqualTo(n);
            assertThat(stat.keySet()).containsOnly("HeadObject");
            assertThat(read.get("GetObject")).isEqualTo(n);
            assertThat(total(read)).as("a GET, and a HEAD at open when the lookup's is over 1 s old")
                    .isLessThanOrEqualTo(2L * n);
            assertThat(read.getOrDefault("HeadObject", 0L) + read.getOrDefault("GetObject", 0L)).isEqualTo(total(read));
        }
    }

    @Test
    void anotherClientsChangesShowOnceTheListingIsOlderThanTheTtl() throws Exception {
        String bucket = s3.newBucket("mdcache");
        long ttlMillis = 1500;
        oracle.putObject(b -> b.bucket(bucket).key("d/keep"), RequestBody.fromString("v1"));
        oracle.putObject(b -> b.bucket(bucket).key("d/gone"), RequestBody.fromString("bye"));
        S3MountOptions o = S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket), s3.port())
                .withMetadataTtlMillis(ttlMillis);
        try (S3FileSystem a = S3FileSystem.mount(o);
                S3FileSystem b = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c2-" + bucket),
                        s3.port()).withMetadataTtlMillis(ttlMillis))) {
            VfsPaths pa = new VfsPaths(a);
            assertThat(pa.list("d")).containsExactly("gone", "keep");
            long dir = pa.stat("d").ino();
            FileHandle fh = pa.open("d/keep");
            assertThat(pa.read(fh, 0, 10)).isEqualTo("v1".getBytes());
            a.release(fh);
            long listedNanos = System.nanoTime();
            // the other client: a plain SDK client (a second mount would do the same requests)
            oracle.putObject(x -> x.bucket(bucket).key("d/new"), RequestBody.fromString("new"));
            oracle.deleteObject(x -> x.bucket(bucket).key("d/gone"));
            oracle.putObject(x -> x.bucket(bucket).key("d/keep"), RequestBody.fromString("v2, longer"));
            if (System.nanoTime() - listedNanos < ttlMillis * 1_000_000L) {
                // within the TTL the listing answers: the new name is not seen yet (documented)
                assertThatThrownBy(() -> a.lookup(dir, "new")).isInstanceOf(FsException.class);
            }
            Thread.sleep(ttlMillis + 200);
            assertThat(a.lookup(dir, "new").sizeBytes()).isEqualTo(3);
            assertThatThrownBy(() -> a.lookup(dir, "gone")).isInstanceOf(FsException.class)
                    .satisfies(e -> assertThat(((FsException) e).errno()).isEqualTo(Errno.ENOENT));
            assertThat(pa.list("d")).containsExactly("keep", "new");
            fh = pa.open("d/keep");
            assertThat(pa.read(fh, 0, 100)).as("contents revalidated at open").isEqualTo("v2, longer".getBytes());
            a.release(fh);
            // and a change made through this mount is seen at once by itself, by the other mount after its TTL
            VfsPaths pb = new VfsPaths(b);
            assertThat(pb.list("d")).containsExactly("keep", "new");
            FileHandle w = pa.create("d/mine");
            pa.write(w, 0, "mine".getBytes());
            a.setattr(w.ino(), new SetAttr(0600, null, null, null, null, null, false, false));
            a.flush(w);
            a.release(w);
            assertThat(pa.list("d")).containsExactly("keep", "mine", "new");
            Thread.sleep(ttlMillis + 200);
            assertThat(pb.list("d")).containsExactly("keep", "mine", "new");
            assertThat(pb.stat("d/mine").mode()).isEqualTo(FileMode.S_IFREG | 0600);
        }
    }

    @Test
    void withAsyncCloseUploadsFollowTheCloseAndSyncUnlinkAndUnmountWaitForThem() throws Exception {
        String bucket = s3.newBucket("mdcache");
        int n = 30;
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket), s3.port())
                .withAsyncClose(true))) {
            VfsPaths p = new VfsPaths(fs);
            p.mkdir("a");
            long dir = p.stat("a").ino();
            for (int i = 0; i < n; i++) {
                FileHandle fh = fs.create(dir, "f" + i, 0644, Vfs.O_WRONLY | Vfs.O_CREAT, 0, 0).handle();
                p.write(fh, 0, content(i));
                fs.flush(fh);
                fs.release(fh);
            }
            // deleted right after its close: the queued upload must not bring it back
            fs.unlink(dir, "f0");
            // read back through the mount before anything is known to be uploaded: local data
            FileHandle rh = p.open("a/f1");
            assertThat(p.read(rh, 0, 4096)).isEqualTo(content(1));
            fs.release(rh);
            fs.sync();
            for (int i = 1; i < n; i++) {
                assertThat(s3.object(bucket, "a/f" + i)).as("f" + i + " after sync").isEqualTo(content(i));
            }
            FileHandle last = fs.create(dir, "last", 0644, Vfs.O_WRONLY | Vfs.O_CREAT, 0, 0).handle();
            p.write(last, 0, content(99));
            fs.flush(last);
            fs.release(last);
        }
        assertThat(s3.object(bucket, "a/last")).as("unmount waits for the queued upload").isEqualTo(content(99));
        assertThat(s3.object(bucket, "a/f0")).isNull();
    }

    @Test
    void theWarmUpOnlyReads() throws Exception {
        String bucket = s3.newBucket("mdcache");
        oracle.putObject(b -> b.bucket(bucket).key("kept"), RequestBody.fromString("x"));
        try (S3FileSystem fs = S3FileSystem.mount(S3Fixture.options(bucket, "", tmp.resolve("c-" + bucket),
                s3.port()))) {
            int n = fs.warmUp(java.time.Duration.ofMillis(300));
            assertThat(n).isPositive();
            assertThat(fs.requestCounts()).containsOnlyKeys("HeadBucket", "HeadObject", "ListObjectsV2");
        }
        assertThat(s3.keys(bucket)).containsExactly("kept");
    }
}
