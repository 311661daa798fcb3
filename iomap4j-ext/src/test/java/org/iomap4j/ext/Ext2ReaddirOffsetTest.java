package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.iomap4j.vfs.DirEntry;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * readdir offsets survive concurrent changes (POSIX readdir semantics, as the kernel's ext2_readdir gives them):
 * a directory listed in small chunks, resuming from each entry's {@code nextOffset}, while entries are created and
 * removed between the chunks. Every entry present for the whole listing is returned exactly once; no entry is
 * returned twice; entries created or removed meanwhile may or may not appear. The image stays e2fsck-clean.
 */
class Ext2ReaddirOffsetTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(ints = {1024, 4096})
    void chunkedReaddir_withConcurrentCreatesAndUnlinks_returnsStableEntriesExactlyOnce(int blockSize) throws Exception {
        long seed = new Random().nextLong();
        Random rnd = new Random(seed);
        Path img = Ext2Tools.mke2fs(tmp.resolve("d.img"), 32L << 20, "-b", Integer.toString(blockSize));
        Set<String> stable = new HashSet<>();
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long dir = fs.mkdir(fs.rootIno(), "d", 0755, 0, 0).ino();
            List<String> churn = new ArrayList<>();
            for (int i = 0; i < 600; i++) {
                // Names of varying length so that entries pack unevenly and deletions leave gaps to reuse.
                String name = (i % 3 == 0 ? "stable-" : "churn-") + i + "-" + "x".repeat(rnd.nextInt(40));
                fs.mknod(dir, name, 0100644, 0, 0, 0);
                if (name.startsWith("stable-")) {
                    stable.add(name);
                } else {
                    churn.add(name);
                }
            }
            Map<String, Integer> seen = new HashMap<>();
            long offset = 0;
            int added = 0;
            for (int round = 0; round < 10_000; round++) {
                List<DirEntry> chunk = new ArrayList<>();
                fs.readdir(dir, offset, e -> {
                    chunk.add(e);
                    return chunk.size() < 7;
                });
                if (chunk.isEmpty()) {
                    break;
                }
                for (DirEntry e : chunk) {
                    seen.merge(e.name(), 1, Integer::sum);
                }
                offset = chunk.getLast().nextOffset();
                // Change the directory between chunks: unlink some churn entries, create new ones (which may land
                // in freed gaps before or after the cursor).
                for (int k = 0; k < 3 && !churn.isEmpty(); k++) {
                    fs.unlink(dir, churn.remove(rnd.nextInt(churn.size())));
                }
                for (int k = 0; k < 2; k++) {
                    String name = "new-" + (added++) + "-" + "y".repeat(rnd.nextInt(30));
                    fs.mknod(dir, name, 0100644, 0, 0, 0);
                    churn.add(name);
                }
            }
            String ctx = "seed " + seed + ", block size " + blockSize;
            for (String s : stable) {
                assertThat(seen.get(s)).as(ctx + ": stable entry " + s).isEqualTo(1);
            }
            assertThat(seen.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList())
                    .as(ctx + ": entries returned twice").isEmpty();
            assertThat(seen.get(".")).as(ctx).isEqualTo(1);
            assertThat(seen.get("..")).as(ctx).isEqualTo(1);
        }
        Ext2Tools.assertFsckClean(img);
    }
}
