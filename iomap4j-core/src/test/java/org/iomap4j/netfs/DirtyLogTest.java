package org.iomap4j.netfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirtyLogTest {
    @TempDir
    Path dir;

    @Test
    void persistedStateAndDataAreRecoveredAndUnpersistedDataIsDropped() throws Exception {
        DirtyLog log = new DirtyLog(dir);
        DirtyLog.Entry e = log.create();
        e.write(5000, ByteBuffer.wrap("hello".getBytes()));
        DirtyLog.State st = new DirtyLog.State("dir/file =x", new ObjectVersion("\"abc\"", 9000), 12000, 8000,
                List.of(new ByteRange(5000, 5005), new ByteRange(11000, 12000)), Map.of("mode", "33188", "uid", "7"));
        e.persist(st);
        DirtyLog.Entry never = log.create();
        never.write(0, ByteBuffer.wrap(new byte[] {1}));
        never.close();
        e.close();

        List<DirtyLog.Entry> rec = new DirtyLog(dir).recover();
        assertThat(rec).hasSize(1);
        assertThat(rec.getFirst().recovered()).isEqualTo(st);
        ByteBuffer b = ByteBuffer.allocate(7);
        rec.getFirst().read(4999, b);
        assertThat(new String(b.array(), 1, 5)).isEqualTo("hello");
        assertThat(b.array()[0]).isZero();
        assertThat(Files.exists(dir.resolve("dirty").resolve(never.id() + ".data"))).isFalse();
        rec.getFirst().delete();
        assertThat(new DirtyLog(dir).recover()).isEmpty();
    }
}
