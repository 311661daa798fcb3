package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Seeded random xattr workload against a model: set (values drawn from a small pool, so that identical blocks
 * get shared, and of sizes that land in the inode body, the block or nowhere), replace, remove, unlink and
 * create, with remounts in between. After each phase iomap4j's view equals the model, {@code e2fsck -fn} is clean
 * (refcounts, block bitmap, xattr entries and hashes) and, where a loop mount is possible, the kernel's
 * {@code getfattr -R -d -m- -e hex} of the image equals the model too.
 */
class ExtXattrModelTest {
    @TempDir
    Path tmp;

    private static final HexFormat HEX = HexFormat.of();

    @ParameterizedTest
    @CsvSource({"128, 0x5eed01", "256, 0x5eed02", "256, 0x5eed03"})
    void randomWorkload_matchesModel_fsckAndKernel(int inodeSize, long seed) throws Exception {
        System.out.println("ExtXattrModelTest inode size " + inodeSize + " seed " + seed);
        Random rnd = new Random(seed);
        Path img = Ext2Tools.mke2fs(tmp.resolve("model.img"), 8L << 20, "-b", "1024", "-I", String.valueOf(inodeSize));
        byte[][] pool = new byte[6][];
        for (int k = 0; k < pool.length; k++) {
            pool[k] = new byte[new int[] {0, 3, 40, 90, 300, 700}[k]];
            rnd.nextBytes(pool[k]);
        }
        String[] names = {"user.a", "user.bb", "user.long_attribute_name", "trusted.t", "security.s", "user.z"};
        Map<String, Map<String, byte[]>> model = new TreeMap<>();
        Map<String, Long> inos = new HashMap<>();
        int created = 0;
        for (int phase = 0; phase < 4; phase++) {
            try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
                for (int step = 0; step < 120; step++) {
                    int kind = rnd.nextInt(100);
                    if (model.size() < 3 || kind < 8) {
                        String f = "f" + created++;
                        Vfs.Created c = fs.create(fs.rootIno(), f, 0644, Vfs.O_RDWR, 0, 0);
                        fs.release(c.handle());
                        fs.forget(c.attr().ino(), 1);
                        model.put(f, new TreeMap<>());
                        inos.put(f, c.attr().ino());
                        continue;
                    }
                    List<String> files = new ArrayList<>(model.keySet());
                    String f = files.get(rnd.nextInt(files.size()));
                    long ino = inos.get(f);
                    String name = names[rnd.nextInt(names.length)];
                    if (kind < 12) {
                        fs.unlink(fs.rootIno(), f);
                        model.remove(f);
                    } else if (kind < 30) {
                        boolean had = model.get(f).containsKey(name);
                        try {
                            fs.removexattr(ino, name);
                            assertThat(had).isTrue();
                            model.get(f).remove(name);
                        } catch (FsException e) {
                            assertThat(e.errno()).isEqualTo(Errno.ENODATA);
                            assertThat(had).isFalse();
                        }
                    } else {
                        byte[] v = pool[rnd.nextInt(pool.length)];
                        try {
                            fs.setxattr(ino, name, v, 0);
                            model.get(f).put(name, v);
                        } catch (FsException e) {
                            assertThat(e.errno()).as(e.getMessage()).isEqualTo(Errno.ENOSPC);
                            // the old value (if any) stays
                        }
                    }
                }
                assertThat(view(fs, inos, model.keySet())).as("phase %d", phase).isEqualTo(hex(model));
            }
            Ext2Tools.assertFsckClean(img);
        }
        if (ExtXattrKernelTest.kernelUnavailable() == null) {
            try (ExtXattrKernelTest.KernelMount km = new ExtXattrKernelTest.KernelMount(img, tmp)) {
                Map<String, Map<String, String>> k = ExtXattrKernelTest.getfattrDump(km.root);
                Map<String, Map<String, String>> want = new TreeMap<>(hex(model));
                want.values().removeIf(Map::isEmpty);
                assertThat(k).isEqualTo(want);
            }
        }
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            for (String f : model.keySet()) {
                fs.unlink(fs.rootIno(), f);
            }
        }
        Ext2Tools.assertFsckClean(img);
    }

    private static Map<String, Map<String, String>> hex(Map<String, Map<String, byte[]>> model) {
        Map<String, Map<String, String>> out = new TreeMap<>();
        model.forEach((f, m) -> {
            Map<String, String> h = new TreeMap<>();
            m.forEach((n, v) -> h.put(n, "0x" + HEX.formatHex(v)));
            out.put(f, h);
        });
        return out;
    }

    private static Map<String, Map<String, String>> view(ExtFileSystem fs, Map<String, Long> inos,
            java.util.Set<String> files) throws Exception {
        Map<String, Map<String, String>> out = new TreeMap<>();
        for (String f : files) {
            long ino = fs.lookupPath("/" + f).ino();
            assertThat(ino).isEqualTo(inos.get(f));
            Map<String, String> h = new TreeMap<>();
            for (String n : fs.listxattr(ino)) {
                h.put(n, "0x" + HEX.formatHex(fs.getxattr(ino, n)));
            }
            out.put(f, h);
        }
        return out;
    }
}
