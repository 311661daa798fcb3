package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.iomap4j.ext.Ext2Tools;
import org.iomap4j.s3.FaultProxy;
import org.iomap4j.s3.S3Fixture;
import org.iomap4j.s3.S3ProxyServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;

/**
 * {@code iomapfs mount s3://BUCKET/PREFIX MNT --endpoint URL} as a user runs it (a child JVM, credentials from the
 * AWS environment variables), against a real s3proxy in this JVM; shell tools and Java file I/O on the mount. The
 * oracles: a model of every file's bytes, and the bucket read with a plain SDK client (not through the mount).
 */
class S3MountTest {
    @TempDir
    Path tmp;

    private static String sh(String script) {
        return Ext2Tools.run("sh", "-c", script).ok().stdout();
    }

    private MountedImage mount(S3Fixture s3, String url, Path mnt, Path cache) throws Exception {
        return mount(s3.endpoint().toString(), url, mnt, cache);
    }

    private MountedImage mount(String endpoint, String url, Path mnt, Path cache) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of("env", "AWS_ACCESS_KEY_ID=" + S3ProxyServer.IDENTITY,
                "AWS_SECRET_ACCESS_KEY=" + S3ProxyServer.CREDENTIAL, "AWS_PROFILE=none-iomap4j-test",
                "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", java,
                "--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "mount", url, mnt.toString(), "--endpoint", endpoint,
                "--cache-dir", cache.toString(), "--part-size", "5M", "--granule", "256K", "--warmup-ms", "0"));
        return MountedImage.startCommand(cmd, null, mnt);
    }

    private static void writeAndFsync(Path p, byte[] data) throws Exception {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap(data));
            ch.force(true);
        }
    }

    @Test
    void shellToolsOnAnS3MountAndTheBucketAgrees() throws Exception {
        MountedImage.requireFuse();
        long seed = new Random().nextLong();
        System.out.println("S3MountTest seed " + seed);
        Random rnd = new Random(seed);
        S3Fixture s3 = S3Fixture.get();
        String bucket = s3.newBucket("cli-mount");
        byte[] foreign = new byte[300_000];
        rnd.nextBytes(foreign);
        s3.oracle().putObject(b -> b.bucket(bucket).key("pre/elsewhere/obj.bin"), RequestBody.fromBytes(foreign));
        s3.oracle().putObject(b -> b.bucket(bucket).key("outside"), RequestBody.fromString("not under the prefix"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path cache = tmp.resolve("cache");
        TreeMap<String, byte[]> model = new TreeMap<>();
        model.put("elsewhere/obj.bin", foreign);
        try (MountedImage m = mount(s3, "s3://" + bucket + "/pre", mnt, cache)) {
            String M = mnt.toString();
            String what = "seed " + seed + "\n" + m.output;
            // ls of what another client put there; a read through the mount
            assertThat(sh("ls " + M).trim()).as(what).isEqualTo("elsewhere");
            assertThat(Files.readAllBytes(mnt.resolve("elsewhere/obj.bin"))).as(what).isEqualTo(foreign);
            // files of several sizes (one over a 5 MiB part: multipart), written and fsync'd: in the bucket at once
            Files.createDirectories(mnt.resolve("d/sub"));
            int[] sizes = {0, 1, 4095, 4097, 300_000, (7 << 20) + 13};
            for (int i = 0; i < sizes.length; i++) {
                byte[] b = new byte[sizes[i]];
                rnd.nextBytes(b);
                String name = (i % 2 == 0 ? "d/" : "d/sub/") + "f" + i;
                writeAndFsync(mnt.resolve(name), b);
                model.put(name, b);
                assertThat(s3.object(bucket, "pre/" + name)).as(name + " after fsync, " + what).isEqualTo(b);
            }
            assertThat(s3.keys(bucket)).as(what).contains("pre/d/", "pre/d/sub/");
            // a random overwrite inside the multipart object with dd, then fsync: the bucket has the new bytes
            byte[] patch = new byte[10_000];
            rnd.nextBytes(patch);
            Files.write(tmp.resolve("patch"), patch);
            int at = rnd.nextInt((7 << 20) - 10_000);
            sh("dd if=" + tmp.resolve("patch") + " of=" + M + "/d/sub/f5 bs=10000 seek=" + at
                    + " oflag=seek_bytes conv=notrunc,fsync status=none");
            byte[] f5 = model.get("d/sub/f5");
            System.arraycopy(patch, 0, f5, at, patch.length);
            assertThat(s3.object(bucket, "pre/d/sub/f5")).as("dd at " + at + ", " + what).isEqualTo(f5);
            // mv of a file and of a directory: copy + delete of every key below it
            sh("mv " + M + "/d/f0 " + M + "/moved && mv " + M + "/d/sub " + M + "/sub2");
            model.put("moved", model.remove("d/f0"));
            for (String k : new ArrayList<>(model.keySet())) {
                if (k.startsWith("d/sub/")) {
                    model.put("sub2/" + k.substring("d/sub/".length()), model.remove(k));
                }
            }
            assertThat(Files.exists(mnt.resolve("d/sub"))).as("moved away: " + what).isFalse();
            assertThat(sh("ls " + M + "/sub2").trim().split("\\s+")).containsExactly("f1", "f3", "f5");
            // rm and rm -r
            sh("cp -r " + M + "/elsewhere " + M + "/gone && rm -r " + M + "/gone && rm " + M + "/d/f2");
            model.remove("d/f2");
            // chmod goes into the object's metadata
            sh("chmod 640 " + M + "/d/f4");
            assertThat(sh("stat -c %a " + M + "/d/f4").trim()).isEqualTo("640");
            // ls -R and cat agree with the model
            TreeSet<String> listed = new TreeSet<>();
            try (Stream<Path> walk = Files.walk(mnt)) {
                walk.filter(Files::isRegularFile).forEach(p -> listed.add(mnt.relativize(p).toString()));
            }
            assertThat(listed).as(what).isEqualTo(model.keySet());
            for (var e : model.entrySet()) {
                assertThat(Files.readAllBytes(mnt.resolve(e.getKey()))).as(e.getKey()).isEqualTo(e.getValue());
            }
            Cli.Run um = Cli.run("umount", M);
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
            assertThat(m.output.toString()).contains("every change is in s3://" + bucket + "/pre");
        }
        // After unmount every file is in the bucket under its path, and no other key is left under the prefix
        // (except the directory markers mkdir wrote).
        for (var e : model.entrySet()) {
            assertThat(s3.object(bucket, "pre/" + e.getKey())).as(e.getKey() + " (seed " + seed + ")")
                    .isEqualTo(e.getValue());
        }
        TreeSet<String> files = new TreeSet<>();
        for (String k : s3.keys(bucket)) {
            if (!k.endsWith("/")) {
                files.add(k);
            }
        }
        TreeSet<String> want = new TreeSet<>(List.of("outside"));
        model.keySet().forEach(k -> want.add("pre/" + k));
        assertThat(files).as("seed " + seed).isEqualTo(want);
        assertThat(s3.oracle().headObject(b -> b.bucket(bucket).key("pre/d/f4")).metadata().get("mode"))
                .isEqualTo(Integer.toString(0100640));
        assertThat(Arrays.asList(s3.keys(bucket).toArray())).doesNotContain("pre/d/sub/", "pre/gone/");
    }

    @Test
    void whileTheServerIsCutOffCachedFilesAreReadableAndFsyncdWritesAreUploadedOnReconnection() throws Exception {
        MountedImage.requireFuse();
        S3Fixture s3 = S3Fixture.get();
        String bucket = s3.newBucket("cli-offline");
        Random rnd = new Random(18);
        byte[] cached = new byte[1 << 20];
        byte[] uncached = new byte[1 << 20];
        rnd.nextBytes(cached);
        rnd.nextBytes(uncached);
        s3.oracle().putObject(b -> b.bucket(bucket).key("cached.bin"), RequestBody.fromBytes(cached));
        s3.oracle().putObject(b -> b.bucket(bucket).key("uncached.bin"), RequestBody.fromBytes(uncached));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        byte[] model = cached.clone();
        try (FaultProxy proxy = new FaultProxy(s3.port());
                MountedImage m = mount("http://127.0.0.1:" + proxy.port(), "s3://" + bucket, mnt, tmp.resolve("c"))) {
            assertThat(Files.readAllBytes(mnt.resolve("cached.bin"))).isEqualTo(cached);
            assertThat(Files.size(mnt.resolve("uncached.bin"))).isEqualTo(uncached.length);
            proxy.cut();
            assertThat(Files.readAllBytes(mnt.resolve("cached.bin"))).as("cached, offline: " + m.output)
                    .isEqualTo(cached);
            assertThatThrownBy(() -> Files.readAllBytes(mnt.resolve("uncached.bin"))).as("uncached, offline")
                    .isInstanceOf(java.io.IOException.class).hasMessageContaining("Input/output error");
            byte[] patch = new byte[10_000];
            rnd.nextBytes(patch);
            try (FileChannel ch = FileChannel.open(mnt.resolve("cached.bin"), StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(patch), 12_288);
                ch.force(true); // succeeds: durable in the cache directory's dirty log
            }
            System.arraycopy(patch, 0, model, 12_288, patch.length);
            assertThat(Files.readAllBytes(mnt.resolve("cached.bin"))).isEqualTo(model);
            assertThat(s3.object(bucket, "cached.bin")).as("not on the server yet").isEqualTo(cached);
            proxy.heal();
            Cli.Run um = Cli.run("umount", mnt.toString());
            assertThat(um.exit()).as(um.toString()).isZero();
            assertThat(m.awaitExit()).as(m.output.toString()).isZero();
            assertThat(m.output.toString()).contains("every change is in s3://" + bucket);
        }
        assertThat(s3.object(bucket, "cached.bin")).as("uploaded after reconnection").isEqualTo(model);
        assertThat(s3.object(bucket, "uncached.bin")).isEqualTo(uncached);
    }

    @Test
    void badS3UrlsAndAMissingBucketAreClearErrors() throws Exception {
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Cli.Run bad = Cli.run("mount", "s3://A_B", mnt.toString());
        assertThat(bad.exit()).as(bad.toString()).isEqualTo(2);
        assertThat(bad.err()).contains("s3://BUCKET[/PREFIX]");
        S3Fixture s3 = S3Fixture.get();
        Cli.Run missing = Cli.run("mount", "s3://no-such-bucket-here", mnt.toString(), "--endpoint",
                s3.endpoint().toString(), "--cache-dir", tmp.resolve("c").toString(), "--warmup-ms", "0");
        assertThat(missing.exit()).as(missing.toString()).isEqualTo(1);
        assertThat(missing.err()).as("this JVM has no AWS credentials: " + missing)
                .contains("no-such-bucket-here", "no AWS credentials found", "AWS_ACCESS_KEY_ID");
        // With credentials (the SDK's chain also reads the aws.accessKeyId system properties): ENOENT
        System.setProperty("aws.accessKeyId", S3ProxyServer.IDENTITY);
        System.setProperty("aws.secretAccessKey", S3ProxyServer.CREDENTIAL);
        try {
            Cli.Run nobucket = Cli.run("mount", "s3://no-such-bucket-here", mnt.toString(), "--endpoint",
                    s3.endpoint().toString(), "--cache-dir", tmp.resolve("c").toString(), "--warmup-ms", "0");
            assertThat(nobucket.exit()).as(nobucket.toString()).isEqualTo(1);
            assertThat(nobucket.err()).as(nobucket.toString()).contains("no-such-bucket-here", "404");
            System.out.println("missing bucket: " + nobucket.err());
        } finally {
            System.clearProperty("aws.accessKeyId");
            System.clearProperty("aws.secretAccessKey");
        }
    }
}
